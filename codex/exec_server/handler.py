"""One exec-server connection: handshake rules, the process table, request dispatch.

Sans-I/O in the way that matters: the transport hands `receive()` each decoded frame and gives
the connection an async `send(message)` for what goes back; nothing here knows about sockets
or stdio, so tests drive a Connection directly. Requests run as concurrent tasks (a long-poll
read never holds up a write); each process has one pump task that forwards its events in seq
order, so notifications of one process are never reordered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from codex.exec_server import protocol as p
from codex.exec_server.backend import (
    Closed,
    EventStream,
    ExecBackend,
    ExecProcess,
    Failed,
    Output,
    SpawnError,
)

log = logging.getLogger(__name__)

# Spec "Lifecycle": a closed process stays readable (and its id taken) this long.
RETAIN_CLOSED_S = 30.0

# Sends one message: a dict, or JSON text already encoded (see protocol.encode).
Send = Callable[[dict[str, Any] | str], Awaitable[None]]


@dataclass(eq=False)
class _Entry:
    process_id: str
    process: ExecProcess | None = None  # None while starting
    events: EventStream | None = None
    closed: bool = False
    pump: asyncio.Task | None = None
    expiry: asyncio.TimerHandle | None = None


class Connection:
    """The server side of one client connection."""

    def __init__(self, backend: ExecBackend, send: Send, *,
                 retain_closed_s: float = RETAIN_CLOSED_S) -> None:
        self._backend = backend
        self._send = send
        self._retain_closed_s = retain_closed_s
        self._got_initialize = False
        self._got_initialized = False
        self._entries: dict[str, _Entry] = {}
        self._tasks: set[asyncio.Task] = set()
        self._closing = False
        # Set when the client broke the protocol badly enough that the transport should hang
        # up (spec: stray notifications, responses, `initialized` first).
        self.hangup = asyncio.Event()
        self.hangup_reason: str | None = None

    # --- input -------------------------------------------------------------------------

    def receive(self, frame: str | bytes | Mapping[str, Any]) -> None:
        """Handle one incoming frame/line. Never raises for bad input."""
        if self._closing or self.hangup.is_set():
            return
        try:
            msg = p.parse_message(frame)
        except p.ParseError as e:
            self._reply_error(e.id, e)
            return
        if isinstance(msg, p.Response):
            self._hang_up("client sent a response object")
        elif isinstance(msg, p.Notification):
            self._on_notification(msg)
        else:
            self._on_request(msg)

    def _on_notification(self, msg: p.Notification) -> None:
        if msg.method == p.INITIALIZED and self._got_initialize:
            self._got_initialized = True
        elif msg.method == p.INITIALIZED:
            self._hang_up("initialized sent before initialize")
        else:
            self._hang_up(f"unexpected client notification {msg.method!r}")

    def _on_request(self, req: p.Request) -> None:
        # Handshake and validation happen here, synchronously and in arrival order; only the
        # work that may wait runs in a task.
        try:
            if req.method not in p.REQUEST_METHODS:
                raise p.ProtocolError(p.METHOD_NOT_FOUND, f"method not found: {req.method}")
            if req.method == p.INITIALIZE:
                if self._got_initialize:
                    raise p.ProtocolError(p.INVALID_REQUEST, p.MSG_INITIALIZE_TWICE)
                p.decode_initialize(req.params)
                self._got_initialize = True
                self._spawn(self._send(p.result_response(req.id, {})))
                return
            if not self._got_initialize:
                raise p.ProtocolError(p.INVALID_REQUEST, p.MSG_NOT_INITIALIZED)
            if not self._got_initialized:
                raise p.ProtocolError(p.INVALID_REQUEST, p.MSG_NOT_INITIALIZED_NOTIFIED)
            work = self._prepare(req)
        except p.ProtocolError as e:
            self._reply_error(req.id, e)
            return
        self._spawn(self._run(req.id, work))

    def _prepare(self, req: p.Request) -> Awaitable[tuple[Any, Callable[[], None] | None]]:
        """Decode params (raising ProtocolError) and return the coroutine that does the work."""
        if req.method == p.PROCESS_START:
            params = p.decode_start(req.params)
            if params.process_id in self._entries:
                raise p.ProtocolError(p.INVALID_REQUEST,
                                      f"process {params.process_id} already exists")
            entry = _Entry(params.process_id)
            self._entries[params.process_id] = entry  # taken from now on: `starting`
            return self._start(entry, params)
        if req.method == p.PROCESS_READ:
            return self._read(p.decode_read(req.params))
        if req.method == p.PROCESS_WRITE:
            return self._write(*p.decode_write(req.params))
        if req.method == p.PROCESS_TERMINATE:
            return self._terminate(p.decode_process_id(req.params))
        return self._signal(*p.decode_signal(req.params))

    # --- methods -----------------------------------------------------------------------

    async def _start(self, entry: _Entry, params) -> tuple[Any, Callable[[], None] | None]:
        try:
            process, events = await self._backend.start(params)
        except SpawnError as e:
            if self._entries.get(entry.process_id) is entry:
                del self._entries[entry.process_id]
            raise p.ProtocolError(p.INTERNAL_ERROR, e.message) from None
        entry.process, entry.events = process, events
        # The pump starts once the response is on its way, so the client hears of the start
        # before the process's first notification.
        return {"processId": entry.process_id}, lambda: self._start_pump(entry)

    def _lookup(self, process_id: str) -> _Entry | None:
        return self._entries.get(process_id)

    async def _read(self, rp: p.ReadParams) -> tuple[Any, None]:
        entry = self._lookup(rp.process_id)
        if entry is None:
            raise p.ProtocolError(p.INVALID_REQUEST, f"unknown process id {rp.process_id}")
        if entry.process is None:
            raise p.ProtocolError(p.INVALID_REQUEST, f"process id {rp.process_id} is starting")
        result = await entry.process.read(rp.after_seq, rp.max_bytes, rp.wait_ms)
        return p.encode_read_result(result), None

    async def _write(self, process_id: str, data: bytes) -> tuple[Any, None]:
        entry = self._lookup(process_id)
        if entry is None:
            status = "unknownProcess"
        elif entry.process is None:
            status = "starting"
        else:
            status = str(await entry.process.write(data))
        return {"status": status}, None

    async def _terminate(self, process_id: str) -> tuple[Any, None]:
        entry = self._lookup(process_id)
        running = False
        if entry is not None and entry.process is not None and not entry.closed:
            running = await entry.process.terminate()
        return {"running": running}, None

    async def _signal(self, process_id: str, name: str) -> tuple[Any, None]:
        entry = self._lookup(process_id)
        delivered = False
        if entry is not None and entry.process is not None and not entry.closed:
            delivered = await entry.process.signal(name)
        return {"delivered": delivered}, None

    # --- per-process notifications -----------------------------------------------------

    def _start_pump(self, entry: _Entry) -> None:
        if self._closing:
            return
        entry.pump = asyncio.get_running_loop().create_task(self._pump(entry))

    async def _pump(self, entry: _Entry) -> None:
        assert entry.events is not None
        async for ev in entry.events:
            if isinstance(ev, Failed):
                return
            if isinstance(ev, Output):
                await self._send(p.output_notification_text(entry.process_id, ev))
            else:
                await self._send(p.event_notification(entry.process_id, ev))
            if isinstance(ev, Closed):
                entry.closed = True
                entry.expiry = asyncio.get_running_loop().call_later(
                    self._retain_closed_s, self._expire, entry)

    def _expire(self, entry: _Entry) -> None:
        if self._entries.get(entry.process_id) is entry:
            del self._entries[entry.process_id]

    # --- plumbing ----------------------------------------------------------------------

    async def _run(self, req_id: p.RequestId,
                   work: Awaitable[tuple[Any, Callable[[], None] | None]]) -> None:
        then = None
        try:
            result, then = await work
            msg = p.result_response(req_id, result)
        except p.ProtocolError as e:
            msg = p.error_response(req_id, e)
        except Exception as e:
            # A bug of ours must still answer the request and keep the connection.
            log.exception("request %r failed", req_id)
            msg = p.error_response(req_id, p.ProtocolError(p.INTERNAL_ERROR,
                                                            f"internal error: {e}"))
        await self._send(msg)
        if then is not None:
            then()

    def _reply_error(self, req_id: p.RequestId | None, err: p.ProtocolError) -> None:
        self._spawn(self._send(p.error_response(req_id, err)))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _hang_up(self, reason: str) -> None:
        log.info("closing connection: %s", reason)
        self.hangup_reason = reason
        self.hangup.set()

    async def aclose(self) -> None:
        """The connection is gone (or the server stops): kill its processes, stop its tasks."""
        if self._closing:
            return
        self._closing = True
        tasks = list(self._tasks)
        for entry in self._entries.values():
            if entry.pump is not None:
                tasks.append(entry.pump)
            if entry.expiry is not None:
                entry.expiry.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._backend.close()
        self._entries.clear()
