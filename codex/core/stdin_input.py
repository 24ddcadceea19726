"""Reading stdin without ever waiting silently (issue 15, "waiting silently on input").

Two cases, one rule each:
- `read_optional_stdin`: stdin is an extra (`codex exec PROMPT` with something piped). A pipe
  that has given no byte within `FIRST_BYTE_WAIT_S` is not waited for: say so on stderr and go
  on without it (`sleep 600 | codex exec hi` starts at once).
- `read_required_stdin`: stdin *is* the input (`codex exec -` / no prompt argument, `codex
  login --with-api-key`). Read it to EOF; after `SILENCE_NOTICE_S` without a byte, say on stderr
  what is awaited and how to end or skip it, once.
In both, once bytes arrive stdin is read to EOF, with the same notice after a silence. A
terminal is never read (the caller decides what that means); a regular file or /dev/null is
read at once. Where `select` cannot watch stdin (Windows consoles/pipes) it is read plainly.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from typing import TextIO

FIRST_BYTE_WAIT_S = 1.0
SILENCE_NOTICE_S = 1.0
_CHUNK = 65536


def stdin_is_terminal() -> bool:
    stdin = sys.stdin
    try:
        return stdin is None or stdin.isatty()
    except (OSError, ValueError):
        return True


def _piped_fd() -> int | None:
    """stdin's descriptor, or None for a terminal or no stdin (never read those)."""
    stdin = sys.stdin
    if stdin is None or stdin_is_terminal():
        return None
    try:
        return stdin.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def _is_plain_file(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISCHR(mode)  # a file, or /dev/null


def _readable(fd: int, timeout: float) -> bool:
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    except (OSError, ValueError):
        return True  # cannot watch it: let the read block
    return bool(ready)


def _read_to_eof(fd: int, first: bytes, notice: str, err: TextIO) -> bytes:
    chunks = [first]
    told = False
    while True:
        if not told and not _readable(fd, SILENCE_NOTICE_S):
            err.write(f"codex: {notice}\n")
            err.flush()
            told = True
        try:
            data = os.read(fd, _CHUNK)
        except InterruptedError:
            continue
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def read_optional_stdin(what: str, *, err: TextIO | None = None) -> str | None:
    """Piped stdin as text, or None: a terminal, no stdin, or a pipe silent for the first
    second (said on stderr). `what` names the input in messages ("the piped input")."""
    err = err or sys.stderr
    fd = _piped_fd()
    if fd is None:
        return None
    notice = (f"still reading {what} from stdin (it has not ended); close the pipe to go on, "
              "or press Ctrl-C")
    if _is_plain_file(fd):
        return _decode(_read_to_eof(fd, b"", notice, err))
    if not _readable(fd, FIRST_BYTE_WAIT_S):
        err.write(f"codex: not reading stdin: nothing arrived on it within "
                  f"{FIRST_BYTE_WAIT_S:g} s (pipe {what} before codex starts, or pass `-` "
                  "as the prompt to wait for it)\n")
        err.flush()
        return None
    first = os.read(fd, _CHUNK)
    if not first:
        return ""
    return _decode(_read_to_eof(fd, first, notice, err))


def read_required_stdin(what: str, *, skip_hint: str, err: TextIO | None = None) -> str | None:
    """All of stdin as text (None for a terminal or no stdin), with a notice on stderr once it
    has been silent for a second: what is awaited, how to end it, `skip_hint` how to skip."""
    err = err or sys.stderr
    fd = _piped_fd()
    if fd is None:
        return None
    notice = (f"waiting for {what} on stdin; end it with Ctrl-D (or close the pipe). "
              f"{skip_hint}")
    return _decode(_read_to_eof(fd, b"", notice, err))


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")
