"""The process seam: `ExecBackend` starts processes, `ExecProcess` drives one of them.

unified_exec and the exec-server handler depend only on these types. `LocalBackend`
(local.py) spawns here; `RemoteBackend` (remote.py) talks JSON-RPC to an exec-server.
Every process owns one ordered event stream; nothing is broadcast and filtered later.
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
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
    # Sandbox policy to apply to the child (a SandboxPolicy.to_wire() dict), or None.
    sandbox: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ReadResult:
    chunks: list[Output]
    next_seq: int
    exited: bool
    exit_code: int | None
    closed: bool
    failure: str | None = None


class EventStream:
    """One process's ordered events. Buffered from the start, so a late consumer loses
    nothing; ends after `Closed` or `Failed`."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[ExecSessionEvent] = asyncio.Queue()
        self._done = False

    def push(self, event: ExecSessionEvent) -> None:
        if self._done:
            return
        self._queue.put_nowait(event)
        if isinstance(event, Closed | Failed):
            self._done = True

    async def next(self) -> ExecSessionEvent:
        return await self._queue.get()

    def get_nowait(self) -> ExecSessionEvent | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def __aiter__(self) -> AsyncIterator[ExecSessionEvent]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[ExecSessionEvent]:
        while True:
            ev = await self._queue.get()
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


class ExecBackend(ABC):
    """Starts processes. `close()` kills every process it started."""

    @abstractmethod
    async def start(self, params: StartParams) -> tuple[ExecProcess, EventStream]: ...

    @abstractmethod
    async def close(self) -> None: ...

