"""`codex.sandbox.wrap_argv`, the hook spawners use: the argv it returns really confines the
command, on pipes and on a PTY, and it refuses rather than returning an unsandboxed argv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ptyprocess import PtyProcess

from codex.sandbox import InvalidSandboxPolicy, SandboxUnavailable, wrap_argv
from tests.conftest import codex_cmd
from tests.support.paths import outside_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the Linux sandbox runs here; macOS has its own CI job")

WW = {"type": "workspace-write"}


@pytest.fixture
def dirs() -> Iterator[tuple[Path, Path]]:
    base = outside_parent() / "codex-sandbox-tests" / uuid.uuid4().hex[:12]
    ws, outside = base / "ws", base / "outside"
    ws.mkdir(parents=True)
    outside.mkdir()
    yield ws, outside
    shutil.rmtree(base, ignore_errors=True)


def test_pipe_spawn_is_confined(dirs: tuple[Path, Path]) -> None:
    ws, outside = dirs
    argv = wrap_argv(WW, ["sh", "-c", f"echo in > a.txt; touch {outside}/b; echo rc=$?"],
                     str(ws))
    assert argv[-4:-3] == ["--"] and "--policy-json" in argv
    r = subprocess.run(argv, cwd=ws, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "rc=1\n" and "Permission denied" in r.stderr
    assert (ws / "a.txt").read_text() == "in\n" and not (outside / "b").exists()


def test_pty_spawn_is_confined_and_keeps_its_terminal(dirs: tuple[Path, Path]) -> None:
    ws, outside = dirs
    script = (f"tty >/dev/null && echo is-a-tty; echo hi > /dev/tty; "
              f"touch {outside}/p 2>/dev/null || echo denied; exit 3")
    proc = PtyProcess.spawn(wrap_argv(WW, ["sh", "-c", script], str(ws)), cwd=str(ws))
    out = b""
    try:
        while True:
            try:
                out += proc.read(4096)
            except EOFError:
                break
        proc.wait()
    finally:
        if proc.isalive():
            proc.terminate(force=True)
    text = out.decode()
    assert "is-a-tty" in text and "hi" in text and "denied" in text, text
    assert proc.exitstatus == 3
    assert not (outside / "p").exists()


def test_helper_does_not_import_code_from_the_workspace(dirs: tuple[Path, Path]) -> None:
    # A command could plant a `codex` package in the cwd; the unsandboxed helper must not run it.
    ws, outside = dirs
    (ws / "codex").mkdir()
    (ws / "codex" / "__init__.py").write_text(f"open({str(outside / 'pwned')!r}, 'w')\n")
    (ws / "codex" / "__main__.py").write_text(f"open({str(outside / 'pwned')!r}, 'w')\n")
    r = subprocess.run(wrap_argv(WW, ["true"], str(ws)), cwd=ws, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ws)))
    assert r.returncode == 0 and not (outside / "pwned").exists()


def test_danger_full_access_is_the_command_itself() -> None:
    assert wrap_argv({"type": "danger-full-access"}, ["ls", "-l"], "/") == ["ls", "-l"]


def test_refuses_instead_of_running_unsandboxed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_SANDBOX_SIMULATE_NO_LANDLOCK", "1")
    with pytest.raises(SandboxUnavailable, match="needs Landlock"):
        wrap_argv(WW, ["true"], "/")
    with pytest.raises(InvalidSandboxPolicy):
        wrap_argv({"type": "nope"}, ["true"], "/")


def test_the_packaged_form_of_the_helper(dirs: tuple[Path, Path]) -> None:
    # From the frozen binary wrap_argv returns `codex sandbox --policy-json JSON -- CMD`; the
    # same arguments through the codex under test (CODEX_TEST_BINARY when set).
    ws, outside = dirs
    tail = wrap_argv(WW, ["sh", "-c", f'touch ok; touch {outside}/no; echo "$@"', "sh",
                          "-s", "--", "x"], str(ws))
    tail = tail[tail.index("--policy-json"):]
    r = subprocess.run([*codex_cmd(), "sandbox", *tail], cwd=ws, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "-s -- x\n" and "Permission denied" in r.stderr
    assert (ws / "ok").exists() and not (outside / "no").exists()


def test_arg0_is_carried_through_the_helper(dirs: tuple[Path, Path]) -> None:
    ws, _ = dirs
    argv = wrap_argv(WW, ["sh", "-c", 'echo "$0"'], str(ws), arg0="-login-sh")
    r = subprocess.run(argv, cwd=ws, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "-login-sh\n"
