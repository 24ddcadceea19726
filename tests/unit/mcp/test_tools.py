"""MCP tools in the registry: when a call asks first, and the function the model sees."""

from __future__ import annotations

import pytest

from codex.mcp.config import ApprovalMode
from codex.mcp.status import ToolInfo
from codex.mcp.tools import needs_approval, tool_spec


@pytest.mark.parametrize(("mode", "policy", "read_only", "asks"), [
    (ApprovalMode.AUTO, "untrusted", False, True),  # untrusted asks for every MCP call
    (ApprovalMode.AUTO, "untrusted", True, True),
    (ApprovalMode.AUTO, "on-request", False, False),
    (ApprovalMode.AUTO, "on-failure", False, False),
    (ApprovalMode.AUTO, "never", False, False),
    (ApprovalMode.PROMPT, "never", True, True),  # always ask (exec: declined at once)
    (ApprovalMode.PROMPT, "on-request", False, True),
    (ApprovalMode.APPROVE, "untrusted", False, False),  # never ask
    (ApprovalMode.WRITES, "on-request", True, False),
    (ApprovalMode.WRITES, "on-request", False, True),
])
def test_needs_approval(mode: ApprovalMode, policy: str, read_only: bool, asks: bool) -> None:
    assert needs_approval(mode, policy, read_only=read_only) is asks


def test_tool_spec_uses_the_server_schema() -> None:
    schema = {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}
    info = ToolInfo("now", "mcp__time__now", "time", "Current time", schema)
    assert tool_spec(info) == {"type": "function", "name": "mcp__time__now",
                               "description": "Current time", "strict": False,
                               "parameters": schema}
    bare = tool_spec(ToolInfo("x", "mcp__s__x", "s", "", {}))
    assert bare["parameters"] == {"type": "object", "properties": {}}
    assert bare["description"] == "Tool x of the MCP server s."
