"""Kills what our children started when this process dies without cleaning up (even `kill -9`).

Graceful shutdown already kills every session we started; a SIGKILL gives us no chance. So the
first spawn starts a tiny `sh` watchdog in its own session, holding the read end of a pipe only
we can write (the write end is close-on-exec, so no child inherits it). We tell it, line by
line: each session id as it starts ("+SID") and once it is empty ("-SID"); pids of processes
outside those sessions that a sweep found ("PPID" / "pPID", see `codex.reaper`); and the
cgroup directory holding our scopes ("CPATH"). When the pipe reaches EOF — we are gone,
however we died — it writes `cgroup.kill` of that directory, SIGKILLs the process groups and
pids still listed, waits (at most 5 s) for the cgroups to empty and removes them.

One per process by nature (it watches *this* process), hence a module-level instance.
"""

from __future__ import annotations

import logging
import os
import subprocess

log = logging.getLogger(__name__)

_SCRIPT = r"""
set --
pids=
cg=
while IFS= read -r line; do
  case $line in
    +*) set -- "$@" "${line#+}" ;;
    -*) gone=${line#-}; keep=
        for sid; do [ "$sid" = "$gone" ] || keep="$keep $sid"; done
        # shellcheck disable=SC2086
        set -- $keep ;;
    P*) pids="$pids ${line#P}" ;;
    p*) gone=${line#p}; keep=
        for pid in $pids; do [ "$pid" = "$gone" ] || keep="$keep $pid"; done
        pids=$keep ;;
    C*) cg=${line#C} ;;
  esac
done
if [ -n "$cg" ]; then echo 1 2>/dev/null > "$cg/cgroup.kill"; fi
for sid; do kill -9 "-$sid" 2>/dev/null; done
for pid in $pids; do kill -9 "$pid" 2>/dev/null; done
if [ -n "$cg" ]; then
  n=0
  while [ $n -lt 50 ] && grep -qs '^populated 1' "$cg/cgroup.events"; do
    sleep 0.1; n=$((n + 1))
  done
  for d in "$cg"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  rmdir "$cg" 2>/dev/null
fi
"""


class Watchdog:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None
        self._broken = False

    @property
    def pid(self) -> int | None:
        """The watchdog's own pid once it runs (never one of the processes it kills)."""
        return self._proc.pid if self._proc is not None else None

    def register(self, sid: int) -> None:
        """Kill process group `sid` when we die."""
        self._send(f"+{sid}\n")

    def unregister(self, sid: int) -> None:
        if self._fd is not None:
            self._send(f"-{sid}\n")

    def register_pid(self, pid: int) -> None:
        """Kill process `pid` when we die (one that left the sessions we registered)."""
        self._send(f"P{pid}\n")

    def unregister_pid(self, pid: int) -> None:
        if self._fd is not None:
            self._send(f"p{pid}\n")

    def kill_cgroup_at_exit(self, path: str) -> None:
        """Write `cgroup.kill` of directory `path` when we die, then remove it (and the
        cgroups directly below it)."""
        if "\n" not in path:
            self._send(f"C{path}\n")

    def _send(self, line: str) -> None:
        if self._broken:
            return
        try:
            if self._fd is None:
                self._start()
            assert self._fd is not None
            os.write(self._fd, line.encode())
        except OSError as e:
            # Without the watchdog a kill -9 may orphan children; everything else still works.
            log.warning("orphan watchdog unavailable: %s", e)
            self._broken = True

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            ["/bin/sh", "-c", _SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, env={"PATH": "/usr/bin:/bin"},
        )
        assert self._proc.stdin is not None
        # Our own fd (close-on-exec, like every fd Python makes); the file object is dropped.
        self._fd = os.dup(self._proc.stdin.fileno())
        self._proc.stdin.close()


WATCHDOG = Watchdog()
