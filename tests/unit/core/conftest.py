"""Fixtures for the session's unit tests: a scripted model and a session harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.scripted_model import ScriptedModel
from tests.support.session_harness import SessionHarness


@pytest.fixture
def scripted() -> ScriptedModel:
    return ScriptedModel()


@pytest_asyncio.fixture
async def harness(tmp_path: Path, scripted: ScriptedModel,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SessionHarness]:
    home = tmp_path / "codex-home"
    home.mkdir()
    cwd = tmp_path / "repo"
    (cwd / ".git").mkdir(parents=True)
    monkeypatch.setenv("CODEX_HOME", str(home))
    h = SessionHarness(home, cwd, scripted)
    try:
        yield h
    finally:
        await h.close_all()
