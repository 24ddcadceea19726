"""Recorded sessions for the resume picker (spec tui.md "Starting": newest first, with the
updated time, first user message and branch; this cwd only unless `--all`).

Only the head of each rollout is read (its `session_meta` line and the first user message), so
listing hundreds of sessions stays quick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from codex.core.rollout import SESSIONS_DIR

HEAD_BYTES = 64 * 1024
# User messages codex itself adds to a new session's history (not what the user typed).
_CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md",
                     "<INSTRUCTIONS>")


@dataclass(frozen=True, slots=True)
class SessionInfo:
    path: Path
    session_id: str
    cwd: str
    updated: float  # mtime, unix seconds
    first_message: str
    branch: str | None


def _head(path: Path) -> list[dict]:
    try:
        with path.open("rb") as f:
            data = f.read(HEAD_BYTES)
    except OSError:
        return []
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def first_user_text(items: list[dict]) -> str:
    for item in items:
        if item.get("type") != "message" or item.get("role") != "user":
            continue
        text = "".join(p.get("text", "") for p in item.get("content") or []
                       if isinstance(p, dict)).strip()
        if text and not text.startswith(_CONTEXT_PREFIXES):
            return text
    return ""


def read_info(path: Path) -> SessionInfo | None:
    recs = _head(path)
    meta = next((r.get("payload") for r in recs if r.get("type") == "session_meta"), None)
    if not isinstance(meta, dict) or not meta.get("id"):
        return None
    items = [r["payload"] for r in recs
             if r.get("type") == "response_item" and isinstance(r.get("payload"), dict)]
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return SessionInfo(path, str(meta["id"]), str(meta.get("cwd", "")), mtime,
                       first_user_text(items), git.get("branch"))


def list_sessions(home: Path, cwd: Path | None) -> list[SessionInfo]:
    """Sessions newest first; only those recorded in `cwd` unless it is None."""
    root = home / SESSIONS_DIR
    if not root.is_dir():
        return []
    want = str(cwd.resolve()) if cwd is not None else None
    out = []
    for path in root.glob("*/*/*/rollout-*.jsonl"):
        info = read_info(path)
        if info is None:
            continue
        if want is not None and _norm(info.cwd) != want:
            continue
        out.append(info)
    out.sort(key=lambda s: (s.updated, s.path.name), reverse=True)
    return out


def _norm(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, ValueError):
        return path
