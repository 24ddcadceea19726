"""The `@` file finder: the repository's files (respecting .gitignore) and a fuzzy ranking.

The file list comes from `git ls-files --cached --others --exclude-standard` (git's own
ignore rules, including nested .gitignore files and the global excludes). Outside a git
checkout, or without git, a walk that honours the top-level .gitignore's simple patterns.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

MAX_FILES = 50_000
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", ".hg", ".svn"}


def list_files(root: Path) -> list[str]:
    """Paths relative to `root`, '/'-separated, at most MAX_FILES."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        if out.returncode == 0:
            names = [n for n in out.stdout.decode("utf-8", "replace").split("\0") if n]
            return names[:MAX_FILES]
    except (OSError, subprocess.SubprocessError):
        pass
    return _walk(root)


class FileIndex:
    """The file list of one folder for the `@` finder, read off the UI thread and read again
    when it may be out of date (files are created while the UI runs): on each new `@` token,
    and when older than `max_age_s` seconds. One listing runs at a time."""

    def __init__(self, root: Path, *, max_age_s: float = 3.0,
                 lister: Callable[[Path], list[str]] = list_files) -> None:
        self.root = root
        self.max_age_s = max_age_s
        self.files: list[str] | None = None  # None until the first listing finished
        self._lister = lister
        self._loaded_at = 0.0
        self._running: asyncio.Future[list[str]] | None = None

    @property
    def loading(self) -> bool:
        return self._running is not None

    def stale(self) -> bool:
        return self.files is None or time.monotonic() - self._loaded_at > self.max_age_s

    def refresh(self, on_done: Callable[[], None] | None = None) -> asyncio.Future[list[str]]:
        """Start a listing in a worker thread unless one is running; `on_done` runs on the
        loop once the new list is in `files` (not on failure: the old list stays)."""
        if self._running is None:
            loop = asyncio.get_running_loop()  # RuntimeError outside the UI's loop
            fut = loop.run_in_executor(None, self._lister, self.root)
            self._running = fut

            def done(f: asyncio.Future[list[str]]) -> None:
                self._running = None
                if f.cancelled() or f.exception() is not None:
                    return
                self.files = f.result()
                self._loaded_at = time.monotonic()
                if on_done is not None:
                    on_done()

            fut.add_done_callback(done)
        return self._running


def _ignore_patterns(root: Path) -> list[str]:
    try:
        text = (root / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.startswith("#") and not ln.startswith("!")]


def _ignored(rel: str, name: str, is_dir: bool, patterns: list[str]) -> bool:
    for pat in patterns:
        dir_only = pat.endswith("/")
        p = pat.rstrip("/")
        if dir_only and not is_dir:
            continue
        anchored = p.startswith("/") or "/" in p
        p = p.lstrip("/")
        if (fnmatch.fnmatch(rel, p) if anchored else fnmatch.fnmatch(name, p)):
            return True
    return False


def _walk(root: Path) -> list[str]:
    patterns = _ignore_patterns(root)
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS
                             and not _ignored(rel_dir + d, d, True, patterns))
        for f in sorted(filenames):
            if not _ignored(rel_dir + f, f, False, patterns):
                out.append(rel_dir + f)
                if len(out) >= MAX_FILES:
                    return out
    return out


def fuzzy_score(query: str, path: str) -> int | None:
    """A score (higher is better) if every query character appears in order in `path`
    (case-insensitive), else None. Matches in the file name and consecutive runs score more."""
    if not query:
        return 0
    q, p = query.lower(), path.lower()
    base = p.rfind("/") + 1
    score, pos, run = 0, 0, 0
    for ch in q:
        idx = p.find(ch, pos)
        if idx < 0:
            return None
        run = run + 1 if idx == pos else 0
        score += 1 + run * 2 + (3 if idx >= base else 0)
        pos = idx + 1
    if q in p[base:]:
        score += 20
    return score - len(p) // 10


def rank(query: str, files: list[str], limit: int = 8) -> list[str]:
    scored = [(s, f) for f in files if (s := fuzzy_score(query, f)) is not None]
    scored.sort(key=lambda sf: (-sf[0], len(sf[1]), sf[1]))
    return [f for _, f in scored[:limit]]
