"""Fixtures for the UI's end-to-end tests: the real `codex` in tmux against the mock model."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import codex_cmd
from tests.support import mock_model as mm
from tests.support.tmux import Tmux

if shutil.which("tmux") is None:  # pragma: no cover - the CI image installs tmux
    pytest.skip("tmux is not installed (apt-get install tmux)", allow_module_level=True)

SIZES = [(100, 30), (40, 12)]
API_KEY = "sk-test-key"


@dataclass
class Tui:
    term: Tmux
    mock: mm.MockModel
    repo: Path
    home: Path

    def argv(self, *args: str) -> list[str]:
        return [*codex_cmd(), "-c", "model=mock-model", *args]

    def start(self, *args: str, ready: str | None = "? for shortcuts") -> str:
        """Run codex in the pane and wait for the composer's footer (or `ready`)."""
        self.term.run(self.argv(*args))
        return self.term.wait_for(ready) if ready else ""

    def trust(self, level: str = "trusted") -> None:
        cfg = self.home / "config.toml"
        text = cfg.read_text() if cfg.exists() else ""
        cfg.write_text(text + f'\n[projects.{json.dumps(str(self.repo.resolve()))}]\n'
                              f'trust_level = "{level}"\n')

    def quit(self) -> str:
        """Ctrl-C twice quits (the first alone clears a non-empty composer); wait for the
        shell prompt."""
        self.term.keys("C-c", "C-c")
        return self.term.wait_for(lambda s: s.rstrip().endswith("$"), timeout=30)

    def codex_pids(self) -> list[int]:
        return self.term.children()


def make_env(home: Path, mock: mm.MockModel) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL", "VISUAL", "EDITOR",
              "CODEX_LOG"):
        env.pop(k, None)
    env.update({"CODEX_HOME": str(home), "OPENAI_API_KEY": API_KEY,
                "OPENAI_BASE_URL": mock.url, "CODEX_RETRY_BASE_MS": "1",
                "XDG_CACHE_HOME": env.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))})
    return env


@pytest.fixture(params=SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def tui(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tui]:
    width, height = request.param
    yield from _tui(tmp_path, width, height)


@pytest.fixture
def tui_wide(tmp_path: Path) -> Iterator[Tui]:
    """Only 100x30: for cases whose subject is not the layout at small sizes."""
    yield from _tui(tmp_path, 100, 30)


def _tui(tmp_path: Path, width: int, height: int) -> Iterator[Tui]:
    home = tmp_path / "codex-home"
    home.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()
    with mm.MockModel() as mock:
        term = Tmux(tmp_path, width=width, height=height, env=make_env(home, mock), cwd=repo)
        term.run(["cd", str(repo)])
        try:
            yield Tui(term, mock, repo, home)
        finally:
            term.close()


def answer(text: str, *, chunk: int = 7) -> mm.Reply:
    """A Responses stream whose message text arrives in deltas of `chunk` characters."""
    item = mm.message_item(text)
    evs: list[Any] = [{"type": "response.created", "response": {"id": "resp_1"}},
                      {"type": "response.output_item.added", "output_index": 0, "item": item}]
    for i in range(0, len(text), chunk):
        evs.append({"type": "response.output_text.delta", "delta": text[i:i + chunk]})
    evs.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    evs.append({"type": "response.completed", "response": {"id": "resp_1", "usage": mm.USAGE}})
    return mm.Reply(events=evs)


def shell_quote(argv: list[str]) -> str:
    return shlex.join(argv)
