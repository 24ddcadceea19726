"""The tools the model may call: a registry of name -> `Tool` (spec + async handler).

- `registry.py`: `Tool`, `ToolRegistry`, `ToolCall` (one call, and the output item answering
  it), `ToolCallError`.
- `context.py`: `ToolContext`, what a handler may use of its session (emit events, ask for
  approval, cwd, policy, turn id). Read its docstring before writing a handler.
- `shell.py`: `exec_command` / `write_stdin` over unified_exec, with approvals and streaming.
- `patch.py`: `apply_patch`, with approvals, per-file diffs and undo snapshots.
- `plan.py`: `update_plan`.

Adding a tool at run time (MCP): `session.tools.register(Tool(spec, handler))`; it is offered
from the next model request on.
"""

from codex.core.tools.context import ToolContext
from codex.core.tools.registry import CallKind, Tool, ToolCall, ToolCallError, ToolRegistry

__all__ = ["CallKind", "Tool", "ToolCall", "ToolCallError", "ToolContext", "ToolRegistry"]
