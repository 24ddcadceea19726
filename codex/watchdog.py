"""Kills our children's sessions when this process dies without cleaning up (even `kill -9`).

Graceful shutdown already kills every session we started; a SIGKILL gives us no chance. So the
first spawn starts a tiny `sh` watchdog in its own session, holding the read end of a pipe only
we can write (the write end is close-on-exec, so no child inherits it). We tell it each
session id as it starts ("+SID") and as its leader is reaped ("-SID"); when the pipe reaches
EOF — we are gone, however we died — it SIGKILLs the process groups still listed.

One per process by nature (it watches *this* process), hence a module-level instance.
"""

from __future__ import annotations

import logging
import os
import subprocess

log = logging.getLogger(__name__)

_SCRIPT = r"""
set --
while IFS= read -r line; do
  case $line in
    +*) set -- "$@" "${line#+}" ;;
    -*) gone=${line#-}; keep=
        for sid; do [ "$sid" = "$gone" ] || keep="$keep $sid"; done
        # shellcheck disable=SC2086
        set -- $keep ;;
  esac
done
for sid; do kill -9 "-$sid" 2>/dev/null; done
"""


class Watchdog:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None
        self._broken = False

    def register(self, sid: int) -> None:
        self._send(f"+{sid}\n")

    def unregister(self, sid: int) -> None:
        if self._fd is not None:
            self._send(f"-{sid}\n")

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
