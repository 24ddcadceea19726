"""A scripted in-memory session for driving the UI without a model (dev runs and unit tests).

It speaks the real ops/events of `codex.core.protocol`: each UserTurn plays a script chosen by
the text's first word (see SCRIPTS), with the same ordering rules the real session keeps.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path
from typing import Any

from codex.core import protocol as P
from codex.core.client.events import Usage

ANSWER = """# Plan

Here is **bold** text and `code`.

- first item
- second item

```python
def add(a, b):
    return a + b
```

| col | val |
|-----|-----|
| a   | 1   |

Done — 中文 wide ✓.
"""


class FakeSession:
    def __init__(self, cwd: Path, resumed: bool = False) -> None:
        self.cwd = cwd
        self.q: asyncio.Queue[Any] = asyncio.Queue()
        self.ops: list[Any] = []
        self._turns = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._approval: asyncio.Future[P.ReviewDecision] | None = None
        self.q.put_nowait(P.SessionConfigured(
            "fake-0001", "fake-model", "fake", str(cwd), "on-request", "workspace-write",
            "/tmp/fake-rollout.jsonl",
            history=({"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "earlier question"}]},
                     {"type": "message", "role": "assistant",
                      "content": [{"type": "output_text", "text": "earlier answer"}]})
            if resumed else ()))

    async def next_event(self) -> Any:
        return await self.q.get()

    def submit(self, op: Any) -> None:
        self.ops.append(op)
        if isinstance(op, P.UserTurn):
            text = "".join(i.get("text", "") for i in op.items)
            self._task = asyncio.ensure_future(self._turn(text))
        elif isinstance(op, P.Interrupt) and self._task is not None:
            self._task.cancel()
        elif isinstance(op, P.ExecApproval | P.PatchApproval) and self._approval:
            self._approval.set_result(op.decision)
        elif isinstance(op, P.Shutdown):
            self.q.put_nowait(P.ShutdownComplete())

    async def _turn(self, text: str) -> None:
        tid = f"t{next(self._turns)}"
        put = self.q.put_nowait
        put(P.TurnStarted(tid))
        put(P.UserMessage(text, turn_id=tid))
        try:
            word = text.split()[0] if text.split() else ""
            if word == "lines":
                n = int(text.split()[1])
                for i in range(n):
                    put(P.AgentMessageDelta(f"answer line {i:04d}\n", tid))
                    if i % 10 == 0:
                        await asyncio.sleep(0)
            elif word == "tokens":
                n = int(text.split()[1])
                for i in range(n):
                    put(P.AgentMessageDelta(f"tok{i} " + ("\n" if i % 12 == 11 else ""), tid))
                    if i % 50 == 0:
                        await asyncio.sleep(0.01)
            elif word == "run":
                put(P.ExecBegin("c1", "printf 'a\\033[2Jb\\n'; sleep 2", str(self.cwd), True,
                                turn_id=tid))
                for i in range(20):
                    put(P.ExecOutputDelta("c1", "stdout", f"out {i}\x1b]0;evil\x07\n".encode(),
                                          tid))
                    await asyncio.sleep(0.05)
                put(P.ExecEnd("c1", "sleep 2", 0, 1.0, "".join(f"out {i}\n" for i in range(20)),
                              P.ExecStatus.COMPLETED, turn_id=tid))
            elif word == "ask":
                loop = asyncio.get_running_loop()
                self._approval = loop.create_future()
                put(P.ExecApprovalRequest("c2", "rm -rf build", str(self.cwd), "clean it",
                                          turn_id=tid))
                d = await self._approval
                put(P.AgentMessageDelta(f"decision was {d}\n", tid))
            for ch in ANSWER:
                put(P.AgentMessageDelta(ch, tid))
                await asyncio.sleep(0.002)
            put(P.AgentMessage(ANSWER, tid))
            put(P.TokenCount(Usage(100, 0, 50), Usage(100, 0, 50), 1000, 85, turn_id=tid))
            put(P.TurnComplete(tid, ANSWER))
        except asyncio.CancelledError:
            put(P.TurnAborted(tid))


async def factory(opts: Any, resume_path: Path | None) -> FakeSession:
    return FakeSession(opts.cwd, resumed=resume_path is not None)


if __name__ == "__main__":
    from codex.config import load_config
    from codex.tui.app import TuiOptions
    from codex.tui.startup import run_app

    cfg = load_config()
    opts = TuiOptions(cfg, Path.cwd(), cfg.codex_home, "dev",
                      first_prompt=" ".join(sys.argv[1:]) or None)
    sys.exit(run_app(opts, factory))
