"""What the resume picker shows of each recorded session (spec tui.md "Starting": newest
first, with the updated time, first user message and branch; this cwd only unless `--all`).

Which sessions, in which order and scoped to which directory is `codex.core.rollout`'s
`list_sessions` (the same lookup `codex exec resume --last` uses); this module only adds the
first user message and the branch, read from the head of each file so that listing hundreds
of long sessions stays quick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.core.rollout import SessionEntry, list_sessions

HEAD_BYTES = 64 * 1024
# User messages codex itself adds to a new session's history (not what the user typed).
_CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md",
                     "<INSTRUCTIONS>")


@dataclass(frozen=True, slots=True)
class SessionPreview:
    """A recorded session (`entry`) with its first user message ("" when none was recorded
    in the head of the file) and git branch (None when not recorded)."""

    entry: SessionEntry
    first_message: str
    branch: str | None
    # The whole file was read and holds no user message: started and left without a word
    # (nothing to resume; the pickers leave it out).
    empty: bool = False

    @property
    def path(self) -> Path:
        return self.entry.path


def previews(home: Path, cwd: Path | None, *, include_empty: bool = False
             ) -> list[SessionPreview]:
    """The sessions of `cwd` (every directory when None), newest first, with their preview;
    sessions without a user message only with `include_empty`."""
    found = (_preview(e) for e in list_sessions(home, cwd=cwd))
    return [p for p in found if include_empty or not p.empty]


def label(p: SessionPreview) -> str:
    """The picker's text for a session: its first message's first line."""
    if p.first_message:
        return p.first_message.splitlines()[0]
    return "(no message)" if p.empty else "(first message not in the file's head)"


def first_user_text(items: list[dict[str, Any]]) -> str:
    """The text of the first user message that the user typed (not codex's context items)."""
    for item in items:
        if item.get("type") != "message" or item.get("role") != "user":
            continue
        text = "".join(p.get("text", "") for p in item.get("content") or []
                       if isinstance(p, dict)).strip()
        if text and not text.startswith(_CONTEXT_PREFIXES):
            return text
    return ""


def _preview(entry: SessionEntry) -> SessionPreview:
    recs, whole = _head(entry.path)
    meta = next((r.get("payload") for r in recs if r.get("type") == "session_meta"), None)
    git = meta.get("git") if isinstance(meta, dict) else None
    branch = git.get("branch") if isinstance(git, dict) else None
    items = [r["payload"] for r in recs
             if r.get("type") == "response_item" and isinstance(r.get("payload"), dict)]
    first = first_user_text(items)
    return SessionPreview(entry, first, branch if isinstance(branch, str) else None,
                          empty=whole and not first)


def _head(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The records in the first HEAD_BYTES of `path`, and whether that was the whole file."""
    try:
        with path.open("rb") as f:
            data = f.read(HEAD_BYTES + 1)
    except OSError:
        return [], False
    whole = len(data) <= HEAD_BYTES
    data = data[:HEAD_BYTES]
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # the line cut by HEAD_BYTES, or one torn by a crash
        if isinstance(rec, dict):
            out.append(rec)
    return out, whole
