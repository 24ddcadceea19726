"""The process seam: `ExecBackend` starts processes, `ExecProcess` drives one of them.

unified_exec and the exec-server handler depend only on these types. `LocalBackend`
(local.py) spawns here; `RemoteBackend` (remote.py) talks JSON-RPC to an exec-server.
Every process owns one ordered event stream; nothing is broadcast and filtered later.
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class WriteStatus(enum.StrEnum):
    """Outcome of a write; these are results, not errors (wire values are the enum values)."""

    ACCEPTED = "accepted"
    UNKNOWN_PROCESS = "unknownProcess"
    STDIN_CLOSED = "stdinClosed"
    STARTING = "starting"


@dataclass(frozen=True, slots=True)
class Output:
    seq: int
    stream: str  # "pty" | "stdout" | "stderr"
    chunk: bytes


@dataclass(frozen=True, slots=True)
class Exited:
    seq: int
    exit_code: int  # 128+N when killed by signal N
    sandbox_denied: bool = False  # the failure looks like the sandbox's doing


@dataclass(frozen=True, slots=True)
class Closed:
    """Exit recorded and all output drained; always the last event of a process."""

    seq: int


@dataclass(frozen=True, slots=True)
class Failed:
    """The process can no longer be observed (remote transport lost). Also terminal."""

    message: str


ExecSessionEvent = Output | Exited | Closed | Failed

TRANSPORT_DISCONNECTED = "exec-server transport disconnected"


class BackendDisconnected(Exception):
    """The backend lost its link to where the process runs (a remote backend's transport);
    the process can no longer be driven. `message` starts with TRANSPORT_DISCONNECTED.
    (Subclassed by `client_transport.ExecServerDisconnected`, which is also a CodexError.)"""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SpawnError(Exception):
    """`ExecBackend.start` could not start the process; `message` is for people (the OS
    error text, or why the sandbox is unavailable). The process id stays free."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class StartParams:
    """What `process/start` carries. `env` is the child's whole environment."""

    process_id: str
    argv: Sequence[str]
    cwd: str
    env: Mapping[str, str]
    tty: bool = False
    pipe_stdin: bool = False
    arg0: str | None = None
    # Sandbox to apply to the child: our policy (a SandboxPolicy.to_wire() dict) or Codex's
    # sandbox context (spec "The newest Codex dialect"), or None.
    sandbox: Mapping[str, Any] | None = None
    # `metadata {threadId, toolCallId}` of the newest dialect: recorded, not interpreted.
    metadata: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ReadResult:
    chunks: list[Output]
    next_seq: int
    exited: bool
    exit_code: int | None
    closed: bool
    failure: str | None = None
    sandbox_denied: bool = False


class EventStream:
    """One process's ordered events. Buffered from the start, so a late consumer loses
    nothing; ends after `Closed` or `Failed`.

    Flow control: a producer may ask to be told when the consumer has caught up
    (`call_when_drained`) once more than `HIGH_WATER` bytes of output wait unconsumed; the
    local backend then stops reading the child until then, so a slow client slows the child
    down instead of growing our memory. A stream nobody consumes therefore holds the child
    after `HIGH_WATER` bytes; consume it (or drop the process) to keep the child running.
    """

    HIGH_WATER = 16 << 20
    LOW_WATER = 4 << 20

    def __init__(self) -> None:
        self._queue: asyncio.Queue[ExecSessionEvent] = asyncio.Queue()
        self._done = False
        self._pending_bytes = 0
        self._on_drain: Callable[[], None] | None = None

    @property
    def pending_bytes(self) -> int:
        """Output bytes pushed but not yet taken by the consumer."""
        return self._pending_bytes

    def push(self, event: ExecSessionEvent) -> None:
        if self._done:
            return
        self._queue.put_nowait(event)
        if isinstance(event, Output):
            self._pending_bytes += len(event.chunk)
        if isinstance(event, Closed | Failed):
            self._done = True

    def call_when_drained(self, callback: Callable[[], None]) -> None:
        """Call `callback` once pending output falls to LOW_WATER (now, if it already has)."""
        if self._pending_bytes <= self.LOW_WATER:
            callback()
        else:
            self._on_drain = callback

    def _took(self, event: ExecSessionEvent) -> ExecSessionEvent:
        if isinstance(event, Output):
            self._pending_bytes -= len(event.chunk)
            if self._on_drain is not None and self._pending_bytes <= self.LOW_WATER:
                callback, self._on_drain = self._on_drain, None
                callback()
        return event

    async def next(self) -> ExecSessionEvent:
        return self._took(await self._queue.get())

    def get_nowait(self) -> ExecSessionEvent | None:
        try:
            return self._took(self._queue.get_nowait())
        except asyncio.QueueEmpty:
            return None

    def __aiter__(self) -> AsyncIterator[ExecSessionEvent]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[ExecSessionEvent]:
        while True:
            ev = await self.next()
            yield ev
            if isinstance(ev, Closed | Failed):
                return


class ExecProcess(ABC):
    """One started process, local or remote."""

    process_id: str
    tty: bool

    @abstractmethod
    async def write(self, data: bytes) -> WriteStatus: ...

    @abstractmethod
    async def terminate(self) -> bool:
        """Kill the process group (SIGTERM, then SIGKILL). True if it was running."""

    @abstractmethod
    async def interrupt(self) -> bool:
        """Send SIGINT to the process group (Ctrl-C for non-tty sessions)."""

    @abstractmethod
    async def read(
        self, after_seq: int = 0, max_bytes: int | None = None, wait_ms: int = 0
    ) -> ReadResult: ...

    def keep_output_after(self, seq: int | None) -> None:
        """Retain every output chunk with a seq above `seq` for `read`, beyond the usual
        window (None: back to the usual window). The server pins what a client that
        acknowledges output has not yet acknowledged, so a resumed session loses nothing.
        Backends without retention ignore it."""
        return None

    async def signal(self, name: str) -> bool:
        """Send signal `name` ("SIGINT", "SIGTERM", ...) to the process group; True if it was
        delivered (False: already exited). Backends that can only interrupt override less."""
        if name == "SIGINT":
            return await self.interrupt()
        raise NotImplementedError(f"{type(self).__name__} cannot send {name}")


class ExecBackend(ABC):
    """Starts processes. `close()` kills every process it started."""

    @abstractmethod
    async def start(self, params: StartParams) -> tuple[ExecProcess, EventStream]: ...

    @abstractmethod
    async def close(self) -> None: ...

