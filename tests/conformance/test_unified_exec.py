# ruff: noqa: F811 - pytest fixtures are imported by name and requested as arguments
"""unified-exec spec, conformance cases 1–11, each on the local backend and on a real
`codex exec-server` child over a websocket and over stdio."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from codex.exec_server.remote import RemoteBackend
from codex.unified_exec import ToolResult, UnifiedExecManager
from tests.support.unified_exec import (  # noqa: F401 - fixtures
    WsServer,
    backend_factory,
    codex_program,
    codex_ws_server,
    remote_backend_factory,
    run_manager,
    wait_for,
    wait_pids_gone,
    ws_server,
)


async def read_until(m: UnifiedExecManager, first: ToolResult, marker: str) -> str:
    """All output of a session until `marker` has appeared (polling the session)."""
    out = first.output
    while marker not in out:
        assert first.session_id is not None, out
        more = await m.write_stdin({"session_id": first.session_id, "yield_time_ms": 5000})
        assert more.failure is None and more.exit_code is None, more.text
        out += more.output
    return out


async def pid_of(m: UnifiedExecManager, r: ToolResult) -> int:
    return int((await read_until(m, r, "\n")).split("PID=")[1].split()[0])


def test_case_01_echo_returns_at_once(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        t0 = time.monotonic()
        r = await m.exec_command({"cmd": "echo hello", "yield_time_ms": 31415})
        return r, time.monotonic() - t0

    r, wall = run_manager(backend_factory, body)
    assert r.exit_code == 0 and r.session_id is None
    assert r.output == "hello\n"
    assert "Process exited with code 0" in r.text and "session ID" not in r.text
    # What this case checks is that the call returns when the command exits instead of
    # waiting out its 31.4 s yield. The spec's 0.75 s figure is a performance target, so it
    # is measured in bench/unified_exec.py rather than asserted on a possibly loaded machine.
    assert wall < 10 and r.wall_time < 10


def test_case_02_isatty_false_without_tty_true_with(backend_factory) -> None:
    cmd = "python3 -c 'import sys; print(sys.stdin.isatty())'"

    async def body(m: UnifiedExecManager):
        return (await m.exec_command({"cmd": cmd}),
                await m.exec_command({"cmd": cmd, "tty": True}))

    pipes, pty = run_manager(backend_factory, body)
    assert pipes.output.strip() == "False" and pipes.exit_code == 0
    assert pty.output.strip() == "True" and pty.exit_code == 0


def test_case_03_cat_on_a_tty(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        first = await m.exec_command({"cmd": "cat", "tty": True, "yield_time_ms": 200})
        sid = first.session_id
        # Generous yields: output does not end a wait, an exit does (so EOF returns early).
        echo = await m.write_stdin({"session_id": sid, "chars": "hello\n",
                                    "yield_time_ms": 1000})
        eof = await m.write_stdin({"session_id": sid, "chars": "\u0004",
                                   "yield_time_ms": 10_000})
        after = await m.write_stdin({"session_id": sid, "chars": "x"})
        return first, echo, eof, after

    first, echo, eof, after = run_manager(backend_factory, body)
    assert first.session_id is not None and first.exit_code is None and first.output == ""
    assert f"Process running with session ID {first.session_id}" in first.text
    assert echo.session_id == first.session_id and "hello" in echo.output
    assert "\r\n" in echo.output  # PTY output keeps its \r\n
    assert eof.exit_code == 0 and eof.session_id is None, (echo.text, eof.text)
    assert "Process exited with code 0" in eof.text
    assert after.text == f"write_stdin failed: Unknown process id {first.session_id}"


@pytest.mark.parametrize(("cmd", "code", "marker"), [
    ("trap 'echo INT-TRAP; exit 42' INT; echo READY; while true; do sleep 30; done", 42,
     "INT-TRAP"),
    ("echo READY; exec sleep 30", 130, None),
])
def test_case_04_ctrl_c_to_a_non_tty_session(backend_factory, cmd, code, marker) -> None:
    async def body(m: UnifiedExecManager):
        first = await m.exec_command({"cmd": cmd, "login": False, "yield_time_ms": 1000})
        seen = await read_until(m, first, "READY")
        ctrl_c = await m.write_stdin({"session_id": first.session_id, "chars": "\u0003",
                                      "yield_time_ms": 5000})
        return first, seen, ctrl_c

    first, seen, ctrl_c = run_manager(backend_factory, body)
    assert first.session_id is not None and "READY" in seen
    assert ctrl_c.exit_code == code and ctrl_c.session_id is None
    if marker:
        assert marker in ctrl_c.output


def test_case_05_slow_start_then_poll(backend_factory) -> None:
    async def body(m: UnifiedExecManager):
        first = await m.exec_command({"cmd": "sleep 0.5; echo ready", "yield_time_ms": 10})
        poll = await m.write_stdin({"session_id": first.session_id, "chars": ""})
        return first, poll

    first, poll = run_manager(backend_factory, body)
    assert first.session_id is not None and first.output == "" and first.exit_code is None
    assert poll.output == "ready\n" and poll.exit_code == 0 and poll.session_id is None


def test_case_06_truncation_example(backend_factory) -> None:
    cmd = ("i=1; while [ $i -le 999 ]; do printf 'EXEC-LINE-%04d xxxxxxxxxxxxxxxxxxxx\\n' $i; "
           "i=$((i+1)); done")

    async def body(m: UnifiedExecManager):
        return await m.exec_command({"cmd": cmd, "max_output_tokens": 50, "login": False})

    r = run_manager(backend_factory, body)
    assert r.exit_code == 0
    assert len(r.output.encode()) == 35_964
    assert "Original token count: 8991" in r.text
    body_text = r.text.split("Output:\n", 1)[1]
    assert body_text.startswith("Total output lines: 999\n\nEXEC-LINE-0001 ")
    assert "\u20268941 tokens truncated\u2026" in body_text
    assert body_text.split("\u2026")[0].splitlines()[-1].startswith("EXEC-LINE-0003")


def test_case_07_tail_after_a_flood(backend_factory) -> None:
    cmd = ("head -c 163840 /dev/zero | tr '\\0' x; echo; sleep 1; "
           "for i in 1 2 3; do echo TAIL-MARKER-$i; done")

    async def body(m: UnifiedExecManager):
        first = await m.exec_command({"cmd": cmd, "login": False, "yield_time_ms": 250})
        poll = await m.write_stdin({"session_id": first.session_id, "yield_time_ms": 30000})
        return first, poll

    first, poll = run_manager(backend_factory, body)
    assert first.session_id is not None
    assert "TAIL-MARKER-3" in poll.output and poll.exit_code == 0
    assert "TAIL-MARKER-3" in poll.text.split("Output:\n", 1)[1]


def test_case_08_relative_workdir(backend_factory, tmp_path: Path) -> None:
    (tmp_path / "sub" / "dir").mkdir(parents=True)

    async def body(m: UnifiedExecManager):
        return await m.exec_command({"cmd": "pwd", "workdir": "sub/dir", "login": False})

    r = run_manager(backend_factory, body, cwd=tmp_path)
    assert r.exit_code == 0
    assert Path(r.output.strip()).resolve() == (tmp_path / "sub" / "dir").resolve()


def test_case_09_session_outlives_turn_dies_on_shutdown(backend_factory) -> None:
    cmd = "echo PID=$$; sleep 1000 & echo CHILD=$!; wait"
    pids: list[int] = []

    async def body(m: UnifiedExecManager):
        # Turn 1 ends with the session still running (and turn 2 is interrupted mid-call).
        turn1 = await m.exec_command({"cmd": cmd, "login": False, "tty": True,
                                      "yield_time_ms": 250})
        seen = await read_until(m, turn1, "CHILD=")
        pids.extend(int(line.split("=")[1]) for line in seen.splitlines() if "=" in line)
        server_pid = getattr(m._backend, "server_pid", None)  # a stdio exec-server child
        turn2 = asyncio.create_task(m.write_stdin({"session_id": turn1.session_id,
                                                   "yield_time_ms": 60_000}))
        await asyncio.sleep(0)  # let turn 2 start waiting
        turn2.cancel()
        with pytest.raises(asyncio.CancelledError):
            await turn2
        turn3 = await m.write_stdin({"session_id": turn1.session_id, "chars": "\n"})
        assert all(os.path.exists(f"/proc/{p}") for p in pids)
        if server_pid:
            pids.append(server_pid)
        return turn1, turn3

    turn1, turn3 = run_manager(backend_factory, body)
    assert turn1.session_id is not None
    assert turn3.session_id == turn1.session_id and turn3.exit_code is None
    stdio = backend_factory.kind in ("remote-stdio", "codex-stdio")
    assert len(pids) == (3 if stdio else 2)
    assert wait_pids_gone(pids) == []


def test_case_10_session_cap_and_pruning(backend_factory) -> None:
    cmd = "echo PID=$$; exec sleep 1000"

    async def open_one(m: UnifiedExecManager):
        r = await m.exec_command({"cmd": cmd, "login": False, "yield_time_ms": 250})
        assert r.session_id is not None, r.text
        return r

    async def body(m: UnifiedExecManager):
        a = await open_one(m)
        b = await open_one(m)
        batch = await asyncio.gather(*(open_one(m) for _ in range(54)))
        assert all("Warning:" not in r.text for r in batch)
        seq = [await open_one(m) for _ in range(4)]  # sessions 57..60
        recent_rest = await asyncio.gather(*(open_one(m) for _ in range(4)))  # 61..64
        assert len(m.session_ids) == 64
        # A and B exit without the model hearing about it; A is the least recently used.
        for r in (a, b):
            pid = await pid_of(m, r)
            os.kill(pid, signal.SIGKILL)
        procs = {sid: m._sessions.get(sid) for sid in (a.session_id, b.session_id)}
        await wait_for(lambda: all(p.state.has_exited for p in procs.values()),
                       what="killed sessions to be seen as exited")
        extra = await open_one(m)
        gone = await m.write_stdin({"session_id": a.session_id, "chars": "x"})
        kept_b = m._sessions.get(b.session_id) is not None
        return seq, recent_rest, extra, gone, kept_b, [r.session_id for r in seq + recent_rest]

    seq, recent_rest, extra, gone, kept_b, recent_ids = run_manager(backend_factory, body,
                                                                    timeout=240)
    assert "Warning:" not in seq[2].text  # the 59th
    assert "Warning:" in seq[3].text and "reuse" in seq[3].text.lower()  # the 60th
    assert "Warning:" in extra.text
    assert gone.text.startswith("write_stdin failed: Unknown process id")
    assert kept_b




def test_case_11_server_dies_mid_session(remote_backend_factory, tmp_path: Path) -> None:
    kind = remote_backend_factory.kind
    server = None
    if kind == "remote-ws":
        server = WsServer(tmp_path / "server.log")
    elif kind == "codex-ws":
        program, env = codex_program(tmp_path)
        server = WsServer(tmp_path / "server.log", program=program, env=env)
    factory = (lambda: RemoteBackend.websocket(server.url)) if server else remote_backend_factory
    pids: list[int] = []

    async def body(m: UnifiedExecManager):
        first = await m.exec_command({"cmd": "echo PID=$$; exec sleep 60", "login": False,
                                      "yield_time_ms": 250})
        pids.append(await pid_of(m, first))
        poll = asyncio.create_task(m.write_stdin({"session_id": first.session_id,
                                                  "yield_time_ms": 20_000}))
        await asyncio.sleep(0)
        server_pid = server.proc.pid if server else m._backend.server_pid
        os.kill(server_pid, signal.SIGKILL)
        result = await poll
        after = await m.write_stdin({"session_id": first.session_id})
        again = await m.exec_command({"cmd": "echo back", "login": False})
        return first, result, after, again

    try:
        first, result, after, again = run_manager(factory, body)
    finally:
        for pid in pids:  # the server died without cleaning up: end its orphan ourselves
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if server:
            server.stop()
    assert first.session_id is not None
    assert result.failure is not None
    assert result.failure.startswith("exec-server transport disconnected")
    assert result.text.startswith("write_stdin failed: exec-server transport disconnected")
    assert result.wall_time < 20 and result.session_id is None and result.exit_code is None
    assert after.text == f"write_stdin failed: Unknown process id {first.session_id}"
    # New commands get a new connection: a new stdio child; the dead websocket server is gone.
    if kind in ("remote-stdio", "codex-stdio"):
        assert again.output == "back\n" and again.exit_code == 0
    else:
        assert again.text.startswith("exec_command failed for `echo back`: cannot connect")


# -- streaming hooks (ours: the session streams command output as ExecOutputDelta) ----------
def test_output_observer_sees_output_while_the_call_waits(backend_factory,
                                                          tmp_path: Path) -> None:
    """The observer gets a chunk while the process still runs: each command below waits for
    a file that only the observer creates, so without streaming neither call could see the
    process exit within its wait."""
    a, c = tmp_path / "a", tmp_path / "c"
    wait = "while [ ! -e {0} ]; do sleep 0.01; done"
    cmd1 = f"printf FIRST; {wait.format(a)}; printf SECOND"
    # Starts talking only once written to, i.e. once write_stdin has attached its observer.
    cmd2 = f"stty -echo; echo READY; read x; printf THIRD; {wait.format(c)}; printf FOURTH"

    async def body(m: UnifiedExecManager):
        seen1: list[tuple[str, bytes]] = []
        seen2: list[bytes] = []

        def on1(stream: str, chunk: bytes) -> None:
            seen1.append((stream, chunk))
            a.touch()

        def on2(stream: str, chunk: bytes) -> None:
            seen2.append(chunk)
            c.touch()

        r1 = await m.exec_command({"cmd": cmd1, "login": False, "yield_time_ms": 30000},
                                  on_output=on1)
        started = await m.exec_command({"cmd": cmd2, "login": False, "tty": True,
                                        "yield_time_ms": 250})
        await read_until(m, started, "READY")
        r2 = await m.write_stdin({"session_id": started.session_id, "chars": "go\n",
                                  "yield_time_ms": 30000}, on_output=on2)
        return seen1, seen2, r1, r2

    seen1, seen2, r1, r2 = run_manager(backend_factory, body)
    assert r1.exit_code == 0 and r1.output == "FIRSTSECOND", r1.text
    assert seen1[0][1].startswith(b"FIRST") and seen1[0][0] in ("stdout", "pty")
    assert b"".join(chunk for _, chunk in seen1) == b"FIRSTSECOND"
    assert r2.exit_code == 0 and r2.output == "THIRDFOURTH", r2.text
    assert b"".join(seen2) == b"THIRDFOURTH"


def test_a_cancelled_call_with_kill_on_cancel_leaves_no_process(backend_factory) -> None:
    pids: list[int] = []

    async def body(m: UnifiedExecManager):
        call = asyncio.create_task(m.exec_command(
            {"cmd": "echo PID=$$; exec sleep 1000", "login": False, "yield_time_ms": 30000},
            on_output=lambda _s, chunk: pids.append(int(chunk.split(b"=")[1]))
            if chunk.startswith(b"PID=") else None, kill_on_cancel=True))
        await wait_for(lambda: pids, what="the process to print its pid")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        return list(m.session_ids)

    assert run_manager(backend_factory, body) == []
    assert pids and wait_pids_gone(pids) == []
