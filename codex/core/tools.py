"""The tools the model may call, and the output text every call gets back.

Every call is answered, including bad ones: unknown tools, arguments that are not JSON,
patches that do not apply, commands the policy refuses. Nothing here raises to the turn loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from codex.core.events import Emitter, ItemCompleted, ItemStarted, ItemUpdated
from codex.core.policy import DANGER_FULL_ACCESS, READ_ONLY, Policy
from codex.errors import CodexError

UPDATE_PLAN_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "update_plan",
    "description": (
        "Record or revise your step-by-step plan for the task. Send the whole plan each "
        "time; keep exactly one step in_progress while work remains."),
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "description": "why the plan changed (optional)"},
            "plan": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "status": {"type": "string",
                                   "enum": ["pending", "in_progress", "completed"]},
                    },
                    "required": ["step", "status"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["plan"],
        "additionalProperties": False,
    },
}

PLAN_UPDATED = "Plan updated"



def _exec_tools() -> list[dict[str, Any]]:
    from codex.unified_exec import EXEC_COMMAND_TOOL, WRITE_STDIN_TOOL

    return [EXEC_COMMAND_TOOL, WRITE_STDIN_TOOL]


def _apply_patch_tool(wire: str) -> dict[str, Any]:
    """Freeform (raw patch text) on Responses; a JSON function with `input` on Chat."""
    from codex.core.apply_patch.tool import APPLY_PATCH_FREEFORM_TOOL, APPLY_PATCH_JSON_TOOL

    return APPLY_PATCH_JSON_TOOL if wire == "chat" else APPLY_PATCH_FREEFORM_TOOL


class ToolRouter:
    """Runs tool calls for one session."""

    def __init__(self, *, cwd: Path, policy: Policy, manager: Any, emit: Emitter,
                 wire: str = "responses") -> None:
        self.cwd = cwd
        self.policy = policy
        self.manager = manager
        self.emit = emit
        self.wire = wire
        self._plan_item: dict[str, Any] | None = None
        self._running: dict[int, dict[str, Any]] = {}  # session id -> command item

    def specs(self) -> list[dict[str, Any]]:
        tools = _exec_tools()
        return [*tools, _apply_patch_tool(self.wire), UPDATE_PLAN_TOOL]

    # -- dispatch ------------------------------------------------------------------------
    async def handle(self, call: dict[str, Any]) -> dict[str, Any]:
        """The output item answering `call` (a function_call or custom_tool_call item)."""
        kind = call.get("type")
        out_kind = "custom_tool_call_output" if kind == "custom_tool_call" \
            else "function_call_output"
        try:
            text = await self._run(call)
        except (CodexError, OSError) as e:
            # e.g. the sandbox cannot start on this kernel: the model hears why, the turn goes on
            reason = e.message if isinstance(e, CodexError) else str(e)
            text = f"{call.get('name')} failed: {reason}"
        return {"type": out_kind, "call_id": call.get("call_id"), "output": text}

    async def _run(self, call: dict[str, Any]) -> str:
        name = str(call.get("name") or "")
        if call.get("type") == "custom_tool_call":
            if name == "apply_patch":
                return (await self.apply_patch(str(call.get("input") or "")))[0]
            return f"unsupported call: {name}"
        if name not in ("exec_command", "write_stdin", "apply_patch", "update_plan"):
            return f"unsupported call: {name}"
        raw = call.get("arguments")
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as e:
            return f"failed to parse function arguments: {e}"
        if not isinstance(args, dict):
            return "failed to parse function arguments: expected a JSON object"
        if name == "exec_command":
            return await self.exec_command(args)
        if name == "write_stdin":
            return await self.write_stdin(args)
        if name == "apply_patch":
            patch = args.get("input", args.get("patch"))
            if not isinstance(patch, str):
                return "failed to parse function arguments: missing string field `input`"
            return (await self.apply_patch(patch))[0]
        return self.update_plan(args)

    # -- exec_command / write_stdin --------------------------------------------------------
    def _refusal(self, args: dict[str, Any]) -> str | None:
        """Why this command may not run under the policy, or None."""
        mode = self.policy.sandbox_mode
        if args.get("sandbox_permissions") == "require_escalated" and mode != DANGER_FULL_ACCESS:
            # Headless runs have nobody to ask: escalation is declined, never granted.
            return ("command declined: it asked to run outside the sandbox, and with approval "
                    f"policy `{self.policy.approval}` in a headless run nobody can approve "
                    f"that. Work within the {mode} sandbox or tell the user what you need.")
        return None

    async def exec_command(self, args: dict[str, Any]) -> str:
        cmd = args.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            # Nothing to run: the model gets the argument error, the user sees no "exec null".
            return (await self.manager.exec_command(args)).text
        cmd_text = cmd
        refusal = self._refusal(args)
        if refusal is not None:
            item = self.emit.new_item("command_execution", command=cmd_text,
                                      aggregated_output="", exit_code=None, status="declined")
            self.emit(ItemCompleted(item))
            return refusal
        is_patch = isinstance(cmd, str) and _heredoc_patch(cmd) is not None
        item = None
        if not is_patch:
            item = self.emit.new_item("command_execution", command=cmd_text,
                                      aggregated_output="", exit_code=None,
                                      status="in_progress")
            self.emit(ItemStarted(item))
        result = await self.manager.exec_command(args)
        if item is not None:
            self._finish_command(item, result)
        return self._with_denial_note(result)

    async def write_stdin(self, args: dict[str, Any]) -> str:
        result = await self.manager.write_stdin(args)
        sid = args.get("session_id")
        item = self._running.pop(sid, None) if isinstance(sid, int) else None
        if item is not None:
            prev = item["aggregated_output"]
            item["aggregated_output"] = prev + (getattr(result, "output", "") or "")
            self._finish_command(item, result)
        return self._with_denial_note(result)

    def _finish_command(self, item: dict[str, Any], result: Any) -> None:
        item["aggregated_output"] = (item["aggregated_output"]
                                     if item["aggregated_output"] else result.output or "")
        code = result.exit_code
        if code is None and result.session_id is not None and result.failure is None:
            self._running[result.session_id] = item
            self.emit(ItemUpdated(dict(item)))
            return
        item["exit_code"] = code
        item["status"] = "completed" if code == 0 and result.failure is None else "failed"
        self.emit(ItemCompleted(dict(item)))

    def _with_denial_note(self, result: Any) -> str:
        text = result.text
        if self.policy.sandbox_mode == DANGER_FULL_ACCESS or result.exit_code in (None, 0):
            return text
        if _is_sandbox_denial(result, self.policy.to_wire(self.cwd)):
            text += (f"\n\nNote: the {self.policy.sandbox_mode} sandbox denied this command "
                     f"(approval policy `{self.policy.approval}`: it cannot be rerun outside "
                     "the sandbox).")
        return text

    # -- apply_patch ----------------------------------------------------------------------
    async def apply_patch(self, patch: str, cwd: str | None = None) -> tuple[str, bool]:
        """Verify, check every written path against the policy, then apply all-or-nothing:
        (output text, applied?)."""
        from codex.core.apply_patch import PatchError, verify_patch

        base = Path(cwd) if cwd else self.cwd
        item = self.emit.new_item("file_change", changes=[], status="in_progress")

        def run() -> tuple[str, bool]:
            try:
                plan = verify_patch(patch, base)
            except PatchError as e:
                return f"apply_patch verification failed: {e.message}", False
            denied = [str(p) for p in plan.written_paths
                      if not self.policy.may_write(p, self.cwd)]
            if denied:
                why = ("the sandbox is read-only" if self.policy.sandbox_mode == READ_ONLY
                       else "outside the writable roots of the workspace-write sandbox")
                return (f"apply_patch declined: writing {', '.join(denied)} is not allowed "
                        f"({why}; approval policy `{self.policy.approval}`)."), False
            try:
                result = plan.apply()
            except PatchError as e:
                return f"apply_patch verification failed: {e.message}", False
            item["changes"] = [{"path": str(base / (c.move_path or c.path)), "kind": c.kind}
                               for c in result.changes]
            return result.summary_text(), True

        text, ok = await asyncio.to_thread(run)
        item["status"] = "completed" if ok else "failed"
        self.emit(ItemCompleted(item))
        return text, ok

    async def apply_patch_hook(self, patch: str, cwd: str) -> str:
        """unified_exec calls this for `apply_patch <<'EOF'` commands (failure = exit 1)."""
        text, ok = await self.apply_patch(patch, cwd)
        if not ok:
            raise CodexError(text)
        return text

    # -- update_plan ------------------------------------------------------------------------
    def update_plan(self, args: dict[str, Any]) -> str:
        plan = args.get("plan")
        if not isinstance(plan, list) or not all(
                isinstance(s, dict) and isinstance(s.get("step"), str) for s in plan):
            return ("failed to parse function arguments: `plan` must be a list of "
                    "{step, status} objects")
        todo = [{"text": s["step"], "completed": s.get("status") == "completed"} for s in plan]
        if self._plan_item is None:
            self._plan_item = self.emit.new_item("todo_list", items=todo)
            self.emit(ItemStarted(dict(self._plan_item)))
        else:
            self._plan_item["items"] = todo
            self.emit(ItemUpdated(dict(self._plan_item)))
        return PLAN_UPDATED

    def end_turn(self) -> None:
        if self._plan_item is not None:
            self.emit(ItemCompleted(dict(self._plan_item)))
            self._plan_item = None
        self._running.clear()


def _heredoc_patch(cmd: str) -> str | None:
    from codex.core.apply_patch import extract_heredoc

    return extract_heredoc(cmd)


def _is_sandbox_denial(result: Any, policy_wire: dict[str, Any]) -> bool:
    from codex.sandbox import is_sandbox_denial

    return is_sandbox_denial(result.exit_code, result.output or "", policy=policy_wire)
