"""Giving freed memory back to the system after a big transfer.

A 100 MB `fs/readFile` or `fs/writeFile` passes through buffers of a few MB; glibc's malloc
keeps such freed blocks (its mmap threshold rises after the first large free), so a
long-running server would stay at its high-water mark. `malloc_trim` returns what is free.
Elsewhere (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
_loaded = False


def release_free_memory() -> None:
    """Return free heap memory to the system (blocking; call it from a worker thread)."""
    global _trim, _loaded
    if not _loaded:
        _loaded = True
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (ImportError, OSError, AttributeError):
                _trim = None
    if _trim is not None:
        _trim(0)
