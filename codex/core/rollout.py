"""Session rollouts: one JSONL file per session under `$CODEX_HOME/sessions/YYYY/MM/DD/`.

Every line is written and flushed as it happens, so a crash (even kill -9) loses at most the
line being written; the reader skips a torn line instead of failing.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codex import __version__
from codex.errors import CodexError

SESSIONS_DIR = "sessions"


class RolloutError(CodexError):
    """A session to resume was not found or cannot be read (exit 1)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_session_id() -> str:
    # uuid7-like: time-ordered, so ids sort by creation like Codex's.
    ms = int(time.time() * 1000)
    rand = uuid.uuid4().int & ((1 << 80) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand & ((1 << 76) - 1))
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)
    return str(uuid.UUID(int=value))


class RolloutWriter:
    """Appends lines to one session file, flushing each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if path.exists() and path.stat().st_size:
            with path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
        self._f = path.open("a", encoding="utf-8")
        if torn:  # a crash cut the last line: start ours on a fresh one
            self._f.write("\n")
            self._f.flush()

    @classmethod
    def create(cls, home: Path, session_id: str, meta: dict[str, Any]) -> RolloutWriter:
        now = datetime.now()
        day = home / SESSIONS_DIR / now.strftime("%Y") / now.strftime("%m") / now.strftime("%d")
        w = cls(day / f"rollout-{now.strftime('%Y-%m-%dT%H-%M-%S')}-{session_id}.jsonl")
        w.write("session_meta", {"id": session_id, "timestamp": _now(),
                                 "cli_version": __version__, **meta})
        return w

    def write(self, kind: str, payload: Any) -> None:
        if self._f.closed:
            return
        self._f.write(json.dumps({"timestamp": _now(), "type": kind, "payload": payload},
                                 ensure_ascii=False) + "\n")
        self._f.flush()

    def item(self, item: dict[str, Any]) -> None:
        self.write("response_item", item)

    def close(self) -> None:
        self._f.close()


@dataclass
class Session:
    path: Path
    meta: dict[str, Any]
    items: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return str(self.meta.get("id"))


def read_rollout(path: Path) -> Session:
    meta: dict[str, Any] | None = None
    items: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise RolloutError(f"cannot read session file {path}: {e.strerror}") from None
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn line from a crash
        if not isinstance(rec, dict):
            continue
        if rec.get("type") == "session_meta" and meta is None:
            meta = rec.get("payload") or {}
        elif rec.get("type") == "response_item" and isinstance(rec.get("payload"), dict):
            items.append(rec["payload"])
    if meta is None or not meta.get("id"):
        raise RolloutError(f"{path} is not a session rollout (no session_meta line)")
    return Session(path, meta, close_dangling_calls(items))


def close_dangling_calls(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every call that has no output (the process died mid-call) an 'aborted' output,
    so the replayed history is one the model API accepts."""
    answered = {it.get("call_id") for it in items
                if it.get("type") in ("function_call_output", "custom_tool_call_output")}
    out: list[dict[str, Any]] = []
    for it in items:
        out.append(it)
        kind = it.get("type")
        if kind in ("function_call", "custom_tool_call") and it.get("call_id") not in answered:
            out_kind = "function_call_output" if kind == "function_call" \
                else "custom_tool_call_output"
            out.append({"type": out_kind, "call_id": it.get("call_id"),
                        "output": "aborted: the session ended before this call finished"})
    return out


def _all_rollouts(home: Path) -> list[Path]:
    root = home / SESSIONS_DIR
    if not root.is_dir():
        return []
    return list(root.glob("*/*/*/rollout-*.jsonl"))


@dataclass(frozen=True)
class SessionEntry:
    """One recorded session as a list of sessions shows it: where its file is, its id, the
    directory it was started in (None if not recorded) and when it was last written (epoch
    seconds)."""

    path: Path
    id: str
    cwd: str | None
    updated_at: float


def read_session_entry(path: Path) -> SessionEntry | None:
    """The entry for one rollout file from its first line alone (cheap for long sessions);
    None when the file is unreadable or does not start with a `session_meta` line."""
    try:
        with path.open("rb") as f:
            first = f.readline()
            updated_at = os.fstat(f.fileno()).st_mtime
    except OSError:
        return None
    try:
        rec = json.loads(first)
    except ValueError:
        return None  # empty, or torn by a crash while writing its first line
    if not isinstance(rec, dict) or rec.get("type") != "session_meta":
        return None
    meta = rec.get("payload")
    if not isinstance(meta, dict) or not meta.get("id"):
        return None
    cwd = meta.get("cwd")
    return SessionEntry(path, str(meta["id"]), cwd if isinstance(cwd, str) else None,
                        updated_at)


def same_directory(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one directory: equal as written or once symlinks are resolved."""
    if os.fspath(a) == os.fspath(b):
        return True
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def list_sessions(home: Path, *, cwd: str | os.PathLike[str] | None = None) -> list[SessionEntry]:
    """The recorded sessions under `home`, most recently written first.

    With `cwd`, only the sessions started in that directory (`same_directory`; a session
    started in a subdirectory is another project's), which is what `codex exec resume --last`
    and the resume picker offer; `cwd=None` (`--all`) lists every session. Files that are not
    session rollouts are left out.
    """
    entries = [e for e in map(read_session_entry, _all_rollouts(home)) if e is not None]
    if cwd is not None:
        entries = [e for e in entries if e.cwd is not None and same_directory(e.cwd, cwd)]
    entries.sort(key=lambda e: (e.updated_at, e.path.name), reverse=True)
    return entries


def find_rollout(home: Path, session_id: str | None, *,
                 cwd: str | os.PathLike[str] | None = None) -> Path:
    """The rollout of `session_id`; with None, the most recently written session started in
    `cwd` (any directory when `cwd` is None). Raises `RolloutError` saying what was looked
    for, and for `--last` whether other directories have sessions (`--all` reaches them)."""
    if session_id is None:
        found = list_sessions(home, cwd=cwd)
        if found:
            return found[0].path
        where = home / SESSIONS_DIR
        if cwd is None:
            raise RolloutError(f"no recorded sessions in {where} to resume")
        elsewhere = len(list_sessions(home))
        hint = (f"; {elsewhere} session(s) from other directories: pass --all to resume the "
                "most recent of them" if elsewhere else "")
        raise RolloutError(f"no recorded session started in {os.fspath(cwd)} to resume{hint}")
    matches = [p for p in _all_rollouts(home) if p.stem.endswith(session_id)]
    if not matches:
        raise RolloutError(f"no session with id {session_id!r} in {home / SESSIONS_DIR}")
    return max(matches, key=lambda p: p.stat().st_mtime)
