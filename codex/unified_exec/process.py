"""One unified_exec process: a backend process plus what we have observed of it.

`ProcessHandle` is the backend side (a local PTY/pipe process or one on an exec-server — the
`ExecProcess` seam hides which). `ProcessState` is what both report the same way. A pump task
moves the process's events into the output buffer and the state, so the process keeps being
observed between tool calls (and after a turn ends) without anyone waiting on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from codex.errors import CodexError
from codex.exec_server.backend import (
    BackendDisconnected,
    Closed,
    EventStream,
    ExecProcess,
    Exited,
    Failed,
    Output,
    WriteStatus,
)
from codex.unified_exec.buffer import Collected, HeadTailBuffer

log = logging.getLogger(__name__)

# `observer(stream, chunk)`: stream is "stdout" | "stderr" | "pty", chunk the raw bytes.
OutputObserver = Callable[[str, bytes], None]

# A write answered `starting` is retried this often, this long (spawn is nearly done).
STARTING_RETRY_S = 0.01
STARTING_RETRY_FOR_S = 2.0


@dataclass
class ProcessState:
    """What is known about a process, whichever backend runs it."""

    has_exited: bool = False
    exit_code: int | None = None
    failure_message: str | None = None

    @property
    def finished(self) -> bool:
        """Exited, or can no longer be observed."""
        return self.has_exited or self.failure_message is not None


@dataclass(frozen=True, slots=True)
class ProcessHandle:
    """A started backend process and its event stream."""

    process: ExecProcess
    events: EventStream

    @property
    def tty(self) -> bool:
        return bool(getattr(self.process, "tty", False))


class UnifiedExecProcess:
    """A running command the tools can poll, write to, interrupt and kill."""

    def __init__(self, handle: ProcessHandle, *, command: str, tty: bool) -> None:
        self.handle = handle
        self.command = command
        self.tty = tty
        self.state = ProcessState()
        self.closed = False  # all output drained (or failed): nothing more will come
        self.buffer = HeadTailBuffer()
        # Sees output as it arrives while a tool call waits on this process (streaming).
        self.observer: OutputObserver | None = None
        self.last_used = time.monotonic()
        self._changed = asyncio.Event()
        self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    @property
    def exited(self) -> bool:
        """Exited or failed: pruned before live sessions."""
        return self.state.finished

    async def _run_pump(self) -> None:
        events = self.handle.events
        try:
            while True:
                ev = await events.next()
                if isinstance(ev, Output):
                    self.buffer.push(ev.chunk)
                    if self.observer is not None:
                        self.observer(ev.stream, ev.chunk)
                elif isinstance(ev, Exited):
                    self.state.has_exited = True
                    self.state.exit_code = ev.exit_code
                elif isinstance(ev, Closed):
                    self.closed = True
                elif isinstance(ev, Failed):
                    self.state.failure_message = ev.message
                    self.closed = True
                self._changed.set()
                if self.closed:
                    return
        finally:
            self.closed = True
            self._changed.set()

    async def _wait_until(self, predicate, deadline: float) -> bool:
        """Wait until `predicate()` holds or the monotonic `deadline` passes.

        A timer sets the event instead of `asyncio.wait_for`, which (Python 3.11) can swallow
        a cancellation that races with the event: an interrupted turn must stay interrupted.
        """
        loop = asyncio.get_running_loop()
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            if predicate():
                return True
            timer = loop.call_later(remaining, self._changed.set)
            try:
                await self._changed.wait()
            finally:
                timer.cancel()
        return True

    async def wait_finished(self, deadline: float) -> bool:
        """Until the process exits or fails, or the deadline."""
        return await self._wait_until(lambda: self.state.finished, deadline)

    async def wait_closed(self, deadline: float) -> bool:
        """Until the last output is in (after an exit), or the deadline."""
        return await self._wait_until(lambda: self.closed, deadline)

    def take_output(self) -> Collected:
        return self.buffer.drain()

    async def write(self, data: bytes) -> WriteStatus:
        """Write to stdin/PTY; `starting` is retried briefly. Transport loss is a failure."""
        give_up = time.monotonic() + STARTING_RETRY_FOR_S
        while True:
            try:
                status = await self.handle.process.write(data)
            except CodexError as e:
                self._backend_error("write", e)
                return WriteStatus.UNKNOWN_PROCESS
            if status is not WriteStatus.STARTING or time.monotonic() > give_up:
                return status
            await asyncio.sleep(STARTING_RETRY_S)

    async def interrupt(self) -> bool:
        try:
            return await self.handle.process.interrupt()
        except CodexError as e:
            self._backend_error("interrupt", e)
            return False

    async def terminate(self) -> bool:
        if self.closed:
            return False
        try:
            return await self.handle.process.terminate()
        except CodexError as e:
            self._backend_error("terminate", e)
            return False

    def _backend_error(self, what: str, e: CodexError) -> None:
        """A lost transport fails the process; any other backend error only fails the call."""
        if not isinstance(e, BackendDisconnected):
            log.warning("%s of `%s` failed: %s", what, self.command, e.message)
            return
        if self.state.failure_message is None and not self.closed:
            self.state.failure_message = e.message
        self._changed.set()

    def when_closed(self, callback) -> None:
        """Call `callback(self)` once no more events will come."""
        self._pump.add_done_callback(lambda _task: callback(self))

    async def stop_pump(self) -> None:
        if not self._pump.done():
            self._pump.cancel()
        try:
            await self._pump
        except asyncio.CancelledError:
            pass
