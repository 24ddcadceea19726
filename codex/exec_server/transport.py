"""Moving frames between clients and `Connection`s: websocket (one message per frame) and stdio
(newline-delimited JSON). Each transport owns its sockets/pipes and nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codex.errors import UsageError
from codex.exec_server import protocol as p
from codex.exec_server.handler import RETAIN_CLOSED_S, Connection, Send
from codex.exec_server.local import LocalBackend

log = logging.getLogger(__name__)

# Largest frame/line we accept (a `process/write` of a big paste, base64-encoded).
MAX_MESSAGE_BYTES = 64 << 20
ACCEPTED_LISTEN_FORMS = "ws://IP:PORT (port 0 = any free port) or stdio"


@dataclass(frozen=True, slots=True)
class Listen:
    kind: str  # "ws" | "stdio"
    host: str = ""
    port: int = 0

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_listen(value: str) -> Listen:
    """`--listen` value -> Listen; UsageError naming the accepted forms otherwise."""
    if value in ("stdio", "stdio://"):
        return Listen("stdio")
    bad = UsageError(f"invalid --listen value {value!r}: expected {ACCEPTED_LISTEN_FORMS}")
    if not value.startswith("ws://"):
        raise bad
    rest = value[len("ws://"):].rstrip("/")
    if rest.startswith("["):
        host, sep, port_s = rest[1:].partition("]:")
    else:
        host, sep, port_s = rest.rpartition(":")
    if not sep or not host or not port_s.isdigit() or int(port_s) > 65535:
        raise bad
    return Listen("ws", host, int(port_s))


def _display_url(host: str, port: int) -> str:
    return f"ws://[{host}]:{port}" if ":" in host else f"ws://{host}:{port}"


class Server:
    """Every connection of one server process, so a signal can close them all."""

    def __init__(self, *, retain_closed_s: float = RETAIN_CLOSED_S,
                 backend_factory: Callable[[], LocalBackend] = LocalBackend) -> None:
        self.retain_closed_s = retain_closed_s
        self.backend_factory = backend_factory
        # Each connection has its own backend: its processes die with it.
        self.connections: dict[Connection, LocalBackend] = {}

    def new_connection(self, send: Send) -> Connection:
        backend = self.backend_factory()
        conn = Connection(backend, send, retain_closed_s=self.retain_closed_s)
        self.connections[conn] = backend
        return conn

    async def drop(self, conn: Connection) -> None:
        try:
            await conn.aclose()
        finally:
            self.connections.pop(conn, None)

    async def close_all(self) -> None:
        await asyncio.gather(*(self.drop(c) for c in list(self.connections)),
                             return_exceptions=True)

    def kill_now(self) -> None:
        """Last resort (synchronous): SIGKILL every process of every open connection."""
        for backend in self.connections.values():
            backend.kill_now()


# --- websocket --------------------------------------------------------------------------

def _make_process_request(token: str | None):
    import hmac
    import http

    def process_request(connection, request):
        if request.headers.get("Origin") is not None:
            # A browser page must not drive a shell on this machine.
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Origin not allowed\n")
        if token is not None:
            got = request.headers.get("Authorization", "")
            expected = f"Bearer {token}"
            if not hmac.compare_digest(got.encode(), expected.encode()):
                return connection.respond(http.HTTPStatus.UNAUTHORIZED,
                                          "missing or wrong bearer token\n")
        return None

    return process_request


async def serve_websocket(listen: Listen, server: Server, stop: asyncio.Event, *,
                          token: str | None) -> None:
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def handle(ws) -> None:
        async def send(msg: dict[str, Any] | str) -> None:
            try:
                await ws.send(p.encode(msg))
            except ConnectionClosed:
                pass

        conn = server.new_connection(send)
        try:
            receiver = asyncio.ensure_future(_ws_receive(ws, conn, ConnectionClosed))
            hangup = asyncio.ensure_future(conn.hangup.wait())
            await asyncio.wait({receiver, hangup}, return_when=asyncio.FIRST_COMPLETED)
            receiver.cancel()
            hangup.cancel()
        finally:
            await server.drop(conn)

    async with serve(handle, listen.host, listen.port,
                     process_request=_make_process_request(token), compression=None,
                     max_size=MAX_MESSAGE_BYTES, max_queue=64, write_limit=1 << 20, close_timeout=2,
                     server_header=None) as ws_server:
        sock = next(iter(ws_server.sockets))
        host, port = sock.getsockname()[:2]
        sys.stdout.write(_display_url(host, port) + "\n")
        sys.stdout.flush()
        log.info("listening on %s", _display_url(host, port))
        await stop.wait()
        # Processes first: they are what must not outlive us; then say goodbye to clients.
        await server.close_all()
        ws_server.close(close_connections=True)


async def _ws_receive(ws, conn: Connection, closed_exc: type[Exception]) -> None:
    with contextlib.suppress(closed_exc):
        async for message in ws:
            conn.receive(message)
            if conn.hangup.is_set():
                return


# --- stdio ------------------------------------------------------------------------------

async def serve_stdio(server: Server, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES, loop=loop)
    stdin = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    if _pollable(stdin.fileno()):
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), stdin)
    else:
        # A regular file or /dev/null cannot be polled: feed it from one helper thread.
        loop.run_in_executor(None, _feed_from_file, loop, reader, stdin)
    writer: asyncio.StreamWriter | None = None
    if _pollable(stdout.fileno()):
        w_transport, w_protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, stdout)
        writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)
    # else: plain blocking writes (to a file they do not block for long)

    async def send(msg: dict[str, Any] | str) -> None:
        line = p.encode(msg).encode() + b"\n"
        if writer is None:
            stdout.write(line)
            return
        if writer.is_closing():
            return
        writer.write(line)
        try:
            await writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            pass

    conn = server.new_connection(send)

    async def receive_lines() -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                # Longer than MAX_MESSAGE_BYTES: skip to the next newline, answer, go on.
                conn.receive(b"\x00line too long")
                continue
            if not line:
                return  # EOF: the client is gone
            if line.strip():
                conn.receive(line)
            if conn.hangup.is_set():
                return

    receiver = asyncio.ensure_future(receive_lines())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receiver.cancel()
        stopper.cancel()
        await server.drop(conn)
        if writer is not None:
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                await writer.drain()
            writer.close()


def _pollable(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)


def _feed_from_file(loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader,
                    f) -> None:
    while data := f.read(1 << 16):
        loop.call_soon_threadsafe(reader.feed_data, data)
    loop.call_soon_threadsafe(reader.feed_eof)
