"""Drive a real `Session` in-process with a scripted model (tests/support/scripted_model.py).

`SessionHarness.start(...)` builds a Session in an isolated CODEX_HOME and a git-looking cwd;
`until(session, EventType)` reads events up to the first of that type (with a timeout).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from codex.config import load_config
from codex.core import protocol as P
from codex.core.session import Session, SessionOptions
from tests.support.scripted_model import ScriptedModel

E = TypeVar("E")
EVENT_TIMEOUT_S = 60.0


@dataclass
class SessionHarness:
    home: Path
    cwd: Path
    model: ScriptedModel
    sessions: list[Session] = field(default_factory=list)

    async def start(self, *, overrides: Sequence[str] = (), approval: str = "never",
                    sandbox: str = "danger-full-access", interactive: bool = True,
                    resume_path: Path | None = None, ephemeral: bool = False,
                    model: ScriptedModel | None = None, **options: Any) -> Session:
        cfg = load_config(home=self.home, overrides=list(overrides),
                          flags={"approval_policy": approval, "sandbox_mode": sandbox},
                          warn_unknown=False)
        session = await Session.start(SessionOptions(
            config=cfg, cwd=self.cwd, resume_path=resume_path, ephemeral=ephemeral,
            interactive=interactive, model_client=model or self.model, **options))
        self.sessions.append(session)
        return session

    async def close_all(self) -> None:
        for s in self.sessions:
            s.submit(P.Shutdown())
            try:
                async with asyncio.timeout(EVENT_TIMEOUT_S):
                    async for _ in s.events():
                        pass
            except Exception:  # noqa: BLE001 - best effort cleanup after a failed test
                pass


async def until(session: Session, kind: type[E] | tuple[type, ...],
                timeout: float = EVENT_TIMEOUT_S) -> list[Any]:
    """Events up to and including the first instance of `kind`."""
    seen: list[Any] = []
    async with asyncio.timeout(timeout):
        while True:
            ev = await session.next_event()
            seen.append(ev)
            if isinstance(ev, kind):
                return seen


async def shutdown(session: Session) -> list[Any]:
    session.submit(P.Shutdown())
    return await until(session, P.ShutdownComplete)


def of(events: list[Any], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def rollout_lines(path: Path) -> list[dict[str, Any]]:
    """Every line parsed: a torn or invalid line fails the test."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def user_turn(text: str, **kw: Any) -> P.UserTurn:
    return P.UserTurn(items=({"type": "input_text", "text": text},), **kw)
