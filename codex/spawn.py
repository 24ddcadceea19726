"""Starting child processes in their own session, and killing them with everything they started.

Two ways to start: on a PTY (`ptyprocess`, the child gets a controlling terminal) or on
pipes (`subprocess.Popen`). Either way the child is a session leader (`setsid`), so its pid is
also its process-group id and session id, and `kill_tree` can reach every descendant that did
not deliberately leave the session (and, on Linux, those below them in the process tree).
Every child belongs to a `codex.reaper.ProcessScope` (the caller's, else a process-wide one):
before exec it joins the scope's cgroup where there is one, so what deliberately leaves the
session (`setsid`, a double fork) is still the scope's to kill. Nothing here blocks on the
child or starts a thread: the caller reads the returned fds with its event loop and learns of
the exit from `ExitWatcher`.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from codex import reaper

PTY_ROWS = 24
PTY_COLS = 80
# Bigger pipe buffers mean fewer wake-ups for chatty children (Linux only; best effort).
PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031


@dataclass(slots=True)
class Child:
    """A started child: its pid (= pgid = sid) and the parent's ends of its stdio."""

    pid: int
    tty: bool
    # PTY: `master` is read and written. Pipes: `stdout`/`stderr` are read, `stdin` written
    # (None when stdin is /dev/null).
    master: int | None = None
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    _popen: object | None = field(default=None, repr=False)

    def mark_reaped(self, returncode: int) -> None:
        # Keep subprocess from reaping (or warning about) a child we already waited for.
        if self._popen is not None:
            self._popen.returncode = returncode  # type: ignore[attr-defined]


def resolve_program(program: str, env: Mapping[str, str]) -> str:
    """The file `program` names, searched on the child's PATH (not ours)."""
    if os.sep in program or (os.altsep and os.altsep in program):
        return program
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    return found


_DEFAULT_SCOPE: reaper.ProcessScope | None = None


def default_scope() -> reaper.ProcessScope:
    """The scope of children started without one (killed only by the watchdog at exit)."""
    global _DEFAULT_SCOPE
    if _DEFAULT_SCOPE is None:
        _DEFAULT_SCOPE = reaper.ProcessScope()
    return _DEFAULT_SCOPE


def spawn_pty(argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
              arg0: str | None = None, rows: int = PTY_ROWS, cols: int = PTY_COLS,
              scope: reaper.ProcessScope | None = None) -> Child:
    """Start `argv` on a new PTY as a session leader of `scope`; raise OSError if it cannot
    run."""
    from ptyprocess import PtyProcess

    program = resolve_program(argv[0], env)
    child_argv = [arg0 if arg0 is not None else argv[0], *argv[1:]]
    env_copy = dict(env)
    scope = scope or default_scope()
    join_scope = scope.child_setup()
    if not os.path.isdir(cwd):
        # Checked here too so the common mistake gets the plain OS message.
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cwd)

    def exec_in_child() -> None:
        # ptyprocess would exec argv with argv[0] replaced by the resolved path and report
        # chdir failures by raising in the forked child; doing chdir+exec here keeps our
        # arg0 and sends any error back through ptyprocess's error pipe instead.
        # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive exec, and `yes | head`
        # in the user's terminal must end the usual way (subprocess does the same).
        for name in ("SIGPIPE", "SIGXFSZ"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        if join_scope is not None:
            join_scope()
        os.chdir(cwd)
        os.execve(program, child_argv, env_copy)

    proc = PtyProcess.spawn([program], env=env_copy, preexec_fn=exec_in_child,
                            dimensions=(rows, cols))
    scope.add(proc.pid)
    # Take the master fd away from ptyprocess: its close()/__del__ would block on the child.
    master = os.dup(proc.fd)
    proc.fileobj.close()
    proc.closed = True
    os.set_blocking(master, False)
    return Child(pid=proc.pid, tty=True, master=master)


def spawn_pipes(argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
                arg0: str | None = None, pipe_stdin: bool = False,
                scope: reaper.ProcessScope | None = None) -> Child:
    """Start `argv` on pipes as a session leader of `scope`; raise OSError if it cannot
    run."""
    import subprocess

    program = resolve_program(argv[0], env)
    child_argv = [arg0 if arg0 is not None else argv[0], *argv[1:]]
    scope = scope or default_scope()
    # The only pre-exec step: one write(2) moving the child into the scope's cgroup before it
    # can start anything (Python offers no clone-into-cgroup).
    popen = subprocess.Popen(
        child_argv, executable=program, cwd=cwd, env=dict(env),
        stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, bufsize=0,
        preexec_fn=scope.child_setup(),
    )
    scope.add(popen.pid)
    fds: dict[str, int | None] = {}
    for name in ("stdin", "stdout", "stderr"):
        f = getattr(popen, name)
        if f is None:
            fds[name] = None
            continue
        fd = os.dup(f.fileno())
        f.close()
        os.set_blocking(fd, False)
        if sys.platform == "linux":
            try:
                import fcntl

                fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass
        fds[name] = fd
    return Child(pid=popen.pid, tty=False, stdin=fds["stdin"], stdout=fds["stdout"],
                 stderr=fds["stderr"], _popen=popen)


def exit_code(status: int) -> int:
    """A wait status as a shell would report it: the exit code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _session_members(sids: Iterable[int]) -> list[int]:
    """Pids whose session id is one of `sids` (Linux /proc; empty elsewhere)."""
    wanted = set(sids)
    return [p.pid for p in reaper.proc_table().values() if p.sid in wanted]


def session_has_members(sid: int) -> bool:
    """Whether any process is still in session `sid` (always False without /proc)."""
    return bool(_session_members([sid]))


def kill_tree(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the process groups led by `pids`, and (Linux) to every process left in
    their sessions (a job-control shell puts its jobs in other groups of the same session)
    and below any of them in the process tree (a child that called `setsid`)."""
    pids = list(pids)
    for pid in pids:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    table = reaper.proc_table()
    wanted = set(pids)
    roots = [p.pid for p in table.values() if p.sid in wanted or p.pid in wanted]
    for member in reaper.descendants(table, roots) - {os.getpid()}:
        try:
            os.kill(member, sig)
        except (ProcessLookupError, PermissionError):
            pass


def signal_group(pid: int, sig: int) -> bool:
    """Send `sig` to the process group led by `pid`; True if it was delivered."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class ExitWatcher:
    """Tells the event loop when a child exits, without a thread per child.

    Linux: a pidfd per child, readable once it has exited. Elsewhere: a SIGCHLD-free poll of
    `waitpid(WNOHANG)` on a short timer while any child is watched.
    """

    POLL_INTERVAL_S = 0.05

    def __init__(self, loop) -> None:  # loop: asyncio.AbstractEventLoop
        self._loop = loop
        self._polled: dict[int, Callable[[int], None]] = {}
        self._pidfds: set[int] = set()
        self._timer = None

    def watch(self, pid: int, on_exit: Callable[[int], None]) -> None:
        """Call `on_exit(status)` once `pid` has exited (and has been reaped)."""
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            try:
                pidfd = pidfd_open(pid)
            except OSError:
                pidfd = None
            if pidfd is not None:
                def ready() -> None:
                    status = self._try_reap(pid)
                    if status is None:
                        return
                    self._forget(pidfd)
                    on_exit(status)

                self._pidfds.add(pidfd)
                self._loop.add_reader(pidfd, ready)
                return
        self._polled[pid] = on_exit
        if self._timer is None:
            self._poll()

    @staticmethod
    def _try_reap(pid: int) -> int | None:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            status = 255 << 8  # already reaped by someone else; exit unknown
        else:
            if got != pid:
                return None
        # Reaped: its number may be reused once its session is empty; the scope decides when
        # the watchdog forgets it, and reaps what the leader left to us.
        reaper.leader_reaped(pid)
        return status

    def _poll(self) -> None:
        self._timer = None
        for pid, cb in list(self._polled.items()):
            status = self._try_reap(pid)
            if status is not None:
                del self._polled[pid]
                cb(status)
        if self._polled:
            self._timer = self._loop.call_later(self.POLL_INTERVAL_S, self._poll)

    def _forget(self, pidfd: int) -> None:
        self._pidfds.discard(pidfd)
        self._loop.remove_reader(pidfd)
        os.close(pidfd)

    def close(self) -> None:
        """Stop watching (children not yet reaped stay unreaped)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._polled.clear()
        for pidfd in list(self._pidfds):
            self._forget(pidfd)
