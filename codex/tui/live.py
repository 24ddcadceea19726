"""Printing finished cells above a running prompt_toolkit application (the inline renderer).

prompt_toolkit draws the live area (streaming cell, status, composer, footer) from the cursor
down, remembering where its cursor is inside that area. `run_in_terminal` can print above it,
but it flips the terminal to cooked mode (keys typed in that moment are echoed by the tty into
the transcript), asks for the cursor position each time, and flushes an empty frame before
the redraw (flicker). `ScrollbackWriter.write` does the same job in one write: move to the top
of the live area, erase it, print the lines (they scroll into the terminal's own scrollback),
and let the renderer draw the live area again below them — without leaving raw mode.
It reaches into two renderer fields (`_cursor_pos`, `_last_screen`), pinned by the version
range in pyproject.toml; the scrollback and resize cases of `tests/tui/test_e2e.py` check
the behaviour.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.data_structures import Point

NEWLINE = "\r\n"  # explicit CR: correct whether or not the tty translates LF (OPOST)


class ScrollbackWriter:
    def __init__(self) -> None:
        self.app: Application[Any] | None = None

    def attach(self, app: Application[Any] | None) -> None:
        self.app = app

    def write(self, lines: list[str]) -> None:
        """Print `lines` (ANSI, no newlines inside) above the live area, in order."""
        if not lines:
            return
        text = NEWLINE.join(lines) + NEWLINE
        app = self.app
        if app is None or not app.is_running or app.renderer.full_screen:
            _write_stdout(text)
            return
        out = app.output
        r = app.renderer
        pos = r._cursor_pos
        out.hide_cursor()
        out.cursor_backward(pos.x)
        out.cursor_up(pos.y)
        out.erase_down()
        out.reset_attributes()
        out.write_raw(text)
        r._cursor_pos = Point(x=0, y=0)
        r._last_screen = None
        r._last_size = None
        # Draws the live area below what was written and flushes both in one write.
        app._redraw()

    def erase_live(self) -> None:
        """Erase the live area and leave the cursor at its top-left (before the app exits, or
        before an overlay takes the alternate screen)."""
        app = self.app
        if app is None or not app.is_running:
            return
        out = app.output
        r = app.renderer
        out.cursor_backward(r._cursor_pos.x)
        out.cursor_up(r._cursor_pos.y)
        out.erase_down()
        out.reset_attributes()
        out.flush()
        r._cursor_pos = Point(x=0, y=0)
        r._last_screen = None
        r._last_size = None


def inline_output() -> Any:
    """The terminal output for an inline application: no cursor-position requests. With a
    CPR answered, prompt_toolkit stretches an inline layout to the bottom of the screen, and
    printing above it would push those blank rows into the scrollback."""
    from prompt_toolkit.output.defaults import create_output

    out = create_output()
    out.enable_cpr = False  # type: ignore[attr-defined]
    return out


def _write_stdout(text: str) -> None:
    data = text.encode("utf-8", "replace")
    fd = sys.stdout.fileno()
    while data:
        try:
            n = os.write(fd, data)
        except InterruptedError:
            continue
        data = data[n:]
