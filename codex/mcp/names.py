"""The names the model sees for MCP tools: `mcp__<server>__<tool>` (spec: "Client behaviour").

Function names on the model's wire must match `^[a-zA-Z0-9_-]{1,64}$`: other characters
become `_`, and a name longer than 64 characters is cut and ends with a short hash of the
full (unsanitised) name, so two long names that share a prefix stay distinct. Two tools whose
sanitised names collide (`a.b` and `a_b`) are told apart the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

PREFIX = "mcp"
DELIMITER = "__"
MAX_TOOL_NAME_LENGTH = 64
HASH_LENGTH = 12  # hex digits of sha1 kept as the suffix
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True, slots=True)
class QualifiedTool:
    """A server's tool and the name the model calls it by."""

    name: str  # e.g. mcp__time__get_current_time
    server: str
    tool: str


def _hashed(full: str, sanitized: str) -> str:
    digest = hashlib.sha1(full.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    keep = MAX_TOOL_NAME_LENGTH - HASH_LENGTH - 1
    return f"{sanitized[:keep]}_{digest}"


def qualify(server: str, tool: str) -> str:
    """The model-facing name of one tool, ignoring collisions (see `qualify_all`)."""
    full = f"{PREFIX}{DELIMITER}{server}{DELIMITER}{tool}"
    sanitized = _INVALID.sub("_", full)
    if len(sanitized) > MAX_TOOL_NAME_LENGTH:
        return _hashed(full, sanitized)
    return sanitized


def qualify_all(tools: Iterable[tuple[str, str]]) -> list[QualifiedTool]:
    """Names for every `(server, tool)` pair, each unique: a name already taken by an earlier
    pair gets the hashed form (the hash covers the full name, so it differs)."""
    out: list[QualifiedTool] = []
    taken: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for server, tool in tools:
        if (server, tool) in seen:  # listed twice: keep the first
            continue
        seen.add((server, tool))
        name = qualify(server, tool)
        if name in taken:
            full = f"{PREFIX}{DELIMITER}{server}{DELIMITER}{tool}"
            name = _hashed(full, _INVALID.sub("_", full))
        taken.add(name)
        out.append(QualifiedTool(name, server, tool))
    return out
