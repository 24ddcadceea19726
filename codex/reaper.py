"""Codex as the reaper of everything its commands start (issue 15 item 5).

A command's process group and session reach only what stays in them: `(sleep 300 &)` outlives
its shell in the session after the leader was reaped, and `setsid cmd` leaves the session
altogether. So every command we spawn belongs to a `ProcessScope` (one per `codex exec` run,
one per exec-server connection), which finds all of it by three means, strongest first:

1. A cgroup v2 per scope, where this machine lets us make one: the child moves itself into
   the scope's cgroup before it execs, so everything it ever starts is there too, whatever it
   does with sessions or parents (only a process with write access to another cgroup can
   leave). `cgroup.kill` (Linux 5.14+) ends them all at once, with no race against forks. The
   scopes live under one directory per codex process, `codex-<pid>-<random>`, made beside
   codex's own cgroup (`<its cgroup>/codex-...`); the orphan watchdog (`codex.watchdog`)
   kills and removes that directory when codex dies, even by `kill -9`.
2. Its sessions: every process whose session id is one of the scope's leaders (kept
   registered while any member lives, so the watchdog can kill the groups after kill -9).
3. The process tree: descendants of everything above, and every member a sweep has seen
   (by pid and start time, so a reused number is not mistaken for it). With
   `want_subreaper()` (the `codex exec` and `codex exec-server` commands) codex is the child
   subreaper (`PR_SET_CHILD_SUBREAPER`): an orphaned descendant is re-parented to codex
   instead of init, so it stays findable, and codex reaps it when it ends (a pidfd per
   member wakes a sweep; only members of a scope are reaped, never another component's
   child). A child handed to us by the exit of a leader or member is taken as that scope's.
   Members are also given to the watchdog by pid.

Sweeps run when a leader or a member exits and when a scope is killed. Killing a scope stops
every member it finds (SIGSTOP, so none can fork while we look), looks again until nothing new
appears, then SIGKILLs them all; with a cgroup, `cgroup.kill` first.

Where a means is missing, the others still work; `containment()` says which applies and why
(shown by `codex doctor`; `CODEX_SIMULATE_NO_CGROUP=1` forces the fallback, for tests).
Without a cgroup: two members handing over children at the same instant may have them counted
to either's scope; a process started by another component of codex in a session of its own
at the moment a command ends may be counted to that command's scope; and after `kill -9` of
codex, only what a sweep had seen (or what is in a registered session) is killed. macOS and
other systems: sessions only (no /proc, no subreaper, no cgroups).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.watchdog import WATCHDOG

log = logging.getLogger(__name__)

CGROUP = "cgroup"  # a cgroup v2 per scope, killed with cgroup.kill
SWEEP = "sweep"  # sessions + the process tree (+ subreaper when wanted)
SESSIONS = "sessions"  # no /proc: process groups and sessions only

_PR_SET_CHILD_SUBREAPER = 36
_LINUX = sys.platform.startswith("linux")
# Rounds of stop-and-look before the SIGKILL: each round can only find children forked
# before the previous round's SIGSTOP landed, so two or three suffice in practice.
_MAX_SWEEP_ROUNDS = 20


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """One process as /proc/PID/stat shows it; `start` (clock ticks after boot) tells a pid
    apart from a later process that reuses the number."""

    pid: int
    ppid: int
    sid: int
    state: str
    start: int


def proc_table() -> dict[int, ProcInfo]:
    """Every visible process (Linux /proc; empty elsewhere)."""
    table: dict[int, ProcInfo] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # After the parenthesised command: state ppid pgrp session ... starttime (field 22).
        rest = stat[stat.rfind(b")") + 2:].split()
        try:
            table[int(name)] = ProcInfo(int(name), int(rest[1]), int(rest[3]),
                                        rest[0].decode(), int(rest[19]))
        except (IndexError, ValueError):
            continue
    return table


def descendants(table: dict[int, ProcInfo], roots: Iterable[int]) -> set[int]:
    """`roots` (those alive in `table`) and every process below them."""
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found: set[int] = set()
    todo = [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


# --- cgroup v2 ---------------------------------------------------------------------------------

def _cgroup2_mount() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `.../unified` on a
    hybrid system), from /proc/self/mountinfo."""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                if right.split(" ", 1)[0] == "cgroup2":
                    return Path(left.split()[4])
    except OSError:
        pass
    return None


def _own_cgroup() -> str | None:
    """This process's cgroup v2 path ("0::/path" in /proc/self/cgroup)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return None


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _cgroup_pids(directory: Path) -> set[int]:
    """Every live process in `directory` and the cgroups below it."""
    pids: set[int] = set()
    for dirpath, _dirs, _files in os.walk(directory):
        try:
            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                pids.update(int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
    return pids


class _CgroupTree:
    """The directory holding this codex process's scope cgroups, made on first use."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.reason = ""  # why there is none
        self._probed = False
        self._next = 0

    def ensure(self) -> Path | None:
        if self._probed:
            return self.path
        self._probed = True
        if not _LINUX:
            self.reason = "not Linux"
            return None
        if os.environ.get("CODEX_SIMULATE_NO_CGROUP") == "1":
            self.reason = "disabled by CODEX_SIMULATE_NO_CGROUP=1"
            return None
        mount, own = _cgroup2_mount(), _own_cgroup()
        if mount is None or own is None:
            self.reason = "no cgroup v2 hierarchy is mounted"
            return None
        base = mount / own.lstrip("/")
        path = base / f"codex-{os.getpid()}-{os.urandom(3).hex()}"
        try:
            os.mkdir(path)
        except OSError as e:
            self.reason = f"cannot create a cgroup under {base}: {e.strerror}"
            return None
        if not (path / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                os.rmdir(path)
            self.reason = "the kernel has no cgroup.kill (Linux 5.14+)"
            return None
        self.path = path
        WATCHDOG.kill_cgroup_at_exit(str(path))
        return path

    def new_scope_dir(self) -> Path | None:
        root = self.ensure()
        if root is None:
            return None
        self._next += 1
        path = root / f"scope-{self._next}"
        try:
            os.mkdir(path)
        except OSError as e:
            log.warning("no cgroup for a process scope (%s): sessions and the process tree "
                        "still hold it", e.strerror)
            return None
        return path


_TREE = _CgroupTree()
_SCOPES: dict[int, ProcessScope] = {}  # leader pid -> its scope (for `leader_reaped`)
# Our direct children at the last sweep: one that is new at a leader's exit was handed to us.
_SEEN_CHILDREN: set[int] = set()
_subreaper = False
_subreaper_wanted = False


def want_subreaper() -> None:
    """Make this process the child subreaper (Linux) once it starts a command: orphans of our
    commands then come to us, and scopes reap them. For the commands that run the model's
    processes (`codex exec`, `codex exec-server`); a library user (e.g. an in-process test
    server) keeps init as the reaper. Cheap: the prctl (and ctypes) wait for the first spawn."""
    global _subreaper_wanted
    _subreaper_wanted = True


def _become_subreaper() -> None:
    global _subreaper, _subreaper_wanted
    if not _subreaper_wanted or not _LINUX:
        return
    _subreaper_wanted = False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as e:
        log.warning("cannot become the child subreaper (%s): orphans of commands go to init",
                    e)
        return
    _subreaper = True


@dataclass(frozen=True, slots=True)
class Containment:
    """How this process contains what its commands start: `mode` (CGROUP, SWEEP or
    SESSIONS), a sentence saying why, and the cgroup directory when there is one."""

    mode: str
    detail: str
    cgroup: str | None = None


def containment() -> Containment:
    """Probe (and on Linux make) the cgroup directory; for `codex doctor`."""
    if not _LINUX or not os.path.isdir("/proc/self"):
        return Containment(SESSIONS, "process groups and sessions only (no /proc)")
    path = _TREE.ensure()
    reaper = ("codex is the child subreaper" if _subreaper or _subreaper_wanted
              else "init reaps orphans")
    if path is not None:
        return Containment(CGROUP, f"a cgroup v2 per session under {path} (cgroup.kill); "
                           f"{reaper}", str(path))
    return Containment(SWEEP, f"sessions and process-tree sweeps; no cgroup: {_TREE.reason}; "
                       f"{reaper}")


def leader_reaped(pid: int) -> None:
    """A scope's leader was reaped (its number may be reused once its session is empty)."""
    scope = _SCOPES.pop(pid, None)
    if scope is not None:
        scope.leader_reaped(pid)


class ProcessScope:
    """Everything the commands of one session start; `kill()` ends all of it."""

    def __init__(self) -> None:
        self._cgroup: Path | None = None
        self._cgroup_tried = False
        self._sids: set[int] = set()  # sessions of our leaders with members left
        self._live_leaders: set[int] = set()
        self._adopted: dict[int, int] = {}  # pid -> start time: members seen by sweeps
        self._watched: set[int] = set()  # pids the watchdog kills if we die
        self._pidfds: dict[int, int] = {}  # member pid -> pidfd watched for its exit
        self._loop: Any = None  # the event loop the pidfds are watched on
        self._procs_fd: int | None = None

    # --- starting ----------------------------------------------------------------------------

    @property
    def cgroup(self) -> Path | None:
        """This scope's cgroup directory, made on first use (None where there is none)."""
        if not self._cgroup_tried:
            self._cgroup_tried = True
            self._cgroup = _TREE.new_scope_dir()
        return self._cgroup

    def child_setup(self) -> Callable[[], None] | None:
        """What a freshly forked child runs before exec: it moves itself into the scope's
        cgroup (None when there is no cgroup). Failure is silent: the child then is held by
        its session and the process tree only."""
        _become_subreaper()  # before the first fork: its orphans must come to us already
        cgroup = self.cgroup
        if cgroup is None:
            return None
        if self._procs_fd is None:
            try:
                self._procs_fd = os.open(cgroup / "cgroup.procs",
                                         os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                return None
        fd = self._procs_fd

        def join() -> None:
            # Runs in the child between fork and exec: one write, no allocation to speak of.
            with contextlib.suppress(OSError):
                os.write(fd, b"0")

        return join

    def add(self, pid: int) -> None:
        """`pid` was just started by us, leading its own session."""
        _become_subreaper()
        self._sids.add(pid)
        self._live_leaders.add(pid)
        _SCOPES[pid] = self
        WATCHDOG.register(pid)

    def leader_reaped(self, pid: int) -> None:
        self._live_leaders.discard(pid)
        self.sweep(adopt_orphans=True)

    # --- finding -----------------------------------------------------------------------------

    def _members(self, table: dict[int, ProcInfo]) -> set[int]:
        roots = set(self._live_leaders)
        roots.update(p.pid for p in table.values() if p.sid in self._sids)
        roots.update(pid for pid, start in self._adopted.items()
                     if pid in table and table[pid].start == start)
        if self._cgroup is not None:
            roots.update(_cgroup_pids(self._cgroup))
        found = descendants(table, roots)
        found.discard(os.getpid())
        found.discard(WATCHDOG.pid or -1)
        return {pid for pid in found if table[pid].state != "Z"}

    def members(self) -> set[int]:
        """The live processes of this scope right now."""
        return self._members(proc_table())

    def sweep(self, *, adopt_orphans: bool = False) -> None:
        """Housekeeping: reap adopted children of ours that belong here, remember (and tell
        the watchdog) members outside our sessions, forget empty sessions.

        With `adopt_orphans` (right after one of our leaders was reaped) and no cgroup: the
        children that just came to us as the subreaper and left our sessions (`setsid`) are
        taken as this scope's, since the leader's exit is what handed them over. (They cannot
        be told apart by anything else once their parent is gone; another leader exiting at
        the same moment may hand over its own, which then counts here too.)"""
        if not _LINUX:
            return
        table = proc_table()
        self._reap_adopted(table)
        if adopt_orphans and self._cgroup is None and _subreaper:
            self._adopt_new_orphans(table)
        members = self._members(table)
        for pid in members:
            # Remembered, so a later sweep finds it even after it left our sessions and lost
            # its parent; and given to the watchdog by pid for the same reason.
            self._adopted.setdefault(pid, table[pid].start)
            if pid not in self._watched:
                self._watched.add(pid)
                WATCHDOG.register_pid(pid)
        for pid in [p for p in self._adopted if p not in members]:
            del self._adopted[pid]
        self._watch_exits(members)
        for pid in [p for p in self._watched if p not in members]:
            self._watched.discard(pid)
            WATCHDOG.unregister_pid(pid)
        alive_sids = {p.sid for p in table.values() if p.state != "Z"}
        for sid in [s for s in self._sids if s not in alive_sids and s not in
                    self._live_leaders]:
            self._sids.discard(sid)
            WATCHDOG.unregister(sid)

    def _watch_exits(self, pids: Iterable[int]) -> None:
        """Sweep again when any of `pids` exits (a pidfd each, on the running loop): its
        zombie is then ours to reap (we are the subreaper) and its children come to us."""
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the next sweep reaps instead
        if loop is not self._loop:
            # A scope can outlive the loop it first watched on (the default scope of a process
            # that runs asyncio.run() more than once): the old loop's readers are gone with it.
            for fd in self._pidfds.values():
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._pidfds.clear()
            self._loop = loop
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is None:
            return
        for pid in pids:
            if pid in self._pidfds:
                continue
            try:
                fd = pidfd_open(pid)
            except OSError:
                continue  # already gone
            self._pidfds[pid] = fd
            self._loop.add_reader(fd, self._member_exited, pid)

    def _member_exited(self, pid: int) -> None:
        self._unwatch(pid)
        self.sweep(adopt_orphans=True)

    def _unwatch(self, pid: int) -> None:
        fd = self._pidfds.pop(pid, None)
        if fd is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(fd)
            os.close(fd)

    def _adopt_new_orphans(self, table: dict[int, ProcInfo]) -> None:
        me, my_sid = os.getpid(), os.getsid(0)
        children = {p.pid for p in table.values() if p.ppid == me and p.state != "Z"}
        for pid in children - _SEEN_CHILDREN:
            info = table[pid]
            if pid in _SCOPES or pid == WATCHDOG.pid or info.sid == my_sid:
                continue  # a leader, the watchdog, or a helper of ours in our own session
            self._adopted.setdefault(pid, info.start)
        _SEEN_CHILDREN.clear()
        _SEEN_CHILDREN.update(children)

    def _reap_adopted(self, table: dict[int, ProcInfo]) -> None:
        if not _subreaper:
            return
        me = os.getpid()
        for p in table.values():
            if p.ppid != me or p.state != "Z" or p.pid in _SCOPES:
                continue  # not ours to reap: a leader's waiter (or another component) will
            if not self._owns_zombie(p):
                continue
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p.pid, os.WNOHANG)

    def _owns_zombie(self, p: ProcInfo) -> bool:
        if p.sid in self._sids or self._adopted.get(p.pid) == p.start:
            return True
        if self._cgroup is None:
            return False
        try:
            with open(f"/proc/{p.pid}/cgroup") as f:
                for line in f:
                    if line.startswith("0::"):
                        where = line[3:].strip()
                        return self._cgroup.as_posix().endswith(where) and where != "/"
        except OSError:
            pass
        return False

    # --- ending ------------------------------------------------------------------------------

    def signal(self, sig: int) -> None:
        """Send `sig` to every member (no stopping: for a polite SIGTERM before the kill)."""
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL everything of this scope, however it left its session or parent."""
        if self._cgroup is not None:
            try:
                _write(self._cgroup / "cgroup.kill", "1")
            except OSError as e:
                log.warning("cgroup.kill of %s failed: %s", self._cgroup, e.strerror)
        for sid in list(self._sids):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(sid, signal.SIGKILL)
        if not _LINUX:
            return
        stopped: set[int] = set()
        for _ in range(_MAX_SWEEP_ROUNDS):
            new = self.members() - stopped
            if not new:
                break
            for pid in new:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGSTOP)  # no more forks while we look again
            stopped |= new
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Kill what is left, reap what came to us, and remove the cgroup when it is empty
        (else the watchdog removes it when codex exits)."""
        self.kill()
        self.sweep()
        for pid in list(self._pidfds):
            self._unwatch(pid)
        if self._procs_fd is not None:
            os.close(self._procs_fd)
            self._procs_fd = None
        if self._cgroup is not None:
            try:
                os.rmdir(self._cgroup)
            except OSError as e:
                if e.errno != errno.EBUSY:
                    log.debug("removing %s: %s", self._cgroup, e.strerror)
            else:
                self._cgroup = None

    async def aclose(self, timeout: float = 2.0) -> None:
        """`close()`, after waiting (at most `timeout` seconds) for the killed processes to
        be gone, so that their zombies are reaped and the cgroup can be removed now."""
        import asyncio

        self.kill()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.is_empty() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        self.close()

    def is_empty(self) -> bool:
        """Whether nothing of this scope is alive any more."""
        if self._cgroup is not None:
            try:
                with open(self._cgroup / "cgroup.events") as f:
                    if "populated 1" in f.read():
                        return False
            except OSError:
                pass
        return not self.members()
