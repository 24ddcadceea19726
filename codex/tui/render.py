"""Turn rich renderables (Markdown, Syntax, Text) into finished terminal lines.

A finished cell is printed into the terminal's own scrollback as plain ANSI lines, so it must
not depend on the UI that printed it: no trailing padding (a resize or a copy would show it),
no cursor movement, and colours only as SGR. This module is the one place that knows how
rich draws; everything above it works with `list[str]` of ANSI lines.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.color import ColorSystem
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markdown import CodeBlock, Heading, ListItem, Markdown, TableElement
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

CODE_THEME = "monokai"


class _LeftHeading(Heading):
    """Headings left-aligned: a centred title reads oddly in a transcript."""

    LEVEL_ALIGN: ClassVar[dict[str, Any]] = {f"h{n}": "left" for n in range(1, 7)}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = self.text.copy()
        text.justify = "left"
        yield text


class _PlainCodeBlock(CodeBlock):
    """Code without a background block or padding, so a copied snippet has no filler."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip()
        yield Syntax(code, _known_lexer(self.lexer_name), theme=self.theme, word_wrap=True,
                     padding=0, background_color="default")


class _EdgelessTable(TableElement):
    """A table without rich's blank top and bottom edge rows (which, with the blank line
    between blocks, left two empty lines around every table) and flush left."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for table in super().__rich_console__(console, options):
            if isinstance(table, Table):
                table.show_edge = False
            yield table


_LEXERS: dict[str, str] = {}


def _known_lexer(name: str) -> str:
    """`name` if pygments can load that lexer, else "text" (uncoloured). The frozen binary
    ships the common languages' lexers only: a missing module must not break the answer."""
    if name not in _LEXERS:
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound

        try:
            get_lexer_by_name(name)
            _LEXERS[name] = name
        except (ClassNotFound, ImportError):
            _LEXERS[name] = "text"
    return _LEXERS[name]


_PARSER: Any = None


def _parser() -> Any:
    # One parser for every render: building one costs more than parsing a line.
    global _PARSER
    if _PARSER is None:
        from markdown_it import MarkdownIt

        _PARSER = MarkdownIt("commonmark").enable("strikethrough").enable("table")
    return _PARSER


class _DottedListItem(ListItem):
    """An ordered list item numbered as it was written, `1.` (rich draws `1`)."""

    def render_number(self, console: Console, options: ConsoleOptions, number: int,
                      last_number: int) -> RenderResult:
        width = len(str(last_number)) + 3  # " 12. "-style column: digits, dot, space
        lines = console.render_lines(self.elements, options.update(
            width=options.max_width - width), style=self.style)
        style = console.get_style("markdown.item.number", default="none")
        numeral = Segment(f"{number}.".rjust(width - 1) + " ", style)
        padding = Segment(" " * width, style)
        for i, line in enumerate(lines):
            yield padding if i else numeral
            yield from line
            yield Segment("\n")


class AnswerMarkdown(Markdown):
    elements: ClassVar[dict[str, Any]] = {**Markdown.elements, "heading_open": _LeftHeading,
                                          "fence": _PlainCodeBlock,
                                          "table_open": _EdgelessTable,
                                          "code_block": _PlainCodeBlock,
                                          "list_item_open": _DottedListItem}

    def __init__(self, markup: str, **kw: Any) -> None:
        super().__init__("", **kw)
        self.markup = markup
        self.parsed = _parser().parse(markup)
        # A model's single newline is a line break, as it meant it, not a space (and it
        # makes a chunk render the same whether its lines were committed together or not).
        for tok in self.parsed:
            for child in tok.children or ():
                if child.type == "softbreak":
                    child.type = "hardbreak"


def _color_system() -> ColorSystem | None:
    if os.environ.get("NO_COLOR"):
        return None
    if os.environ.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return ColorSystem.TRUECOLOR
    return ColorSystem.EIGHT_BIT


class Renderer:
    """Renders at a given width into ANSI lines (one instance per UI, width set per call)."""

    def __init__(self, color_system: ColorSystem | None | str = "auto") -> None:
        self.color_system = _color_system() if color_system == "auto" else color_system
        names = {ColorSystem.TRUECOLOR: "truecolor", ColorSystem.EIGHT_BIT: "256",
                 ColorSystem.STANDARD: "standard"}
        self.console = Console(file=io.StringIO(), force_terminal=True, width=80,
                               color_system=names.get(self.color_system),  # type: ignore[arg-type]
                               legacy_windows=False, emoji=False, highlight=False,
                               soft_wrap=False)

    def lines(self, renderable: RenderableType, width: int) -> list[str]:
        """`renderable` drawn `width` columns wide, as ANSI lines without trailing blanks."""
        width = max(10, width)
        opts = self.console.options.update(width=width, min_width=width, max_width=width)
        return [self._ansi(line) for line in self.console.render_lines(renderable, opts,
                                                                         pad=False)]

    def markdown(self, source: str, width: int) -> list[str]:
        """Markdown source as lines, leading and trailing blank lines removed."""
        width = max(10, width)
        plain = plain_paragraphs(source, width)
        if plain is not None:
            return plain
        out = self.lines(AnswerMarkdown(source, code_theme=CODE_THEME, hyperlinks=False), width)
        return strip_blank_edges(out)

    def text(self, text: str | Text, width: int, style: str | Style = "") -> list[str]:
        t = text if isinstance(text, Text) else Text(text, style=style)
        return self.lines(t, width)

    def wrap(self, lines: Iterable[str], width: int) -> list[str]:
        """ANSI `lines` (a line may hold newlines) folded to `width` columns, nothing cut:
        for the transcript, whose lines were drawn at another width or never cut at all. A
        line that fits is kept as it is (most of them: no rendering cost)."""
        from rich.cells import cell_len

        width = max(10, width)
        out: list[str] = []
        for line in lines:
            for part in line.split("\n"):
                if cell_len(visible(part)) <= width:
                    out.append(part)
                    continue
                text = Text.from_ansi(part)
                text.no_wrap = False
                text.overflow = "fold"
                out += self.lines(text, width)
        return out

    def style(self, text: str, style: str) -> str:
        """`text` wrapped in the SGR codes of `style` (a rich style string); no wrapping."""
        if not text:
            return ""
        st = self.console.get_style(style) if style else None
        if st is None:
            return text
        return "".join(self._ansi([Segment(text, st)], strip=False))

    def _ansi(self, segments: Iterable[Segment], strip: bool = True) -> str:
        segs = [s for s in segments if not s.control]
        # Drop trailing filler: unstyled (or background-less) spaces rich pads lines with.
        while strip and segs and not segs[-1].text.strip() and not _has_bg(segs[-1].style):
            segs.pop()
        if strip and segs and not _has_bg(segs[-1].style):
            last = segs[-1]
            segs[-1] = Segment(last.text.rstrip(), last.style)
        cs = self.color_system
        out = []
        for seg in segs:
            if seg.style and cs is not None:
                out.append(seg.style.render(seg.text, color_system=cs))
            elif seg.style and cs is None:
                # NO_COLOR: keep bold/underline/dim attributes, drop colours.
                out.append(Style(bold=seg.style.bold, dim=seg.style.dim, italic=seg.style.italic,
                                 underline=seg.style.underline).render(
                    seg.text, color_system=ColorSystem.STANDARD))
            else:
                out.append(seg.text)
        return "".join(out)


# Anything that could make a line more than a plain paragraph line: inline markup, escapes,
# entities, HTML, tables; or, at its start, a list, quote, heading, rule or setext underline.
_MARKUP = re.compile(r"[\\`*_\[\]<>|!~&]|^ {0,3}(?:[-+=>#]|\d{1,9}[.)](?:\s|$))")


def plain_paragraphs(source: str, width: int) -> list[str] | None:
    """The rendering of `source` when it is nothing but paragraphs of printable ASCII lines
    that fit in `width` (what rich would draw: each line stripped, one blank line between
    paragraphs), else None. Most lines of a streamed answer are such lines, and drawing them
    this way costs a fraction of a Markdown render (issue 12: 10,000 tokens without falling
    behind)."""
    out: list[str] = []
    for line in source.split("\n"):
        text = line.strip()
        if not text:
            if out and out[-1]:
                out.append("")
            continue
        if len(text) > width or not text.isascii() or not text.isprintable() \
                or line.startswith("    ") or _MARKUP.search(line):
            return None
        out.append(text)
    if out and not out[-1]:
        out.pop()
    return out


def _has_bg(style: Style | None) -> bool:
    return bool(style and style.bgcolor is not None and not style.bgcolor.is_default)


def strip_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not visible(lines[start]).strip():
        start += 1
    while end > start and not visible(lines[end - 1]).strip():
        end -= 1
    return lines[start:end]


def visible(ansi: str) -> str:
    """The printable text of an ANSI line (SGR sequences removed)."""
    if "\x1b" not in ansi:
        return ansi
    from codex.tui.sanitize import sanitize

    return sanitize(ansi)
