"""The first input items of a session: AGENTS.md instructions and the environment context."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.core.history import user_message
from codex.core.policy import Policy
from codex.core.project_docs import AGENTS_FILE, find_git_root, read_docs

__all__ = ["AGENTS_FILE", "AgentsDocs", "agents_instructions", "environment_context",
           "find_git_root", "initial_items", "load_agents_docs", "user_message"]


@dataclass(frozen=True)
class AgentsDocs:
    """The merged instructions (None when there are none) and the files they came from."""

    text: str | None
    files: tuple[str, ...] = ()


def load_agents_docs(home: Path, cwd: Path, max_bytes: int,
                     fallback_filenames: Iterable[str] = ()) -> AgentsDocs:
    """The global and project docs for `cwd` as the session starts with them (which files
    and how much of them: `codex.core.project_docs`)."""
    docs = read_docs(home, cwd, max_bytes, fallback_filenames)
    if not docs:
        return AgentsDocs(None)
    body = "\n\n".join(doc.text for doc in docs)
    return AgentsDocs(f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n{body}\n"
                      "</INSTRUCTIONS>", tuple(str(doc.path) for doc in docs))


def agents_instructions(home: Path, cwd: Path, max_bytes: int,
                        fallback_filenames: Iterable[str] = ()) -> str | None:
    """The user message text holding the global and project docs for `cwd`, or None."""
    return load_agents_docs(home, cwd, max_bytes, fallback_filenames).text


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
                  fallback_filenames: Iterable[str] = (),
                  developer_instructions: str | None = None) -> list[dict[str, Any]]:
    """The first items of a new session: developer instructions (when given), the AGENTS.md
    instructions (when any), then the environment context."""
    items: list[dict[str, Any]] = []
    if developer_instructions:
        items.append({"type": "message", "role": "developer",
                      "content": [{"type": "input_text", "text": developer_instructions}]})
    agents = agents_instructions(home, cwd, max_bytes, fallback_filenames)
    if agents:
        items.append(user_message(agents))
    items.append(user_message(environment_context(cwd, policy)))
    return items
