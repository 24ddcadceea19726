"""The turn loop: sample the model, run its tool calls, answer each in call order, repeat."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from codex.core.client import (
    Completed,
    ItemDone,
    ModelClient,
    ModelError,
    Prompt,
    Reconnecting,
    Usage,
)
from codex.core.events import (
    Emitter,
    ItemCompleted,
    StreamNotice,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from codex.core.rollout import RolloutWriter
from codex.core.tools import ToolRouter

CALL_TYPES = ("function_call", "custom_tool_call")
ABORTED_OUTPUT = "aborted: the turn was interrupted before this call finished"


@dataclass
class TurnResult:
    ok: bool
    last_message: str | None
    usage: Usage
    error: str | None = None


def message_text(item: dict[str, Any]) -> str:
    parts = item.get("content") or []
    return "".join(p.get("text", "") for p in parts
                   if isinstance(p, dict) and p.get("type") in ("output_text", "text"))


def _reasoning_text(item: dict[str, Any]) -> str:
    parts = item.get("summary") or []
    return "\n\n".join(p.get("text", "") for p in parts if isinstance(p, dict)).strip()


def _for_history(item: dict[str, Any]) -> dict[str, Any]:
    # With store=false the server keeps nothing, so server item ids must not be replayed
    # (reasoning items are the exception: they travel with their encrypted content).
    if item.get("type") == "reasoning":
        return item
    return {k: v for k, v in item.items() if k != "id"}


class Agent:
    """One session's conversation: history, tools, rollout."""

    def __init__(self, *, client: ModelClient, router: ToolRouter, emit: Emitter,
                 instructions: str, history: list[dict[str, Any]],
                 rollout: RolloutWriter | None, output_schema: Any = None,
                 turn_context: dict[str, Any] | None = None) -> None:
        self.client = client
        self.router = router
        self.emit = emit
        self.instructions = instructions
        self.history = history
        self.rollout = rollout
        self.output_schema = output_schema
        self.turn_context = turn_context or {}

    def record(self, item: dict[str, Any]) -> None:
        self.history.append(item)
        if self.rollout is not None:
            self.rollout.item(item)

    async def run_turn(self, user_items: list[dict[str, Any]]) -> TurnResult:
        self.emit(TurnStarted())
        if self.rollout is not None:
            self.rollout.write("turn_context", self.turn_context)
        for it in user_items:
            self.record(it)
        usage = Usage()
        last_message: str | None = None
        unanswered: list[dict[str, Any]] = []
        try:
            while True:
                items = await self._sample()
                for item, usage_part in items:
                    if usage_part is not None:
                        usage = usage + usage_part
                        continue
                    self.record(_for_history(item))
                    self._show(item)
                    if item.get("type") == "message" and item.get("role", "assistant") \
                            == "assistant":
                        last_message = message_text(item)
                calls = [it for it, u in items if u is None and it.get("type") in CALL_TYPES]
                if not calls:
                    break
                unanswered = list(calls)
                outputs = await asyncio.gather(*(self.router.handle(c) for c in calls))
                unanswered = []
                for out in outputs:
                    self.record(out)
        except ModelError as e:
            self.router.end_turn()
            self.emit(TurnFailed(e.message))
            if self.rollout is not None:
                self.rollout.write("event_msg", {"type": "turn_failed", "message": e.message})
            return TurnResult(False, last_message, usage, e.message)
        except asyncio.CancelledError:
            for call in unanswered:
                kind = "custom_tool_call_output" if call.get("type") == "custom_tool_call" \
                    else "function_call_output"
                self.record({"type": kind, "call_id": call.get("call_id"),
                             "output": ABORTED_OUTPUT})
            if self.rollout is not None:
                self.rollout.write("event_msg", {"type": "turn_aborted", "reason": "interrupted"})
            self.router.end_turn()
            raise
        self.router.end_turn()
        if self.rollout is not None:
            self.rollout.write("event_msg", {"type": "turn_completed",
                                             "usage": usage.to_json()})
        self.emit(TurnCompleted(usage, last_message))
        return TurnResult(True, last_message, usage)

    async def _sample(self) -> list[tuple[dict[str, Any], Usage | None]]:
        """One model response: its finished items in order, then its usage."""
        prompt = Prompt(self.instructions, list(self.history), self.router.specs(),
                        self.output_schema)
        out: list[tuple[dict[str, Any], Usage | None]] = []
        async for ev in self.client.stream(prompt):
            if isinstance(ev, ItemDone):
                out.append((ev.item, None))
            elif isinstance(ev, Completed):
                out.append(({}, ev.usage))
            elif isinstance(ev, Reconnecting):
                out.clear()  # the failed attempt's items are void
                self.emit(StreamNotice(ev.message))
        return out

    def _show(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "message" and item.get("role", "assistant") == "assistant":
            self.emit(ItemCompleted(self.emit.new_item("agent_message",
                                                       text=message_text(item))))
        elif kind == "reasoning":
            text = _reasoning_text(item)
            if text:
                self.emit(ItemCompleted(self.emit.new_item("reasoning", text=text)))
