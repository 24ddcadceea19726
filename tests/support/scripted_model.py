"""A scripted in-memory model client for unit tests of the session (no HTTP).

Like httpx's `MockTransport`: it stands where the real client stands (`ModelClient`), records
every request (`requests`: the `Prompt`s, with their `body()` as the Responses wire would send
it) and answers each with the next scripted reply — a list of the same events the real clients
yield (`TextDelta`, `ItemDone`, `Completed`, ...), a `ModelError` to raise, or a `Hold` that
stalls the stream until the test releases it. A reply may also be a callable building the
reply from the request.

    model = ScriptedModel(text("hello"), calls(("c1", "exec_command", {"cmd": "ls"})))
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from codex.core.client import (
    Completed,
    ItemDone,
    ModelClient,
    ModelError,
    ModelEvent,
    Prompt,
    ReasoningDelta,
    Reconnecting,
    TextDelta,
    Usage,
)

USAGE = Usage(input_tokens=10, cached_input_tokens=2, output_tokens=5,
              reasoning_output_tokens=1, total_tokens=15)


class Hold:
    """A point in a reply where the stream stalls until `release()`; `reached` is set when the
    stream got there."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self._go = asyncio.Event()

    def release(self) -> None:
        self._go.set()

    async def wait(self) -> None:
        self.reached.set()
        await self._go.wait()


Step = ModelEvent | ModelError | Hold


@dataclass
class Reply:
    steps: list[Step] = field(default_factory=list)


ReplySource = Reply | Callable[[Prompt], Reply]


class ScriptedModel(ModelClient):
    """A ModelClient whose requests are answered from a script, in order."""

    def __init__(self, *replies: ReplySource, wire: str = "responses") -> None:
        # No super().__init__: nothing here talks HTTP.
        self.provider = {"id": "scripted", "wire_api": wire}
        self.model = "scripted-model"
        self.api_key = None
        self.session_id = ""
        self.originator = "codex_exec"
        self.reasoning_effort: str | None = None
        self.reasoning_summary = None
        self.verbosity = None
        self.requests: list[Prompt] = []
        self.closed = False
        self._script: deque[ReplySource] = deque(replies)
        self._arrived: asyncio.Event | None = None

    def add(self, *replies: ReplySource) -> None:
        self._script.extend(replies)

    def body(self, prompt: Prompt) -> dict[str, Any]:
        return {"model": self.model, "instructions": prompt.instructions,
                "input": prompt.input, "tools": prompt.tools,
                "parallel_tool_calls": prompt.parallel_tool_calls}

    def _events(self, post: Any) -> AsyncIterator[ModelEvent]:  # pragma: no cover - no HTTP
        raise NotImplementedError

    async def stream(self, prompt: Prompt) -> AsyncIterator[ModelEvent]:
        self.requests.append(prompt)
        if self._arrived is not None:
            self._arrived.set()
        if not self._script:
            raise ModelError("scripted model: no reply left for this request", retryable=False)
        source = self._script.popleft()
        reply = source(prompt) if callable(source) else source
        for step in reply.steps:
            if isinstance(step, Hold):
                await step.wait()
            elif isinstance(step, ModelError):
                raise step
            else:
                yield step

    def close(self) -> None:
        self.closed = True

    async def wait_for_requests(self, n: int, timeout: float = 30) -> list[Prompt]:
        async with asyncio.timeout(timeout):
            while len(self.requests) < n:
                self._arrived = asyncio.Event()
                await self._arrived.wait()
        return list(self.requests)

    # -- reading requests ------------------------------------------------------------------
    def outputs(self, index: int) -> dict[str, str]:
        """call_id -> output text as sent in request `index`."""
        return {it["call_id"]: it["output"] for it in self.requests[index].input
                if it.get("type") in ("function_call_output", "custom_tool_call_output")}

    def user_texts(self, index: int) -> list[str]:
        return ["".join(p.get("text", "") for p in it.get("content") or [])
                for it in self.requests[index].input
                if it.get("type") == "message" and it.get("role") == "user"]

    def tool_names(self, index: int) -> list[str]:
        return [t.get("name") for t in self.requests[index].tools]


# -- reply builders ------------------------------------------------------------------------
def text(message: str, *, usage: Usage | None = USAGE, chunks: int = 2,
         hold: Hold | None = None) -> Reply:
    """An answer streamed in `chunks` deltas (with `hold` after the first), then the item."""
    size = max(1, -(-len(message) // chunks))
    parts = [message[i:i + size] for i in range(0, len(message), size)] or [""]
    steps: list[Step] = [TextDelta(parts[0])]
    if hold is not None:
        steps.append(hold)
    steps += [TextDelta(p) for p in parts[1:]]
    steps.append(ItemDone({"type": "message", "role": "assistant", "id": "msg_1",
                           "content": [{"type": "output_text", "text": message}]}))
    steps.append(Completed("resp", usage if usage is not None else Usage()))
    return Reply(steps)


def calls(*specs: tuple[str, str, Any], usage: Usage | None = USAGE) -> Reply:
    """Function calls (call_id, name, arguments dict or raw JSON text) in one response."""
    steps: list[Step] = []
    for call_id, name, args in specs:
        steps.append(ItemDone({"type": "function_call", "name": name, "call_id": call_id,
                               "arguments": args if isinstance(args, str) else json.dumps(args)}))
    steps.append(Completed("resp", usage if usage is not None else Usage()))
    return Reply(steps)


def patch_call(call_id: str, patch: str, *, usage: Usage | None = USAGE) -> Reply:
    return Reply([ItemDone({"type": "custom_tool_call", "name": "apply_patch",
                            "call_id": call_id, "input": patch}),
                  Completed("resp", usage if usage is not None else Usage())])


def reasoning(summary: str, then: Reply) -> Reply:
    return Reply([ReasoningDelta(summary),
                  ItemDone({"type": "reasoning", "id": "rs_1", "encrypted_content": "ENC",
                            "summary": [{"type": "summary_text", "text": summary}]}),
                  *then.steps])


def failure(code: str, message: str = "the model failed") -> Reply:
    return Reply([ModelError(message, retryable=False, code=code)])


def reconnect_then(reply: Reply, reason: str = "stream broke") -> Reply:
    """A stream that breaks (the client announces a retry), then `reply`."""
    return Reply([TextDelta("lost "), Reconnecting(1, 5, reason), *reply.steps])


def usage_of(total: int) -> Usage:
    """Usage whose input + output is `total` tokens (for compaction thresholds)."""
    return Usage(input_tokens=total - 1, output_tokens=1, total_tokens=total)
