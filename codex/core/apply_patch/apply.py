"""Verifying a patch against the files on disk, then applying it all-or-nothing.

`verify_patch` reads what the patch needs and computes every resulting file in memory; it
touches nothing. `PatchPlan.apply` then writes each new file to a temporary file beside its
destination and only when all of them are written swaps them in with atomic renames (a hard
link keeps each replaced original until the end). If anything fails midway, every swap made
so far is undone and the temporary files and directories we created are removed: the disk is
as it was, byte for byte. (Codex leaves the earlier hunks applied; we do not.)

Line endings: a file that mostly ends its lines with CRLF stays CRLF: lines the patch adds get
the file's dominant ending, lines it does not touch keep their own bytes. Added files use LF.
Every updated file ends with a line break (added if missing); an emptied file stays empty.
Bytes that are not UTF-8 survive untouched lines unchanged (read with `surrogateescape`), and a
UTF-8 byte-order mark is kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import APPLY_FAILED, VERIFICATION_FAILED, PatchError
from .parser import AddFile, Chunk, DeleteFile, Patch, UpdateFile, parse_patch
from .seek import LineMatcher

_ENCODING = "utf-8"
_ERRORS = "surrogateescape"
_BOM = "\ufeff"
_SUMMARY_HEADER = "Success. Updated the following files:"

ChangeKind = Literal["add", "update", "delete"]


@dataclass(frozen=True)
class FileChange:
    """One file operation of an applied patch; paths as written in the patch."""

    path: str
    kind: ChangeKind
    move_path: str | None = None
    # The same paths made absolute against the patch's cwd.
    abs_path: Path | None = field(default=None, compare=False)
    abs_move_path: Path | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PatchResult:
    """What an applied patch changed, in patch order."""

    changes: list[FileChange]

    def summary_text(self) -> str:
        """The tool output the model reads: `Success. …` then `A`/`M`/`D` lines (grouped)."""
        added = [c.path for c in self.changes if c.kind == "add"]
        modified = [c.move_path or c.path for c in self.changes if c.kind == "update"]
        deleted = [c.path for c in self.changes if c.kind == "delete"]
        lines = [_SUMMARY_HEADER]
        lines += [f"A {p}" for p in added]
        lines += [f"M {p}" for p in modified]
        lines += [f"D {p}" for p in deleted]
        return "".join(f"{line}\n" for line in lines)


@dataclass
class _Final:
    """The state one path must have after the patch: new bytes, or gone (None)."""

    content: bytes | None
    mode: int | None = None  # permission bits to give a file that did not exist (a move)


@dataclass(frozen=True)
class PatchPlan:
    """A verified patch: every resulting file computed, nothing written yet."""

    changes: list[FileChange]
    _finals: dict[Path, _Final]
    # What each file we read held at verification, to notice it changing before we apply.
    _seen: dict[Path, bytes]
    _display: dict[Path, str]
    _cwd: Path

    @property
    def written_paths(self) -> tuple[Path, ...]:
        """Every absolute path `apply` will create, replace or remove (symlinks followed for
        writes, as `apply` does), for a policy check before applying."""
        return tuple(
            path if final.content is None else _Commit.target(path)
            for path, final in self._finals.items()
        )

    def contents(self, path: Path) -> tuple[bytes | None, bytes | None]:
        """(bytes now, bytes after the apply) of an absolute `path` the patch touches; None
        for a file that does not exist / will not exist. For previews (diffs) and undo."""
        before = self._seen.get(path)
        if before is None:
            try:
                before = path.read_bytes()
            except OSError:
                before = None
        final = self._finals.get(path)
        return before, (final.content if final is not None else before)

    def apply(self) -> PatchResult:
        """Write the planned files all-or-nothing; raises `PatchError` and changes nothing."""
        for path, before in self._seen.items():
            try:
                now = path.read_bytes()
            except OSError:
                now = None
            if now != before:
                raise PatchError(
                    f"{self._display.get(path, path)} changed on disk after the patch was "
                    "verified; nothing was changed",
                    code=VERIFICATION_FAILED,
                )
        _Commit(self._finals, self._display, self._cwd).run()
        return PatchResult(changes=list(self.changes))


def apply_patch(patch_text: str, cwd: str | os.PathLike[str]) -> PatchResult:
    """Parse, verify and apply `patch_text` with paths relative to `cwd`, all or nothing."""
    return verify_patch(patch_text, cwd).apply()


def verify_patch(patch: str | Patch, cwd: str | os.PathLike[str]) -> PatchPlan:
    """Check the patch against the disk and compute every new file; writes nothing."""
    parsed = parse_patch(patch) if isinstance(patch, str) else patch
    return _Verifier(Path(os.path.abspath(cwd))).run(parsed)


class _Verifier:
    """Replays the hunks in order over an in-memory view of the files they touch."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.finals: dict[Path, _Final] = {}
        self.seen: dict[Path, bytes] = {}
        self.display: dict[Path, str] = {}
        self.changes: list[FileChange] = []

    def run(self, patch: Patch) -> PatchPlan:
        for hunk in patch.hunks:
            if isinstance(hunk, AddFile):
                self._add(hunk)
            elif isinstance(hunk, DeleteFile):
                self._delete(hunk)
            else:
                self._update(hunk)
        return PatchPlan(self.changes, self.finals, self.seen, self.display, self.cwd)

    def _resolve(self, raw: str) -> Path:
        if not raw.strip():
            raise PatchError("invalid patch: a file path is empty", code=VERIFICATION_FAILED)
        if "\0" in raw:
            raise PatchError(f"invalid path {raw!r}: it contains a NUL character")
        path = Path(os.path.normpath(os.path.join(self.cwd, raw)))
        self.display.setdefault(path, raw)
        return path

    def _show(self, path: Path) -> str:
        """`path` for a message: relative to cwd when it is below it (as the model wrote it)."""
        try:
            return str(path.relative_to(self.cwd))
        except ValueError:
            return str(path)

    def _mark_deleted(self, path: Path) -> None:
        if path in self.finals and not os.path.lexists(path):
            del self.finals[path]  # created earlier in this patch: it simply never appears
        else:
            self.finals[path] = _Final(None)

    # What the file at `path` looks like at this point of the patch.
    def _exists(self, path: Path) -> bool:
        if path in self.finals:
            return self.finals[path].content is not None
        return os.path.lexists(path)

    def _is_dir(self, path: Path) -> bool:
        return path not in self.finals and path.is_dir()

    def _read(self, path: Path, raw: str, doing: str) -> bytes:
        if path in self.finals:
            content = self.finals[path].content
            if content is None:
                raise PatchError(f"Failed to {doing} {raw}: it was deleted earlier in this patch")
            return content
        if self._is_dir(path):
            raise PatchError(f"Failed to {doing} {raw}: it is a directory")
        if not path.exists():
            raise PatchError(f"Failed to {doing} {raw}: the file does not exist")
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise PatchError(f"Failed to {doing} {raw}: {exc.strerror or exc}") from exc
        self.seen[path] = content
        return content

    def _check_writable_spot(self, path: Path, raw: str) -> None:
        if self._is_dir(path):
            raise PatchError(f"Failed to write {raw}: a directory is in the way")
        for parent in path.parents:
            if parent in self.finals:
                if self.finals[parent].content is not None:
                    raise PatchError(f"Failed to write {raw}: {self._show(parent)} is a file")
                if os.path.lexists(parent):
                    raise PatchError(
                        f"Failed to write {raw}: {self._show(parent)} is a file deleted by this "
                        "patch; "
                        "turn it into a directory in a second patch"
                    )
                continue
            if parent.is_dir():
                return
            if os.path.lexists(parent):
                raise PatchError(f"Failed to write {raw}: {self._show(parent)} is not a directory")

    def _add(self, hunk: AddFile) -> None:
        path = self._resolve(hunk.path)
        self._check_writable_spot(path, hunk.path)
        self.finals[path] = _Final(hunk.contents.encode(_ENCODING, _ERRORS))
        self.changes.append(FileChange(hunk.path, "add", abs_path=path))

    def _delete(self, hunk: DeleteFile) -> None:
        path = self._resolve(hunk.path)
        if self._is_dir(path):
            raise PatchError(f"Failed to delete file {hunk.path}: it is a directory")
        if not self._exists(path):
            raise PatchError(f"Failed to delete file {hunk.path}: the file does not exist")
        self._mark_deleted(path)
        self.changes.append(FileChange(hunk.path, "delete", abs_path=path))

    def _update(self, hunk: UpdateFile) -> None:
        path = self._resolve(hunk.path)
        old = self._read(path, hunk.path, "read file to update")
        new = _apply_chunks(old, hunk.chunks, hunk.path) if hunk.chunks else old
        dest = self._resolve(hunk.move_to) if hunk.move_to is not None else None
        if dest is None or dest == path:
            self.finals[path] = _Final(new)
        else:
            self._check_writable_spot(dest, hunk.move_to or "")
            mode = None
            with contextlib.suppress(OSError):
                mode = stat.S_IMODE(path.stat().st_mode)
            self.finals[dest] = _Final(new, mode)
            self._mark_deleted(path)
        self.changes.append(FileChange(
            hunk.path, "update", move_path=hunk.move_to, abs_path=path, abs_move_path=dest
        ))


def _apply_chunks(data: bytes, chunks: tuple[Chunk, ...], raw: str) -> bytes:
    text = data.decode(_ENCODING, _ERRORS)
    bom = _BOM if text.startswith(_BOM) else ""
    lines, endings = _split_lines(text[len(bom):])
    eol = "\r\n" if endings.count("\r\n") > endings.count("\n") else "\n"
    edits = _find_edits(lines, chunks, raw)
    # Apply from the bottom up so earlier indices stay valid. A context line the patch repeats
    # keeps the file's own text and ending (the model's copy may differ in whitespace or
    # punctuation, which is why it matched only in a fuzzy pass); added lines get the file's
    # dominant ending.
    for start, length, new in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[start:start + length] = [text for text, _ in new]
        endings[start:start + length] = [
            endings[source] if source is not None else eol for _, source in new
        ]
    # Only the original last line can lack an ending; whatever now follows it, or the end of
    # the file itself, needs one.
    endings = [ending or eol for ending in endings]
    out = bom + "".join(line + ending for line, ending in zip(lines, endings, strict=True))
    return out.encode(_ENCODING, _ERRORS)


def _split_lines(text: str) -> tuple[list[str], list[str]]:
    """Lines without their endings, and the endings ("\\n", "\\r\\n", or "" for the last)."""
    pieces = text.split("\n")
    lines: list[str] = []
    endings: list[str] = []
    for piece in pieces[:-1]:
        if piece.endswith("\r"):
            lines.append(piece[:-1])
            endings.append("\r\n")
        else:
            lines.append(piece)
            endings.append("\n")
    if pieces[-1]:
        lines.append(pieces[-1])
        endings.append("")
    return lines, endings


# One edit: (start, number of old lines, new lines). Each new line is (text, source): source is
# the index of the file line a context line stands for, or None for an added line.
_Edit = tuple[int, int, list[tuple[str, int | None]]]


def _find_edits(lines: list[str], chunks: tuple[Chunk, ...], raw: str) -> list[_Edit]:
    """The edit of each chunk, each chunk searched after the previous one."""
    matcher = LineMatcher(lines)
    edits: list[_Edit] = []
    cursor = 0
    for chunk in chunks:
        if chunk.context is not None:
            found = matcher.seek([chunk.context], cursor)
            if found is None:
                raise PatchError(f"Failed to find context '{chunk.context}' in {raw}")
            cursor = found + 1
        ops = list(chunk.lines)
        if not ops:
            continue  # only narrows the search to after its context line
        if all(op == "+" for op, _ in ops):
            # Pure insertion: right after the context line when there is one (ours; Codex
            # appends at the end), else at the end of the file, before a final blank line.
            if chunk.context is not None and not chunk.end_of_file:
                at = cursor
            else:
                at = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
            edits.append((at, 0, [(text, None) for _, text in ops]))
            cursor = max(cursor, at)
            continue
        old = [text for op, text in ops if op != "+"]
        found = matcher.seek(old, cursor, chunk.end_of_file)
        if found is None and ops[-1] == (" ", ""):
            # A trailing empty context line often stands for the file's final newline.
            ops = ops[:-1]
            old = old[:-1]
            found = matcher.seek(old, cursor, chunk.end_of_file) if old else None
        if found is None:
            raise PatchError(
                f"Failed to find expected lines in {raw}:\n" + "\n".join(chunk.old_lines)
            )
        new: list[tuple[str, int | None]] = []
        source = found
        for op, text in ops:
            if op == " ":
                new.append((lines[source], source))
            elif op == "+":
                new.append((text, None))
            if op != "+":
                source += 1
        edits.append((found, len(old), new))
        cursor = found + len(old)
    return edits


class _Commit:
    """Swaps the planned files in; undoes everything if any step fails."""

    def __init__(self, finals: dict[Path, _Final], display: dict[Path, str], cwd: Path) -> None:
        self.finals = finals
        self.display = display
        self.cwd = cwd
        self.stand_ins: dict[str, Path] = {}  # temp/backup file name -> the path it stands for
        self.created_dirs: list[Path] = []
        self.temps: dict[Path, Path] = {}  # destination -> staged temporary file
        # Every change made to a real path, in order: (path, where its old file now is, or
        # None if there was none). Undone newest first.
        self.journal: list[tuple[Path, Path | None]] = []

    def run(self) -> None:
        try:
            for path, final in self.finals.items():
                if final.content is not None:
                    self._stage(path, final)
            for path, final in self.finals.items():
                if final.content is None:
                    self._remove(path)
                else:
                    self._swap_in(path)
        except OSError as exc:
            self._rollback()
            where = self._describe(exc.filename)
            detail = f"{where}: {exc.strerror}" if where and exc.strerror else str(exc)
            raise PatchError(
                f"Failed to write the patched files ({detail}); nothing was changed",
                code=APPLY_FAILED,
            ) from exc
        for _, old in self.journal:
            if old is not None:
                with contextlib.suppress(OSError):
                    os.unlink(old)

    def _sibling(self, path: Path, purpose: str) -> Path:
        """A fresh hidden name next to `path` (same directory, so renames stay atomic)."""
        name = path.with_name(f".{path.name[:80]}.{os.urandom(4).hex()}.codex-{purpose}")
        self.stand_ins[str(name)] = path
        return name

    def _describe(self, filename: object) -> str:
        """The path an OSError is about, as the patch named it (never our temp names)."""
        if not filename:
            return ""
        path = self.stand_ins.get(str(filename), Path(str(filename)))
        for original, shown in self.display.items():
            if path == original or path == self.target(original):
                return shown
        try:
            return str(path.relative_to(self.cwd))
        except ValueError:
            return str(path)

    @staticmethod
    def target(path: Path) -> Path:
        # Write through a symlink to its file rather than replacing the link.
        return Path(os.path.realpath(path)) if path.is_symlink() else path

    def _stage(self, path: Path, final: _Final) -> None:
        target = self.target(path)
        self._make_parents(target.parent)
        mode = final.mode  # a moved file keeps its own permissions, like `mv`
        owner = None
        try:
            st = target.stat()
        except FileNotFoundError:
            pass
        else:
            if not os.access(target, os.W_OK):
                # A rename would bypass the file's own write permission; honour it instead.
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
            if mode is None:
                mode = stat.S_IMODE(st.st_mode)
            owner = (st.st_uid, st.st_gid)
        stale = self.temps.pop(target, None)
        if stale is not None:  # two paths of the patch lead to one file: the later one wins
            os.unlink(stale)
        temp = self._sibling(target, "tmp")
        # 0o666 lets the umask decide for new files, as any editor would.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        self.temps[target] = temp
        try:
            view = memoryview(final.content or b"")
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        if owner is not None and hasattr(os, "chown"):
            # Keep the owner when we can (e.g. root editing a user's file); else the file
            # becomes ours, as with any editor that saves by renaming.
            with contextlib.suppress(OSError):
                os.chown(temp, *owner)
        if mode is not None:
            os.chmod(temp, mode)

    def _make_parents(self, directory: Path) -> None:
        missing: list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            if directory.parent == directory:
                break
            directory = directory.parent
        for d in reversed(missing):
            os.mkdir(d)
            self.created_dirs.append(d)

    def _swap_in(self, path: Path) -> None:
        target = self.target(path)
        if target not in self.temps:
            return  # already swapped in under another path that leads to the same file
        backup = None
        if os.path.lexists(target):
            backup = self._sibling(target, "bak")
            try:
                os.link(target, backup)
            except OSError:
                import shutil  # only for filesystems without hard links

                shutil.copy2(target, backup)
        try:
            os.replace(self.temps[target], target)
        except OSError:
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(backup)
            raise
        del self.temps[target]
        self.journal.append((target, backup))

    def _remove(self, path: Path) -> None:
        parked = self._sibling(path, "del")
        os.rename(path, parked)
        self.journal.append((path, parked))

    def _rollback(self) -> None:
        # Best effort, newest first; each step is independent so one failure does not stop
        # the others.
        for path, old in reversed(self.journal):
            with contextlib.suppress(OSError):
                if old is None:
                    os.unlink(path)
                else:
                    os.replace(old, path)
        for temp in self.temps.values():
            with contextlib.suppress(OSError):
                os.unlink(temp)
        for d in reversed(self.created_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(d)
