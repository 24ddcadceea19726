"""All MCP servers of one session: started together in the background, called by name.

Spec: `shared/specs/mcp.md`, "Client behaviour". The contract:

- `start()` returns at once. It spawns the stdio servers' processes right away (no SDK
  needed, so they boot while we load it), then imports the SDK in a worker thread and
  connects every enabled server concurrently. Nothing waits for this unless it asks
  (`wait_started`, used for `required` servers and `codex mcp list --probe`).
- Each server reports `starting`, then `ready` (with its tools) or `failed` (with the reason)
  through `on_event(McpStartupUpdate)`; `statuses()` is the same as a snapshot (the UI's
  `/mcp`).
- `tools()` lists the tools of the servers ready *now*, under unique model-facing names
  (`codex.mcp.names`); a session asks before every model request, so a server still
  starting joins from the next request on.
- `call_tool` never raises for a server's fault: timeouts, crashes and MCP errors come back
  as `CallOutcome.error`. A server that died is restarted once, on its next call.
- `shutdown()` ends every server (EOF, SIGTERM, SIGKILL to its process group) and is safe to
  call at any point, even while servers are still starting.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.core.protocol import McpStartupUpdate
from codex.mcp.config import McpServerConfig, StdioTransport, stdio_env
from codex.mcp.names import qualify_all
from codex.mcp.status import ServerState, ServerStatus, ToolInfo
from codex.mcp.stdio import ServerProcess, SpawnFailed

log = logging.getLogger(__name__)

CLIENT_MODULE = "codex.mcp.client"  # the module that imports the SDK


class McpToolError(Exception):
    """A resources call that could not be answered; `reason` is what the model reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Slot:
    """A configured server before and after its connection exists."""

    config: McpServerConfig
    state: ServerState
    reason: str | None = None
    process: ServerProcess | None = None  # spawned before the SDK was loaded
    connection: Any = None  # codex.mcp.client.Connection once the SDK is loaded


class McpConnectionManager:
    """The MCP servers of one session (construct inside the session's event loop)."""

    def __init__(self, servers: Mapping[str, McpServerConfig], *, cwd: str | Path,
                 environ: Mapping[str, str] | None = None,
                 on_event: Callable[[McpStartupUpdate], None] | None = None) -> None:
        if environ is None:
            from codex.child_env import user_environ

            environ = user_environ()
        self._environ = dict(environ)
        self._cwd = str(cwd)
        self._on_event = on_event or (lambda ev: None)
        self._slots = {name: _Slot(cfg, ServerState.STARTING if cfg.enabled
                                   else ServerState.DISABLED)
                       for name, cfg in servers.items()}
        self._task: asyncio.Task[None] | None = None
        self._tools: tuple[ToolInfo, ...] = ()
        self._by_name: dict[str, ToolInfo] = {}
        self._closed = False
        self._changed = asyncio.Event()

    # -- start ------------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        """Whether any server is enabled (nothing to start otherwise)."""
        return any(s.config.enabled for s in self._slots.values())

    def start(self) -> None:
        """Begin starting every enabled server; returns at once (needs a running loop)."""
        if self._task is not None or not self.configured:
            return
        for slot in self._enabled():
            self._emit(slot)
            t = slot.config.transport
            if isinstance(t, StdioTransport):
                try:
                    slot.process = ServerProcess.spawn(t, cwd=self._cwd,
                                                       env=stdio_env(t, self._environ))
                except SpawnFailed as e:
                    self._update(slot, ServerState.FAILED, e.reason)
                    continue
                slot.process.exited.add_done_callback(
                    lambda _f, slot=slot: self._exited_early(slot))
        self._task = asyncio.get_running_loop().create_task(self._connect_all(),
                                                            name="mcp start")

    async def _connect_all(self) -> None:
        pending = [s for s in self._enabled() if s.state is ServerState.STARTING]
        if not pending:
            return
        try:
            # ~0.7 s of imports (pydantic, httpx, the SDK): off the event loop's thread.
            client = await asyncio.to_thread(importlib.import_module, CLIENT_MODULE)
        except ImportError as e:
            for slot in pending:
                await self._drop_process(slot)
                self._update(slot, ServerState.FAILED, f"MCP support is unavailable: {e}")
            return
        # Some may have failed meanwhile (exited while the SDK loaded).
        pending = [s for s in pending if s.state is ServerState.STARTING]
        if self._closed or not pending:
            return
        for slot in pending:
            slot.connection = client.Connection(slot.config, cwd=self._cwd,
                                                environ=self._environ,
                                                on_change=self._connection_changed)
        await asyncio.gather(*(s.connection.start(self._adopt(s)) for s in pending))

    def _exited_early(self, slot: _Slot) -> None:
        """A stdio server that exits while the SDK is still loading fails now, not after."""
        process = slot.process
        if process is None or slot.connection is not None or self._closed:
            return  # adopted: the connection reports it
        slot.process = None
        self._update(slot, ServerState.FAILED, process.describe_exit(process.exited.result()))
        asyncio.ensure_future(process.terminate())

    @staticmethod
    def _adopt(slot: _Slot) -> ServerProcess | None:
        process, slot.process = slot.process, None
        return process

    async def wait_started(self, names: Iterable[str] | None = None) -> None:
        """Wait until the named servers (default: all enabled) are no longer starting."""
        wanted = [self._slots[n] for n in names] if names is not None else self._enabled()
        while any(self._state(s) is ServerState.STARTING for s in wanted):
            if self._task is None:
                return
            self._changed.clear()
            await self._changed.wait()

    # -- state ------------------------------------------------------------------------------
    def _enabled(self) -> list[_Slot]:
        return [s for s in self._slots.values() if s.config.enabled]

    @staticmethod
    def _state(slot: _Slot) -> ServerState:
        return slot.connection.state if slot.connection is not None else slot.state

    @staticmethod
    def _reason(slot: _Slot) -> str | None:
        return slot.connection.reason if slot.connection is not None else slot.reason

    def _update(self, slot: _Slot, state: ServerState, reason: str | None = None) -> None:
        slot.state, slot.reason = state, reason
        self._refresh()
        self._emit(slot)

    def _connection_changed(self, connection: Any) -> None:
        self._refresh()
        self._emit(self._slots[connection.name])

    def _emit(self, slot: _Slot) -> None:
        self._changed.set()
        state = self._state(slot)
        if state not in (ServerState.STARTING, ServerState.READY, ServerState.FAILED):
            return
        tools = tuple(t["name"] for t in slot.connection.tools) \
            if state is ServerState.READY else ()
        self._on_event(McpStartupUpdate(server=slot.config.name, status=state.value,
                                        reason=self._reason(slot), tools=tools))

    def _refresh(self) -> None:
        """Recompute the model-facing tool names from the servers ready now."""
        raw: list[tuple[str, dict[str, Any]]] = []
        for slot in self._slots.values():
            if self._state(slot) is ServerState.READY:
                raw.extend((slot.config.name, t) for t in slot.connection.tools)
        names = qualify_all((server, t["name"]) for server, t in raw)
        by_pair = {(q.server, q.tool): q.name for q in names}
        tools: list[ToolInfo] = []
        for server, t in raw:
            qualified = by_pair.get((server, t["name"]))
            if qualified is None:
                continue
            annotations = t.get("annotations") or {}
            tools.append(ToolInfo(
                name=t["name"], qualified_name=qualified, server=server,
                description=t.get("description") or "",
                input_schema=t.get("inputSchema") or {"type": "object", "properties": {}},
                read_only=annotations.get("readOnlyHint") is True))
        self._tools = tuple(tools)
        self._by_name = {t.qualified_name: t for t in tools}

    def statuses(self) -> tuple[ServerStatus, ...]:
        """Every configured server as it is now, in config order (the UI's `/mcp` view)."""
        out = []
        for slot in self._slots.values():
            state = self._state(slot)
            tools = tuple(t for t in self._tools if t.server == slot.config.name)
            out.append(ServerStatus(name=slot.config.name,
                                    transport=slot.config.transport.kind.value, state=state,
                                    reason=self._reason(slot), tools=tools,
                                    required=slot.config.required))
        return tuple(out)

    def tools(self) -> tuple[ToolInfo, ...]:
        """The tools of the servers ready now, each with its unique model-facing name."""
        return self._tools

    def lookup(self, qualified_name: str) -> ToolInfo | None:
        return self._by_name.get(qualified_name)

    def config(self, server: str) -> McpServerConfig | None:
        slot = self._slots.get(server)
        return slot.config if slot is not None else None

    def failed_required(self) -> list[ServerStatus]:
        """Required servers that are not ready (after `wait_started`)."""
        return [s for s in self.statuses()
                if s.required and s.state not in (ServerState.READY, ServerState.DISABLED)]

    @property
    def has_resources(self) -> bool:
        """Whether a ready server offers resources (then the resources tools are offered)."""
        return any(self._state(s) is ServerState.READY and s.connection.has_resources
                   for s in self._slots.values())

    # -- calls ------------------------------------------------------------------------------
    async def call_tool(self, server: str, tool: str, arguments: dict[str, Any] | None) -> Any:
        """`tools/call` on `server` → `codex.mcp.client.CallOutcome` (never raises for the
        server's faults)."""
        slot = self._slots.get(server)
        if slot is None or slot.connection is None:
            from codex.mcp.client import CallOutcome

            why = f"unknown MCP server {server!r}" if slot is None else \
                f"MCP server {server} is not available: {self._reason(slot) or 'starting'}"
            return CallOutcome(None, why)
        return await slot.connection.call_tool(tool, arguments)

    def _resource_servers(self, server: str | None) -> list[Any]:
        if server is not None:
            slot = self._slots.get(server)
            if slot is None or slot.connection is None:
                raise McpToolError(f"unknown or unavailable MCP server {server!r}")
            return [slot.connection]
        return [s.connection for s in self._slots.values()
                if self._state(s) is ServerState.READY and s.connection.has_resources]

    async def list_resources(self, server: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """server name -> its resources (JSON). Raises McpToolError."""
        from codex.mcp.client import ConnectionFailed

        out: dict[str, list[dict[str, Any]]] = {}
        for conn in self._resource_servers(server):
            try:
                out[conn.name] = await conn.list_resources()
            except ConnectionFailed as e:
                if server is not None:
                    raise McpToolError(e.reason) from None
                log.info("resources of %s: %s", conn.name, e.reason)
        return out

    async def read_resource(self, server: str, uri: str) -> dict[str, Any]:
        """`resources/read` → `{"contents": [...]}`. Raises McpToolError."""
        from codex.mcp.client import ConnectionFailed

        [conn] = self._resource_servers(server)
        try:
            return await conn.read_resource(uri)
        except ConnectionFailed as e:
            raise McpToolError(e.reason) from None

    # -- end --------------------------------------------------------------------------------
    async def _drop_process(self, slot: _Slot) -> None:
        process = self._adopt(slot)
        if process is not None:
            await process.terminate()

    async def shutdown(self) -> None:
        """End every server and leave nothing running. Idempotent."""
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        await asyncio.gather(*(s.connection.close() for s in self._slots.values()
                               if s.connection is not None),
                             *(self._drop_process(s) for s in self._slots.values()))
        self._changed.set()

