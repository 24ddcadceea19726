"""The tool registry: tool name -> `Tool` (its spec and its async handler), and the call seam.

A tool's name is written once, in its spec. The session reads `ToolRegistry.specs(wire)` for
every model request, so tools registered or removed while the session runs (MCP servers
joining) are offered from the next request on. Dispatch answers every call, including bad ones
(spec model-wire.md, "Items and the loop"): an unknown tool gets `unsupported call: <name>`,
arguments that are not a JSON object `failed to parse function arguments: <why>`, a handler's
`ToolCallError` its own text, a `CodexError`/`OSError` `<name> failed: <why>`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codex.errors import CodexError

if TYPE_CHECKING:
    from codex.core.tools.context import ToolContext


class CallKind(enum.StrEnum):
    """The two kinds of call item, and (below) the output item that answers each."""

    FUNCTION = "function_call"  # `arguments`: a JSON object as text
    CUSTOM = "custom_tool_call"  # `input`: free text (apply_patch on the Responses wire)


_OUTPUT_KIND = {CallKind.FUNCTION: "function_call_output",
                CallKind.CUSTOM: "custom_tool_call_output"}
OUTPUT_KINDS = frozenset(_OUTPUT_KIND.values())


class ToolCallError(Exception):
    """A call that cannot be carried out; `message` is exactly what the model reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call from the model. `payload` is the arguments JSON text (function calls) or the
    raw input (custom calls)."""

    call_id: str
    name: str
    kind: CallKind
    payload: str

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ToolCall | None:
        """The call in a `function_call` / `custom_tool_call` item, else None."""
        kind = item.get("type")
        if kind == CallKind.FUNCTION:
            raw = item.get("arguments")
            payload = raw if isinstance(raw, str) else json.dumps(raw)
        elif kind == CallKind.CUSTOM:
            payload = str(item.get("input") or "")
        else:
            return None
        return cls(str(item.get("call_id") or ""), str(item.get("name") or ""),
                   CallKind(kind), payload)

    def arguments(self) -> dict[str, Any]:
        """The arguments as a JSON object; ToolCallError (the model-facing text) otherwise."""
        try:
            args = json.loads(self.payload) if self.payload.strip() else {}
        except ValueError as e:
            raise ToolCallError(f"failed to parse function arguments: {e}") from None
        if not isinstance(args, dict):
            raise ToolCallError("failed to parse function arguments: expected a JSON object")
        return args

    def output_item(self, output: str) -> dict[str, Any]:
        """The history item answering this call."""
        return {"type": _OUTPUT_KIND[self.kind], "call_id": self.call_id, "output": output}


Handler = Callable[[ToolCall, "ToolContext"], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    """A tool the model may call: `spec` as sent on the Responses wire (its `name` is the
    tool's name), `wire_specs` where another wire needs another shape, and `handler`, which
    returns the text the model reads."""

    spec: Mapping[str, Any]
    handler: Handler
    wire_specs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def spec_for(self, wire: str) -> dict[str, Any]:
        return dict(self.wire_specs.get(wire, self.spec))


class ToolRegistry:
    """The tools of one session, by name, in registration order."""

    def __init__(self, tools: list[Tool] | tuple[Tool, ...] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool, *, replace: bool = False) -> None:
        """Add `tool`; ValueError if its name is taken (unless `replace`)."""
        if tool.name in self._tools and not replace:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def unregister(self, name: str) -> Tool | None:
        return self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self, wire: str) -> list[dict[str, Any]]:
        """The tool list for one request on `wire` ("responses" | "chat")."""
        return [tool.spec_for(wire) for tool in self._tools.values()]

    async def dispatch(self, call: ToolCall, ctx: ToolContext) -> dict[str, Any]:
        """Run `call` and return its output item; never raises for a bad call (cancellation,
        i.e. an interrupted turn, propagates)."""
        tool = self._tools.get(call.name)
        if tool is None:
            return call.output_item(f"unsupported call: {call.name}")
        try:
            text = await tool.handler(call, ctx)
        except ToolCallError as e:
            text = e.message
        except (CodexError, OSError) as e:
            # e.g. the sandbox cannot start on this kernel: the model hears why, the turn goes on
            reason = e.message if isinstance(e, CodexError) else (e.strerror or str(e))
            text = f"{call.name} failed: {reason}"
        return call.output_item(text)
