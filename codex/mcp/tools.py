"""MCP servers' tools in a session's tool registry (spec mcp.md "Client behaviour", session.md).

`McpTools.start(config, registry, ...)` starts the session's servers in the background and
keeps the registry in step with them: when a server becomes ready its tools are registered
(under `mcp__<server>__<tool>`), when it fails they are removed, and `list_mcp_resources` /
`read_mcp_resource` are offered while a ready server has resources. The session asks the
registry for its specs before every model request, so a server still starting joins from the
next request on.

A call: approval first when the policy or the server/tool config asks for it (`untrusted`
asks for every MCP call; `approval_mode` "prompt" always asks, "approve" never, "writes" asks
unless the tool says it only reads), then `McpCallBegin`, `tools/call`, `McpCallEnd`. What
the model reads is `codex.mcp.results.map_result` of the result, or the failure's reason.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from codex.core.protocol import (
    ExecApprovalRequest,
    McpCallBegin,
    McpCallEnd,
    McpStartupUpdate,
    ReviewDecision,
)
from codex.core.tools.registry import Tool, ToolCall, ToolCallError, ToolRegistry
from codex.mcp.config import ApprovalMode, McpServerConfig
from codex.mcp.manager import McpConnectionManager, McpToolError
from codex.mcp.results import failure, map_result
from codex.mcp.status import ServerStatus, ToolInfo

if TYPE_CHECKING:
    from codex.core.tools.context import ToolContext

LIST_RESOURCES = "list_mcp_resources"
READ_RESOURCE = "read_mcp_resource"
UNTRUSTED = "untrusted"
ABORTED = "aborted: the turn was interrupted before the MCP call finished"

LIST_RESOURCES_SPEC: dict[str, Any] = {
    "type": "function",
    "name": LIST_RESOURCES,
    "description": ("List the resources (files, records, documents) that the connected MCP "
                    "servers offer. Give `server` to list one server's resources only."),
    "strict": False,
    "parameters": {"type": "object", "properties": {
        "server": {"type": "string", "description": "an MCP server's name (optional)"}},
        "additionalProperties": False},
}

READ_RESOURCE_SPEC: dict[str, Any] = {
    "type": "function",
    "name": READ_RESOURCE,
    "description": "Read one resource of an MCP server by its URI (see list_mcp_resources).",
    "strict": False,
    "parameters": {"type": "object", "properties": {
        "server": {"type": "string", "description": "the MCP server's name"},
        "uri": {"type": "string", "description": "the resource's URI"}},
        "required": ["server", "uri"], "additionalProperties": False},
}


def needs_approval(mode: ApprovalMode, approval_policy: str, *, read_only: bool) -> bool:
    """Whether an MCP call asks the user first (spec: "Approval")."""
    if mode is ApprovalMode.PROMPT:
        return True
    if mode is ApprovalMode.APPROVE:
        return False
    if mode is ApprovalMode.WRITES:
        return not read_only
    return approval_policy == UNTRUSTED


def tool_spec(info: ToolInfo) -> dict[str, Any]:
    """The function the model sees: the server's JSON Schema as its parameters."""
    schema = dict(info.input_schema) if isinstance(info.input_schema, dict) else {}
    schema.setdefault("type", "object")
    if schema.get("type") == "object":
        schema.setdefault("properties", {})
    description = info.description or f"Tool {info.name} of the MCP server {info.server}."
    return {"type": "function", "name": info.qualified_name, "description": description,
            "strict": False, "parameters": schema}


def _describe_call(server: str, tool: str, arguments: dict[str, Any]) -> str:
    args = json.dumps(arguments, ensure_ascii=False)
    return f"{server}.{tool}({args})"


class McpTools:
    """A session's MCP servers, mirrored into its tool registry."""

    def __init__(self, servers: dict[str, McpServerConfig], registry: ToolRegistry, *,
                 cwd: str, emit: Callable[[Any], None], wire: str = "responses") -> None:
        self.registry = registry
        self._emit = emit
        self._wire = wire
        self._registered: set[str] = set()
        self.manager = McpConnectionManager(servers, cwd=cwd, on_event=self._on_startup)

    @classmethod
    def start(cls, servers: dict[str, McpServerConfig], registry: ToolRegistry, *, cwd: str,
              emit: Callable[[Any], None], wire: str = "responses") -> McpTools | None:
        """Start the enabled servers in the background; None when there are none."""
        if not any(s.enabled for s in servers.values()):
            return None
        tools = cls(servers, registry, cwd=cwd, emit=emit, wire=wire)
        tools.manager.start()
        return tools

    # -- the registry follows the servers --------------------------------------------------
    def _on_startup(self, event: McpStartupUpdate) -> None:
        self._sync()
        self._emit(event)

    def _sync(self) -> None:
        wanted: dict[str, Tool] = {}
        for info in self.manager.tools():
            wanted[info.qualified_name] = Tool(tool_spec(info), self._handler(info))
        if self.manager.has_resources:
            wanted[LIST_RESOURCES] = Tool(LIST_RESOURCES_SPEC, self._list_resources)
            wanted[READ_RESOURCE] = Tool(READ_RESOURCE_SPEC, self._read_resource)
        for name in self._registered - set(wanted):
            self.registry.unregister(name)
        for name, tool in wanted.items():
            if name in self._registered or self.registry.get(name) is None:
                self.registry.register(tool, replace=True)
        self._registered = {n for n in wanted if self.registry.get(n) is not None}

    # -- calls ---------------------------------------------------------------------------------
    def _handler(self, info: ToolInfo) -> Callable[[ToolCall, ToolContext], Any]:
        async def handle(call: ToolCall, ctx: ToolContext) -> Any:
            return await self.call(info, call.arguments(), ctx)

        return handle

    async def call(self, info: ToolInfo, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        """Approve, run, report one MCP call; returns what the model reads."""
        server, tool = info.server, info.name
        cfg = self.manager.config(server)
        mode = cfg.approval_for(tool) if cfg is not None else ApprovalMode.AUTO
        if needs_approval(mode, ctx.policy.approval, read_only=info.read_only):
            request = ExecApprovalRequest(
                call_id=ctx.call_id, command=f"mcp: {_describe_call(server, tool, arguments)}",
                cwd=str(ctx.cwd),
                reason=f"The model wants to call the tool `{tool}` of the MCP server "
                       f"`{server}`.")
            decision = await ctx.request_approval(request, keys=[f"mcp:{server}/{tool}"])
            if decision not in (ReviewDecision.APPROVED, ReviewDecision.APPROVED_FOR_SESSION):
                why = "the user declined this MCP tool call" \
                    if ctx.policy.approval != "never" else \
                    "this MCP tool call needs approval and nobody can give it here"
                ctx.emit(McpCallBegin(ctx.call_id, server, tool, arguments, ctx.turn_id))
                ctx.emit(McpCallEnd(ctx.call_id, server, tool, arguments, None,
                                    f"declined: {why}", 0.0, ctx.turn_id))
                return f"MCP tool call declined: {why}. Do not retry it; do something else or " \
                       "ask the user."
        ctx.emit(McpCallBegin(ctx.call_id, server, tool, arguments, ctx.turn_id))
        started = time.monotonic()
        try:
            outcome = await self.manager.call_tool(server, tool, arguments)
        except asyncio.CancelledError:
            ctx.emit(McpCallEnd(ctx.call_id, server, tool, arguments, None, "aborted",
                                time.monotonic() - started, ctx.turn_id))
            raise
        ctx.emit(McpCallEnd(ctx.call_id, server, tool, arguments, outcome.result, outcome.error,
                            time.monotonic() - started, ctx.turn_id))
        if outcome.result is None:
            return failure(f"MCP tool call failed: {outcome.error}").for_model()
        return map_result(outcome.result, images=self._wire == "responses").for_model()

    async def _list_resources(self, call: ToolCall, ctx: ToolContext) -> str:
        args = call.arguments()
        server = args.get("server")
        if server is not None and not isinstance(server, str):
            raise ToolCallError("failed to parse function arguments: `server` must be a string")
        try:
            found = await self.manager.list_resources(server)
        except McpToolError as e:
            raise ToolCallError(f"{LIST_RESOURCES} failed: {e.reason}") from None
        return json.dumps({"resources": [dict(r, server=name) for name, rs in found.items()
                                         for r in rs]}, ensure_ascii=False)

    async def _read_resource(self, call: ToolCall, ctx: ToolContext) -> str:
        args = call.arguments()
        server, uri = args.get("server"), args.get("uri")
        if not isinstance(server, str) or not isinstance(uri, str):
            raise ToolCallError("failed to parse function arguments: `server` and `uri` must "
                                "be strings")
        try:
            res = await self.manager.read_resource(server, uri)
        except McpToolError as e:
            raise ToolCallError(f"{READ_RESOURCE} failed: {e.reason}") from None
        return json.dumps(res, ensure_ascii=False)

    def statuses(self) -> tuple[ServerStatus, ...]:
        """Every configured server now (the UI's `/mcp`): name, transport, state, reason,
        tools (with the names the model calls them by), required. Immutable snapshots."""
        return self.manager.statuses()

    async def required_failures(self) -> list[ServerStatus]:
        """Wait for the `required` servers to start; those that did not (spec: `codex exec`
        then exits 1 before any model request)."""
        required = [s.name for s in self.manager.statuses() if s.required]
        if not required:
            return []
        await self.manager.wait_started(required)
        return self.manager.failed_required()

    async def shutdown(self) -> None:
        await self.manager.shutdown()
        for name in self._registered:
            self.registry.unregister(name)
        self._registered = set()
