"""What a front-end may read about MCP servers (pure data, no SDK): the `/mcp` view's API.

`McpConnectionManager.statuses()` returns one `ServerStatus` per configured server, in config
order; each is an immutable snapshot, so a UI can keep it while the servers move on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ServerState(enum.StrEnum):
    """A server's lifecycle: STARTING → READY, or → FAILED. A READY server that dies goes to
    FAILED too (with the reason); the next call restarts it once (→ STARTING → READY)."""

    DISABLED = "disabled"  # `enabled = false`: never started
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"  # after shutdown


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """One tool of a ready server: its MCP name, the name the model calls, its schema."""

    name: str
    qualified_name: str
    server: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool = False  # annotations.readOnlyHint


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """A server as a UI shows it: `reason` is set when FAILED; `tools` when READY."""

    name: str
    transport: str  # stdio | streamable_http
    state: ServerState
    reason: str | None = None
    tools: tuple[ToolInfo, ...] = ()
    required: bool = False
