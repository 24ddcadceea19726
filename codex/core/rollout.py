"""Session rollouts: one JSONL file per session under `$CODEX_HOME/sessions/YYYY/MM/DD/`.

Line shapes (`{"timestamp", "type", "payload"}`), in the order things happened:
- `session_meta`: `{id, timestamp, cli_version, cwd, originator, model_provider, ...}`, first.
- `response_item`: one history item (Responses shape), appended as it enters the history.
- `turn_context`: the cwd, model and policies a turn ran with.
- `compacted`: `{message: summary, replacement_history: [items]}`: the history was replaced
  (spec session.md, "Auto-compaction"); replay continues from the replacement.
- `event_msg`: `{type: ...}`. Replay acts on `rollback {user_turns}` (drop the last user turns,
  op `Rollback`) and `approved_for_session {keys}` (approvals remembered on resume); the others
  (`turn_completed`, `turn_aborted`, `turn_failed`, ...) are a log for people.

Writing: every line is appended with `write` on an `O_APPEND` descriptor and is whole or absent.
When the disk refuses it (full, quota, file size limit) the part already written is cut off
again and `RolloutWriteError` is raised, so the file stays valid JSONL. A crash (even kill -9)
can still tear the last line; the reader skips a torn line, and a writer that reopens the file
starts on a fresh line.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from codex import __version__
from codex.errors import CodexError

SESSIONS_DIR = "sessions"
ABORTED_CALL_OUTPUT = "aborted: the session ended before this call finished"

# `type` values of rollout lines, and of the event_msg payloads that replay acts on.
SESSION_META = "session_meta"
RESPONSE_ITEM = "response_item"
TURN_CONTEXT = "turn_context"
COMPACTED = "compacted"
EVENT_MSG = "event_msg"
ROLLBACK = "rollback"
APPROVED_FOR_SESSION = "approved_for_session"


class RolloutError(CodexError):
    """A session to resume was not found or cannot be read (exit 1)."""


class RolloutWriteError(CodexError):
    """A line could not be appended (disk full, quota, file too large, I/O error). Nothing of
    the line is left in the file."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_session_id() -> str:
    # uuid7-like: time-ordered, so ids sort by creation like Codex's.
    ms = int(time.time() * 1000)
    rand = uuid.uuid4().int & ((1 << 80) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand & ((1 << 76) - 1))
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)
    return str(uuid.UUID(int=value))


class Rollout(Protocol):
    """Where a session records itself; `path` is None when it records nowhere."""

    @property
    def path(self) -> Path | None: ...

    def write(self, kind: str, payload: Any) -> None: ...

    def item(self, item: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class NullRollout:
    """The rollout of an ephemeral session (or of one whose file failed): records nothing."""

    path: Path | None = None

    def write(self, kind: str, payload: Any) -> None:
        pass

    def item(self, item: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class RolloutWriter:
    """Appends whole lines to one session file. OSError when the file cannot be opened,
    `RolloutWriteError` when a line cannot be written."""

    def __init__(self, path: Path) -> None:
        self.path: Path | None = path
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd: int | None = os.open(path, flags, 0o600)
        try:
            if os.fstat(self._fd).st_size:
                with path.open("rb") as f:
                    f.seek(-1, os.SEEK_END)
                    torn = f.read(1) != b"\n"
                if torn:  # a crash cut the last line: ours start on a fresh one
                    self._append(b"\n")
        except BaseException:
            self.close()
            raise

    @classmethod
    def create(cls, home: Path, session_id: str, meta: dict[str, Any]) -> RolloutWriter:
        """A new file for `session_id` with its `session_meta` line. OSError when the file
        cannot be created; RolloutWriteError when the line cannot be written (the empty file
        is removed again), so that a full disk is told apart from an unwritable directory."""
        now = datetime.now()
        day = home / SESSIONS_DIR / now.strftime("%Y") / now.strftime("%m") / now.strftime("%d")
        path = day / f"rollout-{now.strftime('%Y-%m-%dT%H-%M-%S')}-{session_id}.jsonl"
        w = cls(path)
        try:
            w.write(SESSION_META, {"id": session_id, "timestamp": _now(),
                                   "cli_version": __version__, **meta})
        except RolloutWriteError:
            w.close()
            with contextlib.suppress(OSError):
                path.unlink()  # a file without its meta line is nobody's session
            raise
        return w

    def write(self, kind: str, payload: Any) -> None:
        line = json.dumps({"timestamp": _now(), "type": kind, "payload": payload},
                          ensure_ascii=False) + "\n"
        self._append(line.encode("utf-8", "surrogateescape"))

    def item(self, item: dict[str, Any]) -> None:
        self.write(RESPONSE_ITEM, item)

    def _append(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise RolloutWriteError(f"the session file {self.path} is closed")
        start = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError as e:
            # Whole lines or nothing: cut off the part of the line that did get written.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise RolloutWriteError(
                f"cannot write the session file {self.path}: {e.strerror or e}") from None

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


@dataclass
class RecordedSession:
    """A rollout replayed: the history as it stood at the end of the file."""

    path: Path
    meta: dict[str, Any]
    items: list[dict[str, Any]]
    approved_keys: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.meta.get("id"))


def read_rollout(path: Path) -> RecordedSession:
    """Replay `path`: response items in order, compactions replacing the history, rollbacks
    dropping user turns, approvals remembered. RolloutError for a file that is not a rollout;
    torn lines are skipped."""
    from codex.core.history import drop_user_turns

    meta: dict[str, Any] | None = None
    items: list[dict[str, Any]] = []
    approved: list[str] = []
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
        kind, payload = rec.get("type"), rec.get("payload")
        if kind == SESSION_META and meta is None:
            meta = payload if isinstance(payload, dict) else {}
        elif kind == RESPONSE_ITEM and isinstance(payload, dict):
            items.append(payload)
        elif kind == COMPACTED and isinstance(payload, dict):
            replacement = payload.get("replacement_history")
            if isinstance(replacement, list):
                items = [it for it in replacement if isinstance(it, dict)]
        elif kind == EVENT_MSG and isinstance(payload, dict):
            if payload.get("type") == ROLLBACK and isinstance(payload.get("user_turns"), int):
                items = drop_user_turns(items, payload["user_turns"])
            elif payload.get("type") == APPROVED_FOR_SESSION:
                approved.extend(str(k) for k in payload.get("keys") or [])
    if meta is None or not meta.get("id"):
        raise RolloutError(f"{path} is not a session rollout (no session_meta line)")
    return RecordedSession(path, meta, close_dangling_calls(items), approved)


def close_dangling_calls(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every call that has no output (the process died mid-call) an 'aborted' output,
    so the replayed history is one the model API accepts."""
    from codex.core.tools.registry import ToolCall

    answered = {it.get("call_id") for it in items
                if it.get("type") in ("function_call_output", "custom_tool_call_output")}
    out: list[dict[str, Any]] = []
    for it in items:
        out.append(it)
        call = ToolCall.from_item(it)
        if call is not None and call.call_id not in answered:
            out.append(call.output_item(ABORTED_CALL_OUTPUT))
    return out


def _all_rollouts(home: Path) -> list[Path]:
    root = home / SESSIONS_DIR
    if not root.is_dir():
        return []
    return list(root.glob("*/*/*/rollout-*.jsonl"))


def find_rollout(home: Path, session_id: str | None) -> Path:
    """The rollout of `session_id`, or the most recent one when it is None."""
    files = _all_rollouts(home)
    if session_id is None:
        # Newest first, skipping a file a crash left without its first line.
        for path in sorted(files, key=lambda p: (p.stat().st_mtime, p.name), reverse=True):
            try:
                read_rollout(path)
            except RolloutError:
                continue
            return path
        raise RolloutError(f"no recorded sessions in {home / SESSIONS_DIR} to resume")
    matches = [p for p in files if p.stem.endswith(session_id)]
    if not matches:
        raise RolloutError(f"no session with id {session_id!r} in {home / SESSIONS_DIR}")
    return max(matches, key=lambda p: p.stat().st_mtime)
