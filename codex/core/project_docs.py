"""Project docs: which AGENTS.md-style files instruct the agent, and their text.

Rules (Codex's, except where marked ours):
- In each directory at most one file counts, the first that exists of: `AGENTS.override.md`,
  `AGENTS.md`, then each name of `project_doc_fallback_filenames` in order (e.g.
  `["CLAUDE.md"]`; empty names and repeats are skipped). So an override takes the place of the
  directory's AGENTS.md, even when it is empty (a way to silence one locally).
- Project docs come from every directory from the git root (the nearest directory above the cwd
  holding `.git`) down to the cwd, root first; without a git root, from the cwd alone.
- Together they hold at most `project_doc_max_bytes` bytes (0 turns them off): each file is
  read up to what is left, so the deepest files lose out first (the root's rules apply to
  everything). A cut never splits a UTF-8 character (ours). Whitespace-only files add nothing.
- The global file is `$CODEX_HOME/AGENTS.override.md`, else `$CODEX_HOME/AGENTS.md` (no
  fallback names there); it comes first and has a budget of its own: `project_doc_max_bytes`,
  or `GLOBAL_DOC_MAX_BYTES` when project docs are off (ours: Codex reads it whole). An empty
  global override silences the global AGENTS.md too (ours: Codex falls through to it).
- A name whose file is a directory or a dangling symlink does not count and the next name is
  tried (ours: Codex lets a dangling symlink take the place and then reads nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

AGENTS_FILE = "AGENTS.md"
AGENTS_OVERRIDE_FILE = "AGENTS.override.md"
# The global file's cap when project docs are turned off (project_doc_max_bytes = 0).
GLOBAL_DOC_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class ProjectDoc:
    """One file that instructs the agent: where it is, and its text as sent (stripped, maybe
    cut to the byte budget; `truncated` says so)."""

    path: Path
    text: str
    truncated: bool = False


def find_git_root(cwd: Path) -> Path | None:
    """The nearest directory at or above `cwd` holding `.git` (a directory or a file)."""
    for d in (cwd, *cwd.parents):
        if (d / ".git").exists():
            return d
    return None


def candidate_names(fallback_filenames: Iterable[str] = ()) -> list[str]:
    """The names tried in each directory, in order: override, AGENTS.md, then fallbacks."""
    names = [AGENTS_OVERRIDE_FILE, AGENTS_FILE]
    for name in fallback_filenames:
        if name and name not in names:
            names.append(name)
    return names


def doc_in(directory: Path, names: Sequence[str]) -> Path | None:
    """The file that counts in `directory`: the first of `names` that is a file (or a link
    to one), else None."""
    for name in names:
        path = directory / name
        if path.is_file():
            return path
    return None


def search_dirs(cwd: Path) -> list[Path]:
    """The directories project docs come from: git root down to `cwd`, or `cwd` alone."""
    root = find_git_root(cwd)
    if root is None:
        return [cwd]
    chain = [cwd, *cwd.parents]
    return list(reversed(chain[: chain.index(root) + 1]))


def project_doc_paths(cwd: Path, fallback_filenames: Iterable[str] = ()) -> list[Path]:
    """Every project doc file that counts for `cwd`, root first (budget not applied)."""
    names = candidate_names(fallback_filenames)
    found = (doc_in(d, names) for d in search_dirs(cwd))
    return [p for p in found if p is not None]


def global_doc_path(home: Path) -> Path | None:
    """`$CODEX_HOME/AGENTS.override.md`, else `$CODEX_HOME/AGENTS.md`, if either exists."""
    return doc_in(home, [AGENTS_OVERRIDE_FILE, AGENTS_FILE])


def read_docs(home: Path, cwd: Path, max_bytes: int,
              fallback_filenames: Iterable[str] = ()) -> list[ProjectDoc]:
    """The global doc, then the project docs within `max_bytes`; files with no text (or that
    cannot be read) are left out."""
    docs: list[ProjectDoc] = []
    global_path = global_doc_path(home)
    if global_path is not None:
        doc = _read(global_path, max_bytes if max_bytes > 0 else GLOBAL_DOC_MAX_BYTES)
        if doc is not None:
            docs.append(doc[0])
    if max_bytes <= 0:
        return docs
    budget = max_bytes
    for path in project_doc_paths(cwd, fallback_filenames):
        if budget <= 0:
            log.warning("project doc %s left out: project_doc_max_bytes (%d) is used up",
                        path, max_bytes)
            continue
        read = _read(path, budget)
        if read is None:
            continue
        doc, used = read
        if doc.truncated:
            log.warning("project doc %s cut to the %d bytes left of project_doc_max_bytes",
                        path, budget)
        budget -= used
        docs.append(doc)
    return docs


def _read(path: Path, budget: int) -> tuple[ProjectDoc, int] | None:
    """(the doc, bytes of the budget it used), or None when it has no text or cannot be read."""
    try:
        with path.open("rb") as f:
            data = f.read(budget + 1)
    except OSError as e:
        log.warning("cannot read project doc %s: %s", path, e.strerror or e)
        return None
    truncated = len(data) > budget
    used = min(len(data), budget)  # a character cut in half still used up its bytes
    if truncated:
        data = _whole_characters(data[:budget])
    text = data.decode("utf-8", "replace").strip()
    if not text:
        return None
    return ProjectDoc(path, text, truncated), used


def _whole_characters(data: bytes) -> bytes:
    """`data` without a UTF-8 sequence cut off at its end."""
    # Look back over at most 3 continuation bytes for the lead byte of the last character.
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: the last character starts here
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else \
                3 if byte >> 4 == 0b1110 else 4 if byte >> 3 == 0b11110 else 1
            return data if need <= back else data[:-back]
    return data
