"""The first input items of a session: AGENTS.md instructions and the environment context."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.core.history import user_message
from codex.core.policy import Policy

__all__ = ["AgentsDocs", "agents_instructions", "environment_context", "find_git_root",
           "initial_items", "load_agents_docs", "user_message"]

AGENTS_FILE = "AGENTS.md"


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


@dataclass(frozen=True)
class AgentsDocs:
    """The merged AGENTS.md instructions (None when there are none) and the files read."""

    text: str | None
    files: tuple[str, ...] = ()


def load_agents_docs(home: Path, cwd: Path, max_bytes: int) -> AgentsDocs:
    """Global `$CODEX_HOME/AGENTS.md`, then every AGENTS.md from the repo root down to cwd.

    The project files together are capped at `max_bytes` (0 turns them off), the deepest
    files losing out when the budget runs out, since the root's rules apply to everything.
    """
    parts: list[str] = []
    files: list[str] = []
    glob = home / AGENTS_FILE
    if glob.is_file():
        text = _read_capped(glob, max(max_bytes, 1) if max_bytes else 1 << 20)
        if text:
            parts.append(text)
            files.append(str(glob))
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
                files.append(str(f))
    if not parts:
        return AgentsDocs(None)
    body = "\n\n".join(parts)
    return AgentsDocs(f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n{body}\n"
                      "</INSTRUCTIONS>", tuple(files))


def agents_instructions(home: Path, cwd: Path, max_bytes: int) -> str | None:
    """The AGENTS.md text the session starts with (see `load_agents_docs`)."""
    return load_agents_docs(home, cwd, max_bytes).text


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


def initial_items(home: Path, cwd: Path, policy: Policy, max_bytes: int,
                  developer_instructions: str | None = None) -> list[dict[str, Any]]:
    """The first items of a new session: developer instructions (when given), the AGENTS.md
    instructions (when any), then the environment context."""
    items: list[dict[str, Any]] = []
    if developer_instructions:
        items.append({"type": "message", "role": "developer",
                      "content": [{"type": "input_text", "text": developer_instructions}]})
    agents = agents_instructions(home, cwd, max_bytes)
    if agents:
        items.append(user_message(agents))
    items.append(user_message(environment_context(cwd, policy)))
    return items
