"""unified_exec: the `exec_command` / `write_stdin` tools over local or remote processes."""

from codex.unified_exec.manager import ToolResult, UnifiedExecManager
from codex.unified_exec.tools import EXEC_COMMAND_TOOL, WRITE_STDIN_TOOL

__all__ = ["EXEC_COMMAND_TOOL", "WRITE_STDIN_TOOL", "ToolResult", "UnifiedExecManager"]
