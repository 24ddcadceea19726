"""Shared fixtures: an isolated CODEX_HOME and a way to run the real `codex` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def codex_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "codex-home"
    home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(home))
    return home


def codex_cmd() -> list[str]:
    """How to run the codex under test: `CODEX_TEST_BINARY` (a packaged file) or this checkout."""
    binary = os.environ.get("CODEX_TEST_BINARY")
    return [binary] if binary else [sys.executable, "-m", "codex"]


def run_codex(args: Sequence[str], *, env: dict[str, str] | None = None,
              input: str | None = None, cwd: Path | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([*codex_cmd(), *args], capture_output=True, text=True, env=full_env,
                          input=input, cwd=cwd, timeout=timeout)
