"""Issue 15 item 9, the class "a shutdown waits on a client": SIGTERM ends `codex exec-server`
within 2 s (spec case 12's bound) whatever its clients do — stop reading, never finish the
handshake, wait on a long poll, or stop reading a stdio server's output."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from tests.support.exec_server import WsServer, server_cmd, session_pids, start_params

SHUTDOWN_BOUND_S = 2.0


def blocked_writing(marker: str) -> bool:
    """Some process with `marker` in its argv is blocked writing to a full pipe/terminal."""
    for pid in session_pids(marker):
        try:
            wchan = Path(f"/proc/{pid}/wchan").read_text()
        except OSError:
            continue
        if "pipe_write" in wchan or "tty_write" in wchan or "wait_woken" in wchan:
            return True
    return False


async def wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def sigterm_and_time(proc: subprocess.Popen) -> float:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return 30.0
    return time.monotonic() - t0


async def stalled_ws_client(url: str, marker: str):
    """A websocket client that starts a flood of output and then stops reading."""
    from websockets.asyncio.client import connect

    ws = await connect(url, max_queue=1, compression=None)
    await ws.send(json.dumps({"id": 1, "method": "initialize",
                              "params": {"clientName": "stalled"}}))
    await ws.send(json.dumps({"method": "initialized"}))
    await ws.send(json.dumps({"id": 2, "method": "process/start", "params": start_params(
        "flood", ["yes", marker],
        dialect="codex")}))
    return ws


def test_sigterm_with_a_websocket_client_that_stopped_reading():
    """The issue's example: children die and the server exits within 2 s."""
    marker = f"stall-{uuid.uuid4().hex[:8]}"

    async def body():
        with WsServer() as server:
            ws = await stalled_ws_client(server.url, marker)
            await wait_for(lambda: blocked_writing(marker), 60, "the flood to back up")
            took = await asyncio.to_thread(sigterm_and_time, server.proc)
            assert server.proc.returncode == 0
            ws.transport.abort()
            return took

    took = asyncio.run(body())
    assert took <= SHUTDOWN_BOUND_S, f"shutdown took {took:.2f} s"
    assert session_pids(marker) == []


def test_sigterm_with_half_open_and_long_polling_clients():
    """Siblings: a TCP client that never sends its handshake, one that never sends
    `initialized`, one parked in a 60 s long-poll and a stalled reader, all at once."""
    marker = f"poll-{uuid.uuid4().hex[:8]}"

    async def body():
        from websockets.asyncio.client import connect

        with WsServer() as server:
            host, port = server.url[len("ws://"):].rsplit(":", 1)
            silent = socket.create_connection((host, int(port)))  # no HTTP at all
            half = await connect(server.url)
            await half.send(json.dumps({"id": 1, "method": "initialize",
                                        "params": {"clientName": "half"}}))
            poller = await connect(server.url)
            await poller.send(json.dumps({"id": 1, "method": "initialize",
                                          "params": {"clientName": "poll"}}))
            await poller.send(json.dumps({"method": "initialized"}))
            await poller.send(json.dumps({"id": 2, "method": "process/start",
                                          "params": start_params("s", ["sleep", marker],
                                                                 dialect="codex")}))
            await poller.send(json.dumps({"id": 3, "method": "process/read", "params": {
                "processId": "s", "afterSeq": 0, "waitMs": 60000}}))
            stalled = await stalled_ws_client(server.url, marker)
            await wait_for(lambda: blocked_writing(marker), 60, "the flood to back up")
            took = await asyncio.to_thread(sigterm_and_time, server.proc)
            silent.close()
            for ws in (half, poller, stalled):
                ws.transport.abort()
            return took

    took = asyncio.run(body())
    assert took <= SHUTDOWN_BOUND_S, f"shutdown took {took:.2f} s"
    assert session_pids(marker) == []


def test_sigterm_while_a_stdio_client_stopped_reading():
    """Sibling: over stdio, the client stops reading the server's stdout mid-flood."""
    marker = f"stdio-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([*server_cmd("--listen", "stdio")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdin is not None
        for msg in ({"id": 1, "method": "initialize", "params": {"clientName": "s"}},
                    {"method": "initialized"},
                    {"id": 2, "method": "process/start", "params": start_params(
                        "flood", ["yes", marker],
                        dialect="codex")}):
            proc.stdin.write(json.dumps(msg).encode() + b"\n")
        proc.stdin.flush()

        async def backed_up():
            await wait_for(lambda: blocked_writing(marker), 60, "the flood to back up")

        asyncio.run(backed_up())
        took = sigterm_and_time(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for f in (proc.stdin, proc.stdout):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
    assert took <= SHUTDOWN_BOUND_S, f"shutdown took {took:.2f} s"
    assert session_pids(marker) == []
    assert os.path.exists("/proc")  # the checks above rely on /proc
