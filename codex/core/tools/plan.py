"""`update_plan`: the model's step list, shown to the user as a `PlanUpdate` event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codex.core.protocol import PlanStep, PlanUpdate
from codex.core.tools.registry import Tool, ToolCall, ToolCallError

if TYPE_CHECKING:
    from codex.core.tools.context import ToolContext

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
_STATUSES = ("pending", "in_progress", "completed")


async def update_plan(call: ToolCall, ctx: ToolContext) -> str:
    args = call.arguments()
    plan = args.get("plan")
    if not isinstance(plan, list) or not all(
            isinstance(s, dict) and isinstance(s.get("step"), str) for s in plan):
        raise ToolCallError("failed to parse function arguments: `plan` must be a list of "
                            "{step, status} objects")
    steps = tuple(PlanStep(s["step"], s.get("status") if s.get("status") in _STATUSES
                           else "pending") for s in plan)
    explanation = args.get("explanation")
    ctx.emit(PlanUpdate(steps, explanation if isinstance(explanation, str) else None,
                        turn_id=ctx.turn_id))
    return PLAN_UPDATED


def plan_tool() -> Tool:
    return Tool(UPDATE_PLAN_TOOL, update_plan)
