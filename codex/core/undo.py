"""Undo of the files a turn's patches changed (op `Undo`).

Before the first patch of a turn touches a path, the path's state is kept: its bytes and
permission bits, or that it did not exist. `Undo` restores the last turn that has a snapshot
(so repeated undos go further back). Only what apply_patch wrote is covered: files changed by
shell commands are not, and snapshots live as long as the session process (not in the
rollout).
"""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codex.core.fileio import write_atomic


@dataclass(frozen=True, slots=True)
class FileSnapshot:
    path: Path
    content: bytes | None  # None: the file did not exist
    mode: int | None = None


@dataclass(frozen=True, slots=True)
class UndoResult:
    restored: tuple[str, ...]  # every path put back as it was, removed ones included
    failed: tuple[str, ...]  # "path: why"
    removed: tuple[str, ...] = ()  # of `restored`: files the turn had created, now deleted


class UndoLog:
    """Snapshots per turn, most recent last."""

    def __init__(self) -> None:
        self._turns: list[tuple[str, dict[Path, FileSnapshot]]] = []
        self.undone = 0  # turns undone so far

    def __len__(self) -> int:
        return len(self._turns)

    def snapshot(self, turn_id: str, paths: Iterable[Path]) -> None:
        """Keep the state of each path not yet kept for `turn_id` (call before writing)."""
        if not self._turns or self._turns[-1][0] != turn_id:
            self._turns.append((turn_id, {}))
        kept = self._turns[-1][1]
        for path in paths:
            if path not in kept:
                kept[path] = _capture(path)

    def undo(self) -> UndoResult | None:
        """Restore the most recent turn's files; None when there is nothing to undo."""
        if not self._turns:
            return None
        _, kept = self._turns.pop()
        self.undone += 1
        restored: list[str] = []
        removed: list[str] = []
        failed: list[str] = []
        for snap in kept.values():
            try:
                _restore(snap)
            except OSError as e:
                failed.append(f"{snap.path}: {e.strerror or e}")
            else:
                restored.append(str(snap.path))
                if snap.content is None:
                    removed.append(str(snap.path))
        return UndoResult(tuple(restored), tuple(failed), tuple(removed))


def _capture(path: Path) -> FileSnapshot:
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            return FileSnapshot(path, None)
        return FileSnapshot(path, path.read_bytes(), stat.S_IMODE(st.st_mode))
    except FileNotFoundError:
        return FileSnapshot(path, None)


def _restore(snap: FileSnapshot) -> None:
    if snap.content is None:
        with contextlib.suppress(FileNotFoundError):
            snap.path.unlink()
        return
    snap.path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(snap.path, snap.content, mode=snap.mode if snap.mode is not None else 0o644)
