"""Sessions that survive a dropped websocket (spec "The newest Codex dialect": sessionId,
resumeSessionId, --session-grace-ms), through a real TCP proxy that resets the connection.

The client side is our RemoteBackend; the server a real `codex exec-server` child."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from codex.exec_server.backend import Closed, Exited, Failed, Output, StartParams, WriteStatus
from codex.exec_server.remote import RemoteBackend
from tests.support.exec_server import (
    WsClient,
    WsServer,
    run,
    session_pids,
    start_params,
    unb64,
    wait_until,
)
from tests.support.tcp_proxy import TcpProxy

TOTAL = 5_000_000  # bytes the process writes, in two halves around one line of input
RECORD = 10  # "%09d\n"

# A raw-mode PTY (no \n -> \r\n, no echo) so the output is exactly what the program wrote.
STREAMER = r"""
import os, select, sys, tty
tty.setraw(0)
out = sys.stdout.buffer
def stream(a, b):
    for start in range(a, b, 10000):
        out.write(b"".join(b"%09d\n" % i for i in range(start, min(b, start + 10000))))
        out.flush()
n = int(sys.argv[1])
stream(0, n // 2)
line = b""
while not line.endswith(b"\n"):
    line += os.read(0, 1)
out.write(b"GOT:" + line)
stream(n // 2, n)
extra = b""
while select.select([0], [], [], 2.0)[0]:
    chunk = os.read(0, 100)
    if not chunk:
        break
    extra += chunk
out.write(b"EXTRA:" + extra + b"END\n")
out.flush()
"""


def expected_output(records: int) -> bytes:
    half = records // 2
    return (b"".join(b"%09d\n" % i for i in range(half)) + b"GOT:ping\n"
            + b"".join(b"%09d\n" % i for i in range(half, records)) + b"EXTRA:END\n")


async def _collect(events, out: list[Output | Exited | Closed | Failed], received: list[int],
                   grew: asyncio.Event) -> None:
    async for ev in events:
        out.append(ev)
        if isinstance(ev, Output):
            received[0] += len(ev.chunk)
        grew.set()


async def _until(pred, grew: asyncio.Event, timeout: float = 60.0) -> None:
    async def wait() -> None:
        while not pred():
            grew.clear()
            if pred():
                return
            await grew.wait()

    await asyncio.wait_for(wait(), timeout)


@run
async def test_pty_stream_survives_two_cuts_byte_for_byte():
    """5 MB from a PTY: the link is reset mid-stream, and again while a write's answer is
    being thrown away; the output is exactly what the process wrote and the write (sent
    before the second cut, retried after it) arrives once."""
    records = TOTAL // RECORD
    with WsServer() as server:
        async with TcpProxy(int(server.url.rsplit(":", 1)[1])) as proxy:
            backend = RemoteBackend.websocket(proxy.url)
            try:
                await backend.connect()
                assert backend.session_id and backend.server_is_ours
                proc, events = await backend.start(StartParams(
                    "streamer", [sys.executable, "-c", STREAMER, str(records)], "/",
                    dict(os.environ), tty=True))
                got: list = []
                received = [0]
                grew = asyncio.Event()
                collector = asyncio.ensure_future(_collect(events, got, received, grew))

                # Cut 1: in the middle of the first half.
                await _until(lambda: received[0] >= 1_000_000, grew)
                proxy.cut()
                # The process now waits for its line, after the first half.
                half = records // 2 * RECORD
                await _until(lambda: received[0] >= half, grew)
                await wait_until(lambda: backend.resumes >= 1, 30, "the first resume")

                # Cut 2: the write reaches the server but its answer is thrown away.
                proxy.freeze_down = True
                sent_before = proxy.up_bytes
                dropped_before = proxy.dropped_bytes
                write = asyncio.ensure_future(proc.write(b"ping\n"))
                await proxy.wait_for(lambda p: p.up_bytes > sent_before
                                     and p.dropped_bytes > dropped_before)
                proxy.cut()
                proxy.freeze_down = False
                assert await asyncio.wait_for(write, 60) is WriteStatus.ACCEPTED

                await asyncio.wait_for(collector, 120)
            finally:
                await backend.close()
            assert backend.resumes >= 2 and proxy.cuts >= 2
    assert not any(isinstance(e, Failed) for e in got), got[-1]
    assert isinstance(got[-1], Closed)
    assert [e.exit_code for e in got if isinstance(e, Exited)] == [0]
    output = b"".join(e.chunk for e in got if isinstance(e, Output))
    assert output == expected_output(records)
    seqs = [e.seq for e in got if isinstance(e, Output)]
    assert seqs == sorted(set(seqs))  # nothing delivered twice


@run
async def test_grace_zero_kills_everything_within_2s_of_a_drop():
    marker = f"77.{uuid.uuid4().int % 10**9}"
    with WsServer("--session-grace-ms", "0") as server:
        proxy = TcpProxy(int(server.url.rsplit(":", 1)[1]))
        async with proxy, WsClient(proxy.url, dialect="codex") as c:
            await c.handshake()
            await c.start("tree", ["sh", "-c", f"sleep {marker} & sleep {marker}"])
            await wait_until(lambda: len(session_pids(marker)) >= 2, 20, "both sleeps")
            proxy.cut()
            took = await wait_until(lambda: not session_pids(marker), 2.0,
                                    "the tree to be gone")
            assert took <= 2.0


@run
async def test_default_grace_keeps_processes_for_a_resume_then_reads_what_was_missed():
    marker = f"78.{uuid.uuid4().int % 10**9}"
    with WsServer() as server:
        async with WsClient(server.url, dialect="codex") as a:
            await a.handshake()
            session = a.session_id
            await a.start("s", ["sh", "-c", f"echo one; read x; echo two:$x; sleep {marker}"],
                          pipeStdin=True)
            await a.events_until_output("s", b"one")
        # `a` is gone; the process is kept (grace 30 s) and is still ours.
        async with WsClient(server.url, dialect="codex") as b:
            await b.handshake(resumeSessionId=session)
            assert b.session_id == session
            assert await b.write("s", b"yes\n") == {"status": "accepted"}
            await wait_until(lambda: bool(session_pids(marker)), 20, "the sleep")
            r = await b.request("process/read", {"processId": "s", "afterSeq": 0})
            assert b"".join(unb64(c["chunk"]) for c in r["chunks"]) == b"one\ntwo:yes\n"
            await b.request("process/terminate", {"processId": "s"})
            await wait_until(lambda: not session_pids(marker), 10, "the kill")


@run
async def test_resume_takes_the_session_over_and_unknown_ids_are_refused():
    with WsServer() as server:
        async with WsClient(server.url, dialect="codex") as a:
            await a.handshake()
            await a.start("cat", ["cat"], tty=True)
            async with WsClient(server.url, dialect="codex") as b:
                await b.handshake(resumeSessionId=a.session_id)
                # The old connection is closed by the server; the new one drives the process.
                await asyncio.wait_for(a.gone.wait(), 10)
                assert await b.write("cat", b"hi\n") == {"status": "accepted"}
                await b.request("process/terminate", {"processId": "cat"})
        async with WsClient(server.url, dialect="codex") as c:
            msg = await c.request_msg("initialize", {"clientName": "t",
                                                     "resumeSessionId": "no-such-session"})
            assert msg["error"] == {"code": -32600,
                                    "message": "unknown session id no-such-session"}
            # The connection still works: a fresh session.
            await c.handshake()
            assert await c.start("t", ["true"]) == {"processId": "t"}


@run
async def test_stdio_eof_ends_the_session_at_once():
    """Nobody can resume a stdio session: EOF kills its processes (case 12 holds)."""
    from tests.support.exec_server import StdioClient

    marker = f"79.{uuid.uuid4().int % 10**9}"
    c = StdioClient(dialect="codex")
    await c.open()
    await c.handshake()
    await c.request("process/start", start_params("s", ["sleep", marker], dialect="codex"))
    await wait_until(lambda: bool(session_pids(marker)), 20, "the sleep")
    await c.drop()
    await wait_until(lambda: not session_pids(marker), 2.0, "the sleep to be killed")
    await c.aclose()


def test_unified_exec_session_survives_a_drop_of_a_few_seconds(tmp_path):
    """Through the manager the model uses: a `tty` session keeps its id, its input and its
    output across a link that is down for 2 s (reconnect attempts are reset meanwhile)."""
    from codex.unified_exec import UnifiedExecManager

    async def body():
        with WsServer() as server:
            async with TcpProxy(int(server.url.rsplit(":", 1)[1])) as proxy:
                backend = RemoteBackend.websocket(proxy.url)
                await backend.connect()
                m = UnifiedExecManager(backend, cwd=str(tmp_path), deterministic_ids=True)
                try:
                    first = await m.exec_command({"cmd": "cat", "tty": True, "login": False,
                                                  "yield_time_ms": 250})
                    assert first.session_id is not None
                    echo = await m.write_stdin({"session_id": first.session_id,
                                                "chars": "before\n", "yield_time_ms": 500})
                    assert "before" in echo.output
                    proxy.go_down(2.0)
                    after = await m.write_stdin({"session_id": first.session_id,
                                                 "chars": "after\n", "yield_time_ms": 3000})
                    more = after.output
                    while more.count("after") < 2:  # the echo and cat's copy
                        nxt = await m.write_stdin({"session_id": first.session_id,
                                                   "yield_time_ms": 5000})
                        assert nxt.failure is None, nxt.text
                        more += nxt.output
                    assert after.failure is None and after.session_id == first.session_id
                    assert proxy.refused >= 1 and backend.resumes == 1
                    done = await m.write_stdin({"session_id": first.session_id,
                                                "chars": "\u0004", "yield_time_ms": 10_000})
                    assert done.exit_code == 0
                finally:
                    await m.shutdown()

    asyncio.run(asyncio.wait_for(body(), 120))
