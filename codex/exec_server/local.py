"""LocalBackend: real processes on this machine, driven by the running asyncio loop.

Each process's output fds and its exit are watched by the loop (`add_reader`, pidfd); no
thread per process. Each process owns its seq counter, its retained output (for `read`) and
its event stream (for whoever follows it live).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal as _signal
from collections import deque

from codex import reaper, spawn
from codex.exec_server.backend import (
    Closed,
    EventStream,
    ExecBackend,
    ExecProcess,
    Exited,
    Output,
    ReadResult,
    SpawnError,
    StartParams,
    WriteStatus,
)

log = logging.getLogger(__name__)

# Spec: "at most 1 MiB of output per process; the oldest chunks go first".
RETAINED_OUTPUT_BYTES = 1 << 20
# Spec: "SIGTERM, then SIGKILL after a short grace".
KILL_GRACE_S = 1.0
# After the exit, output fds still held open by a descendant (`cmd &`) would keep the process
# from ever closing; past this grace we drain what is buffered and close anyway.
CLOSE_AFTER_EXIT_GRACE_S = 1.0
READ_SIZE = 1 << 20
# Bytes drained after the grace above, so a busy background writer cannot keep us reading.
FINAL_DRAIN_LIMIT = 1 << 20


class LocalProcess(ExecProcess):
    """One child process; created by LocalBackend.start."""

    def __init__(self, backend: LocalBackend, params: StartParams, child: spawn.Child) -> None:
        self.process_id = params.process_id
        self.tty = child.tty
        self.pid = child.pid
        self._backend = backend
        self._child = child
        self._loop = asyncio.get_running_loop()
        self.events = EventStream()
        self._seq = 0
        self._chunks: deque[Output] = deque()
        self._retained = 0
        self._keep_after: int | None = None  # see keep_output_after
        self._policy = params.sandbox
        self._sandbox_denied = False
        self._exit_code: int | None = None
        self._closed = False
        self._changed = asyncio.Event()
        self._exited_event = asyncio.Event()
        self._readers: dict[int, str] = {}
        self._pty_at_eof = False  # PTY master saw EIO before the exit: close it at the exit
        self._paused = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._kill_timer: asyncio.TimerHandle | None = None
        self._stdin = child.master if child.tty else child.stdin
        self._stdin_closed = self._stdin is None
        self._write_buf = bytearray()
        self._writer_fd: int | None = None
        if child.tty:
            assert child.master is not None
            self._readers[child.master] = "pty"
        else:
            assert child.stdout is not None and child.stderr is not None
            self._readers[child.stdout] = "stdout"
            self._readers[child.stderr] = "stderr"
        for fd, stream in self._readers.items():
            self._loop.add_reader(fd, self._on_readable, fd, stream)
        backend.watcher.watch(child.pid, self._on_exit)

    # --- output ------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _on_readable(self, fd: int, stream: str) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as e:
            # EIO: the PTY's last slave fd closed (the Linux way of saying EOF).
            if e.errno not in (errno.EIO, errno.EBADF):
                log.warning("reading %s of %s: %s", stream, self.process_id, e)
            data = b""
        if not data:
            if stream == "pty" and self._exit_code is None:
                # Every slave fd is closed but the child may still be exiting: closing the
                # master now hangs up its terminal and kills it with SIGHUP (`cat` after ^D
                # would exit 129, not 0). Stop reading; the exit closes the master.
                self._loop.remove_reader(fd)
                self._pty_at_eof = True
                return
            self._close_reader(fd)
            self._maybe_close()
            return
        self._emit(stream, data)
        if self.events.pending_bytes > EventStream.HIGH_WATER and not self._paused:
            self._pause()

    def _emit(self, stream: str, data: bytes) -> None:
        ev = Output(self._next_seq(), stream, data)
        self._chunks.append(ev)
        self._retained += len(data)
        self._evict()
        self.events.push(ev)
        self._notify()

    def _evict(self) -> None:
        keep = self._keep_after
        while (self._retained > RETAINED_OUTPUT_BYTES and self._chunks
               and (keep is None or self._chunks[0].seq <= keep)):
            self._retained -= len(self._chunks.popleft().chunk)

    def keep_output_after(self, seq: int | None) -> None:
        self._keep_after = seq
        self._evict()

    def _pause(self) -> None:
        # The live consumer is behind: stop reading so the child blocks on a full pipe.
        self._paused = True
        for fd in self._readers:
            self._loop.remove_reader(fd)
        self.events.call_when_drained(self._resume)

    def _resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        for fd, stream in self._readers.items():
            self._loop.add_reader(fd, self._on_readable, fd, stream)

    def _close_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is None:
            return
        self._loop.remove_reader(fd)
        if fd == self._stdin:
            # PTY master: reading and writing share it.
            self._stdin = None
            self._stdin_closed = True
            self._stop_writing()
        os.close(fd)

    # --- exit and close ----------------------------------------------------------------

    def _on_exit(self, status: int) -> None:
        self._exit_code = spawn.exit_code(status)
        self._child.mark_reaped(status)
        self._sandbox_denied = self._looks_denied()
        self.events.push(Exited(self._next_seq(), self._exit_code, self._sandbox_denied))
        self._exited_event.set()
        self._notify()
        if self._pty_at_eof and self._child.master in self._readers:
            self._close_reader(self._child.master)
        if self._readers:
            self._close_timer = self._loop.call_later(CLOSE_AFTER_EXIT_GRACE_S,
                                                      self._force_close)
        self._maybe_close()

    def _looks_denied(self) -> bool:
        """Whether a failed sandboxed command looks stopped by the sandbox (its last output)."""
        if self._policy is None or not self._exit_code:
            return False
        from codex.sandbox import is_sandbox_denial

        tail = b"".join(c.chunk for c in list(self._chunks)[-16:])[-16384:]
        try:
            return is_sandbox_denial(self._exit_code, tail.decode("utf-8", "replace"),
                                     policy=self._policy)
        except (ValueError, TypeError, KeyError):
            return False

    def _force_close(self, *, final: bool = False) -> None:
        """Drain what is buffered and close the output fds; `final` (backend shutdown)
        does so even while paused for a slow consumer."""
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._close_timer = None
        if self._paused and not final:
            # Data is waiting for a slow consumer, not for a lingering descendant.
            self._close_timer = self._loop.call_later(CLOSE_AFTER_EXIT_GRACE_S,
                                                      self._force_close)
            return
        for fd, stream in list(self._readers.items()):
            drained = 0
            while drained < FINAL_DRAIN_LIMIT:
                try:
                    data = os.read(fd, READ_SIZE)
                except OSError:
                    break
                if not data:
                    break
                drained += len(data)
                self._emit(stream, data)
            self._close_reader(fd)
        self._maybe_close()

    def _maybe_close(self) -> None:
        if self._closed or self._exit_code is None or self._readers:
            return
        self._closed = True
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._close_stdin()
        self.events.push(Closed(self._next_seq()))
        self._notify()
        self._backend._closed(self)

    # --- input -------------------------------------------------------------------------

    async def write(self, data: bytes) -> WriteStatus:
        if self._stdin_closed or self._stdin is None:
            return WriteStatus.STDIN_CLOSED
        self._write_buf += data
        self._flush()
        return WriteStatus.ACCEPTED

    def _flush(self) -> None:
        fd = self._stdin
        while self._write_buf and fd is not None:
            try:
                n = os.write(fd, self._write_buf)
            except BlockingIOError:
                # The child is not reading yet: finish when the fd is writable again.
                if self._writer_fd is None:
                    self._writer_fd = fd
                    self._loop.add_writer(fd, self._flush)
                return
            except OSError:
                # The reader went away (EPIPE, or EIO on a dead PTY): later writes say so.
                self._write_buf.clear()
                self._stdin_closed = True
                self._close_stdin()
                return
            del self._write_buf[:n]
        self._stop_writing()

    def _stop_writing(self) -> None:
        fd, self._writer_fd = self._writer_fd, None
        if fd is not None:
            self._loop.remove_writer(fd)

    def _close_stdin(self) -> None:
        self._stdin_closed = True
        self._stop_writing()
        if self.tty:
            return  # the PTY master is also the output: its reader closes it
        fd, self._stdin = self._stdin, None
        if fd is not None:
            os.close(fd)

    # --- control -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._exit_code is None

    async def terminate(self) -> bool:
        if not self.running:
            return False
        spawn.kill_tree([self.pid], _signal.SIGTERM)
        if self._kill_timer is None:
            # Also after the leader is gone: members that ignore SIGTERM must not survive.
            self._kill_timer = self._loop.call_later(
                KILL_GRACE_S, spawn.kill_tree, [self.pid], _signal.SIGKILL)
        return True

    async def interrupt(self) -> bool:
        return await self.signal("SIGINT")

    async def signal(self, name: str) -> bool:
        if not self.running:
            return False
        return spawn.signal_group(self.pid, _signal.Signals[name])

    async def wait_exit(self) -> int:
        await self._exited_event.wait()
        assert self._exit_code is not None
        return self._exit_code

    # --- reading -----------------------------------------------------------------------

    def _collect(self, after_seq: int, max_bytes: int | None) -> list[Output]:
        out: list[Output] = []
        total = 0
        for c in self._chunks:
            if c.seq <= after_seq:
                continue
            if out and max_bytes is not None and total + len(c.chunk) > max_bytes:
                break
            out.append(c)
            total += len(c.chunk)
            if max_bytes is not None and total >= max_bytes:
                break
        return out

    async def read(self, after_seq: int = 0, max_bytes: int | None = None,
                   wait_ms: int = 0) -> ReadResult:
        chunks = self._collect(after_seq, max_bytes)
        if not chunks and not self._closed and wait_ms > 0:
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), wait_ms / 1000)
            except TimeoutError:
                pass
            chunks = self._collect(after_seq, max_bytes)
        next_seq = chunks[-1].seq + 1 if chunks else self._seq + 1
        return ReadResult(chunks=chunks, next_seq=next_seq, exited=self._exit_code is not None,
                          exit_code=self._exit_code, closed=self._closed,
                          sandbox_denied=self._sandbox_denied)

    def _cancel_kill_timer(self) -> None:
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None


class LocalBackend(ExecBackend):
    """Spawns processes here. `close()` kills every process it started, with its session."""

    def __init__(self) -> None:
        self._live: dict[int, LocalProcess] = {}
        # Every session we started: members may outlive a leader that exited on its own.
        self._sessions: set[int] = set()
        self._watcher: spawn.ExitWatcher | None = None
        # Everything our processes start, even what leaves their sessions (codex.reaper).
        self._scope = reaper.ProcessScope()

    @property
    def watcher(self) -> spawn.ExitWatcher:
        if self._watcher is None:
            self._watcher = spawn.ExitWatcher(asyncio.get_running_loop())
        return self._watcher

    async def start(self, params: StartParams) -> tuple[LocalProcess, EventStream]:
        if not params.argv:
            raise SpawnError("argv must not be empty")
        argv = list(params.argv)
        arg0 = params.arg0
        if params.sandbox is not None:
            wrapped = _sandboxed(params, argv)
            if wrapped != argv:
                # The helper runs first and execs argv itself, carrying arg0 for us.
                argv, arg0 = wrapped, None
        try:
            if params.tty:
                child = spawn.spawn_pty(argv, cwd=params.cwd, env=params.env, arg0=arg0,
                                        scope=self._scope)
            else:
                child = spawn.spawn_pipes(argv, cwd=params.cwd, env=params.env, arg0=arg0,
                                          pipe_stdin=params.pipe_stdin, scope=self._scope)
        except OSError as e:
            raise SpawnError(str(e)) from None
        except Exception as e:  # ptyprocess re-raises the child's error as a generic type
            raise SpawnError(f"{type(e).__name__}: {e}") from None
        proc = LocalProcess(self, params, child)
        self._live[proc.pid] = proc
        self._sessions.add(proc.pid)
        return proc, proc.events

    def _closed(self, proc: LocalProcess) -> None:
        self._live.pop(proc.pid, None)
        # An empty session's number may be reused by someone else's process group: forget
        # it. One with members left (`cmd &`) keeps its number reserved while they live.
        if not spawn.session_has_members(proc.pid):
            self._sessions.discard(proc.pid)

    async def close(self) -> None:
        """SIGTERM every process tree, wait up to KILL_GRACE_S for them to exit, then SIGKILL
        whatever is left in any of our sessions."""
        running = [p for p in self._live.values() if p.running]
        if running:
            spawn.kill_tree([p.pid for p in running], _signal.SIGTERM)
            self._scope.signal(_signal.SIGTERM)  # also what left their sessions
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(p.wait_exit() for p in running)), KILL_GRACE_S)
            except TimeoutError:
                pass
        self.kill_now()
        still = [p for p in self._live.values() if p.running]
        if still:
            try:
                await asyncio.wait_for(asyncio.gather(*(p.wait_exit() for p in still)), 5.0)
            except TimeoutError:
                log.warning("processes did not exit after SIGKILL: %s", [p.pid for p in still])
        for p in list(self._live.values()):
            p._cancel_kill_timer()
            p._force_close(final=True)
        if self._watcher is not None:
            self._watcher.close()
        await self._scope.aclose()

    def kill_now(self) -> None:
        """SIGKILL every process and session we started, and all they started (synchronous;
        last resort)."""
        if self._sessions:
            spawn.kill_tree(self._sessions, _signal.SIGKILL)
        self._scope.kill()


def _sandboxed(params: StartParams, argv: list[str]) -> list[str]:
    """argv wrapped by the sandbox helper; SpawnError when it cannot be enforced (never a
    silently unsandboxed run)."""
    try:
        from codex.sandbox import wrap_argv
    except ImportError as e:
        raise SpawnError(f"sandbox unavailable: {e}") from None
    from codex.errors import CodexError

    try:
        return list(wrap_argv(params.sandbox or {}, argv, params.cwd, arg0=params.arg0))
    except CodexError as e:
        msg = e.message
        raise SpawnError(msg if msg.startswith("sandbox unavailable")
                         else f"sandbox unavailable: {msg}") from None
    except (ValueError, TypeError, KeyError) as e:
        raise SpawnError(f"invalid sandbox policy: {e}") from None
