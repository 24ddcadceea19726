"""One turn: sample the model, run its tool calls, answer each in call order, repeat.

Spec model-wire.md, "Items and the loop", and session.md ("Auto-compaction": before each
request when the context is full; once more after a `context_length_exceeded` error, then the
request is retried once). The session frames the turn (`TurnStarted` ... `TurnComplete` /
`TurnAborted`); this module emits what happens in between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.core.client import ModelError, Usage
from codex.core.conversation import CONTEXT_LENGTH_EXCEEDED, Conversation
from codex.core.history import (
    for_history,
    is_assistant_message,
    message_text,
)
from codex.core.policy import Policy
from codex.core.protocol import AgentMessage, Event
from codex.core.tools.context import ApprovalGate, ToolContext
from codex.core.tools.registry import ToolCall, ToolRegistry

ABORTED_OUTPUT = "aborted: the turn was interrupted before this call finished"


@dataclass(frozen=True, slots=True)
class TurnResult:
    last_message: str | None
    usage: Usage


class TurnRunner:
    """Runs the sampling loop of one turn over a conversation."""

    def __init__(self, *, conversation: Conversation, tools: ToolRegistry,
                 approvals: ApprovalGate, emit: Callable[[Event], None], turn_id: str,
                 cwd: Path, policy: Policy) -> None:
        self.conv = conversation
        self.tools = tools
        self.approvals = approvals
        self.emit = emit
        self.turn_id = turn_id
        self.cwd = cwd
        self.policy = policy

    async def run(self) -> TurnResult:
        """Sample until the model answers without calls. ModelError ends the turn."""
        conv, turn_id = self.conv, self.turn_id
        usage = Usage()
        last_message: str | None = None
        retried_overflow = False
        compacted = False  # no second compaction before a request has been made
        while True:
            if not compacted and conv.needs_compaction():
                await conv.compact(turn_id)
                compacted = True
            try:
                sample = await conv.sample(turn_id, self.tools.specs(conv.wire))
            except ModelError as e:
                if e.code != CONTEXT_LENGTH_EXCEEDED or retried_overflow:
                    raise
                retried_overflow = True  # compact once, then retry the request once
                await conv.compact(turn_id)
                compacted = True
                continue
            compacted = False
            if sample.usage is not None:
                usage = usage + sample.usage
            calls: list[ToolCall] = []
            for item in sample.items:
                conv.record(for_history(item))
                self._show(item)
                call = ToolCall.from_item(item)
                if call is not None:
                    calls.append(call)
                elif is_assistant_message(item):
                    last_message = message_text(item)
            self.emit(conv.account(sample, turn_id))
            if not calls:
                return TurnResult(last_message, usage)
            for output in await self._run_calls(calls):
                conv.record(output)

    async def _run_calls(self, calls: list[ToolCall]) -> list[dict[str, Any]]:
        """Run the calls of one response concurrently; their outputs in call order. When the
        turn is interrupted, every call is cancelled (each ends its own events) and those
        that did not finish are answered `aborted` before the cancellation goes on."""
        tasks = [asyncio.ensure_future(self.tools.dispatch(call, self._context(call)))
                 for call in calls]
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for call, t in zip(calls, tasks, strict=True):
                done = t.done() and not t.cancelled() and t.exception() is None
                self.conv.record(t.result() if done else call.output_item(ABORTED_OUTPUT))
            raise
        return [t.result() for t in tasks]

    def _context(self, call: ToolCall) -> ToolContext:
        return ToolContext(turn_id=self.turn_id, call_id=call.call_id, cwd=self.cwd,
                           policy=self.policy, emit=self.emit, approvals=self.approvals)

    def _show(self, item: dict[str, Any]) -> None:
        # Reasoning items were shown by `Conversation.sample` as they finished streaming.
        if is_assistant_message(item):
            self.emit(AgentMessage(message_text(item), turn_id=self.turn_id))
