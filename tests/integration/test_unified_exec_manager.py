# ruff: noqa: F811 - pytest fixtures are imported by name and requested as arguments
"""UnifiedExecManager behaviour beyond the conformance cases, on every backend."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from codex.errors import CodexError
from codex.unified_exec import ToolResult, UnifiedExecManager
from codex.unified_exec.manager import STDIN_CLOSED_TEXT
from tests.support.unified_exec import (  # noqa: F401 - fixtures
    backend_factory,
    codex_ws_server,
    run_manager,
    wait_for,
    wait_pids_gone,
    ws_server,
)


def signalled(kind: str, signo: int) -> int:
    """The exit code reported for a PTY process killed by `signo`: 128+N (spec); Codex's own
    exec-server reports 1 for a PTY child killed by a signal (a difference we do not copy,
    documented in the spec's section on the newest dialect)."""
    return 1 if kind.startswith("codex-") else 128 + signo


async def read_until(m: UnifiedExecManager, first: ToolResult, marker: str) -> str:
    out = first.output
    while marker not in out:
        more = await m.write_stdin({"session_id": first.session_id, "yield_time_ms": 5000})
        assert more.exit_code is None and more.failure is None, more.text
        out += more.output
    return out


async def start_sleeper(m: UnifiedExecManager, *, tty: bool = False) -> tuple[ToolResult, int]:
    r = await m.exec_command({"cmd": "echo PID=$$; exec sleep 1000", "login": False,
                              "tty": tty, "yield_time_ms": 250})
    assert r.session_id is not None, r.text
    out = await read_until(m, r, "\n")
    return r, int(out.split("PID=")[1].split()[0])


def test_forced_environment_reaches_the_child(backend_factory) -> None:
    cmd = 'echo "$TERM|$NO_COLOR|$PAGER|$GIT_PAGER|$CODEX_CI|$LC_ALL|${COLORTERM-unset}|$X"'

    async def body(m: UnifiedExecManager):
        return await m.exec_command({"cmd": cmd, "login": False})

    r = run_manager(backend_factory, body, env={"PATH": os.environ["PATH"], "X": "kept",
                                                "TERM": "xterm-256color"})
    assert r.output == "dumb|1|cat|cat|1|C.UTF-8||kept\n"


def test_pty_output_keeps_crlf_and_pipes_merge_stderr(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        pty = await m.exec_command({"cmd": "printf 'a\\nb\\n'", "tty": True, "login": False})
        pipes = await m.exec_command({"cmd": "echo out; echo err >&2; exit 3", "login": False})
        return pty, pipes

    pty, pipes = run_manager(backend_factory, body)
    assert pty.output == "a\r\nb\r\n" and pty.exit_code == 0
    assert sorted(pipes.output.splitlines()) == ["err", "out"] and pipes.exit_code == 3
    assert "Process exited with code 3" in pipes.text


def test_unknown_ids_and_closed_stdin(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        unknown = await m.write_stdin({"session_id": 4242, "chars": "x"})
        r, _pid = await start_sleeper(m)
        closed = await m.write_stdin({"session_id": r.session_id, "chars": "hello\n"})
        still = await m.write_stdin({"session_id": r.session_id, "chars": "\u0003",
                                     "yield_time_ms": 5000})
        return unknown, closed, still

    unknown, closed, still = run_manager(backend_factory, body)
    assert unknown.text == "write_stdin failed: Unknown process id 4242"
    assert closed.text == STDIN_CLOSED_TEXT == (
        "write_stdin failed: stdin is closed for this session; rerun exec_command with "
        "tty=true to keep stdin open")
    assert still.exit_code == 130  # the session was still usable after the refusal


def test_ctrl_c_on_a_tty_goes_through_the_terminal(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        r, _pid = await start_sleeper(m, tty=True)
        return await m.write_stdin({"session_id": r.session_id, "chars": "\u0003",
                                    "yield_time_ms": 5000})

    r = run_manager(backend_factory, body)
    assert r.exit_code == signalled(backend_factory.kind, 2) and r.session_id is None


def test_write_to_a_process_that_just_exited_reports_its_exit(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        r, pid = await start_sleeper(m, tty=True)
        os.kill(pid, signal.SIGKILL)
        late = await m.write_stdin({"session_id": r.session_id, "chars": "are you there?\n",
                                    "yield_time_ms": 5000})
        after = await m.write_stdin({"session_id": r.session_id, "chars": "x"})
        return r, late, after

    r, late, after = run_manager(backend_factory, body)
    code = signalled(backend_factory.kind, 9)
    assert late.exit_code == code and late.session_id is None and late.failure is None
    assert f"Process exited with code {code}" in late.text
    assert after.text == f"write_stdin failed: Unknown process id {r.session_id}"


def test_spawn_failures_are_plain_text(backend_factory, tmp_path: Path) -> None:
    async def body(m: UnifiedExecManager):
        no_shell = await m.exec_command({"cmd": "true", "shell": str(tmp_path / "nosh")})
        no_dir = await m.exec_command({"cmd": "true", "workdir": "missing/dir"})
        ok = await m.exec_command({"cmd": "echo still fine", "login": False})
        routes = getattr(m._backend, "live_process_ids", [])
        return no_shell, no_dir, ok, routes

    no_shell, no_dir, ok, routes = run_manager(backend_factory, body, cwd=tmp_path)
    assert no_shell.text.startswith("exec_command failed for `true`: ")
    assert "No such file or directory" in no_shell.text and no_shell.failure
    assert no_dir.text.startswith("exec_command failed for `true`: ")
    assert "No such file or directory" in no_dir.text
    assert ok.output == "still fine\n"
    assert routes == []  # a failed start leaves no event channel behind


def test_concurrent_commands_keep_their_own_output(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        return await asyncio.gather(*(
            m.exec_command({"cmd": f"sleep 0.1; echo out-{i}", "login": False})
            for i in range(12)))

    results = run_manager(backend_factory, body)
    assert [r.output for r in results] == [f"out-{i}\n" for i in range(12)]
    assert all(r.exit_code == 0 for r in results)


def test_output_budget_is_the_smaller_limit(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        return (await m.exec_command({"cmd": "printf '%0100d' 0", "login": False,
                                      "max_output_tokens": 1000}),
                await m.exec_command({"cmd": "printf '%0100d' 0", "login": False,
                                      "max_output_tokens": 2}))

    limited, smaller = run_manager(backend_factory, body, tool_output_token_limit=5)
    assert "\u202620 tokens truncated\u2026" in limited.text  # 100 bytes, 20-byte budget
    assert "\u202623 tokens truncated\u2026" in smaller.text  # 8-byte budget
    assert limited.output == "0" * 100  # the ToolResult keeps all that was collected


def test_a_flood_is_bounded_but_counted(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        return await m.exec_command({"cmd": "head -c 3000000 /dev/zero | tr '\\0' y; echo END",
                                     "login": False, "yield_time_ms": 30000})

    r = run_manager(backend_factory, body)
    assert r.exit_code == 0
    assert "Original token count: 750001" in r.text
    assert len(r.output) == 1024 * 1024  # head and tail halves of the buffer
    assert r.output.endswith("yyyEND\n")
    assert len(r.text) < 45_000


def test_pruning_a_live_session_kills_it(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        first, pid = await start_sleeper(m)
        await asyncio.gather(*(m.exec_command({"cmd": "exec sleep 1000", "login": False,
                                               "yield_time_ms": 250}) for _ in range(63)))
        assert len(m.session_ids) == 64 and first.session_id in m.session_ids
        extra = await m.exec_command({"cmd": "exec sleep 1000", "login": False,
                                      "yield_time_ms": 250})
        gone = await m.write_stdin({"session_id": first.session_id, "chars": "x"})
        return extra, gone, pid, len(m.session_ids)

    extra, gone, pid, count = run_manager(backend_factory, body, timeout=240)
    assert extra.session_id is not None and count == 64
    assert gone.text.startswith("write_stdin failed: Unknown process id")
    assert wait_pids_gone([pid]) == []


def test_cancelled_call_keeps_its_session(backend_factory) -> None:
    pids: list[int] = []

    async def body(m: UnifiedExecManager):
        call = asyncio.create_task(m.exec_command(
            {"cmd": "echo PID=$$; exec sleep 1000", "login": False, "tty": True,
             "yield_time_ms": 30000}))
        await wait_for(lambda: m._live, what="the process to start")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):  # the interrupted turn stays interrupted
            await call
        assert len(m.session_ids) == 1
        sid = m.session_ids[0]
        out = ""
        while "PID=" not in out:
            r = await m.write_stdin({"session_id": sid, "chars": "\n"})
            assert r.session_id == sid, r.text
            out += r.output
        pids.append(int(out.split("PID=")[1].split()[0]))

    run_manager(backend_factory, body)
    assert wait_pids_gone(pids) == []


def test_apply_patch_is_intercepted(backend_factory, tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []

    async def hook(patch: str, cwd: str) -> str:
        calls.append((patch, cwd))
        if "bad" in patch:
            raise CodexError("Invalid patch: bad hunk")
        return "Success. Updated the following files:\nA hello.txt\n"

    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch"

    async def body(m: UnifiedExecManager):
        ok = await m.exec_command({"cmd": f"apply_patch <<'EOF'\n{patch}\nEOF\n",
                                   "workdir": "sub"})
        bad = await m.exec_command({"cmd": "apply_patch <<'EOF'\nbad\nEOF"})
        cd = await m.exec_command({"cmd": f"cd sub && apply_patch <<'EOF'\n{patch}\nEOF"})
        return ok, bad, cd, list(m._live)

    (tmp_path / "sub").mkdir()
    ok, bad, cd, live = run_manager(backend_factory, body, cwd=tmp_path, apply_patch_hook=hook)
    assert calls[0][0].strip() == patch and calls[0][1] == str(tmp_path / "sub")
    assert ok.exit_code == 0 and ok.output.startswith("Success. Updated the following files:")
    assert "Process exited with code 0" in ok.text
    assert bad.exit_code == 1 and "Invalid patch: bad hunk" in bad.text
    assert cd.exit_code == 0 and calls[2][1] == str(tmp_path / "sub")
    assert live == []  # no process was spawned


def test_calls_after_shutdown_are_refused(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        await m.shutdown()
        return await m.exec_command({"cmd": "true"})

    r = run_manager(backend_factory, body)
    assert r.text == "exec_command failed for `true`: the session manager is shut down"
