"""The ordered way from session events to the scrollback (spec tui.md "Cells"; issue 12: a
10,000-token answer is rendered without the UI falling behind or the composer lagging).

Everything printed into the scrollback goes through `HistoryQueue`, in the order it happened:
finished cells, and streamed answers. An answer's complete lines are rendered (Markdown) a chunk
at a time, and a frame renders only as much as fits its time budget, so a burst of text never
holds the keyboard for long: the rest waits for the next frame, and a cell that arrives meanwhile
(a command, the next question) waits behind the answer. The answer's incomplete last line is
the live tail, drawn in the live area, and only once the answer's rendering has caught up (a
tail shown below lines not printed yet would read out of order).

Sans-I/O: `frame` returns the lines to print; the app writes them.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from codex.tui import cells
from codex.tui.markdown_stream import MarkdownStream
from codex.tui.render import Renderer
from codex.tui.sanitize import sanitize

CHUNK_LINES = 12  # source lines rendered per Markdown call while catching up


@dataclass
class _Cell:
    lines: list[str]
    full: list[str]  # the transcript's version
    gap: bool
    notice: bool = False  # a reply to the user: shown in the live area while it waits


@dataclass
class _Answer:
    md: MarkdownStream = field(default_factory=MarkdownStream)
    # Deltas since the last frame, joined and sanitised once per frame (a fast model sends one
    # per token; sanitising the joined text also catches a control sequence split in two).
    raw: list[str] = field(default_factory=list)
    first: bool = True  # nothing of it printed yet
    done: bool = False  # the message is complete: commit everything, incomplete line too
    waiting: bool = False  # all it can commit is printed; the rest waits for more text

    def flush(self) -> None:
        if self.raw:
            self.md.push(sanitize("".join(self.raw)))
            self.raw.clear()


class HistoryQueue:
    """Cells and answers waiting to be printed, oldest first, and the transcript (every line
    printed, with the full form of cells that have one)."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.transcript: list[str] = []
        # The same, as drawn parts: lines, or an answer chunk's Markdown (source, first,
        # blank line before), which `transcript_at` draws again at another width.
        self._parts: list[list[str] | tuple[str, bool, bool]] = []
        self.tail_lines: list[str] = []  # the live answer's incomplete part, rendered
        self._entries: deque[_Cell | _Answer] = deque()
        self._live: _Answer | None = None  # the answer still receiving deltas
        self._tail_key: tuple[str, int, bool] | None = None
        # Streamed text no AgentMessage has claimed yet: a message whose text was streamed is
        # never printed again, even when something closed its answer before it arrived.
        self._unclaimed = ""

    # -- input ---------------------------------------------------------------------------
    def cell(self, lines: list[str], full: list[str] | None = None, *, gap: bool = True,
             notice: bool = False) -> None:
        """Queue a finished cell (`gap`: one blank line before it, unless it is the first).
        A `notice` (a slash command's reply) waiting behind an answer is in `notices` until
        it is printed, for the live area to show at once."""
        if lines:
            self._entries.append(_Cell(lines, full or lines, gap, notice))

    @property
    def notices(self) -> list[str]:
        """The lines of the notices that wait behind an answer still being streamed or
        rendered (a notice with nothing before it is printed by the next frame)."""
        out: list[str] = []
        behind = False
        for e in self._entries:
            if isinstance(e, _Answer):
                behind = True
            elif e.notice and behind:
                out += e.lines
        return out

    def delta(self, text: str) -> None:
        """Text of the answer being streamed (starts one when none is)."""
        if self._live is None:
            self._live = _Answer()
            self._entries.append(self._live)
        self._live.raw.append(text)
        self._live.waiting = False
        self._unclaimed += text

    def message(self, text: str) -> None:
        """The answer's whole text (AgentMessage): shown as is when none of it was streamed
        (a model that does not stream); the answer is complete."""
        if self._unclaimed.strip():
            # Streamed already (possibly as part of a longer run of deltas, or in an answer
            # that a reasoning or command cell closed): claim it, print nothing.
            rest = self._unclaimed.lstrip()
            self._unclaimed = rest[len(text.lstrip()):] if rest.startswith(text.lstrip()) \
                else ""
        else:
            self._unclaimed = ""
            self.delta(text)
            self._unclaimed = ""
        self.finish_answer()

    def new_turn(self) -> None:
        """A turn started or ended: streamed text left unclaimed (an interrupted answer) is
        not the text of any later message."""
        self._unclaimed = ""

    def finish_answer(self) -> None:
        """The answer being streamed is complete (its last line may be printed); what comes
        next goes after it."""
        if self._live is not None:
            self._live.flush()
            self._live.done = True
            self._live = None

    def abandon_answer(self) -> bool:
        """The stream broke and the request starts again from the beginning (the session's
        StreamError): the live answer's text that is not printed yet is void, and so is any
        text no message has claimed. True when part of it was printed already (the caller
        then says the answer starts again, rather than let it read as said twice)."""
        self._unclaimed = ""
        live, self._live = self._live, None
        if live is None:
            return False
        try:
            self._entries.remove(live)
        except ValueError:
            pass
        self.tail_lines, self._tail_key = [], None
        return not live.first

    @property
    def answering(self) -> bool:
        return self._live is not None

    @property
    def backlog(self) -> bool:
        """Whether something is ready to print that a frame left for later."""
        return bool(self._entries) and not (self._entries[0] is self._live
                                            and self._live.waiting)

    # -- output --------------------------------------------------------------------------
    def frame(self, width: int, budget_s: float | None) -> list[str]:
        """The lines to print now, in order, rendering for about `budget_s` seconds at most
        (None: everything ready). Updates `tail_lines`."""
        out: list[str] = []
        deadline = None if budget_s is None else time.monotonic() + budget_s
        while self._entries:
            entry = self._entries[0]
            if isinstance(entry, _Cell):
                self._entries.popleft()
                gap = [""] if entry.gap and self.transcript else []
                out += gap + entry.lines
                self.transcript += gap + entry.full
                self._parts.append(gap + entry.full)
                continue
            entry.flush()
            chunk = entry.md.commit(final=entry.done, max_lines=CHUNK_LINES)
            if chunk is None:
                if not entry.done:
                    entry.waiting = True
                    break  # the live answer waits for more text
                self._entries.popleft()
                continue
            body = cells.agent_lines(self.renderer, chunk.source, width, entry.first)
            blank = bool(entry.first and self.transcript or chunk.blank_before)
            if blank:
                body = ["", *body]
            self._parts.append((chunk.source, entry.first, blank))
            entry.first = False
            out += body
            self.transcript += body
            if deadline is not None and time.monotonic() >= deadline:
                break
        self._update_tail(width)
        return out

    def transcript_at(self, width: int) -> list[str]:
        """The transcript with its answers drawn again `width` columns wide (cells keep the
        lines they were given; the pager folds the long ones)."""
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, list):
                out += part
                continue
            source, first, blank = part
            out += ([""] if blank else []) + cells.agent_lines(self.renderer, source, width,
                                                               first)
        return out

    def _update_tail(self, width: int) -> None:
        live = self._live
        if live is None or not self._entries or self._entries[0] is not live:
            self.tail_lines, self._tail_key = [], None
            return
        if not live.waiting:
            # Behind: lines before the tail are not printed yet.
            self.tail_lines, self._tail_key = [], None
            return
        text = live.md.tail()
        key = (text, width, live.first)
        if key != self._tail_key:
            # Rendered only when it changed: a frame with no new text costs nothing here.
            self._tail_key = key
            self.tail_lines = cells.agent_lines(self.renderer, text, width, live.first) \
                if text else []
