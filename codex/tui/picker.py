"""A one-question inline picker run before the main UI (trust prompt, resume picker).

`pick()` draws a title, a list of choices and a hint under the cursor, lets the user move
with ↑/↓ (or press a choice's key, or type to filter), and returns the chosen index, or None
when the user pressed Esc / Ctrl-C. The lines it drew are erased when it returns.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from prompt_toolkit.application import Application
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import HSplit, Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl

from codex.tui.cells import truncate
from codex.tui.live import inline_output


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    detail: str = ""
    key: str | None = None  # a one-key shortcut


def pick(title: Sequence[tuple[str, str]], choices: Sequence[Choice], *,
         filterable: bool = False, hint: str = "↑/↓ to move · enter to choose · esc to cancel",
         max_rows: int = 12) -> int | None:
    """`title`: paragraphs as (prompt_toolkit style, text), word-wrapped to the terminal's
    width each time it is drawn (so a resize re-wraps them); "" is a blank line."""
    state = {"sel": 0, "query": ""}

    def heading() -> FormattedText:
        size = _size()
        cols = max(10, size.columns - 1)
        lines = [(style, line) for style, text in title
                 for line in textwrap.wrap(text, cols, break_on_hyphens=False) or [""]]
        # On a short terminal the choices and the hint must stay visible: blank lines go
        # first, then the end of the text (marked with an ellipsis).
        room = max(1, size.lines - min(len(choices), max_rows) - 1 - (1 if filterable else 0))
        if len(lines) > room:
            lines = [ln for ln in lines if ln[1]]
        if len(lines) > room:
            lines = lines[:room]
            style, last = lines[-1]
            lines[-1] = (style, truncate(last + " …", cols) if len(last) + 2 <= cols
                         else truncate(last, cols - 1) + "…")
        out: list[tuple[str, str]] = []
        for i, (style, line) in enumerate(lines):
            out.append((style, line + ("\n" if i < len(lines) - 1 else "")))
        return FormattedText(out)

    def visible() -> list[int]:
        q = state["query"].lower()
        return [i for i, c in enumerate(choices)
                if not q or q in (c.label + " " + c.detail).lower()]

    def body() -> FormattedText:
        cols = _columns()
        out: list[tuple[str, str]] = []
        idx = visible()
        sel = min(state["sel"], max(0, len(idx) - 1))
        start = max(0, sel - max_rows + 1)
        if filterable:
            out.append(("fg:ansibrightblack", "  filter: "))
            out.append(("", state["query"] + "\n"))
        if not idx:
            out.append(("fg:ansibrightblack", "  no matches\n"))
        for n, i in enumerate(idx[start:start + max_rows], start):
            c = choices[i]
            mark = "› " if n == sel else "  "
            label = truncate(f"{mark}{c.label}", max(10, cols - 2))
            out.append(("bold fg:ansicyan" if n == sel else "", label))
            room = cols - len(label) - 3
            if c.detail and room > 6:
                out.append(("fg:ansibrightblack", "  " + truncate(c.detail, room)))
            out.append(("", "\n"))
        out.append(("fg:ansibrightblack", truncate(hint, cols - 1)))
        return FormattedText(out)

    kb = KeyBindings()

    def done(e: KeyPressEvent, value: int | None) -> None:
        e.app.exit(result=value)

    @kb.add("up")
    def _up(e: KeyPressEvent) -> None:
        state["sel"] = max(0, state["sel"] - 1)

    @kb.add("down")
    def _down(e: KeyPressEvent) -> None:
        state["sel"] = min(max(0, len(visible()) - 1), state["sel"] + 1)

    @kb.add("enter")
    def _enter(e: KeyPressEvent) -> None:
        idx = visible()
        if idx:
            done(e, idx[min(state["sel"], len(idx) - 1)])

    @kb.add("escape", eager=True)
    @kb.add("c-c")
    @kb.add("c-d")
    def _cancel(e: KeyPressEvent) -> None:
        done(e, None)

    @kb.add("backspace")
    def _bs(e: KeyPressEvent) -> None:
        state["query"] = state["query"][:-1]
        state["sel"] = 0

    @kb.add("<any>")
    def _key(e: KeyPressEvent) -> None:
        ch = e.data
        if not ch or not ch.isprintable():
            return
        for i, c in enumerate(choices):
            if c.key and ch.lower() == c.key and not filterable:
                done(e, i)
                return
        if filterable:
            state["query"] += ch
            state["sel"] = 0

    layout = Layout(HSplit([
        Window(FormattedTextControl(heading), dont_extend_height=True, wrap_lines=True),
        Window(FormattedTextControl(body), dont_extend_height=True),
    ]))
    app: Application[int | None] = Application(layout=layout, key_bindings=kb,
                                               full_screen=False, erase_when_done=True,
                                               output=inline_output())
    app.ttimeoutlen = 0.03
    return app.run()


def _size() -> os.terminal_size:
    import shutil

    return shutil.get_terminal_size()


def _columns() -> int:
    return _size().columns
