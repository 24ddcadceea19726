"""The history note for a command the user ran themselves (`!cmd`, op RunUserShellCommand).

The model reads it with the next turn, as a user message:

    <user_shell_command>
    <command>
    CMD
    </command>
    <result>
    Exit code: N            (or: Failed: WHY)
    Duration: S seconds
    Output:
    OUTPUT (truncated like exec_command output)
    </result>
    </user_shell_command>
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex.core.history import USER_SHELL_PREFIX

if TYPE_CHECKING:
    from codex.unified_exec import ToolResult


def user_shell_note(command: str, result: ToolResult, budget_tokens: int) -> str:
    from codex.unified_exec.buffer import Collected
    from codex.unified_exec.output import render_output

    data = (result.output or "").encode("utf-8", "surrogateescape")
    lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    output = render_output(Collected(data, b"", len(data), lines), budget_tokens)
    status = (f"Exit code: {result.exit_code}" if result.exit_code is not None
              else f"Failed: {result.failure or result.text}")
    return (f"{USER_SHELL_PREFIX}\n<command>\n{command}\n</command>\n<result>\n{status}\n"
            f"Duration: {result.wall_time:.2f} seconds\nOutput:\n{output}\n</result>\n"
            "</user_shell_command>")
