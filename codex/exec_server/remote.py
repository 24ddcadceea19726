"""RemoteBackend: processes on an exec-server, reached over a websocket or a stdio child.

A small JSON-RPC client moves frames; `RemoteBackend` keeps one event channel per process,
registered *before* `process/start` (its first notifications may beat the response) and
dropped after `process/closed`. When the transport goes away every live process gets a
`Failed` event, so nobody waits forever on a server that is gone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from codex.errors import CodexError
from codex.exec_server.backend import (
    TRANSPORT_DISCONNECTED,
    Closed,
    EventStream,
    ExecBackend,
    ExecProcess,
    Exited,
    Failed,
    Output,
    ReadResult,
    SpawnError,
    StartParams,
    WriteStatus,
)

log = logging.getLogger(__name__)

# JSON-RPC error codes (exec-server spec).
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

CLIENT_NAME = "codex-unified-exec"
# A process/read answer may carry a whole 1 MiB retention window, base64-encoded.
MAX_FRAME_BYTES = 64 * 1024 * 1024
STDIO_EXIT_GRACE_S = 3.0
STDERR_TAIL_BYTES = 2048


class ExecServerError(CodexError):
    """A JSON-RPC error the exec-server answered."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class ExecServerDisconnected(CodexError):
    """The transport to the exec-server is gone; message starts with TRANSPORT_DISCONNECTED."""


class ExecServerUnavailable(CodexError):
    """The exec-server could not be reached or launched."""


# --- transports -------------------------------------------------------------------------


class _Transport(ABC):
    """Moves whole JSON texts; `recv` returns None at a clean end of stream."""

    @abstractmethod
    async def send(self, text: str) -> None: ...

    @abstractmethod
    async def recv(self) -> str | None: ...

    @abstractmethod
    async def close(self) -> None: ...

    def end_reason(self) -> str:
        return "connection closed"


class _WebSocketTransport(_Transport):
    def __init__(self, ws: Any, url: str) -> None:
        self._ws = ws
        self._url = url
        self._closed_reason = "connection closed"

    @classmethod
    async def open(cls, url: str, token: str | None) -> _WebSocketTransport:
        from websockets.asyncio.client import connect  # websockets only when remote is used

        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            ws = await connect(url, additional_headers=headers, proxy=None, compression=None,
                               max_size=MAX_FRAME_BYTES, open_timeout=10)
        except (OSError, TimeoutError) as e:
            raise ExecServerUnavailable(f"cannot connect to exec-server at {url}: {e}") from e
        except Exception as e:  # websockets' handshake errors (HTTP 401/403, bad URL, ...)
            if type(e).__module__.startswith("websockets"):
                raise ExecServerUnavailable(
                    f"cannot connect to exec-server at {url}: {e}") from e
            raise
        return cls(ws, url)

    async def send(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._ws.send(text)
        except ConnectionClosed as e:
            raise ExecServerDisconnected(f"{TRANSPORT_DISCONNECTED}: {e}") from e

    async def recv(self) -> str | None:
        from websockets.exceptions import ConnectionClosed

        try:
            data = await self._ws.recv()
        except ConnectionClosed as e:
            self._closed_reason = f"websocket to {self._url} closed ({e})"
            return None
        return data.decode("utf-8") if isinstance(data, bytes) else data

    async def close(self) -> None:
        await self._ws.close()

    def end_reason(self) -> str:
        return self._closed_reason


class _StdioTransport(_Transport):
    """An exec-server child speaking newline-delimited JSON on its stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, argv: Sequence[str]) -> None:
        self._proc = proc
        self._argv = list(argv)
        self._send_lock = asyncio.Lock()
        self._stderr_tail = b""
        self._stderr_task = asyncio.get_running_loop().create_task(self._collect_stderr())

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    async def spawn(cls, argv: Sequence[str], env: Mapping[str, str] | None) -> _StdioTransport:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(env) if env is not None else None,
                limit=MAX_FRAME_BYTES,
                start_new_session=True,  # a Ctrl-C at our terminal is ours to handle
            )
        except OSError as e:
            raise ExecServerUnavailable(
                f"cannot start exec-server ({' '.join(argv)}): {e}") from e
        return cls(proc, argv)

    async def _collect_stderr(self) -> None:
        assert self._proc.stderr is not None
        while True:
            data = await self._proc.stderr.read(4096)
            if not data:
                return
            self._stderr_tail = (self._stderr_tail + data)[-STDERR_TAIL_BYTES:]

    async def send(self, text: str) -> None:
        assert self._proc.stdin is not None
        async with self._send_lock:
            try:
                self._proc.stdin.write(text.encode("utf-8") + b"\n")
                await self._proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as e:
                raise ExecServerDisconnected(
                    f"{TRANSPORT_DISCONNECTED}: {self.end_reason()}") from e

    async def recv(self) -> str | None:
        assert self._proc.stdout is not None
        try:
            line = await self._proc.stdout.readline()
        except (ValueError, asyncio.LimitOverrunError) as e:
            raise ExecServerDisconnected(
                f"{TRANSPORT_DISCONNECTED}: oversized message from exec-server: {e}") from e
        if not line:
            # Let the child finish so the reason can name its exit status.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 0.5)
            return None
        return line.decode("utf-8")

    def end_reason(self) -> str:
        rc = self._proc.returncode
        status = "is still running" if rc is None else f"exited with status {rc}"
        if rc is not None and rc < 0:
            status = f"was killed by signal {-rc}"
        reason = f"exec-server process {self._proc.pid} {status}"
        tail = self._stderr_tail.decode("utf-8", "replace").strip()
        if tail:
            last = [line.strip() for line in tail.splitlines() if line.strip()][-5:]
            reason += f"; its stderr ends: {' | '.join(last)}"
        return reason

    async def close(self) -> None:
        # EOF on stdin ends the server, and with it its processes.
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), STDIO_EXIT_GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()
        self._stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._stderr_task


# --- JSON-RPC client ----------------------------------------------------------------------


class JsonRpcClient:
    """Requests matched to responses by id; notifications handed to a callback."""

    def __init__(
        self,
        transport: _Transport,
        on_notification: Callable[[str, Mapping[str, Any]], None],
        on_disconnect: Callable[[str], None],
    ) -> None:
        self._transport = transport
        self._on_notification = on_notification
        self._on_disconnect = on_disconnect
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.lost: str | None = None  # disconnect message, once the transport is gone
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    def _message(self, reason: str) -> str:
        return f"{TRANSPORT_DISCONNECTED}: {reason}"

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        if self.lost is not None:
            raise ExecServerDisconnected(self.lost)
        req_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            msg["params"] = params
        try:
            await self._transport.send(json.dumps(msg, separators=(",", ":")))
            return await fut
        finally:
            self._pending.pop(req_id, None)

    async def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        if self.lost is not None:
            raise ExecServerDisconnected(self.lost)
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        await self._transport.send(json.dumps(msg, separators=(",", ":")))

    async def _read_loop(self) -> None:
        reason = "connection closed"
        try:
            while True:
                text = await self._transport.recv()
                if text is None:
                    reason = self._transport.end_reason()
                    return
                self._dispatch(text)
        except ExecServerDisconnected as e:
            reason = e.message.removeprefix(f"{TRANSPORT_DISCONNECTED}: ")
        except OSError as e:
            reason = f"transport error: {e}"
        finally:
            self._disconnect(reason)

    def _dispatch(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            log.warning("exec-server sent a frame that is not JSON: %.200r", text)
            return
        if not isinstance(msg, dict):
            log.warning("exec-server sent a non-object frame: %.200r", text)
            return
        if "method" in msg and "id" not in msg:
            params = msg.get("params")
            self._on_notification(str(msg["method"]), params if isinstance(params, dict) else {})
            return
        if "method" in msg:
            # We serve no requests; answer so the server is not left waiting.
            reply = {"jsonrpc": "2.0", "id": msg["id"],
                     "error": {"code": METHOD_NOT_FOUND, "message": "client serves no methods"}}
            asyncio.get_running_loop().create_task(self._send_quietly(reply))
            return
        fut = self._pending.get(msg.get("id")) if isinstance(msg.get("id"), int) else None
        if fut is None:
            if "error" in msg:
                log.warning("exec-server error not matching a request: %.300r", msg["error"])
            return
        if fut.done():
            return
        if "error" in msg:
            err = msg["error"] if isinstance(msg["error"], dict) else {}
            fut.set_exception(ExecServerError(int(err.get("code", INTERNAL_ERROR)),
                                              str(err.get("message", "exec-server error")),
                                              err.get("data")))
        else:
            fut.set_result(msg.get("result"))

    async def _send_quietly(self, msg: Mapping[str, Any]) -> None:
        with contextlib.suppress(CodexError, OSError):
            await self._transport.send(json.dumps(msg))

    def _disconnect(self, reason: str) -> None:
        if self.lost is not None:
            return
        self.lost = self._message(reason)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ExecServerDisconnected(self.lost))
        self._on_disconnect(self.lost)

    async def close(self) -> None:
        try:
            await self._transport.close()
        finally:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), 5)
            if not self._reader.done():
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
            self._disconnect("connection closed by client")


# --- backend ------------------------------------------------------------------------------


def default_stdio_command() -> list[str]:
    """This program's own `exec-server --listen stdio`."""
    if getattr(sys, "frozen", False) or "__compiled__" in globals():
        return [sys.executable, "exec-server", "--listen", "stdio"]
    return [sys.executable, "-m", "codex", "exec-server", "--listen", "stdio"]


def read_token_file(path: str | os.PathLike[str]) -> str:
    p = Path(path).expanduser()
    try:
        token = p.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ExecServerUnavailable(f"cannot read exec-server token file {p}: {e}") from e
    if not token:
        raise ExecServerUnavailable(f"exec-server token file {p} is empty")
    return token


class RemoteProcess(ExecProcess):
    """A process on the exec-server, driven through its JSON-RPC methods."""

    def __init__(self, backend: RemoteBackend, process_id: str, tty: bool) -> None:
        self._backend = backend
        self.process_id = process_id
        self.tty = tty

    async def _call(self, method: str, **params: Any) -> Any:
        return await self._backend._request(method, {"processId": self.process_id, **params})

    async def write(self, data: bytes) -> WriteStatus:
        result = await self._call("process/write", chunk=base64.b64encode(data).decode("ascii"))
        status = (result or {}).get("status")
        try:
            return WriteStatus(status)
        except ValueError:
            raise ExecServerError(INTERNAL_ERROR, f"unexpected write status {status!r}") from None

    async def terminate(self) -> bool:
        result = await self._call("process/terminate")
        return bool((result or {}).get("running"))

    async def interrupt(self) -> bool:
        return await self.signal("SIGINT")

    async def signal(self, name: str) -> bool:
        """Send signal `name` to the process group (our `process/signal` extension)."""
        try:
            result = await self._call("process/signal", signal=name)
        except ExecServerError as e:
            if e.code == METHOD_NOT_FOUND:
                raise ExecServerError(e.code, "this exec-server cannot signal processes "
                                      "(it lacks process/signal)") from e
            raise
        return bool((result or {}).get("delivered"))

    async def read(self, after_seq: int = 0, max_bytes: int | None = None,
                   wait_ms: int = 0) -> ReadResult:
        r = await self._call("process/read", afterSeq=after_seq, maxBytes=max_bytes,
                             waitMs=wait_ms)
        chunks = [Output(int(c["seq"]), str(c["stream"]), base64.b64decode(c["chunk"]))
                  for c in r.get("chunks", [])]
        return ReadResult(chunks, int(r.get("nextSeq", 0)), bool(r.get("exited")),
                          r.get("exitCode"), bool(r.get("closed")), r.get("failure"))


class RemoteBackend(ExecBackend):
    """An `ExecBackend` on an exec-server. Connects on first use (or `await connect()`)."""

    def __init__(self, *, url: str | None = None, token_file: str | None = None,
                 stdio_command: Sequence[str] | None = None,
                 stdio_env: Mapping[str, str] | None = None) -> None:
        if (url is None) == (stdio_command is None):
            raise ValueError("RemoteBackend needs exactly one of url or stdio_command")
        self.url = url
        self._token_file = token_file
        self._stdio_command = list(stdio_command) if stdio_command is not None else None
        self._stdio_env = stdio_env
        self._client: JsonRpcClient | None = None
        self._transport: _Transport | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._routes: dict[str, EventStream] = {}
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def websocket(cls, url: str, token_file: str | None = None) -> RemoteBackend:
        return cls(url=url, token_file=token_file)

    @classmethod
    def stdio(cls, command: Sequence[str] | None = None,
              env: Mapping[str, str] | None = None) -> RemoteBackend:
        """Spawn `command` (default: this program's `exec-server --listen stdio`)."""
        if env is None:
            from codex.child_env import user_environ

            env = user_environ()
        return cls(stdio_command=command or default_stdio_command(), stdio_env=env)

    def describe(self) -> str:
        return self.url or "(stdio child)"

    @property
    def server_pid(self) -> int | None:
        """The pid of a stdio exec-server child (None for websockets)."""
        t = self._transport
        return t.pid if isinstance(t, _StdioTransport) else None

    @property
    def live_process_ids(self) -> list[str]:
        """Processes with a registered event channel (started, not yet closed)."""
        return list(self._routes)

    async def connect(self) -> None:
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._closed:
                raise ExecServerUnavailable("exec-server connection was closed")
            if self._client is not None:
                if self._client.lost is None:
                    return
                # The old connection is gone (its processes got `Failed`); new processes
                # get a new connection — for stdio, a new server child.
                log.info("reconnecting to exec-server %s after: %s", self.describe(),
                         self._client.lost)
                await self._client.close()
                self._client = None
            if self._stdio_command is not None:
                transport: _Transport = await _StdioTransport.spawn(self._stdio_command,
                                                                    self._stdio_env)
            else:
                assert self.url is not None
                token = read_token_file(self._token_file) if self._token_file else None
                transport = await _WebSocketTransport.open(self.url, token)
            self._transport = transport
            client = JsonRpcClient(transport, self._on_notification, self._on_disconnect)
            try:
                await client.request("initialize", {"clientName": CLIENT_NAME})
                await client.notify("initialized", {})
            except CodexError as e:
                await client.close()
                raise ExecServerUnavailable(
                    f"exec-server {self.describe()} did not complete the handshake: "
                    f"{e.message}") from e
            self._client = client

    async def _request(self, method: str, params: Mapping[str, Any]) -> Any:
        if self._client is None:
            raise ExecServerUnavailable("exec-server is not connected")
        return await self._client.request(method, params)

    async def start(self, params: StartParams) -> tuple[ExecProcess, EventStream]:
        await self.connect()
        pid = params.process_id
        if pid in self._routes:
            raise ExecServerError(INVALID_REQUEST, f"process {pid} already exists")
        stream = EventStream()
        self._routes[pid] = stream  # before the request: its first events may beat the answer
        wire: dict[str, Any] = {
            "processId": pid,
            "argv": list(params.argv),
            "cwd": params.cwd,
            "env": dict(params.env),
            "tty": params.tty,
            "pipeStdin": params.pipe_stdin,
            "arg0": params.arg0,
        }
        if params.sandbox is not None:
            wire["sandbox"] = dict(params.sandbox)
        try:
            await self._request("process/start", wire)
        except ExecServerError as e:
            self._unroute(pid, stream)
            raise SpawnError(e.message) from e
        except asyncio.CancelledError:
            # The server may start it anyway: nobody would ever see or stop it. Kill it.
            self._unroute(pid, stream)
            self._background_terminate(pid)
            raise
        except BaseException:
            self._unroute(pid, stream)
            raise
        return RemoteProcess(self, pid, params.tty), stream

    def _background_terminate(self, pid: str) -> None:
        async def terminate() -> None:
            with contextlib.suppress(CodexError):
                await self._request("process/terminate", {"processId": pid})

        task = asyncio.get_running_loop().create_task(terminate())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _unroute(self, pid: str, stream: EventStream) -> None:
        if self._routes.get(pid) is stream:
            del self._routes[pid]

    def _on_notification(self, method: str, params: Mapping[str, Any]) -> None:
        pid = params.get("processId")
        stream = self._routes.get(pid) if isinstance(pid, str) else None
        if stream is None:
            if method.startswith("process/"):
                log.debug("dropping %s for unknown process %r", method, pid)
            return
        try:
            if method == "process/output":
                stream.push(Output(int(params["seq"]), str(params.get("stream", "stdout")),
                                   base64.b64decode(params["chunk"])))
            elif method == "process/exited":
                stream.push(Exited(int(params["seq"]), int(params["exitCode"])))
            elif method == "process/closed":
                stream.push(Closed(int(params["seq"])))
                del self._routes[pid]
            else:
                log.debug("ignoring notification %s", method)
        except (KeyError, TypeError, ValueError) as e:
            log.warning("malformed %s notification from exec-server: %s", method, e)

    def _on_disconnect(self, message: str) -> None:
        routes, self._routes = self._routes, {}
        for stream in routes.values():
            stream.push(Failed(message))

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.close()
