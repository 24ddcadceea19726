"""Streamed Markdown, committed line by line (spec tui.md "Cells": an agent message is
"streamed line by line as deltas arrive; a line is committed to scrollback only when complete").

`MarkdownStream` holds the source of one message as it arrives and hands out chunks of
complete lines that are safe to render on their own: committed lines are printed into the
scrollback and never redrawn, so a chunk must not be one whose rendering a later line could
change. Held back: table rows (the table may go on), list items (an indented continuation may
follow). Inside a fenced code block every complete line may go; the chunk re-opens and closes
the fence so it renders as code. What is not committed yet is `tail()`, drawn in the live area.
Sans-I/O: no rendering here (see `render.Renderer.markdown`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:\s|$)")
_TABLE_ROW = re.compile(r"^ {0,3}\|")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Markdown source that renders on its own; `blank_before`: a blank line separates it
    from what was committed before (the source had one)."""

    source: str
    blank_before: bool


@dataclass
class _Fence:
    marker: str  # the opening run, e.g. "```" or "~~~~"
    info: str

    def closes(self, line: str) -> bool:
        s = line.strip()
        return s.startswith(self.marker[0] * len(self.marker)) and not s.strip(self.marker[0])


class MarkdownStream:
    def __init__(self) -> None:
        self._pending = ""  # source not committed yet
        self._fence: _Fence | None = None  # a fence the committed part left open
        self._blank = False  # committed part ended in blank line(s)
        self._committed_any = False
        self.total = 0  # characters received

    def push(self, delta: str) -> None:
        self._pending += delta
        self.total += len(delta)

    @property
    def has_content(self) -> bool:
        return bool(self._committed_any or self._pending.strip())

    def commit(self, final: bool = False, max_lines: int | None = None) -> Chunk | None:
        """The longest run of complete lines that is safe to commit, or everything when
        `final` (the message is done); with `max_lines`, a run of about that many source
        lines at most (one that cannot be cut, such as a table, may be longer), so a long
        backlog is rendered over several frames. None when there is nothing to commit now
        (with `final`: nothing left but blank lines)."""
        while True:
            chunk, consumed = self._commit_once(final, max_lines)
            if chunk is not None or not consumed:
                return chunk
            # Only blank lines (or a fence's closing line) were taken: look further.

    def _commit_once(self, final: bool, max_lines: int | None) -> tuple[Chunk | None, bool]:
        text = self._pending
        end = len(text) if final else text.rfind("\n") + 1
        if end <= 0:
            return None, False
        lines = text[:end].splitlines(keepends=True)
        fence = self._fence
        cut = 0  # lines[:cut] are committed
        for i, line in enumerate(lines):
            if max_lines is not None and cut >= max_lines:
                break
            if fence is not None:
                if fence.closes(line):
                    fence = None
                cut = i + 1
                continue
            m = _FENCE.match(line.rstrip("\n"))
            if m:
                # Not a cut point by itself: an opening line alone renders nothing.
                fence = _Fence(m.group(1), m.group(2).strip())
                continue
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if final or self._safe_after(line, nxt):
                cut = i + 1
        if cut == 0:
            return None, False
        chunk_lines = lines[:cut]
        self._pending = text[sum(len(x) for x in chunk_lines):]
        return self._make_chunk(chunk_lines), True

    @staticmethod
    def _safe_after(line: str, nxt: str | None) -> bool:
        if _TABLE_ROW.match(line):
            return nxt is not None and not _TABLE_ROW.match(nxt)
        if _LIST_ITEM.match(line) or (line[:1] in (" ", "\t") and line.strip()):
            # A list item (or its continuation) may be followed by an indented continuation.
            return nxt is not None and not (nxt[:1] in (" ", "\t") and nxt.strip())
        return True

    def _make_chunk(self, lines: list[str]) -> Chunk | None:
        opened = self._fence
        # Leading blank lines (outside a fence) become one separating blank line.
        blank_before = self._blank
        if opened is None:
            while lines and not lines[0].strip():
                blank_before = True
                lines = lines[1:]
        fence = opened
        content = False
        for line in lines:
            if fence is not None:
                if fence.closes(line):
                    fence = None
                else:
                    content = True
                continue
            m = _FENCE.match(line.rstrip("\n"))
            if m:
                fence = _Fence(m.group(1), m.group(2).strip())
            else:
                content = content or bool(line.strip())
        self._fence = fence
        trailing_blank = False
        if fence is None:
            while lines and not lines[-1].strip():
                trailing_blank = True
                lines = lines[:-1]
        if not lines or not content:  # blank lines, or only a fence's closing line
            self._blank = self._blank or blank_before or trailing_blank
            return None
        self._blank = trailing_blank
        src = "".join(lines)
        if not src.endswith("\n"):
            src += "\n"
        if opened is not None:
            src = f"{opened.marker}{opened.info}\n{src}"
        if fence is not None:
            src += f"{fence.marker}\n"
        first = not self._committed_any
        self._committed_any = True
        return Chunk(src, blank_before and not first)

    def tail(self) -> str:
        """The uncommitted source (incomplete lines included), renderable on its own."""
        if not self._pending.strip():
            return ""
        src = self._pending
        if self._fence is not None:
            src = f"{self._fence.marker}{self._fence.info}\n{src}"
        return src
