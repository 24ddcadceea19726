"""Issue 15 item 10, the class "out of file descriptors": at the limit `codex exec-server`
refuses a new websocket client at once (HTTP 503, not a hang), logs it once per interval
(not a line per attempt), and serves again when descriptors free up; a `process/start` that
cannot get its pipes is an error answer on a connection that keeps working."""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import time

from tests.support.exec_server import WsClient, server_cmd

FD_LIMIT = 64
OUT_OF_FDS_LOG = "out of file descriptors"


def _low_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


class LimitedServer:
    """A websocket exec-server child with RLIMIT_NOFILE = FD_LIMIT; stderr kept to count."""

    def __init__(self, tmp_path) -> None:
        self.log_path = tmp_path / "server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(server_cmd("--listen", "ws://127.0.0.1:0",
                                                "--session-grace-ms=0"),
                                     stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     preexec_fn=_low_limit)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("ws://"), self.url

    def log_lines(self, needle: str) -> int:
        return sum(needle in line for line in
                   self.log_path.read_text(errors="replace").splitlines())

    def stop(self) -> int:
        self.proc.terminate()
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc


async def _connect(url: str):
    from websockets.asyncio.client import connect

    return await connect(url, open_timeout=20)


def test_websocket_clients_at_the_limit_are_refused_fast_then_served_again(tmp_path):
    """The issue's example: fill the descriptor table with clients; the next ones are
    refused with 503 (each well before any client timeout), the log holds one report,
    and closing a few clients lets new ones in."""
    from websockets.exceptions import InvalidStatus

    server = LimitedServer(tmp_path)

    async def body():
        held = []
        refused = []
        for _ in range(FD_LIMIT + 20):
            t0 = time.monotonic()
            try:
                held.append(await _connect(server.url))
            except InvalidStatus as e:
                refused.append((e.response.status_code, time.monotonic() - t0))
                if len(refused) >= 10:
                    break
        assert refused, "never reached the descriptor limit"
        assert {status for status, _ in refused} == {503}
        # Refused at once, not after the client's 20 s open timeout.
        assert max(took for _, took in refused) < 10
        # A connection made before the limit still works.
        await held[0].send(json.dumps({"id": 1, "method": "initialize",
                                       "params": {"clientName": "still"}}))
        answer = json.loads(await held[0].recv())
        assert "sessionId" in answer.get("result", {}), answer
        # Free some descriptors: new clients are accepted again.
        for ws in held[-8:]:
            await ws.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                again = await _connect(server.url)
                break
            except InvalidStatus:
                assert time.monotonic() < deadline, "never accepted again"
                await asyncio.sleep(0.05)
        await again.close()
        for ws in held[:-8]:
            await ws.close()
        return len(refused)

    try:
        refusals = asyncio.run(body())
    finally:
        rc = server.stop()
    assert rc == 0
    # Logged once per interval, not once per attempt (the bug: ~2,800 lines in 12 s).
    assert 1 <= server.log_lines(OUT_OF_FDS_LOG) <= 3 < refusals


def test_process_start_at_the_limit_is_an_error_answer_and_the_connection_goes_on(tmp_path):
    """Sibling: processes eat descriptors (pipes, pidfds) until a start fails; that start
    gets -32603 naming the cause, the connection keeps serving, and once processes are gone
    starts work again."""
    server = LimitedServer(tmp_path)

    async def body():
        async with WsClient(server.url, dialect="codex") as c:
            await c.handshake()
            started = []
            failure = None
            for i in range(FD_LIMIT):
                msg = await c.request_msg("process/start", {
                    "processId": f"p{i}", "argv": ["sleep", "600"], "cwd": "file:///",
                    "env": {"PATH": "/usr/bin:/bin"}, "tty": False, "pipeStdin": True})
                if "error" in msg:
                    failure = msg["error"]
                    break
                started.append(f"p{i}")
            assert failure is not None, "never ran out of descriptors"
            assert failure["code"] == -32603
            assert "Too many open files" in failure["message"]
            assert await c.request("environment/status", {}) == {"status": "ready"}
            for pid in started:
                await c.request("process/terminate", {"processId": pid})
            for pid in started:
                await c.events(pid)
            deadline = time.monotonic() + 20
            while True:
                msg = await c.request_msg("process/start", {
                    "processId": f"again-{time.monotonic()}", "argv": ["true"],
                    "cwd": "file:///", "env": {"PATH": "/usr/bin:/bin"}, "tty": False})
                if "result" in msg:
                    break
                assert time.monotonic() < deadline, msg
                await asyncio.sleep(0.05)

    try:
        asyncio.run(body())
    finally:
        assert server.stop() == 0
