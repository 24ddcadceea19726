"""Test clients for the exec-server: in-process (a handler Connection, no socket), a real
`codex exec-server --listen stdio` child, and a real websocket server child.

All three give the same async API, so each test runs unchanged over every transport.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from codex.exec_server.handler import Connection
from codex.exec_server.local import LocalBackend
from tests.conftest import codex_cmd

TRANSPORTS = ("inproc", "stdio", "ws")
# Our first dialect (JSON-RPC 2.0 envelopes, native paths) and Codex's newest one.
DIALECTS = ("legacy", "codex")
WAIT = 30.0  # generous: the machine is shared and loaded


def run(coro_fn: Callable[..., Coroutine[Any, Any, Any]]):
    """Decorator: run an async test body in a fresh event loop."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(coro_fn(*args, **kwargs))

    wrapper.__name__ = coro_fn.__name__
    wrapper.__doc__ = coro_fn.__doc__
    wrapper.__wrapped__ = coro_fn  # type: ignore[attr-defined]
    return wrapper


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(s: str) -> bytes:
    return base64.b64decode(s)


def start_params(pid: str, argv: list[str], *, tty: bool = False, env: dict | None = None,
                 cwd: str = "/", dialect: str = "legacy", **extra: Any) -> dict[str, Any]:
    if dialect == "codex":
        from codex.exec_server.path_uri import from_path

        cwd = from_path(cwd)
    return {"processId": pid, "argv": argv, "cwd": cwd,
            "env": dict(os.environ) if env is None else env, "tty": tty, **extra}


class Client:
    """Base: message routing, requests by id, per-process notification queues."""

    def __init__(self, dialect: str = "legacy") -> None:
        self.dialect = dialect
        self._write_ids = itertools.count(1)
        self.session_id: str | None = None
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future] = {}
        self.messages: list[dict[str, Any]] = []  # every message received, in order
        self.by_process: dict[str, asyncio.Queue] = {}
        self.unmatched: list[dict[str, Any]] = []  # responses with no pending request
        self.gone = asyncio.Event()  # transport closed by the server side

    async def open(self) -> Client:
        return self

    async def __aenter__(self) -> Client:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # transport hooks
    async def send_raw(self, frame: str | bytes) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def _dispatch(self, msg: dict[str, Any]) -> None:
        self.messages.append(msg)
        if "method" not in msg and "id" in msg:
            fut = self._pending.pop(msg["id"], None)
            if fut is None or fut.done():
                self.unmatched.append(msg)
            else:
                fut.set_result(msg)
            return
        pid = (msg.get("params") or {}).get("processId")
        if pid is not None:
            self.queue(pid).put_nowait(msg)

    def _transport_gone(self) -> None:
        self.gone.set()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("transport closed"))
        self._pending.clear()

    def queue(self, pid: str) -> asyncio.Queue:
        return self.by_process.setdefault(pid, asyncio.Queue())

    async def call_raw(self, frame: dict[str, Any] | str | bytes, id: Any) -> dict[str, Any]:
        fut = asyncio.get_running_loop().create_future()
        self._pending[id] = fut
        await self.send_raw(frame if isinstance(frame, str | bytes) else json.dumps(frame))
        return await asyncio.wait_for(fut, WAIT)

    async def request_msg(self, method: str, params: dict[str, Any] | None = None,
                          id: Any = None) -> dict[str, Any]:
        if id is None:
            id = next(self._ids)
        frame: dict[str, Any] = {"id": id, "method": method}
        if self.dialect == "legacy":
            frame = {"jsonrpc": "2.0", **frame}
        if params is not None:
            frame["params"] = params
        msg = await self.call_raw(frame, id)
        # Each dialect is answered in its own form.
        assert ("jsonrpc" in msg) == (self.dialect == "legacy"), msg
        return msg

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        msg = await self.request_msg(method, params)
        if "error" in msg:
            raise RpcError(msg["error"]["code"], msg["error"]["message"])
        return msg["result"]

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        frame: dict[str, Any] = {"method": method}
        if self.dialect == "legacy":
            frame = {"jsonrpc": "2.0", **frame}
        if params is not None:
            frame["params"] = params
        await self.send_raw(json.dumps(frame))

    async def handshake(self, **params: Any) -> dict[str, Any]:
        result = await self.request("initialize", {"clientName": "tests", **params})
        assert isinstance(result["sessionId"], str) and result["sessionId"]
        self.session_id = result["sessionId"]
        await self.notify("initialized")
        return result

    async def start(self, pid: str, argv: list[str], **kw: Any) -> Any:
        result = await self.request("process/start",
                                    start_params(pid, argv, dialect=self.dialect, **kw))
        if self.dialect == "codex":
            assert result.pop("sandboxType") in ("none", "linuxSeccomp", "macosSeatbelt")
        return result

    async def write(self, pid: str, data: bytes, write_id: str | None = None) -> Any:
        """process/write in this client's dialect (Codex's carries a fresh writeId)."""
        params: dict[str, Any] = {"processId": pid, "chunk": b64(data)}
        if self.dialect == "codex":
            params["writeId"] = write_id or f"w-{next(self._write_ids)}"
        return await self.request("process/write", params)

    async def events(self, pid: str, timeout: float = WAIT) -> list[dict[str, Any]]:
        """Notifications of `pid` up to and including process/closed."""
        out: list[dict[str, Any]] = []
        q = self.queue(pid)
        while True:
            msg = await asyncio.wait_for(q.get(), timeout)
            out.append(msg)
            if msg["method"] == "process/closed":
                return out

    async def events_until_output(self, pid: str, needle: bytes,
                                  timeout: float = WAIT) -> list[dict[str, Any]]:
        """Notifications of `pid` until its output so far contains `needle`."""
        out: list[dict[str, Any]] = []
        data = b""
        q = self.queue(pid)
        while needle not in data:
            msg = await asyncio.wait_for(q.get(), timeout)
            out.append(msg)
            if msg["method"] == "process/output":
                data += unb64(msg["params"]["chunk"])
        return out

    async def wait_closed_read(self, pid: str, timeout: float = WAIT) -> dict[str, Any]:
        """Long-poll process/read until the process is closed; return the last result."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        after = 0
        while True:
            r = await self.request("process/read", {"processId": pid, "afterSeq": after,
                                                    "waitMs": 1000})
            after = r["nextSeq"] - 1
            if r["closed"]:
                return r
            assert loop.time() < deadline, f"{pid} did not close in {timeout} s"


def output_of(events: list[dict[str, Any]]) -> bytes:
    return b"".join(unb64(e["params"]["chunk"]) for e in events
                    if e["method"] == "process/output")


class InProcClient(Client):
    """Drives a handler Connection directly: no socket, no child process."""

    def __init__(self, *, retain_closed_s: float = 30.0, backend=None,
                 dialect: str = "legacy") -> None:
        super().__init__(dialect)
        self.backend = backend or LocalBackend()
        self.conn = Connection.standalone(self.backend, self._send,
                                         retain_closed_s=retain_closed_s)
        self._watch: asyncio.Task | None = None

    async def _send(self, msg) -> None:
        # Round-trip through JSON, as a real transport would.
        from codex.exec_server.protocol import Fragments

        if isinstance(msg, Fragments):
            msg = msg.joined()
        self._dispatch(json.loads(msg if isinstance(msg, str | bytes) else json.dumps(msg)))

    async def open(self) -> InProcClient:
        self._watch = asyncio.get_running_loop().create_task(self._on_hangup())
        return self

    async def _on_hangup(self) -> None:
        await self.conn.hangup.wait()
        await self.conn.aclose()
        self._transport_gone()

    async def send_raw(self, frame: str | bytes) -> None:
        if self.gone.is_set():
            raise ConnectionError("transport closed")
        self.conn.receive(frame)

    async def aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await self.conn.aclose()
        self._transport_gone()


def make_client(kind: str, ws_url: str | None = None, *, retain_closed_ms: int | None = None,
                dialect: str = "legacy") -> Client:
    """An unopened client over `kind` ("inproc", "stdio", "ws") speaking `dialect`; use as
    `async with`."""
    if kind == "inproc":
        return InProcClient(retain_closed_s=30.0 if retain_closed_ms is None
                            else retain_closed_ms / 1000, dialect=dialect)
    if kind == "stdio":
        extra = () if retain_closed_ms is None else (f"--retain-closed-ms={retain_closed_ms}",)
        return StdioClient(*extra, dialect=dialect)
    assert ws_url is not None
    return WsClient(ws_url, dialect=dialect)


def server_cmd(*args: str) -> list[str]:
    return [*codex_cmd(), "exec-server", *args]


def _child_env() -> dict[str, str]:
    # Unchanged: with CODEX_TEST_BINARY the frozen file must not pick up this checkout.
    return dict(os.environ)


class StdioClient(Client):
    """A real `codex exec-server --listen stdio` child process."""

    def __init__(self, *extra_args: str, dialect: str = "legacy") -> None:
        super().__init__(dialect)
        self.extra_args = extra_args
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def open(self) -> StdioClient:
        self.proc = await asyncio.create_subprocess_exec(
            *server_cmd("--listen", "stdio", *self.extra_args), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=None, env=_child_env(), limit=512 << 20)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self._dispatch(json.loads(line))
        self._transport_gone()

    async def send_raw(self, frame: str | bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        if self.gone.is_set():
            raise ConnectionError("transport closed")
        data = frame.encode() if isinstance(frame, str) else frame
        self.proc.stdin.write(data + b"\n")
        await self.proc.stdin.drain()

    async def drop(self) -> None:
        """Client side of a disconnect: EOF on the server's stdin."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()

    async def aclose(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), WAIT)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, WAIT)


class WsServer:
    """A real `codex exec-server --listen ws://127.0.0.1:0` child; `url` is what it printed."""

    def __init__(self, *extra_args: str, listen: str = "ws://127.0.0.1:0",
                 program: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.args = ["--listen", listen, *extra_args]
        self.program = program  # another exec-server (Codex's) instead of ours
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> WsServer:
        cmd = [*self.program, "exec-server", *self.args] if self.program \
            else server_cmd(*self.args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None,
                                     env=self.env or _child_env(), text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line.startswith("ws://"), f"server printed {line!r}"
        self.url = line
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


class WsClient(Client):
    """A websocket client of a real server child."""

    def __init__(self, url: str, *, dialect: str = "legacy", **connect_kw: Any) -> None:
        super().__init__(dialect)
        self.url = url
        self.connect_kw = connect_kw
        self.ws = None
        self._reader: asyncio.Task | None = None

    async def open(self) -> WsClient:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, max_size=None, compression=None, **self.connect_kw)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        assert self.ws is not None
        try:
            async for frame in self.ws:
                self._dispatch(json.loads(frame))
        except ConnectionClosed:
            pass
        self._transport_gone()

    async def send_raw(self, frame: str | bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        assert self.ws is not None
        if self.gone.is_set():
            raise ConnectionError("transport closed")
        try:
            await self.ws.send(frame)
        except ConnectionClosed as e:
            raise ConnectionError("transport closed") from e

    async def drop(self) -> None:
        assert self.ws is not None
        await self.ws.close()

    async def aclose(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, WAIT)


HAVE_PROC = os.path.exists("/proc/self/stat")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int  # without /proc: the pgid (our children lead both)
    state: str
    argv: tuple[str, ...]


def processes() -> list[Proc]:
    """Every process we can see: /proc on Linux, `ps` elsewhere."""
    found: list[Proc] = []
    if not HAVE_PROC:
        out = subprocess.run(["ps", "-axo", "pid=,ppid=,pgid=,stat=,command="],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            pid, ppid, pgid, state, *argv = line.split()
            found.append(Proc(int(pid), int(ppid), int(pgid), int(pgid), state[0],
                              tuple(argv)))
        return found
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        argv = tuple(a.decode(errors="replace") for a in cmdline.split(b"\0")[:-1])
        found.append(Proc(int(name), int(fields[1]), int(fields[2]), int(fields[3]),
                          fields[0].decode(), argv))
    return found


def session_pids(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes with an argument containing `marker`."""
    me = os.getpid()
    return [p.pid for p in processes()
            if p.state != "Z" and p.pid != me and any(marker in a for a in p.argv)]


def children(ppid: int) -> list[tuple[int, str]]:
    """(pid, state) of the direct children of `ppid`."""
    return [(p.pid, p.state) for p in processes() if p.ppid == ppid]


async def wait_until(pred: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `pred` until true; return the seconds it took. Fails after `timeout`."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while not pred():
        assert loop.time() - t0 < timeout, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.02)
    return loop.time() - t0

