"""Undelivered output of one session, bounded: the first and last half MiB of it.

A command that floods output must not grow our memory without bound, yet the model should
still see how the output began and how it ended. What falls between is counted, not kept.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

MAX_BUFFER_BYTES = 1024 * 1024
HEAD_BYTES = MAX_BUFFER_BYTES // 2
TAIL_BYTES = MAX_BUFFER_BYTES - HEAD_BYTES


@dataclass(frozen=True, slots=True)
class Collected:
    """Output drained from a buffer. When `dropped` is 0, `head + tail` is all of it."""

    head: bytes
    tail: bytes
    total: int  # bytes that arrived, kept or not
    lines: int  # `\n`-separated lines of all that arrived (a final unterminated one counts)

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    @property
    def kept(self) -> bytes:
        return self.head + self.tail


EMPTY = Collected(b"", b"", 0, 0)


class HeadTailBuffer:
    """Keeps the first `head_cap` and the last `tail_cap` bytes pushed since the last drain."""

    def __init__(self, head_cap: int = HEAD_BYTES, tail_cap: int = TAIL_BYTES) -> None:
        self._head_cap = head_cap
        self._tail_cap = tail_cap
        self._reset()

    def _reset(self) -> None:
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_len = 0
        self._total = 0
        self._newlines = 0
        self._ends_with_newline = True

    def __len__(self) -> int:
        """Bytes currently held."""
        return len(self._head) + self._tail_len

    @property
    def total(self) -> int:
        return self._total

    def push(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._total += len(chunk)
        self._newlines += chunk.count(b"\n")
        self._ends_with_newline = chunk.endswith(b"\n")
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
            if not chunk:
                return
        if len(chunk) >= self._tail_cap:
            self._tail.clear()
            self._tail.append(bytes(chunk[len(chunk) - self._tail_cap:]))
            self._tail_len = self._tail_cap
            return
        self._tail.append(bytes(chunk))
        self._tail_len += len(chunk)
        while self._tail_len > self._tail_cap:
            excess = self._tail_len - self._tail_cap
            first = self._tail[0]
            if len(first) <= excess:
                self._tail.popleft()
                self._tail_len -= len(first)
            else:
                self._tail[0] = first[excess:]
                self._tail_len -= excess

    def drain(self) -> Collected:
        """Everything since the last drain; the buffer starts empty again."""
        if not self._total:
            return EMPTY
        lines = self._newlines + (0 if self._ends_with_newline else 1)
        out = Collected(bytes(self._head), b"".join(self._tail), self._total, lines)
        self._reset()
        return out
