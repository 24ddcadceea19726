"""A resumed session's recorded history, drawn as cells (spec tui.md "Starting": the resumed
history is replayed into the scrollback). Input: Responses items from the rollout."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from codex.tui import cells
from codex.tui.render import Renderer
from codex.tui.sessions import _CONTEXT_PREFIXES


def _text(item: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in item.get("content") or []
                   if isinstance(p, dict) and isinstance(p.get("text"), str))


def _command(item: dict[str, Any]) -> str:
    try:
        args = json.loads(item.get("arguments") or "{}")
    except ValueError:
        return str(item.get("arguments", ""))
    if isinstance(args, dict):
        cmd = args.get("cmd") or args.get("command")
        if isinstance(cmd, list):
            return " ".join(str(c) for c in cmd)
        if cmd:
            return str(cmd)
    return f"{item.get('name')}({item.get('arguments', '')})"


def replay_cells(r: Renderer, items: Sequence[dict[str, Any]],
                 width: int) -> Iterator[list[str]]:
    outputs = {it.get("call_id"): it.get("output") for it in items
               if it.get("type") in ("function_call_output", "custom_tool_call_output")}
    for it in items:
        kind = it.get("type")
        if kind == "message" and it.get("role") == "user":
            text = _text(it).strip()
            if text and not text.startswith(_CONTEXT_PREFIXES):
                yield cells.user_message(r, text, width)
        elif kind == "message" and it.get("role") == "assistant":
            text = _text(it)
            if text.strip():
                yield cells.agent_lines(r, text, width, True)
        elif kind == "function_call" and it.get("name") in ("exec_command", "shell"):
            out = outputs.get(it.get("call_id"))
            out_text = out if isinstance(out, str) else json.dumps(out) if out else ""
            yield cells.exec_cell(r, _command(it), None, 0.0, _output_body(out_text),
                                  "completed", width).lines
        elif kind in ("custom_tool_call", "function_call") and it.get("name") == "apply_patch":
            files = [ln.split(":", 1)[1].strip() for ln in
                     str(it.get("input") or it.get("arguments") or "").splitlines()
                     if ln.startswith(("*** Update File:", "*** Add File:", "*** Delete File:"))]
            yield cells.info(r, "Edited " + (", ".join(files) or "files"), width)


def _output_body(text: str) -> str:
    # exec_command outputs carry a header (chunk id, wall time, exit code) before "Output:".
    head, sep, body = text.partition("\nOutput:\n")
    return body if sep else text
