"""The signal dispositions a child should start with: the user's, not Python's."""

from __future__ import annotations

import subprocess


def inherited_sigign() -> int:
    """SigIgn of a child started the ordinary way (subprocess restores what Python changed).

    Whatever ignored our own parent passed down (e.g. `make` ignoring glibc's real-time
    signals) is the user's environment, and children rightly keep it.
    """
    status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True,
                            check=True).stdout
    return sigign_of(status)


def sigign_of(status: str) -> int:
    """The ignored classic signals (1-31) from a /proc/PID/status text.

    Real-time signals 32 and 33 are glibc's own (thread cancellation, set*id); whether they
    show as ignored depends on how glibc spawned the process, not on us.
    """
    line = next(ln for ln in status.splitlines() if ln.startswith("SigIgn:"))
    return int(line.split()[1], 16) & CLASSIC_SIGNALS


CLASSIC_SIGNALS = (1 << 31) - 1


SIGPIPE_BIT = 1 << (13 - 1)
