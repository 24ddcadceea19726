"""A file's bytes as lines the patch engine can edit, and back to the same bytes.

`FileText.decode(data).encode() == data` for every input: the byte-order mark, each line's own
ending (`\\r\\n`, `\\r` or `\\n`, mixed freely in one file), the presence or absence of a final
line break, and bytes that are not valid text all survive the round trip. Only the lines a
patch replaces change.

Encodings: a UTF-16 byte-order mark (LE or BE) selects UTF-16; everything else is read as UTF-8
with `surrogateescape`, so a byte that is not UTF-8 becomes a lone surrogate (U+DC80-U+DCFF)
and is written back as the same byte. A UTF-16 file that does not decode cleanly is treated as
bytes (UTF-8 with escapes) rather than refused: its untouched bytes still survive.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

LF = "\n"
CRLF = "\r\n"
CR = "\r"
# Each line ends at the first of these; "\r\n" is tried before a bare "\r".
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Most frequent first; on a tie LF wins, then CRLF (the two real conventions), then CR.
_ENDING_PREFERENCE = (LF, CRLF, CR)

# (byte-order mark, codec, errors) tried in order; UTF-8's mark is stripped and kept like any.
_ENCODINGS = (
    (codecs.BOM_UTF16_LE, "utf-16-le", "surrogatepass"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "surrogatepass"),
    (codecs.BOM_UTF8, "utf-8", "surrogateescape"),
)
_FALLBACK = (b"", "utf-8", "surrogateescape")


@dataclass
class FileText:
    """One file as `lines` (no endings) and their `endings` ("" only for a last line that has
    none), plus what it takes to write them back: the byte-order mark and codec."""

    lines: list[str]
    endings: list[str]
    bom: bytes = b""
    codec: str = "utf-8"
    errors: str = "surrogateescape"

    @classmethod
    def decode(cls, data: bytes) -> FileText:
        """Split `data` into lines; never raises (undecodable bytes are kept as escapes)."""
        bom, codec, errors = _FALLBACK
        text: str | None = None
        for mark, name, how in _ENCODINGS:
            if data.startswith(mark):
                try:
                    text = data[len(mark):].decode(name, how)
                except UnicodeDecodeError:
                    break  # e.g. an odd number of bytes after a UTF-16 mark: keep as bytes
                bom, codec, errors = mark, name, how
                break
        if text is None:
            text = data.decode(codec, errors)
        lines, endings = split_lines(text)
        return cls(lines, endings, bom, codec, errors)

    def encode(self) -> bytes:
        """The file's bytes: mark, then each line followed by its own ending."""
        body = "".join(line + ending for line, ending in zip(self.lines, self.endings,
                                                                strict=True))
        return self.bom + body.encode(self.codec, self.errors)

    @property
    def ends_without_break(self) -> bool:
        """True when the file has lines and its last one has no line break after it."""
        return bool(self.endings) and self.endings[-1] == ""

    def dominant_ending(self) -> str:
        """The most common line ending in the file (LF when it has none)."""
        counts = {ending: 0 for ending in _ENDING_PREFERENCE}
        for ending in self.endings:
            if ending:
                counts[ending] += 1
        return max(_ENDING_PREFERENCE, key=lambda e: counts[e])


def split_lines(text: str) -> tuple[list[str], list[str]]:
    """`text` as lines without their endings, and each line's ending ("\\n", "\\r\\n", "\\r",
    or "" for a last line without one). An empty text has no lines."""
    lines: list[str] = []
    endings: list[str] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start:match.start()])
        endings.append(match.group())
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
        endings.append("")
    return lines, endings
