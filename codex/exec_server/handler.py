"""One exec-server connection: the handshake, and a method table that serves requests.

Sans-I/O in the way that matters: the transport hands `receive()` each frame (or an already
parsed message) and gives the connection an async `send(message)`; nothing here knows about
sockets or stdio, so tests drive a Connection directly. Processes belong to a `Session`
(session.py), which outlives the connection for a resume. Requests run as concurrent tasks
(a long-poll read never holds up a write); each process's events are forwarded by one pump,
so notifications of one process are never reordered.

Each request is answered in its own dialect (protocol.Dialect); notifications use the dialect
of the connection's `initialize`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from codex.exec_server import protocol as p
from codex.exec_server.backend import (
    Closed,
    ExecBackend,
    Exited,
    Output,
    SpawnError,
    WriteStatus,
)
from codex.exec_server.session import (
    RETAIN_CLOSED_S,
    ProcessSlot,
    Session,
    SessionRegistry,
    SlotState,
)

log = logging.getLogger(__name__)

# Sends one message: a dict, JSON already encoded as text or UTF-8 bytes (protocol.encode),
# or protocol.Fragments of one big message.
Send = Callable[[dict[str, Any] | str | bytes | p.Fragments], Awaitable[None]]


class HandshakeState(enum.Enum):
    AWAITING_INITIALIZE = "awaiting initialize"
    AWAITING_INITIALIZED = "awaiting initialized"
    READY = "ready"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Reply:
    """What a method answers: a result (a JSON-ready value or RawJson) and what to do once
    the answer is on its way (e.g. start forwarding a new process's events)."""

    result: Any
    then: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class Method:
    """One row of the method table: decode params (raising ProtocolError) synchronously, in
    arrival order; then `run` the work as a task."""

    decode: Callable[[Mapping[str, Any]], Any]
    run: Callable[[Connection, p.Request, Any], Awaitable[Reply]]


class Connection:
    """The server side of one client connection."""

    def __init__(self, registry: SessionRegistry, send: Send, *, resumable: bool = False) -> None:
        self._registry = registry
        self._send = send
        self.resumable = resumable  # websocket: a dropped connection's session may be resumed
        self.state = HandshakeState.AWAITING_INITIALIZE
        self.dialect = p.Dialect.LEGACY  # of notifications: that of `initialize`
        self.session: Session | None = None
        self._tasks: set[asyncio.Task] = set()
        # Set when the connection should end: the client broke the protocol badly enough
        # (spec: stray notifications, responses, `initialized` first) or another connection
        # took its session over.
        self.hangup = asyncio.Event()
        self.hangup_reason: str | None = None

    @classmethod
    def standalone(cls, backend: ExecBackend, send: Send, *,
                   retain_closed_s: float = RETAIN_CLOSED_S) -> Connection:
        """A connection with a registry of its own around `backend` (tests, embedding)."""
        registry = SessionRegistry(lambda: backend, grace_s=0, retain_closed_s=retain_closed_s)
        return cls(registry, send)

    # --- input -------------------------------------------------------------------------

    def receive(self, frame: str | bytes | bytearray | p.Message | p.ParseError) -> None:
        """Handle one incoming frame/line, or the outcome of parsing one off the loop
        (`protocol.parse_message`'s message or ParseError). Never raises for bad input:
        every malformed frame gets its error answer."""
        if self.state is HandshakeState.CLOSED or self.hangup.is_set():
            return
        if isinstance(frame, p.ParseError):
            self.reply_error(frame.id, frame, self.dialect)
            return
        if isinstance(frame, p.Request | p.Notification | p.Response):
            msg = frame
        else:
            try:
                msg = p.parse_message(frame)
            except p.ParseError as e:
                self.reply_error(e.id, e, self.dialect)
                return
        if isinstance(msg, p.Response):
            self._hang_up("client sent a response object")
        elif isinstance(msg, p.Notification):
            self._on_notification(msg)
        else:
            self._on_request(msg)

    def _on_notification(self, msg: p.Notification) -> None:
        if msg.method == p.INITIALIZED:
            if self.state is HandshakeState.AWAITING_INITIALIZED:
                self.state = HandshakeState.READY
            elif self.state is HandshakeState.AWAITING_INITIALIZE:
                self._hang_up("initialized sent before initialize")
            return  # a repeated `initialized` changes nothing
        if msg.method == p.PROCESS_ACK and self.session is not None:
            try:
                self.session.ack(*p.decode_ack(msg.params))
            except p.ProtocolError as e:
                log.warning("ignoring malformed process/ack: %s", e.message)
            return
        self._hang_up(f"unexpected client notification {msg.method!r}")

    def _on_request(self, req: p.Request) -> None:
        # Handshake and decoding happen here, synchronously and in arrival order; only the
        # work that may wait runs in a task.
        try:
            method = _method(req.method)
            if req.method != p.INITIALIZE:
                self._check_ready()
            decoded = method.decode(req.params)
            work = method.run(self, req, decoded)
        except p.ProtocolError as e:
            self.reply_error(req.id, e, req.dialect)
            return
        self._spawn(self._answer(req, work))

    def _check_ready(self) -> None:
        if self.state is HandshakeState.AWAITING_INITIALIZE:
            raise p.ProtocolError(p.INVALID_REQUEST, p.MSG_NOT_INITIALIZED)
        if self.state is HandshakeState.AWAITING_INITIALIZED:
            raise p.ProtocolError(p.INVALID_REQUEST, p.MSG_NOT_INITIALIZED_NOTIFIED)

    # --- methods -----------------------------------------------------------------------

    def _initialize(self, req: p.Request, params: p.InitializeParams) -> Awaitable[Reply]:
        if self.state is not HandshakeState.AWAITING_INITIALIZE:
            raise p.ProtocolError(p.INVALID_REQUEST, p.MSG_INITIALIZE_TWICE)
        if params.resume_session_id is not None:
            session = self._registry.resume(params.resume_session_id, self)
        else:
            session = self._registry.create(self, output_acks=params.output_acks)
        self.session = session
        self.dialect = req.dialect
        self.state = HandshakeState.AWAITING_INITIALIZED
        result: dict[str, Any] = {"sessionId": session.session_id}
        if session.output_acks:
            result["outputAcks"] = True
        if req.dialect is p.Dialect.CODEX:
            from codex.exec_server.environment import environment_info

            result["environmentInfo"] = environment_info()
        return _done(Reply(result))

    @property
    def _session(self) -> Session:
        assert self.session is not None  # READY implies a session
        return self.session

    async def _start(self, req: p.Request, start: p.StartRequest) -> Reply:
        session = self._session
        params = _prepared(start)
        slot = session.reserve(params.process_id)
        slot.metadata = dict(params.metadata) if params.metadata else None
        try:
            process, events = await session.backend.start(params)
        except SpawnError as e:
            session.release(slot)
            raise p.ProtocolError(p.INTERNAL_ERROR, e.message) from None
        except BaseException:
            session.release(slot)
            raise
        session.started(slot, process, events)
        result: dict[str, Any] = {"processId": slot.process_id}
        if req.dialect is p.Dialect.CODEX:
            result["sandboxType"] = _sandbox_type(params.sandbox)
        # The pump starts once the response is on its way, so the client hears of the start
        # before the process's first notification.
        return Reply(result, lambda: session.start_pump(slot))

    def _slot(self, process_id: str) -> ProcessSlot | None:
        return self._session.slots.get(process_id)

    async def _read(self, req: p.Request, rp: p.ReadParams) -> Reply:
        slot = self._slot(rp.process_id)
        if slot is None:
            raise p.ProtocolError(p.INVALID_REQUEST, f"unknown process id {rp.process_id}")
        if slot.process is None:
            raise p.ProtocolError(p.INVALID_REQUEST, f"process id {rp.process_id} is starting")
        result = await slot.process.read(rp.after_seq, rp.max_bytes, rp.wait_ms)
        return Reply(p.encode_read_result(result, req.dialect))

    async def _write(self, req: p.Request, wp: p.WriteParams) -> Reply:
        slot = self._slot(wp.process_id)
        if slot is None:
            status = WriteStatus.UNKNOWN_PROCESS
        elif slot.process is None:
            status = WriteStatus.STARTING
        elif wp.write_id is not None and wp.write_id in slot.write_ids:
            status = WriteStatus.ACCEPTED  # a retry: it was written once already
        else:
            if wp.write_id is not None:
                slot.remember_write(wp.write_id)  # before awaiting: a racing retry sees it
            status = await slot.process.write(wp.data)
            if status is not WriteStatus.ACCEPTED and wp.write_id is not None:
                slot.write_ids.pop(wp.write_id, None)
        return Reply({"status": str(status)})

    async def _terminate(self, req: p.Request, process_id: str) -> Reply:
        slot = self._slot(process_id)
        running = False
        if slot is not None and slot.process is not None and slot.state is SlotState.RUNNING:
            running = await slot.process.terminate()
        return Reply({"running": running})

    async def _signal(self, req: p.Request, sp: p.SignalParams) -> Reply:
        slot = self._slot(sp.process_id)
        delivered = False
        if slot is not None and slot.process is not None and slot.state is SlotState.RUNNING:
            delivered = await slot.process.signal(sp.signal)
        return Reply({} if sp.dialect is p.Dialect.CODEX else {"delivered": delivered})

    async def _environment_info(self, req: p.Request, _: None) -> Reply:
        from codex.exec_server.environment import environment_info

        return Reply(environment_info())

    async def _environment_status(self, req: p.Request, _: None) -> Reply:
        return Reply({"status": "ready"})

    async def _fs(self, req: p.Request, run: Callable[[Mapping[str, Any]], Any]) -> Reply:
        # Blocking file work (and a big file's base64) runs in a worker thread.
        return Reply(await asyncio.to_thread(run, req.params))

    # --- output ------------------------------------------------------------------------

    async def send_event(self, process_id: str, ev: Output | Exited | Closed) -> None:
        if isinstance(ev, Output):
            await self._send(p.output_notification_frame(process_id, ev, self.dialect))
        else:
            await self._send(p.event_notification(process_id, ev, self.dialect))

    async def _answer(self, req: p.Request, work: Awaitable[Reply]) -> None:
        reply = None
        try:
            reply = await work
            if isinstance(reply.result, p.RawJson):
                msg: dict[str, Any] | p.Fragments = p.result_response_fragments(
                    req.id, reply.result, req.dialect)
            else:
                msg = p.result_response(req.id, reply.result, req.dialect)
        except p.ProtocolError as e:
            msg = p.error_response(req.id, e, req.dialect)
        except Exception as e:
            # A bug of ours must still answer the request and keep the connection.
            log.exception("request %r (%s) failed", req.id, req.method)
            msg = p.error_response(req.id, p.ProtocolError(p.INTERNAL_ERROR,
                                                            f"internal error: {e}"), req.dialect)
        await self._send(msg)
        if reply is not None and reply.then is not None:
            reply.then()
        if req.method in _BIG_TRANSFERS:
            del msg, reply, work
            self._spawn(_release_memory())

    def reply_error(self, req_id: p.RequestId | None, err: p.ProtocolError,
                    dialect: p.Dialect | None = None) -> None:
        """Answer `req_id` with `err` (in `dialect`, default the connection's)."""
        self._spawn(self._send(p.error_response(req_id, err, dialect or self.dialect)))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _hang_up(self, reason: str) -> None:
        log.info("closing connection: %s", reason)
        self.hangup_reason = reason
        self.hangup.set()

    def taken_over(self) -> None:
        """Another connection resumed our session: end this one without touching it."""
        self.session = None
        self._hang_up("session resumed by another connection")

    async def aclose(self) -> None:
        """The connection is gone (or the server stops): stop its requests and detach its
        session, which is kept for a resume or closed (killing its processes)."""
        if self.state is HandshakeState.CLOSED:
            return
        self.state = HandshakeState.CLOSED
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        session, self.session = self.session, None
        if session is not None and not session.detach(self, resumable=self.resumable):
            await session.close()


# Methods whose requests or answers may hold a whole file.
_BIG_TRANSFERS = frozenset({p.FS_READ_FILE, p.FS_WRITE_FILE})


async def _release_memory() -> None:
    from codex.exec_server._memory import release_free_memory

    await asyncio.to_thread(release_free_memory)


async def _done(reply: Reply) -> Reply:
    return reply


def _prepared(start: p.StartRequest) -> Any:
    """StartParams with the environment built from `envPolicy` and Codex's sandbox context
    turned into the policy our command sandbox enforces."""
    from dataclasses import replace

    params = start.params
    changes: dict[str, Any] = {}
    if start.env_policy is not None:
        from codex.child_env import apply_policy, user_environ

        env = apply_policy(user_environ(), start.env_policy.as_config())
        env.update(params.env)
        changes["env"] = env
    if params.sandbox is not None and "permissions" in params.sandbox:
        from codex.exec_server.sandbox_context import InvalidSandbox, command_policy

        try:
            changes["sandbox"] = command_policy(params.sandbox, params.cwd)
        except InvalidSandbox as e:
            raise p.ProtocolError(p.INVALID_PARAMS, f"invalid params: `sandbox`: {e}") from None
    return replace(params, **changes) if changes else params


def _sandbox_type(policy: Mapping[str, Any] | None) -> str:
    """Codex's name for the sandbox a command runs in (its client knows these values)."""
    if policy is None or policy.get("type", policy.get("mode")) == "danger-full-access":
        return "none"
    if sys.platform == "darwin":
        return "macosSeatbelt"
    return "linuxSeccomp"


def _no_params(params: Mapping[str, Any]) -> None:
    return None


def _fs_decode(name: str) -> Callable[[Mapping[str, Any]], Any]:
    def decode(params: Mapping[str, Any]) -> Any:
        from codex.exec_server.fs import METHODS

        return METHODS[name]

    return decode


_METHODS: dict[str, Method] = {
    p.INITIALIZE: Method(p.decode_initialize, Connection._initialize),
    p.PROCESS_START: Method(p.decode_start_request, Connection._start),
    p.PROCESS_READ: Method(p.decode_read, Connection._read),
    p.PROCESS_WRITE: Method(p.decode_write, Connection._write),
    p.PROCESS_TERMINATE: Method(p.decode_process_id, Connection._terminate),
    p.PROCESS_SIGNAL: Method(p.decode_signal, Connection._signal),
    p.ENVIRONMENT_INFO: Method(_no_params, Connection._environment_info),
    p.ENVIRONMENT_STATUS: Method(_no_params, Connection._environment_status),
    **{name: Method(_fs_decode(name), Connection._fs)
       for name in (p.FS_READ_FILE, p.FS_WRITE_FILE, p.FS_CREATE_DIRECTORY, p.FS_GET_METADATA,
                    p.FS_READ_DIRECTORY, p.FS_REMOVE, p.FS_COPY, p.FS_CANONICALIZE)},
}


def _method(name: str) -> Method:
    try:
        return _METHODS[name]
    except KeyError:
        raise p.ProtocolError(p.METHOD_NOT_FOUND, f"method not found: {name}") from None
