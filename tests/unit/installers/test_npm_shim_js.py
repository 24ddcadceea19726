"""Runs the npm shim's own unit tests (installers/npm/test/, Node's test runner)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_node_test_runner_passes() -> None:
    if shutil.which("node") is None:
        pytest.fail("needs node on PATH (the npm channel's tests need it anyway)")
    tests = sorted(str(p) for p in (ROOT / "installers/npm/test").glob("*.test.js"))
    assert tests
    r = subprocess.run(["node", "--test", *tests], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "# fail 0" in r.stdout
