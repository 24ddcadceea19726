"""The two function tools the model sees (Responses API shape, `strict: false`)."""

from __future__ import annotations

from typing import Any

EXEC_COMMAND_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "exec_command",
    "description": (
        "Start a shell command and return what it printed. If it is still running when the "
        "wait ends, you get a session ID: pass it to write_stdin to read more output, type "
        "into it, or stop it."
    ),
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "cmd": {"type": "string", "description": "The command line to run in the shell."},
            "workdir": {
                "type": "string",
                "description": "Directory to run in; relative paths start at the current "
                "working directory (the default).",
            },
            "shell": {
                "type": "string",
                "description": "Shell program to use; defaults to the user's shell.",
            },
            "login": {
                "type": "boolean",
                "description": "Run as a login shell (reads profile files). Default true.",
            },
            "tty": {
                "type": "boolean",
                "description": "Give the command a terminal and keep its input open, for "
                "interactive programs. Default false: no input, output through pipes.",
            },
            "yield_time_ms": {
                "type": "number",
                "description": "How long to wait for output before returning (milliseconds). "
                "Returns sooner if the command finishes.",
            },
            "max_output_tokens": {
                "type": "number",
                "description": "Longest output to return; the middle of longer output is "
                "left out.",
            },
            "sandbox_permissions": {
                "type": "string",
                "enum": ["use_default", "require_escalated"],
                "description": "use_default runs inside the sandbox; require_escalated asks "
                "the user to run it without the sandbox.",
            },
            "justification": {
                "type": "string",
                "description": "With require_escalated: the one-sentence question the user "
                "is asked to approve.",
            },
        },
        "required": ["cmd"],
        "additionalProperties": False,
    },
}

WRITE_STDIN_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "write_stdin",
    "description": (
        "Send text to a running exec_command session and return the output since the last "
        "call. Empty text just waits for more output. Ctrl-C (\\u0003) interrupts; Ctrl-D "
        "(\\u0004) ends input on a terminal session."
    ),
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "session_id": {
                "type": "number",
                "description": "The session ID exec_command reported.",
            },
            "chars": {
                "type": "string",
                "description": "Text to type; empty (the default) only polls for output.",
            },
            "yield_time_ms": {
                "type": "number",
                "description": "How long to wait for output before returning (milliseconds).",
            },
            "max_output_tokens": {
                "type": "number",
                "description": "Longest output to return; the middle of longer output is "
                "left out.",
            },
        },
        "required": ["session_id"],
        "additionalProperties": False,
    },
}
