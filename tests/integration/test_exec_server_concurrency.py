"""Many processes on one connection, job-control trees, and big outputs, over every transport."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid

import pytest

from tests.support.exec_server import (
    TRANSPORTS,
    WsServer,
    b64,
    children,
    make_client,
    output_of,
    run,
    session_pids,
    unb64,
    wait_until,
)

N_PROCESSES = 64
LINES = 200


@pytest.fixture(scope="module")
def ws_server():
    with WsServer("--session-grace-ms=0") as server:
        WS_SERVER_PID[:] = [server.proc.pid]
        yield server


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    kind = request.param
    return kind, (request.getfixturevalue("ws_server").url if kind == "ws" else None)


def server_pid(c, transport) -> int:
    if transport[0] == "stdio":
        return c.proc.pid
    if transport[0] == "inproc":
        return os.getpid()
    return WS_SERVER_PID[0]


WS_SERVER_PID: list[int] = []


def expected_output(i: int) -> bytes:
    return b"".join(b"proc-%d line %d\n" % (i, k) for k in range(LINES))


@run
async def test_64_concurrent_processes_ordered_and_separate(transport):
    async with make_client(*transport) as c:
        await c.handshake()
        script = (f'i=0; while [ $i -lt {LINES} ]; do echo "proc-$N line $i"; '
                  'i=$((i+1)); done')
        await asyncio.gather(*(
            c.start(f"p{i}", ["/bin/sh", "-c", script], env={"N": str(i), "PATH": "/bin"},
                    tty=(i % 4 == 0))
            for i in range(N_PROCESSES)))
        all_events = await asyncio.gather(*(c.events(f"p{i}") for i in range(N_PROCESSES)))
        for i, evs in enumerate(all_events):
            assert all(e["params"]["processId"] == f"p{i}" for e in evs)
            seqs = [e["params"]["seq"] for e in evs]
            assert seqs == list(range(1, len(seqs) + 1)), "seq strictly increasing, no gaps"
            assert [e["method"] for e in evs].count("process/closed") == 1
            assert evs[-1]["method"] == "process/closed"
            exits = [e["params"]["exitCode"] for e in evs if e["method"] == "process/exited"]
            assert exits == [0]
            out = output_of(evs)
            if i % 4 == 0:
                out = out.replace(b"\r\n", b"\n")  # the PTY's line discipline
            assert out == expected_output(i)
        # Nothing arrives for a process after its closed.
        await asyncio.sleep(0)
        assert all(c.queue(f"p{i}").empty() for i in range(N_PROCESSES))
        # Every child was reaped: no zombies left behind by the server.
        zombies = [pid for pid, state in children(server_pid(c, transport)) if state == "Z"]
        assert zombies == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for job control")
@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="jobs outside the leader's process group are found through /proc; "
                    "elsewhere terminate reaches the process group only")
@run
async def test_job_control_shell_on_pty_is_killed_whole(transport):
    """An interactive shell puts jobs in their own process groups; they still die with the
    connection (their session is ours)."""
    kind, url = transport
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    async with make_client(kind, url) as c:
        await c.handshake()
        await c.start("sh", ["bash", "--norc", "--noprofile", "-i"], tty=True,
                      env={"PATH": "/usr/bin:/bin", "TERM": "dumb", "PS1": "$ "})
        await c.request("process/write", {"processId": "sh", "chunk": b64(
            f"sleep {marker} & sleep {marker} &\n".encode())})
        await wait_until(lambda: len(session_pids(marker)) >= 2, 20, "both jobs")
        drop = c.drop() if kind != "inproc" else c.aclose()
        await drop
        await wait_until(lambda: not session_pids(marker), 2.0, "jobs to be gone")


@run
async def test_terminate_kills_group_and_sigterm_ignorers(transport):
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    async with make_client(*transport) as c:
        await c.handshake()
        await c.start("stubborn", ["/bin/sh", "-c",
                                   f"trap '' TERM; sleep {marker} & trap '' TERM; wait"])
        await wait_until(lambda: len(session_pids(marker)) >= 1, 20, "the tree")
        assert (await c.request("process/terminate", {"processId": "stubborn"}))["running"]
        evs = await c.events("stubborn")
        assert [e["params"]["exitCode"] for e in evs if e["method"] == "process/exited"] \
            in ([137], [143])
        await wait_until(lambda: not session_pids(marker), 5.0, "the tree to be gone")


@run
async def test_large_output_reaches_client_complete(transport):
    async with make_client(*transport) as c:
        await c.handshake()
        size = 30_000_000
        await c.start("big", ["head", "-c", str(size), "/dev/urandom"])
        evs = await c.events("big", timeout=120)
        data = output_of(evs)
        assert len(data) == size
        seqs = [e["params"]["seq"] for e in evs]
        assert seqs == list(range(1, len(seqs) + 1))
        r = await c.request("process/read", {"processId": "big",
                                             "afterSeq": seqs[-1] - 3})
        assert unb64(r["chunks"][-1]["chunk"]) == \
            unb64([e for e in evs if e["method"] == "process/output"][-1]["params"]["chunk"])


@pytest.mark.parametrize("tty", [False, True])
@run
async def test_big_write_is_delivered_whole(transport, tty):
    """A write larger than the pipe/PTY buffer is queued and flushed as the child reads."""
    async with make_client(*transport) as c:
        await c.handshake()
        if tty:
            # Raw mode: no line discipline limits or echo; `head` exits after the payload.
            size = 300_000
            argv = ["/bin/sh", "-c", f"stty raw -echo; printf R; head -c {size}"]
        else:
            size = 3_000_000
            argv = ["head", "-c", str(size)]
        await c.start("w", argv, tty=tty, pipeStdin=True)
        if tty:
            first = await asyncio.wait_for(c.queue("w").get(), 30)
            assert unb64(first["params"]["chunk"]) == b"R"
        payload = bytes(i % 251 for i in range(size))
        r = await c.request("process/write", {"processId": "w", "chunk": b64(payload)})
        assert r == {"status": "accepted"}
        evs = await c.events("w", timeout=60)
        assert output_of(evs) == payload
