"""The frozen entry point answers `--version` itself: it must say what codex.cli says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_entry_fast_version_matches_cli(flag: str) -> None:
    entry = subprocess.run([sys.executable, str(ROOT / "distbuild" / "codex_main.py"), flag],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
    cli = subprocess.run([sys.executable, "-m", "codex", flag], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert entry.returncode == cli.returncode == 0
    assert entry.stdout == cli.stdout
    assert entry.stdout.startswith("codex-cli ")


def test_entry_runs_the_cli_for_everything_else() -> None:
    # (a bare word is a prompt for the interactive UI now; an unknown option is the CLI's
    # usage error, exit 2)
    r = subprocess.run([sys.executable, str(ROOT / "distbuild" / "codex_main.py"),
                        "--no-such-flag"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in r.stderr
    assert "usage:" in r.stderr
