"""Linux sandbox pieces that need no process of their own: rights per ABI, ABI detection and
its test hooks, and the helper's argument errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codex.sandbox import SandboxPolicy, SandboxUnavailable, linux, wrap_argv

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def test_handled_rights_grow_with_the_abi() -> None:
    assert linux.handled_fs_rights(1) == (1 << 13) - 1
    assert linux.handled_fs_rights(2) & linux.ACCESS_FS_REFER
    assert not linux.handled_fs_rights(2) & linux.ACCESS_FS_TRUNCATE
    assert linux.handled_fs_rights(3) & linux.ACCESS_FS_TRUNCATE
    assert not linux.handled_fs_rights(4) & linux.ACCESS_FS_IOCTL_DEV
    assert linux.handled_fs_rights(7) == (1 << 16) - 1


def test_simulation_hooks_only_lower_the_abi(monkeypatch: pytest.MonkeyPatch) -> None:
    real = linux.landlock_abi()
    monkeypatch.setenv("CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI", "2")
    assert linux.landlock_abi() == min(real, 2)
    monkeypatch.setenv("CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI", "99")
    assert linux.landlock_abi() == real
    monkeypatch.setenv("CODEX_SANDBOX_SIMULATE_NO_LANDLOCK", "1")
    assert linux.landlock_abi() == 0


def test_check_available_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    linux.check_available(SandboxPolicy.danger_full_access())  # needs nothing
    monkeypatch.setenv("CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI", "1")
    with pytest.raises(SandboxUnavailable, match=r"ABI 1, the read-only sandbox needs ABI 3"):
        linux.check_available(SandboxPolicy.read_only())
    monkeypatch.setenv("CODEX_SANDBOX_SIMULATE_NO_LANDLOCK", "1")
    with pytest.raises(SandboxUnavailable, match="needs Landlock") as e:
        linux.check_available(SandboxPolicy.workspace_write())
    assert e.value.exit_code == 125


@pytest.mark.parametrize("extra, code, message", [
    (["--policy-json", "{nope", "--", "true"], 125, "not JSON"),
    (["--policy-json", '{"type":"bogus"}', "--", "true"], 125, "invalid sandbox mode"),
    (["--policy-json", "[]", "--", "true"], 125, "must be a JSON object"),
    (["--policy-json", '{"type":"read-only"}', "true"], 2, "bad sandbox helper arguments"),
])
def test_helper_argument_errors(extra: list[str], code: int, message: str) -> None:
    prefix = wrap_argv({"type": "read-only"}, ["true"], "/")[:-4]
    r = subprocess.run([*prefix, *extra], capture_output=True, text=True, timeout=60)
    assert r.returncode == code and message in r.stderr


def test_write_rules_carve_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "root"
    (root / ".git" / "objects").mkdir(parents=True)
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "README").write_text("r")
    (root / "link").symlink_to("/etc")
    rights = linux.handled_fs_rights(7)
    r = str(root)
    assert linux.write_rules(r, rights, []) == [(r, rights)]
    assert linux.write_rules(r, rights, [str(tmp_path / "elsewhere")]) == [(r, rights)]
    rules = dict(linux.write_rules(r, rights, [str(root / ".git")]))
    assert rules == {str(root / "README"): rights & linux._FILE_ONLY,
                     str(root / "src"): rights}
    # A protected path deeper down: every directory on the way loses its own rule.
    deep = dict(linux.write_rules(r, rights, [str(root / "src" / "pkg")]))
    assert deep == {str(root / ".git"): rights, str(root / "README"): rights & linux._FILE_ONLY}
    assert linux.write_rules(r, rights, [r]) == []


def _run_bpf(prog: list[tuple[int, int, int, int]], arch: int, nr: int, *args: int) -> int:
    """Interpret the few BPF instructions the socket filter uses on one syscall."""
    words = {0: nr, 4: arch, **{16 + 8 * i: a for i, a in enumerate(args)}}
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == 0x20:
            acc = words.get(k, 0)
        elif code == 0x54:
            acc &= k
        elif code in (0x15, 0x45):
            hit = acc == k if code == 0x15 else bool(acc & k)
            pc += jt if hit else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected BPF code {code:#x}")
        pc += 1


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
@pytest.mark.parametrize("namespaced", [True, False])
def test_socket_filter_program(arch: str, namespaced: bool) -> None:
    prog = linux.socket_filter(arch, namespaced_network=namespaced)
    assert prog[0] == (0x20, 0, 0, 4)  # load the architecture first
    # every jump lands inside the program
    assert all(i + 1 + max(jt, jf) < len(prog) for i, (code, jt, jf, _k) in enumerate(prog)
               if code in (0x15, 0x45))
    native = linux._AUDIT_ARCH[arch]
    allow, deny = 0x7FFF0000, 0x00050000 | 13  # EACCES
    socket, pair = linux._NR_SOCKET[arch], linux._NR_SOCKETPAIR[arch]
    run = lambda *a: _run_bpf(prog, native, *a)  # noqa: E731
    assert run(socket, 1, 1) == deny  # AF_UNIX: never
    assert run(socket, 40, 1) == deny  # AF_VSOCK: never
    for family in (2, 10, 16):  # AF_INET, AF_INET6, AF_NETLINK: inside a namespace only
        assert run(socket, family, 1) == (allow if namespaced else deny)
    assert run(pair, 1, 1) == allow and run(pair, 1, 5) == allow  # STREAM, SEQPACKET
    assert run(pair, 1, 1 | 0o4000 | 0o2000000) == allow  # with NONBLOCK | CLOEXEC
    assert run(pair, 1, 2) == deny  # DGRAM could sendto(2) any socket path
    assert run(425) == deny  # io_uring_setup
    assert run(0) == allow and run(59) == allow  # anything else
    assert _run_bpf(prog, 0x40000003, 1) == deny  # a foreign ABI (i386)
    if arch == "x86_64":
        assert run(0x40000000 | socket, 2) == deny  # x32


@pytest.mark.parametrize("env, expected", [
    # Spawned by codex's command runner: already the user's environment, keep it whole.
    ({"LD_LIBRARY_PATH": "/opt/mylib", "PATH": "/bin"},
     {"LD_LIBRARY_PATH": "/opt/mylib", "PATH": "/bin"}),
    # Through our launcher: the user's value comes back from its saved copy.
    ({"LD_LIBRARY_PATH": "/opt/mylib", "CODEX_ORIG_LD_LIBRARY_PATH": "/opt/mylib", "PATH": "/b"},
     {"LD_LIBRARY_PATH": "/opt/mylib", "PATH": "/b"}),
    # A bootloader that set the path itself (user had none): it goes.
    ({"LD_LIBRARY_PATH": "/tmp/_MEI1", "_PYI_APPLICATION_HOME_DIR": "/tmp/_MEI1", "PATH": "/b"},
     {"PATH": "/b"}),
])
def test_frozen_helper_keeps_the_users_library_path(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, str]) -> None:
    from codex.sandbox import _helper

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(_helper, "_initial_environ", lambda: dict(env))
    assert _helper._command_environ() == expected
