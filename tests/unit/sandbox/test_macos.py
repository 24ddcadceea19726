"""The Seatbelt profile generated for each policy (the real run is the macOS CI job's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex.sandbox import SandboxPolicy
from codex.sandbox.macos import SANDBOX_EXEC, profile, wrap_argv


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    return ws


def test_read_only_profile_allows_no_file_writes(ws: Path) -> None:
    text, params = profile(SandboxPolicy.read_only(), str(ws), {})
    assert text.startswith("(version 1)\n(deny default)\n")
    assert "(allow file-read*)" in text
    assert "(allow file-write*" not in text
    assert "(allow network-outbound)" not in text
    assert params == {}
    assert _balanced(text)


def test_workspace_write_profile_subtracts_git(ws: Path, tmp_path: Path) -> None:
    tmpdir = tmp_path / "t"
    tmpdir.mkdir()
    policy = SandboxPolicy("workspace-write", (), False, False, True)
    text, params = profile(policy, str(ws), {"TMPDIR": str(tmpdir)})
    assert params == {
        "WRITABLE_ROOT_0": str(ws),
        "WRITABLE_ROOT_0_RO_0": str(ws / ".git"),
        "WRITABLE_ROOT_1": str(tmpdir),
    }
    assert ('(require-all (subpath (param "WRITABLE_ROOT_0")) '
            '(require-not (subpath (param "WRITABLE_ROOT_0_RO_0"))))') in text
    assert '  (subpath (param "WRITABLE_ROOT_1")))' in text
    assert str(ws) not in text  # paths travel only as -D parameters
    assert "(allow network-outbound)\n" not in text
    assert "network-outbound" not in text  # no unix socket outside either
    assert _balanced(text)


def test_network_and_full_access(ws: Path) -> None:
    net, _ = profile(SandboxPolicy.workspace_write(network_access=True), str(ws), {})
    assert "(allow network-outbound)\n" in net and "(allow system-socket)\n" in net
    full, params = profile(SandboxPolicy.danger_full_access(), str(ws), {})
    assert "(allow file-write*)\n" in full and "(allow network-outbound)\n" in full
    assert params == {}
    assert _balanced(net) and _balanced(full)


def test_wrap_argv_shape(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.path.exists", lambda p: p == SANDBOX_EXEC or Path(p).exists())
    monkeypatch.setenv("TMPDIR", str(ws))
    argv = wrap_argv(SandboxPolicy("workspace-write", (), False, False, True), ["ls", "-l"],
                     str(ws))
    assert argv[:2] == [SANDBOX_EXEC, "-p"]
    assert argv[3:] == [f"-DWRITABLE_ROOT_0={ws}", f"-DWRITABLE_ROOT_0_RO_0={ws / '.git'}",
                        "--", "ls", "-l"]
