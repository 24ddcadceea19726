"""Prompt history shared by every session: `$CODEX_HOME/history.jsonl` (spec tui.md "Keys").

One JSON object per line, `{"session_id": str, "ts": int (unix seconds), "text": str}`,
appended with one `write` on an `O_APPEND` descriptor so concurrent sessions never interleave
a line. Reading skips torn or foreign lines.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

HISTORY_FILE = "history.jsonl"
MAX_LOADED = 1000  # entries offered to Up/Down and Ctrl-R (newest kept)


def history_path(home: Path) -> Path:
    return home / HISTORY_FILE


def load(home: Path, limit: int = MAX_LOADED) -> list[str]:
    """Texts, oldest first (the newest `limit`), with consecutive duplicates folded."""
    try:
        raw = history_path(home).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[str] = []
    for line in raw.splitlines()[-limit * 2:]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        text = rec.get("text") if isinstance(rec, dict) else None
        if isinstance(text, str) and text.strip() and (not out or out[-1] != text):
            out.append(text)
    return out[-limit:]


def append(home: Path, session_id: str, text: str) -> None:
    """Record one submitted prompt; a failure to write is not worth interrupting the user."""
    line = json.dumps({"session_id": session_id, "ts": int(time.time()), "text": text},
                      ensure_ascii=False) + "\n"
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(history_path(home), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError:
        pass
