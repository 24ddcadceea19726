"""A stdio MCP server's process: start, the last lines of its stderr, its exit, its end.

No SDK here: the process is started (through `codex.spawn`, so pid = pgid = sid and the
orphan watchdog knows it) before the SDK has finished loading, and the server boots while we
import. `codex.mcp.client` then speaks JSON-RPC over `stdin_fd`/`stdout_fd`.

Shutdown (spec: "Shutdown"): EOF on stdin, then SIGTERM, then SIGKILL to the process group,
and finally to whatever is left in the server's session (an `npx` wrapper's node child, a
shell's jobs), so nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
from collections.abc import Mapping

from codex import spawn
from codex.mcp.config import StdioTransport

EOF_GRACE_S = 2.0  # for the server to exit by itself once its stdin closes
TERM_GRACE_S = 2.0  # between SIGTERM and SIGKILL
STDERR_TAIL_BYTES = 8192  # kept to explain a failure
STDERR_TAIL_LINES = 5  # of them, shown in a reason


class SpawnFailed(Exception):
    """The server's command could not be started; `reason` is for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServerProcess:
    """A started stdio server. Create with `ServerProcess.spawn` inside the event loop."""

    def __init__(self, child: spawn.Child, loop: asyncio.AbstractEventLoop) -> None:
        self.pid = child.pid
        self._child = child
        self._loop = loop
        self.stdin_fd: int | None = child.stdin
        self.stdout_fd: int | None = child.stdout
        self._stderr_fd: int | None = child.stderr
        self._stderr = bytearray()
        self.exited: asyncio.Future[int] = loop.create_future()
        self._watcher = spawn.ExitWatcher(loop)
        self._watcher.watch(self.pid, self._on_exit)
        if self._stderr_fd is not None:
            loop.add_reader(self._stderr_fd, self._read_stderr)

    @classmethod
    def spawn(cls, transport: StdioTransport, *, cwd: str,
              env: Mapping[str, str]) -> ServerProcess:
        """Start the server's command. Raises SpawnFailed with the reason."""
        loop = asyncio.get_running_loop()
        workdir = transport.cwd or cwd
        if not os.path.isdir(workdir):
            raise SpawnFailed(f"working directory {workdir} does not exist")
        argv = [transport.command, *transport.args]
        try:
            child = spawn.spawn_pipes(argv, cwd=workdir, env=env, pipe_stdin=True)
        except FileNotFoundError:
            raise SpawnFailed(f"command not found: {transport.command}") from None
        except PermissionError:
            raise SpawnFailed(f"cannot run {transport.command}: permission denied") from None
        except OSError as e:
            raise SpawnFailed(f"cannot run {transport.command}: "
                              f"{e.strerror or os.strerror(e.errno or errno.EIO)}") from None
        return cls(child, loop)

    # -- what it said, and how it ended ---------------------------------------------------
    def _read_stderr(self) -> None:
        assert self._stderr_fd is not None
        try:
            data = os.read(self._stderr_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_stderr()
            return
        self._stderr += data
        del self._stderr[:-STDERR_TAIL_BYTES]

    def _close_stderr(self) -> None:
        if self._stderr_fd is not None:
            self._loop.remove_reader(self._stderr_fd)
            os.close(self._stderr_fd)
            self._stderr_fd = None

    def _on_exit(self, status: int) -> None:
        self._child.mark_reaped(status)
        if not self.exited.done():
            self.exited.set_result(spawn.exit_code(status))

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        """The last `lines` non-empty lines the server wrote on stderr, joined by ' | '."""
        if self._stderr_fd is not None:
            self._read_stderr()  # whatever arrived just before the exit
        text = self._stderr.decode("utf-8", "replace")
        kept = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
        return " | ".join(kept)

    async def exit_code(self, wait_s: float) -> int | None:
        """The exit code once it has exited (waiting up to `wait_s`), else None."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.exited), wait_s)
        except TimeoutError:
            return None

    def describe_exit(self, code: int | None) -> str:
        """`exited with code 3: <stderr tail>` (or `was killed by signal N`)."""
        if code is None:
            what = "closed its output without exiting"
        elif code > 128 and code - 128 < signal.NSIG:
            what = f"was killed by signal {code - 128} ({signal.Signals(code - 128).name})" \
                if code - 128 in signal.valid_signals() else f"exited with code {code}"
        else:
            what = f"exited with code {code}"
        tail = self.stderr_tail()
        return f"{what}: {tail}" if tail else what

    def take_pipes(self) -> tuple[int, int]:
        """Hand the server's stdin and stdout fds to the JSON-RPC bridge, which closes them
        (closing stdin is the EOF that asks the server to exit)."""
        assert self.stdin_fd is not None and self.stdout_fd is not None, "pipes already taken"
        fds = (self.stdin_fd, self.stdout_fd)
        self.stdin_fd = self.stdout_fd = None
        return fds

    # -- the end --------------------------------------------------------------------------
    def close_stdin(self) -> None:
        _close(self.stdin_fd)
        self.stdin_fd = None

    async def terminate(self) -> None:
        """EOF, SIGTERM, SIGKILL (spec order), then the rest of its session. Idempotent."""
        self.close_stdin()
        if not self.exited.done():
            await self.exit_code(EOF_GRACE_S)
        if not self.exited.done():
            spawn.signal_group(self.pid, signal.SIGTERM)
            await self.exit_code(TERM_GRACE_S)
        if not self.exited.done() or spawn.session_has_members(self.pid):
            spawn.kill_tree([self.pid], signal.SIGKILL)
            await self.exit_code(TERM_GRACE_S)
        self._close_stderr()
        _close(self.stdout_fd)
        self.stdout_fd = None
        self._watcher.close()


def _close(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
