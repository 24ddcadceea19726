"""The first thing `codex` paints: a header box drawn with plain string formatting.

It is written before prompt_toolkit and rich are imported (they take most of the start-up), so
this module imports nothing but the standard library (spec tui.md; issue 12 "Start-up").
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

DIM, BOLD, RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


def text_width(text: str) -> int:
    """Terminal columns of `text` (wide characters count 2, combining marks 0)."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF"
               else 1 for c in text)


def fit(text: str, width: int, measure: Callable[[str], int] = text_width) -> str:
    """`text` cut to `width` columns (as `measure` counts them), with an ellipsis when cut."""
    if measure(text) <= width:
        return text
    out, used = [], 0
    for c in text:
        w = measure(c)
        if used + w > width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def short_path(path: Path) -> str:
    home = str(Path.home())
    p = str(path)
    return "~" + p[len(home):] if home != "/" and (p == home or p.startswith(home + "/")) else p


def _inner(columns: int) -> int:
    return max(10, min(columns - 4, 60))


def _row(styled: str, plain: str, inner: int) -> str:
    if text_width(plain) > inner:
        styled = plain = fit(plain, inner)
    return f"{DIM}│{RESET} {styled}{' ' * (inner - text_width(plain))} {DIM}│{RESET}"


def header_top(version: str, columns: int) -> list[str]:
    """The header box's first lines: what needs no configuration, so it is painted before
    the configuration is even read (ANSI lines, at most `columns` wide)."""
    inner = _inner(columns)
    return [f"{DIM}╭{'─' * (inner + 2)}╮{RESET}",
            _row(f"{BOLD}>_ codex{RESET} {DIM}(v{version}){RESET}", f">_ codex (v{version})",
                 inner),
            _row("", "", inner)]


def header_bottom(model: str, effort: str | None, cwd: Path, columns: int) -> list[str]:
    """The rest of the header box: model, reasoning effort and directory."""
    inner = _inner(columns)
    model_text = model + (f" {effort}" if effort else "")
    return [_row(f"{DIM}model:{RESET}     {model_text}", f"model:     {model_text}", inner),
            _row(f"{DIM}directory:{RESET} {short_path(cwd)}", f"directory: {short_path(cwd)}",
                 inner),
            header_end(columns)]


def header_end(columns: int) -> str:
    """The box's bottom border (also closes it when the configuration cannot be read)."""
    return f"{DIM}╰{'─' * (_inner(columns) + 2)}╯{RESET}"


def paint(lines: list[str]) -> None:
    data = ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace")
    try:
        os.write(1, data)
    except OSError:
        pass
