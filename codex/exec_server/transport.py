"""Moving frames between clients and `Connection`s: websocket (one message per frame) and stdio
(newline-delimited JSON). Each transport owns its sockets/pipes and nothing else.

Three guarantees live here (issue 15, items 9-11):
- a shutdown finishes within SHUTDOWN_BUDGET_S whatever the clients do (one that stopped
  reading is cut off, not waited for);
- at the file-descriptor limit a new websocket client is refused at once (HTTP 503 through a
  spare descriptor kept for that), the refusals are logged once per interval, and accepting
  resumes by itself when descriptors free up;
- no input ends a connection or the server: every frame gets its answer (a big one is parsed
  in a worker thread so the loop keeps serving the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import socket
import stat
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codex.errors import UsageError
from codex.exec_server import protocol as p
from codex.exec_server.handler import Connection, Send
from codex.exec_server.local import LocalBackend
from codex.exec_server.session import RETAIN_CLOSED_S, SESSION_GRACE_S, SessionRegistry

log = logging.getLogger(__name__)

# Largest frame/line we accept: a 100 MB `fs/writeFile` is ~134 MB of base64.
MAX_MESSAGE_BYTES = 256 << 20
# Bytes asked of the socket per read.
SOCKET_READ_BYTES = 4 << 20
# Frames at least this big are parsed in a worker thread (smaller ones parse in a few ms).
OFFLOAD_PARSE_BYTES = 32 << 20
ACCEPTED_LISTEN_FORMS = "ws://IP:PORT (port 0 = any free port) or stdio"
# Issue 15 item 9: the whole shutdown, processes included, leaving the interpreter's own
# exit well inside the 2 s bound.
SHUTDOWN_BUDGET_S = 1.4
# Of which: processes (SIGTERM, then SIGKILL after local.KILL_GRACE_S).
SHUTDOWN_PROCESSES_S = 1.1
# How often the out-of-descriptors refusals are logged (once per interval, with a count).
FD_LOG_INTERVAL_S = 10.0
FD_RETRY_S = 0.1
_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BUSY_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                  b"Content-Type: text/plain\r\nContent-Length: 44\r\n\r\n"
                  b"exec-server is out of file descriptors; retry")


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
    """Every session and connection of one server process, so a signal can end them all."""

    def __init__(self, *, retain_closed_s: float = RETAIN_CLOSED_S,
                 grace_s: float = SESSION_GRACE_S,
                 backend_factory: Callable[[], LocalBackend] = LocalBackend) -> None:
        self.registry = SessionRegistry(backend_factory, grace_s=grace_s,
                                        retain_closed_s=retain_closed_s)
        self.connections: set[Connection] = set()

    def new_connection(self, send: Send, *, resumable: bool) -> Connection:
        conn = Connection(self.registry, send, resumable=resumable)
        self.connections.add(conn)
        return conn

    async def drop(self, conn: Connection) -> None:
        try:
            await conn.aclose()
        finally:
            self.connections.discard(conn)

    async def close_all(self) -> None:
        """Processes first (they are what must not outlive us), then the connections."""
        await self.registry.close_all()
        await asyncio.gather(*(self.drop(c) for c in list(self.connections)),
                             return_exceptions=True)

    def kill_now(self) -> None:
        """Last resort (synchronous): SIGKILL every process of every session."""
        self.registry.kill_now()


async def _parse(frame: str | bytes) -> p.Message | p.ParseError | str | bytes:
    """A big frame parsed in a worker thread; a small one is left to the connection."""
    if len(frame) < OFFLOAD_PARSE_BYTES:
        return frame

    def parse() -> p.Message | p.ParseError:
        try:
            return p.parse_message(frame)
        except p.ParseError as e:
            return e

    return await asyncio.to_thread(parse)


def _preload() -> None:
    """Import what requests may need later, once serving has begun: a module imported
    lazily at the file-descriptor limit cannot even be opened (issue 15 item 10)."""
    import subprocess  # noqa: F401

    import ptyprocess  # noqa: F401

    import codex.child_env  # noqa: F401
    import codex.exec_server.environment  # noqa: F401
    import codex.exec_server.fs  # noqa: F401
    import codex.exec_server.sandbox_context  # noqa: F401
    import codex.sandbox  # noqa: F401

    if sys.platform.startswith("linux"):
        import codex.sandbox.linux  # noqa: F401


def _deliver(conn: Connection, item: p.Message | p.ParseError | str | bytes) -> None:
    """Hand one frame to the connection; a bug of ours answers -32603 and the server goes
    on (the frame has no id we could trust, so the error carries id -1)."""
    try:
        conn.receive(item)
    except Exception as e:
        log.exception("handling a frame failed")
        err = p.ProtocolError(p.INTERNAL_ERROR, f"internal error: {e}")
        conn.reply_error(p.PARSE_ERROR_ID, err)


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


class _Acceptor:
    """Our own accept loop on the listening socket (asyncio's spins and floods the log when
    accept() fails for want of descriptors, issue 15 item 10)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, lsock: socket.socket,
                 on_socket: Callable[[socket.socket], None]) -> None:
        self._loop = loop
        self._lsock = lsock
        self._on_socket = on_socket
        self._spare: int | None = None
        self._refused = 0
        self._last_log = -FD_LOG_INTERVAL_S
        self._retry: asyncio.TimerHandle | None = None
        self._reading = False
        self._reserve()

    def _reserve(self) -> None:
        if self._spare is None:
            with contextlib.suppress(OSError):
                self._spare = os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def start(self) -> None:
        if not self._reading:
            self._loop.add_reader(self._lsock.fileno(), self._on_ready)
            self._reading = True

    def _pause(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._lsock.fileno())
            self._reading = False
        if self._retry is None:
            self._retry = self._loop.call_later(FD_RETRY_S, self._resume)

    def _resume(self) -> None:
        self._retry = None
        self._reserve()
        self.start()

    def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        if self._reading:
            self._loop.remove_reader(self._lsock.fileno())
            self._reading = False
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None

    def _on_ready(self) -> None:
        for _ in range(64):  # a burst, then let the loop breathe
            try:
                conn, _addr = self._lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in _OUT_OF_FDS:
                    self._shed()
                else:
                    log.warning("accept failed: %s", e)
                    self._pause()
                return
            self._reserve()
            conn.setblocking(False)
            # asyncio sets this only for sockets it made itself: without it a small answer
            # waits for Nagle's algorithm (~40 ms round trips).
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._on_socket(conn)

    def _shed(self) -> None:
        """Out of descriptors: refuse the waiting client now through the spare one (instead
        of leaving it to time out), and log once per interval."""
        self._refused += 1
        now = time.monotonic()
        if now - self._last_log >= FD_LOG_INTERVAL_S:
            log.error("out of file descriptors: refusing new connections (%d refused since "
                      "the last report); accepting again once descriptors free up",
                      self._refused)
            self._last_log = now
            self._refused = 0
        if self._spare is None:
            self._pause()  # cannot even refuse: try again shortly
            return
        os.close(self._spare)
        self._spare = None
        try:
            conn, _addr = self._lsock.accept()
        except OSError:
            self._pause()
            return
        with contextlib.suppress(OSError):
            conn.setblocking(False)
            conn.send(_BUSY_RESPONSE)
        conn.close()
        self._reserve()
        if self._spare is None:
            self._pause()


async def serve_websocket(listen: Listen, server: Server, stop: asyncio.Event, *,
                          token: str | None) -> None:
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    live: set[Any] = set()
    accepted: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()

    async def handle(ws) -> None:
        async def send(msg: dict[str, Any] | str | bytes | p.Fragments) -> None:
            try:
                if isinstance(msg, p.Fragments):
                    # One text message in fragments: no 100 MB join and copy.
                    await ws.send(msg.parts, text=True)
                else:
                    # Bytes are UTF-8 JSON: a text frame, sent without decoding them first.
                    await ws.send(p.encode(msg), text=True)
            except ConnectionClosed:
                pass

        live.add(ws)
        conn = server.new_connection(send, resumable=True)
        try:
            receiver = asyncio.ensure_future(_ws_receive(ws, conn, ConnectionClosed))
            hangup = asyncio.ensure_future(conn.hangup.wait())
            await asyncio.wait({receiver, hangup}, return_when=asyncio.FIRST_COMPLETED)
            receiver.cancel()
            hangup.cancel()
        finally:
            live.discard(ws)
            await server.drop(conn)

    loop = asyncio.get_running_loop()
    lsock = socket.create_server((listen.host, listen.port),
                                 family=socket.AF_INET6 if ":" in listen.host
                                 else socket.AF_INET, backlog=128)
    lsock.setblocking(False)
    ws_server = await serve(handle, sock=lsock, start_serving=False,
                            process_request=_make_process_request(token), compression=None,
                            max_size=MAX_MESSAGE_BYTES, max_queue=64, write_limit=1 << 20,
                            close_timeout=1, server_header=None)
    # websockets builds its protocol objects in a factory it gives asyncio's server; we
    # feed that factory the sockets our own accept loop takes. The server must count as
    # serving (websockets answers 503 otherwise); our reader then replaces asyncio's.
    await ws_server.server.start_serving()
    factory = getattr(ws_server.server, "_protocol_factory", None)
    acceptor = None
    if factory is not None:
        def on_socket(sock: socket.socket) -> None:
            task = loop.create_task(loop.connect_accepted_socket(factory, sock))
            task.add_done_callback(lambda t: _accepted(t, accepted))

        acceptor = _Acceptor(loop, lsock, on_socket)
        acceptor.start()
    host, port = lsock.getsockname()[:2]
    sys.stdout.write(_display_url(host, port) + "\n")
    sys.stdout.flush()
    log.info("listening on %s", _display_url(host, port))
    loop.call_soon(_preload)
    try:
        await stop.wait()
    finally:
        if acceptor is not None:
            acceptor.stop()
        await _shutdown(server, live, accepted, ws_server)


def _accepted(task: asyncio.Task, accepted: weakref.WeakSet) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        log.warning("could not set up a connection: %s", task.exception())
        return
    transport = task.result()[0]
    # Bigger reads for big frames (a 100 MB fs/writeFile): fewer appends to the websocket
    # reader's buffer, and so fewer times it grows and is copied (asyncio reads 256 KiB).
    if hasattr(transport, "max_size"):
        transport.max_size = SOCKET_READ_BYTES
    accepted.add(transport)


async def _shutdown(server: Server, live: set[Any], accepted: weakref.WeakSet,
                    ws_server: Any) -> None:
    """Kill the processes, say goodbye to clients that listen, cut off the rest (also those
    still in their opening handshake): all within SHUTDOWN_BUDGET_S — a client that stopped
    reading, or never spoke, must not hold the server."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_BUDGET_S
    try:
        await asyncio.wait_for(server.registry.close_all(), SHUTDOWN_PROCESSES_S)
    except TimeoutError:
        log.warning("processes did not end in time; killing them")
        server.kill_now()
    goodbyes = [asyncio.ensure_future(ws.close(1001, "server shutting down"))
                for ws in list(live)]
    if goodbyes:
        await asyncio.wait(goodbyes, timeout=max(0.05, min(0.2, deadline - loop.time())))
    for ws in list(live):
        ws.transport.abort()
    for transport in list(accepted):
        if not transport.is_closing():
            transport.abort()
    for g in goodbyes:
        g.cancel()
    ws_server.close(close_connections=False)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ws_server.wait_closed(), max(0.05, deadline - loop.time()))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.close_all(), max(0.05, deadline - loop.time()))


async def _ws_receive(ws, conn: Connection, closed_exc: type[Exception]) -> None:
    with contextlib.suppress(closed_exc):
        async for message in ws:
            _deliver(conn, await _parse(message))
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
        # A regular file or /dev/null cannot be polled: feed it from a daemon thread (one
        # that can never hold up the server's exit).
        threading.Thread(target=_feed_from_file, args=(loop, reader, stdin),
                         name="stdin-feeder", daemon=True).start()
    writer: asyncio.StreamWriter | None = None
    if _pollable(stdout.fileno()):
        w_transport, w_protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, stdout)
        writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)
    # else: plain blocking writes (to a file they do not block for long)

    async def send(msg: dict[str, Any] | str | bytes | p.Fragments) -> None:
        if isinstance(msg, p.Fragments):
            parts: tuple[bytes, ...] = (*msg.parts, b"\n")
        else:
            frame = p.encode(msg)
            parts = ((frame if isinstance(frame, bytes) else frame.encode()) + b"\n",)
        if writer is None:
            for part in parts:
                stdout.write(part)
            return
        if writer.is_closing():
            return
        writer.writelines(parts)
        try:
            await writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            pass

    # Nobody can resume a stdio session: EOF ends it at once.
    conn = server.new_connection(send, resumable=False)
    loop.call_soon(_preload)

    async def receive_lines() -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                # Longer than MAX_MESSAGE_BYTES: skip to the next newline, answer, go on.
                _deliver(conn, p.ParseError(f"message longer than {MAX_MESSAGE_BYTES} bytes"))
                continue
            if not line:
                return  # EOF: the client is gone
            if line.strip():
                _deliver(conn, await _parse(line))
            if conn.hangup.is_set():
                return

    receiver = asyncio.ensure_future(receive_lines())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receiver.cancel()
        stopper.cancel()
        try:
            await asyncio.wait_for(server.close_all(), SHUTDOWN_BUDGET_S)
        except TimeoutError:
            server.kill_now()
        if writer is not None:
            with contextlib.suppress(ConnectionResetError, BrokenPipeError, TimeoutError):
                await asyncio.wait_for(writer.drain(), 0.2)
            writer.close()


def _pollable(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)


def _feed_from_file(loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader,
                    f) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed under us
        while data := f.read(1 << 16):
            loop.call_soon_threadsafe(reader.feed_data, data)
        loop.call_soon_threadsafe(reader.feed_eof)
