"""The first input items of a session: AGENTS.md instructions and the environment context."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from codex.core.policy import Policy

AGENTS_FILE = "AGENTS.md"


def user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]}


def find_git_root(cwd: Path) -> Path | None:
    """The nearest directory at or above `cwd` holding `.git` (a directory or a file)."""
    for d in (cwd, *cwd.parents):
        if (d / ".git").exists():
            return d
    return None


def _read_capped(path: Path, budget: int) -> str:
    try:
        with path.open("rb") as f:
            data = f.read(budget)
    except OSError:
        return ""
    return data.decode("utf-8", "ignore").strip()


def agents_instructions(home: Path, cwd: Path, max_bytes: int) -> str | None:
    """Global `$CODEX_HOME/AGENTS.md`, then every AGENTS.md from the repo root down to cwd.

    The project files together are capped at `max_bytes` (0 turns them off), the deepest
    files losing out when the budget runs out, since the root's rules apply to everything.
    """
    parts: list[str] = []
    glob = home / AGENTS_FILE
    if glob.is_file():
        text = _read_capped(glob, max(max_bytes, 1) if max_bytes else 1 << 20)
        if text:
            parts.append(text)
    if max_bytes > 0:
        root = find_git_root(cwd) or cwd
        chain = [cwd, *cwd.parents]
        dirs = list(reversed(chain[: chain.index(root) + 1])) if root in chain else [cwd]
        budget = max_bytes
        for d in dirs:
            f = d / AGENTS_FILE
            if budget <= 0 or not f.is_file():
                continue
            text = _read_capped(f, budget)
            if text:
                budget -= len(text.encode())
                parts.append(text)
    if not parts:
        return None
    body = "\n\n".join(parts)
    return f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n{body}\n</INSTRUCTIONS>"


def _shell_name() -> str:
    return Path(os.environ.get("SHELL") or "/bin/bash").name


def environment_context(cwd: Path, policy: Policy) -> str:
    lines = ["<environment_context>", f"  <cwd>{cwd}</cwd>",
             f"  <approval_policy>{policy.approval}</approval_policy>",
             f"  <sandbox_mode>{policy.sandbox_mode}</sandbox_mode>",
             f"  <network_access>{'enabled' if policy.network_allowed else 'restricted'}"
             "</network_access>"]
    roots = policy.writable_roots(cwd)
    if policy.sandbox_mode == "workspace-write" and roots:
        lines.append("  <writable_roots>")
        lines.extend(f"    <root>{r}</root>" for r in roots)
        lines.append("  </writable_roots>")
    lines.append(f"  <shell>{_shell_name()}</shell>")
    lines.append(f"  <current_date>{time.strftime('%Y-%m-%d')}</current_date>")
    lines.append(f"  <timezone>{_timezone()}</timezone>")
    lines.append("</environment_context>")
    return "\n".join(lines)


def _timezone() -> str:
    tz = os.environ.get("TZ")
    if tz:
        return tz.lstrip(":")
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            return link.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return time.tzname[0] or "UTC"


def initial_items(home: Path, cwd: Path, policy: Policy, max_bytes: int) -> list[dict[str, Any]]:
    items = []
    agents = agents_instructions(home, cwd, max_bytes)
    if agents:
        items.append(user_message(agents))
    items.append(user_message(environment_context(cwd, policy)))
    return items
