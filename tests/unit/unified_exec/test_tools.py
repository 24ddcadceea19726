"""The tool schemas the model sees."""

from __future__ import annotations

import json

from codex.unified_exec import EXEC_COMMAND_TOOL, WRITE_STDIN_TOOL


def test_exec_command_schema() -> None:
    t = EXEC_COMMAND_TOOL
    assert (t["type"], t["name"], t["strict"]) == ("function", "exec_command", False)
    props = t["parameters"]["properties"]
    assert t["parameters"]["required"] == ["cmd"]
    assert set(props) == {"cmd", "workdir", "shell", "login", "tty", "yield_time_ms",
                          "max_output_tokens", "sandbox_permissions", "justification"}
    assert props["sandbox_permissions"]["enum"] == ["use_default", "require_escalated"]
    assert props["tty"]["type"] == "boolean" and props["yield_time_ms"]["type"] == "number"
    json.dumps(t)


def test_write_stdin_schema() -> None:
    t = WRITE_STDIN_TOOL
    assert (t["type"], t["name"], t["strict"]) == ("function", "write_stdin", False)
    assert t["parameters"]["required"] == ["session_id"]
    assert set(t["parameters"]["properties"]) == {"session_id", "chars", "yield_time_ms",
                                                  "max_output_tokens"}
    assert all(p.get("description") for p in t["parameters"]["properties"].values())
