"""The patch format as data: `parse_patch` turns patch text into `Patch` (no file access).

    *** Begin Patch
    *** Add File: path        then `+` lines (the whole new file)
    *** Delete File: path
    *** Update File: path     then optional `*** Move to: new/path`, then chunks:
    @@ optional context line  (the chunk is searched after this line)
     context / -removed / +added lines; an empty line is an empty context line
    *** End of File           (optional: the chunk sits at the end of the file)
    *** End Patch

The parser is lenient where a model's intent is unambiguous (surrounding whitespace, a heredoc
wrapper or Markdown code fence, blank lines between hunks, a unified-diff `@@ -1,2 +1,3 @@`
header, CRLF line breaks) and strict where a guess could edit the wrong thing; its errors name
the line and say what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import INVALID_PATCH, PatchError
from .heredoc import unwrap_heredoc

BEGIN_PATCH_MARKER = "*** Begin Patch"
END_PATCH_MARKER = "*** End Patch"
ADD_FILE_MARKER = "*** Add File:"
DELETE_FILE_MARKER = "*** Delete File:"
UPDATE_FILE_MARKER = "*** Update File:"
MOVE_TO_MARKER = "*** Move to:"
END_OF_FILE_MARKER = "*** End of File"
CHUNK_MARKER = "@@"

_VALID_HEADERS = (
    f"Valid hunk headers: '{ADD_FILE_MARKER} {{path}}', '{DELETE_FILE_MARKER} {{path}}', "
    f"'{UPDATE_FILE_MARKER} {{path}}'"
)
# `@@ -12,5 +12,6 @@ def f():` from unified diffs: the numbers mean nothing to us, the text
# after the second `@@` (if any) is a usable context line.
_UNIFIED_RANGE = re.compile(r"^-\d+(?:,\d+)? \+\d+(?:,\d+)? @@ ?(?P<ctx>.*)$")


@dataclass(frozen=True)
class AddFile:
    """Create (or overwrite) `path` with `contents`."""

    path: str
    contents: str
    line: int


@dataclass(frozen=True)
class DeleteFile:
    """Remove the existing file `path`."""

    path: str
    line: int


@dataclass(frozen=True)
class Chunk:
    """One replacement: `old_lines` (found after `context`, if any) become `new_lines`.

    `lines` keeps each patch line as (op, text) with op ' ' (context), '-' or '+', so that
    context lines can keep the file's own text rather than the model's copy of it.
    """

    context: str | None
    lines: tuple[tuple[str, str], ...]
    end_of_file: bool
    line: int

    @property
    def old_lines(self) -> tuple[str, ...]:
        return tuple(text for op, text in self.lines if op != "+")

    @property
    def new_lines(self) -> tuple[str, ...]:
        return tuple(text for op, text in self.lines if op != "-")


@dataclass(frozen=True)
class UpdateFile:
    """Edit the existing file `path` chunk by chunk, then optionally move it to `move_to`."""

    path: str
    move_to: str | None
    chunks: tuple[Chunk, ...]
    line: int


Hunk = AddFile | DeleteFile | UpdateFile


@dataclass(frozen=True)
class Patch:
    """A parsed patch: its file operations in the order they are to be applied."""

    hunks: tuple[Hunk, ...]


def parse_patch(text: str) -> Patch:
    """Parse patch text; raises `PatchError` (code `invalid_patch`) saying what is wrong."""
    lines = _split(text)
    if not lines or lines[0].strip() != BEGIN_PATCH_MARKER:
        unwrapped = unwrap_heredoc(text)
        if unwrapped is not None:
            lines = _split(unwrapped)
    if not lines or lines[0].strip() != BEGIN_PATCH_MARKER:
        raise _invalid(f"The first line of the patch must be '{BEGIN_PATCH_MARKER}'")
    if len(lines) < 2 or lines[-1].strip() != END_PATCH_MARKER:
        raise _invalid(f"The last line of the patch must be '{END_PATCH_MARKER}'")
    hunks = _Parser(lines).hunks()
    if not hunks:
        raise _invalid(
            f"The patch has no file operations between '{BEGIN_PATCH_MARKER}' and "
            f"'{END_PATCH_MARKER}'"
        )
    return Patch(hunks=tuple(hunks))


def _split(text: str) -> list[str]:
    stripped = text.strip()
    if not stripped:
        return []
    lines = [line.removesuffix("\r") for line in stripped.split("\n")]
    # A patch sent inside a Markdown code fence: the fence is not part of it.
    if len(lines) >= 2 and lines[0].startswith("```") and lines[-1].strip() == "```":
        lines = lines[1:-1]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
    return lines


def _invalid(message: str) -> PatchError:
    return PatchError(f"invalid patch: {message}", code=INVALID_PATCH)


def _invalid_hunk(line: int, message: str) -> PatchError:
    return PatchError(f"invalid hunk at line {line}, {message}", code=INVALID_PATCH)


def _header(line: str) -> tuple[str, str] | None:
    """(marker, path) when `line` is a hunk header."""
    stripped = line.strip()
    for marker in (ADD_FILE_MARKER, DELETE_FILE_MARKER, UPDATE_FILE_MARKER):
        if stripped.startswith(marker):
            return marker, stripped[len(marker):].strip()
    return None


class _ChunkBuilder:
    def __init__(self, context: str | None, line: int) -> None:
        self.context = context
        self.line = line
        # (op, text, blank): blank marks a literally empty patch line, which is dropped when it
        # trails the chunk (models put blank lines between hunks).
        self.ops: list[tuple[str, str, bool]] = []
        self.end_of_file = False

    def build(self) -> Chunk | None:
        ops = self.ops
        while ops and ops[-1][2]:
            ops = ops[:-1]
        if not ops:
            return None
        return Chunk(
            context=self.context,
            lines=tuple((op, text) for op, text, _ in ops),
            end_of_file=self.end_of_file,
            line=self.line,
        )


class _Parser:
    """Walks the lines between the Begin and End markers; line numbers count from Begin = 1."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.end = len(lines) - 1  # index of the End Patch line
        self.i = 1

    def hunks(self) -> list[Hunk]:
        hunks: list[Hunk] = []
        while self.i < self.end:
            line = self.lines[self.i]
            if not line.strip():
                self.i += 1
                continue
            header = _header(line)
            if header is None:
                hint = ""
                if hunks and isinstance(hunks[-1], AddFile):
                    hint = " (every line of an added file must start with '+')"
                raise _invalid_hunk(
                    self.i + 1, f"'{line.strip()}' is not a valid hunk header{hint}. "
                    f"{_VALID_HEADERS}"
                )
            marker, path = header
            if not path:
                raise _invalid_hunk(self.i + 1, f"'{marker}' must be followed by a path")
            start = self.i + 1
            self.i += 1
            if marker == ADD_FILE_MARKER:
                hunks.append(self._add(path, start))
            elif marker == DELETE_FILE_MARKER:
                hunks.append(DeleteFile(path=path, line=start))
            else:
                hunks.append(self._update(path, start))
        return hunks

    def _add(self, path: str, start: int) -> AddFile:
        contents: list[str] = []
        blanks = 0  # unprefixed empty lines: kept only when more `+` lines follow
        while self.i < self.end:
            line = self.lines[self.i]
            if line.startswith("+"):
                contents.extend([""] * blanks)
                blanks = 0
                contents.append(line[1:])
            elif not line.strip():
                blanks += 1
            else:
                break
            self.i += 1
        text = "".join(f"{line}\n" for line in contents)
        return AddFile(path=path, contents=text, line=start)

    def _update(self, path: str, start: int) -> UpdateFile:
        move_to = None
        if self.i < self.end and self.lines[self.i].strip().startswith(MOVE_TO_MARKER):
            move_to = self.lines[self.i].strip()[len(MOVE_TO_MARKER):].strip()
            if not move_to:
                raise _invalid_hunk(self.i + 1, f"'{MOVE_TO_MARKER}' must be followed by a path")
            self.i += 1
        chunks: list[Chunk] = []
        current: _ChunkBuilder | None = None

        def finish(next_is_chunk: bool = False) -> None:
            nonlocal current
            if current is None:
                return
            chunk = current.build()
            if chunk is None and next_is_chunk:
                # `@@ class A:` straight before another `@@` narrows the search step by step:
                # an empty chunk that only moves past its context line (a bare `@@` does
                # nothing at all).
                if current.context is not None:
                    chunks.append(Chunk(current.context, (), False, current.line))
                current = None
                return
            if chunk is None:
                raise _invalid_hunk(
                    current.line, f"a chunk of the update of '{path}' has no lines; "
                    "give the lines to change (' ' context, '-' remove, '+' add)"
                )
            chunks.append(chunk)
            current = None

        while self.i < self.end:
            line = self.lines[self.i]
            number = self.i + 1
            if line.startswith("***"):
                if line.strip() == END_OF_FILE_MARKER:
                    if current is None or not current.build():
                        raise _invalid_hunk(
                            number, f"'{END_OF_FILE_MARKER}' must follow the lines of a chunk"
                        )
                    current.end_of_file = True
                    finish()
                    self.i += 1
                    continue
                if _header(line) is not None:
                    break
                raise self._unexpected(number, line, path)
            if line.startswith(CHUNK_MARKER):
                finish(next_is_chunk=True)
                current = _ChunkBuilder(_chunk_context(line), number)
            elif line[:1] in (" ", "-", "+"):
                if current is None:
                    current = _ChunkBuilder(None, number)
                current.ops.append((line[0], line[1:], False))
            elif not line.strip():
                if current is None:
                    current = _ChunkBuilder(None, number)
                current.ops.append((" ", "", True))
            elif line.startswith("\\"):
                pass  # "\ No newline at end of file" from a unified diff: nothing to do
            else:
                raise self._unexpected(number, line, path)
            self.i += 1
        finish()
        if not chunks and move_to is None:
            raise _invalid_hunk(start, f"the update of '{path}' is empty (no chunks)")
        return UpdateFile(path=path, move_to=move_to, chunks=tuple(chunks), line=start)

    @staticmethod
    def _unexpected(number: int, line: str, path: str) -> PatchError:
        return _invalid_hunk(
            number, f"unexpected line in the update of '{path}': '{line}'. Every line of a "
            "chunk must start with ' ' (context), '-' (removed) or '+' (added)"
        )


def _chunk_context(line: str) -> str | None:
    rest = line[len(CHUNK_MARKER):]
    if not rest.strip():
        return None
    unified = _UNIFIED_RANGE.match(rest.strip())
    if unified:
        return unified.group("ctx") if unified.group("ctx").strip() else None
    return rest[1:] if rest.startswith(" ") else rest
