"""The client's transports to an exec-server: a websocket, or a stdio child speaking
newline-delimited JSON. They move whole JSON texts and nothing else; `jsonrpc_client` reads
the messages. Errors are typed (`errors.py` of this package's client side lives here too):

    CodexError
    ├── ExecServerUnavailable   could not reach or launch the server
    ├── ExecServerError         the server answered a JSON-RPC error (code, message, data)
    └── ExecServerDisconnected  the link is gone (also a backend.BackendDisconnected), with a
                                DisconnectReason
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from codex.errors import CodexError
from codex.exec_server.backend import TRANSPORT_DISCONNECTED, BackendDisconnected

# A `process/read` answer or an `fs/readFile` of 100 MB, base64-encoded, is one frame.
MAX_FRAME_BYTES = 256 << 20
STDIO_EXIT_GRACE_S = 3.0
STDERR_TAIL_BYTES = 2048
CONNECT_TIMEOUT_S = 10.0


class DisconnectReason(enum.Enum):
    CLOSED_BY_SERVER = "closed by the server"
    TRANSPORT_ERROR = "transport error"
    OVERSIZED_MESSAGE = "oversized message"
    CLOSED_BY_CLIENT = "closed by the client"


class ExecServerError(CodexError):
    """A JSON-RPC error the exec-server answered."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class ExecServerDisconnected(CodexError, BackendDisconnected):
    """The transport to the exec-server is gone. `reason` says how; `detail` is for people;
    the message starts with TRANSPORT_DISCONNECTED."""

    def __init__(self, reason: DisconnectReason, detail: str) -> None:
        CodexError.__init__(self, f"{TRANSPORT_DISCONNECTED}: {detail}")
        self.reason = reason
        self.detail = detail


class ExecServerUnavailable(CodexError):
    """The exec-server could not be reached or launched. `refused`: nothing listens there
    (connection refused), i.e. the server is gone rather than unreachable for a while."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class ClientTransport(ABC):
    """Moves whole JSON texts; `recv` returns None at the end of the stream, after which
    `end()` tells why."""

    resumable = False  # a new connection may resume the session (websocket)

    @abstractmethod
    async def send(self, text: str) -> None: ...

    @abstractmethod
    async def recv(self) -> str | None: ...

    @abstractmethod
    async def close(self) -> None: ...

    def end(self) -> ExecServerDisconnected:
        return ExecServerDisconnected(DisconnectReason.CLOSED_BY_SERVER, "connection closed")


class WebSocketTransport(ClientTransport):
    resumable = True

    def __init__(self, ws: Any, url: str) -> None:
        self._ws = ws
        self._url = url
        self._end = ExecServerDisconnected(DisconnectReason.CLOSED_BY_SERVER,
                                           f"websocket to {url} closed")

    @classmethod
    async def open(cls, url: str, token: str | None) -> WebSocketTransport:
        from websockets.asyncio.client import connect  # websockets only when remote is used

        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            ws = await connect(url, additional_headers=headers, proxy=None, compression=None,
                               max_size=MAX_FRAME_BYTES, open_timeout=CONNECT_TIMEOUT_S,
                               write_limit=1 << 20)
        except (OSError, TimeoutError) as e:
            raise ExecServerUnavailable(f"cannot connect to exec-server at {url}: {e}",
                                        refused=isinstance(e, ConnectionRefusedError)) from e
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
            raise ExecServerDisconnected(DisconnectReason.CLOSED_BY_SERVER,
                                         f"websocket to {self._url} closed ({e})") from e
        except OSError as e:
            raise ExecServerDisconnected(DisconnectReason.TRANSPORT_ERROR,
                                         f"websocket to {self._url}: {e}") from e

    async def recv(self) -> str | None:
        from websockets.exceptions import ConnectionClosed

        try:
            data = await self._ws.recv()
        except ConnectionClosed as e:
            self._end = ExecServerDisconnected(DisconnectReason.CLOSED_BY_SERVER,
                                               f"websocket to {self._url} closed ({e})")
            return None
        except OSError as e:
            self._end = ExecServerDisconnected(DisconnectReason.TRANSPORT_ERROR,
                                               f"websocket to {self._url}: {e}")
            return None
        return data.decode("utf-8") if isinstance(data, bytes) else data

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            await asyncio.wait_for(self._ws.close(), 2.0)
        self._ws.transport.abort()

    def end(self) -> ExecServerDisconnected:
        return self._end


class StdioTransport(ClientTransport):
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
    async def spawn(cls, argv: Sequence[str], env: Mapping[str, str] | None) -> StdioTransport:
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
                raise ExecServerDisconnected(DisconnectReason.CLOSED_BY_SERVER,
                                             self._describe_end()) from e

    async def recv(self) -> str | None:
        assert self._proc.stdout is not None
        try:
            line = await self._proc.stdout.readline()
        except (ValueError, asyncio.LimitOverrunError) as e:
            raise ExecServerDisconnected(DisconnectReason.OVERSIZED_MESSAGE,
                                         f"oversized message from exec-server: {e}") from e
        if not line:
            # Let the child finish so the reason can name its exit status.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 0.5)
            return None
        return line.decode("utf-8")

    def _describe_end(self) -> str:
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

    def end(self) -> ExecServerDisconnected:
        return ExecServerDisconnected(DisconnectReason.CLOSED_BY_SERVER, self._describe_end())

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
