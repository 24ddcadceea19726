"""Sessions: a client's processes, kept for a grace period when its websocket drops so that a
new connection can resume them (`initialize {resumeSessionId}`; spec "The newest Codex
dialect").

A `Session` owns a backend and its process slots; a `Connection` (handler.py) is attached to
at most one session and a session to at most one connection. Each slot has one pump task that
forwards its events, in seq order, to whichever connection is attached; while none is, the
pump waits (the backend then stops reading a chatty child once its event stream is full, so
nothing is produced that could be lost). A resuming client reads what it missed with
`process/read {afterSeq}`.

Output acknowledgements (ours, opt-in with `initialize {outputAcks: true}`): the client
notifies `process/ack {processId, seq}` as output arrives; the server keeps every chunk it
has not yet seen acknowledged readable (beyond the 1 MiB window) and stops sending a process's
output while more than ACK_WINDOW_BYTES of it are unacknowledged. So output in flight when a
connection dies is still there to read after the resume, however large the buffers on the
way were.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from codex.exec_server import protocol as p
from codex.exec_server.backend import (
    Closed,
    EventStream,
    ExecBackend,
    ExecProcess,
    Failed,
    Output,
)

if TYPE_CHECKING:
    from codex.exec_server.handler import Connection

log = logging.getLogger(__name__)

# Spec "Lifecycle": a closed process stays readable (and its id taken) this long.
RETAIN_CLOSED_S = 30.0
# Spec: a dropped websocket's session is kept this long for a resume (`--session-grace-ms`).
SESSION_GRACE_S = 30.0
# Unacknowledged output a process may have in flight before its pump waits for an ack.
ACK_WINDOW_BYTES = 4 << 20
# Accepted write ids remembered per process (a retry is answered `accepted`, not rewritten);
# the oldest are forgotten first, long after any retry of them could come.
WRITE_IDS_REMEMBERED = 4096


class SlotState(enum.Enum):
    STARTING = "starting"  # process/start in progress: the id is taken
    RUNNING = "running"  # started; its events are being forwarded
    CLOSED = "closed"  # `closed` sent; retained until expiry


@dataclass(eq=False)
class ProcessSlot:
    process_id: str
    state: SlotState = SlotState.STARTING
    process: ExecProcess | None = None
    events: EventStream | None = None
    pump: asyncio.Task | None = None
    expiry: asyncio.TimerHandle | None = None
    write_ids: OrderedDict[str, None] = field(default_factory=OrderedDict)
    metadata: dict[str, str] | None = None
    # Output acknowledgements: (seq, bytes) sent and not yet acknowledged.
    unacked: deque[tuple[int, int]] = field(default_factory=deque)
    unacked_bytes: int = 0
    window_open: asyncio.Event = field(default_factory=asyncio.Event)

    def remember_write(self, write_id: str) -> None:
        self.write_ids[write_id] = None
        while len(self.write_ids) > WRITE_IDS_REMEMBERED:
            self.write_ids.popitem(last=False)


class SessionState(enum.Enum):
    ATTACHED = "attached"
    DETACHED = "detached"  # within the grace period
    CLOSED = "closed"  # processes killed; cannot be resumed


class Session:
    """One client's processes, independent of the connection that currently carries them."""

    def __init__(self, registry: SessionRegistry, session_id: str, backend: ExecBackend, *,
                 output_acks: bool) -> None:
        self.registry = registry
        self.session_id = session_id
        self.backend = backend
        self.output_acks = output_acks
        self.state = SessionState.DETACHED
        self.connection: Connection | None = None
        self.slots: dict[str, ProcessSlot] = {}
        self._attached = asyncio.Event()
        self._grace_timer: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task | None = None

    # --- attachment ---------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        """Make `conn` the connection that carries this session; a previous one is told to
        hang up (its pending long-polls are abandoned with it)."""
        old = self.connection
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        self.connection = conn
        self.state = SessionState.ATTACHED
        self._attached.set()
        if old is not None and old is not conn:
            old.taken_over()
        for slot in self.slots.values():
            slot.window_open.set()  # the new client acknowledges afresh

    def detach(self, conn: Connection, *, resumable: bool) -> bool:
        """`conn` is gone. Keep the session for the grace period when it can be resumed
        (True); else the caller must `close()` it (False)."""
        if self.connection is not conn or self.state is SessionState.CLOSED:
            return True
        self.connection = None
        self._attached.clear()
        grace = self.registry.grace_s
        if not resumable or grace <= 0:
            return False
        self.state = SessionState.DETACHED
        log.info("session %s detached; kept %.1f s for a resume", self.session_id, grace)
        self._grace_timer = asyncio.get_running_loop().call_later(grace, self._expire)
        return True

    def _expire(self) -> None:
        self._grace_timer = None
        if self.state is SessionState.DETACHED:
            log.info("session %s expired unresumed; killing its processes", self.session_id)
            self.close_soon()

    def close_soon(self) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self.close())

    async def close(self) -> None:
        """Kill every process of the session and forget it (idempotent)."""
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        self.registry._forget(self)
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        pumps = [s.pump for s in self.slots.values() if s.pump is not None]
        for slot in self.slots.values():
            if slot.expiry is not None:
                slot.expiry.cancel()
        for t in pumps:
            t.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        await self.backend.close()
        self.slots.clear()

    # --- process slots ------------------------------------------------------------------

    def reserve(self, process_id: str) -> ProcessSlot:
        """Take `process_id` (state STARTING); ProtocolError if it is taken."""
        if process_id in self.slots:
            raise p.ProtocolError(p.INVALID_REQUEST, f"process {process_id} already exists")
        slot = ProcessSlot(process_id)
        slot.window_open.set()
        self.slots[process_id] = slot
        return slot

    def release(self, slot: ProcessSlot) -> None:
        if self.slots.get(slot.process_id) is slot:
            del self.slots[slot.process_id]

    def started(self, slot: ProcessSlot, process: ExecProcess, events: EventStream) -> None:
        slot.process, slot.events, slot.state = process, events, SlotState.RUNNING
        if self.output_acks:
            process.keep_output_after(0)

    def start_pump(self, slot: ProcessSlot) -> None:
        if self.state is SessionState.CLOSED or slot.events is None:
            return
        slot.pump = asyncio.get_running_loop().create_task(self._pump(slot))

    async def _pump(self, slot: ProcessSlot) -> None:
        assert slot.events is not None
        async for ev in slot.events:
            if isinstance(ev, Failed):
                return
            conn = await self._sender(slot)
            await conn.send_event(slot.process_id, ev)
            if isinstance(ev, Output) and self.output_acks:
                slot.unacked.append((ev.seq, len(ev.chunk)))
                slot.unacked_bytes += len(ev.chunk)
                if slot.unacked_bytes > ACK_WINDOW_BYTES:
                    slot.window_open.clear()
            if isinstance(ev, Closed):
                slot.state = SlotState.CLOSED
                slot.expiry = asyncio.get_running_loop().call_later(
                    self.registry.retain_closed_s, self._expire_slot, slot)

    async def _sender(self, slot: ProcessSlot) -> Connection:
        """The attached connection, once there is one and the ack window is open."""
        while True:
            conn = self.connection
            if conn is None:
                await self._attached.wait()
                continue
            if not slot.window_open.is_set():
                await slot.window_open.wait()
                continue
            return conn

    def ack(self, process_id: str, seq: int) -> None:
        slot = self.slots.get(process_id)
        if slot is None or not self.output_acks:
            return
        while slot.unacked and slot.unacked[0][0] <= seq:
            slot.unacked_bytes -= slot.unacked.popleft()[1]
        if slot.unacked_bytes <= ACK_WINDOW_BYTES:
            slot.window_open.set()
        if slot.process is not None:
            slot.process.keep_output_after(seq)

    def _expire_slot(self, slot: ProcessSlot) -> None:
        self.release(slot)


class SessionRegistry:
    """Every live session of one server, by id."""

    def __init__(self, backend_factory: Callable[[], ExecBackend], *,
                 grace_s: float = SESSION_GRACE_S,
                 retain_closed_s: float = RETAIN_CLOSED_S) -> None:
        self.backend_factory = backend_factory
        self.grace_s = grace_s
        self.retain_closed_s = retain_closed_s
        self.sessions: dict[str, Session] = {}

    def create(self, conn: Connection, *, output_acks: bool) -> Session:
        session = Session(self, str(uuid.uuid4()), self.backend_factory(),
                          output_acks=output_acks)
        self.sessions[session.session_id] = session
        session.attach(conn)
        return session

    def resume(self, session_id: str, conn: Connection) -> Session:
        """Attach `conn` to a live session; -32600 for an unknown or expired one."""
        session = self.sessions.get(session_id)
        if session is None or session.state is SessionState.CLOSED:
            raise p.ProtocolError(p.INVALID_REQUEST, f"unknown session id {session_id}")
        session.attach(conn)
        return session

    def _forget(self, session: Session) -> None:
        if self.sessions.get(session.session_id) is session:
            del self.sessions[session.session_id]

    async def close_all(self) -> None:
        await asyncio.gather(*(s.close() for s in list(self.sessions.values())),
                             return_exceptions=True)

    def kill_now(self) -> None:
        """Last resort (synchronous): SIGKILL every process of every session."""
        for session in self.sessions.values():
            kill = getattr(session.backend, "kill_now", None)
            if kill is not None:
                kill()

