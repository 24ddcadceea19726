"""A resumed session's recorded history, drawn as cells (spec tui.md "Starting": the resumed
history is replayed into the scrollback). Input: Responses items from the rollout."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
                yield cells.user_message(r, text, width, cells.USER_LINES_SHOWN)
        elif kind == "message" and it.get("role") == "assistant":
            text = _text(it)
            if text.strip():
                yield cells.agent_lines(r, text, width, True)
        elif kind == "function_call" and it.get("name") in ("exec_command", "shell"):
            res = recorded_result(outputs.get(it.get("call_id")))
            yield cells.exec_cell(r, _command(it), res.exit_code, res.duration_s, res.output,
                                  res.status, width).lines
        elif kind == "function_call" and it.get("name") == "update_plan":
            plan = _plan(it)
            if plan is not None:
                yield cells.plan_cell(r, *plan, width)
        elif kind in ("custom_tool_call", "function_call") and it.get("name") == "apply_patch":
            files = [ln.split(":", 1)[1].strip() for ln in
                     str(it.get("input") or it.get("arguments") or "").splitlines()
                     if ln.startswith(("*** Update File:", "*** Add File:", "*** Delete File:"))]
            yield cells.info(r, "Edited " + (", ".join(files) or "files"), width)


@dataclass(frozen=True, slots=True)
class RecordedResult:
    """What a recorded command output says about its run (an ExecStatus value)."""

    status: str
    exit_code: int | None
    duration_s: float
    output: str


_EXIT = re.compile(r"^Process exited with code (-?\d+)$", re.M)
_RUNNING = re.compile(r"^Process running with session ID \d+$", re.M)
_WALL = re.compile(r"^Wall time: ([0-9.]+) seconds$", re.M)
# The outputs the session gives the model for a call that never ran (tools/shell.py) or was
# cut short by an interrupt (turn.py).
_DECLINED_PREFIXES = ("exec_command declined:", "command declined:")
_ABORTED_PREFIX = "aborted:"
_SANDBOX_NOTE = re.compile(r"\n\nNote: the (?:[a-z-]+ )?sandbox denied this command[^\n]*\Z")


def recorded_result(out: Any) -> RecordedResult:
    """Parse a recorded exec_command (or legacy `shell`) output: the header before
    `Output:` (wall time, `Process exited with code N`), a JSON `{output, metadata}`, or a
    refusal. An output that says nothing about how it ended is `completed` (None: no output
    was recorded, the call was cut off)."""
    if out is None:
        return RecordedResult("aborted", None, 0.0, "")
    if not isinstance(out, str):
        out = json.dumps(out)
    text = out.strip()
    if text.startswith(_DECLINED_PREFIXES):
        return RecordedResult("declined", None, 0.0, "")
    if text.startswith(_ABORTED_PREFIX):
        return RecordedResult("aborted", None, 0.0, "")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
            meta = data["metadata"]
            code = meta.get("exit_code")
            code = code if isinstance(code, int) else None
            dur = meta.get("duration_seconds")
            return RecordedResult("completed" if code in (0, None) else "failed", code,
                                  float(dur) if isinstance(dur, int | float) else 0.0,
                                  str(data.get("output", "")))
    head, sep, body = out.partition("\nOutput:\n")
    # The sandbox note (tools/shell.py) is advice for the model: the live cell never showed it.
    body = _SANDBOX_NOTE.sub("", body)
    if not sep:
        return RecordedResult("completed", None, 0.0, out)
    wall = _WALL.search(head)
    duration = float(wall.group(1)) if wall else 0.0
    m = _EXIT.search(head)
    if m:
        code = int(m.group(1))
        return RecordedResult("completed" if code == 0 else "failed", code, duration, body)
    if _RUNNING.search(head):
        return RecordedResult("running", None, duration, body)
    return RecordedResult("completed", None, duration, body)


def _plan(item: dict[str, Any]) -> tuple[list[Any], str | None] | None:
    """An update_plan call's steps (PlanStep) and explanation; None when unreadable."""
    from codex.core.protocol import PlanStep

    try:
        args = json.loads(item.get("arguments") or "{}")
    except ValueError:
        return None
    if not isinstance(args, dict) or not isinstance(args.get("plan"), list):
        return None
    steps = [PlanStep(str(st.get("step", "")), str(st.get("status", "pending")))
             for st in args["plan"] if isinstance(st, dict)]
    explanation = args.get("explanation")
    return steps, explanation if isinstance(explanation, str) and explanation else None
