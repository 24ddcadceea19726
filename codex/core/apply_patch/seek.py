"""Finding a chunk's old lines in a file: four passes from exact to forgiving, first hit wins.

Models reproduce file lines imperfectly (trailing spaces dropped, indentation redone, a typed
`-` where the file has `–`), so after an exact search we retry with looser comparisons:
    1. exact
    2. ignoring trailing whitespace
    3. ignoring leading and trailing whitespace
    4. as 3, and Unicode dashes, quotes and spaces read as their ASCII twins (and composed and
       decomposed accents as equal, NFC); a run of bytes that are not UTF-8 (kept as
       surrogate escapes) equals a run of U+FFFD, which is how the model saw them in tool
       output
A looser pass only runs when every stricter pass found nothing anywhere, so an exact match
later in the file beats a fuzzy one earlier.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

# Characters a model (or an editor's autocorrect) swaps for plain ASCII.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\uff07"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\uff02"
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
          "\u202f\u205f\u3000"
_ASCII_TWINS = str.maketrans(
    {
        **dict.fromkeys(_DASHES, "-"),
        **dict.fromkeys(_SINGLE_QUOTES, "'"),
        **dict.fromkeys(_DOUBLE_QUOTES, '"'),
        **dict.fromkeys(_SPACES, " "),
    }
)

# Undecodable bytes (surrogate escapes) or replacement characters, however many in a row: a
# decoder with errors="replace" may turn several bad bytes into one U+FFFD.
_UNDECODABLE = re.compile("[\udc80-\udcff\ufffd]+")


def normalise_unicode(text: str) -> str:
    """`text` in NFC with Unicode dashes, quotes and spaces replaced by `-`, `'`, `"`, ` `,
    and each run of undecodable bytes or U+FFFD as one U+FFFD."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text).translate(_ASCII_TWINS)
        text = _UNDECODABLE.sub("\ufffd", text)
    return text


def _exact(line: str) -> str:
    return line


def _rstrip(line: str) -> str:
    return line.rstrip()


def _strip(line: str) -> str:
    return line.strip()


def _normalised(line: str) -> str:
    return normalise_unicode(line).strip()


PASSES: tuple[Callable[[str], str], ...] = (_exact, _rstrip, _strip, _normalised)


class LineMatcher:
    """The lines of one file, with each pass's view of them computed once and reused."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self._views: dict[int, list[str]] = {}

    def _view(self, pass_index: int) -> list[str]:
        view = self._views.get(pass_index)
        if view is None:
            canon = PASSES[pass_index]
            view = self._views[pass_index] = [canon(line) for line in self.lines]
        return view

    def seek(self, pattern: Sequence[str], start: int, end_of_file: bool = False) -> int | None:
        """Index of the first place at or after `start` where `pattern` matches, else None.

        With `end_of_file` the place where the pattern would end the file is tried first (in
        every pass); only if it does not match there is the rest of the file searched.
        """
        if not pattern:
            return start
        size = len(pattern)
        last = len(self.lines) - size
        if last < start:
            return None
        if end_of_file:
            for index in range(len(PASSES)):
                if self._matches_at(index, pattern, last):
                    return last
        for index in range(len(PASSES)):
            found = self._find(index, pattern, start, last)
            if found is not None:
                return found
        return None

    def _matches_at(self, pass_index: int, pattern: Sequence[str], at: int) -> bool:
        canon = PASSES[pass_index]
        view = self._view(pass_index)
        return view[at:at + len(pattern)] == [canon(p) for p in pattern]

    def _find(self, pass_index: int, pattern: Sequence[str], start: int, last: int) -> int | None:
        canon = PASSES[pass_index]
        view = self._view(pass_index)
        wanted = [canon(p) for p in pattern]
        first, size = wanted[0], len(wanted)
        at = start
        while at <= last:
            try:
                at = view.index(first, at, last + 1)
            except ValueError:
                return None
            if view[at:at + size] == wanted:
                return at
            at += 1
        return None
