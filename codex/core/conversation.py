"""The conversation engine under a session: history, rollout, model requests, token usage,
compaction. The session (ops, turns) drives it; it knows nothing of front-ends.

- `record(item)` puts an item in the history and the rollout; `log(kind, payload)` writes a
  rollout line only. A rollout that cannot be written any more (disk full, file size limit) is
  reported once as an `Error` event and replaced by a `NullRollout`: the session goes on.
- `sample(turn_id, tools)` makes one model request over the whole history, streaming text and
  reasoning deltas as events, and returns the finished items and the usage (`Sample`).
- Token usage: `TokenCount` after every request; when the server reports none, the history's
  size is the estimate (spec: about 4 bytes a token) and the event says so.
- `compact(turn_id)` summarises the history and replaces it (spec "Auto-compaction").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codex.core.client import (
    Completed,
    ItemDone,
    ModelClient,
    ModelError,
    Prompt,
    Reconnecting,
    TextDelta,
    Usage,
)
from codex.core.client import ReasoningDelta as ModelReasoningDelta
from codex.core.history import History, reasoning_text
from codex.core.models import percent_left
from codex.core.protocol import (
    AgentMessageDelta,
    ContextCompacted,
    Error,
    Event,
    Reasoning,
    ReasoningDelta,
    StreamError,
    TokenCount,
)
from codex.core.rollout import COMPACTED, NullRollout, Rollout, RolloutWriteError

log = logging.getLogger(__name__)

CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
# A compaction request that is itself too long drops this many oldest items and tries again.
COMPACT_TRIM_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Sample:
    """One model response: its finished items in order, and its usage (None: not reported)."""

    items: list[dict[str, Any]]
    usage: Usage | None


@dataclass
class TokenUsage:
    """Usage over the session, and what the context holds after the latest request."""

    total: Usage = field(default_factory=Usage)
    last: Usage = field(default_factory=Usage)
    # Tokens in context after the latest response: as reported, or (`estimated`) the history's
    # size then. None before the first response (and after a compaction or a rollback).
    in_context: int | None = None
    estimated: bool = False

    def tokens_in_context(self, history: History) -> tuple[int, bool]:
        """(tokens, estimated?): the figure after the latest response, else an estimate of
        the history as it is."""
        if self.in_context is not None:
            return self.in_context, self.estimated
        return history.estimated_tokens, True


class Conversation:
    def __init__(self, *, emit: Callable[[Event], None], history: History, rollout: Rollout,
                 client: ModelClient, instructions: str, wire: str, context_window: int,
                 compact_limit: int) -> None:
        self.emit = emit
        self.history = history
        self.rollout = rollout
        self.client = client
        self.instructions = instructions
        self.wire = wire
        self.context_window = context_window
        self.compact_limit = compact_limit
        self.usage = TokenUsage()
        self.output_schema: Any = None
        self.turn_id: str | None = None  # for the Error event of a failing rollout

    # -- recording ---------------------------------------------------------------------
    def record(self, item: dict[str, Any]) -> None:
        self.history.append(item)
        self._rollout_call(self.rollout.item, item)

    def log(self, kind: str, payload: Any) -> None:
        self._rollout_call(self.rollout.write, kind, payload)

    def _rollout_call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except RolloutWriteError as e:
            self.rollout_failed(e.message)

    def rollout_failed(self, message: str) -> None:
        """Go on without a rollout, after saying so once (whole lines stay in the file)."""
        log.info("%s", message)  # said once as an Error event, not twice on stderr
        self.rollout.close()
        self.rollout = NullRollout()
        self.emit(Error(f"{message}; the session goes on without being recorded (it cannot "
                        "be resumed from that point)", turn_id=self.turn_id))

    # -- sampling --------------------------------------------------------------------------
    async def sample(self, turn_id: str, tools: list[dict[str, Any]], *,
                     parallel_tool_calls: bool = True,
                     input_items: list[dict[str, Any]] | None = None,
                     stream_deltas: bool = True) -> Sample:
        """One request over the history (or `input_items`); ModelError when it fails."""
        items_in = self.history.items if input_items is None else input_items
        prompt = Prompt(self.instructions, items_in, tools,
                        self.output_schema if tools else None,
                        parallel_tool_calls=parallel_tool_calls)
        items: list[dict[str, Any]] = []
        usage: Usage | None = None
        async for ev in self.client.stream(prompt):
            if isinstance(ev, TextDelta):
                if stream_deltas and ev.delta:
                    self.emit(AgentMessageDelta(ev.delta, turn_id=turn_id))
            elif isinstance(ev, ModelReasoningDelta):
                if stream_deltas and ev.delta:
                    self.emit(ReasoningDelta(ev.delta, turn_id=turn_id))
            elif isinstance(ev, ItemDone):
                items.append(ev.item)
                if stream_deltas and ev.item.get("type") == "reasoning":
                    # Shown when it is done, in wire order: before the message that
                    # follows it streams (after the response it would read as an
                    # afterthought, and front-ends would have to reorder it).
                    text = reasoning_text(ev.item)
                    if text:
                        self.emit(Reasoning(text, turn_id=turn_id))
            elif isinstance(ev, Completed):
                usage = ev.usage
            elif isinstance(ev, Reconnecting):
                items.clear()  # the failed attempt's items are void (and so are its deltas)
                self.emit(StreamError(ev.message, turn_id=turn_id, attempt=ev.attempt,
                                      max_attempts=ev.max_attempts, layer=ev.layer))
        return Sample(items, usage if usage is not None and _reported(usage) else None)

    def account(self, sample: Sample, turn_id: str) -> TokenCount:
        """Add a response's usage to the totals (call once its items are recorded); the
        TokenCount event to emit."""
        if sample.usage is not None:
            last = sample.usage
            self.usage.total = self.usage.total + last
            self.usage.last = last
            self.usage.in_context = last.total_tokens or (last.input_tokens
                                                          + last.output_tokens)
            self.usage.estimated = False
        else:
            # The spec's estimate for servers that report nothing: the history's size.
            self.usage.in_context = self.history.estimated_tokens
            self.usage.estimated = True
        return self.token_count(turn_id)

    def token_count(self, turn_id: str | None) -> TokenCount:
        tokens, estimated = self.usage.tokens_in_context(self.history)
        return TokenCount(self.usage.last, self.usage.total, self.context_window,
                          percent_left(self.context_window, tokens), estimated=estimated,
                          turn_id=turn_id)

    # -- compaction ------------------------------------------------------------------------
    def needs_compaction(self) -> bool:
        """The latest response left the context at or over the limit (spec: last input +
        output tokens, or the estimate)."""
        return self.usage.in_context is not None and self.usage.in_context >= self.compact_limit

    async def compact(self, turn_id: str) -> None:
        """Summarise the history and replace it; ModelError when the request fails (the
        history is then unchanged, and no new compaction is due before the next response)."""
        from codex.core.compact import compacted_history, summary_request
        from codex.core.history import is_assistant_message, message_text

        original = self.history.items
        step = max(1, len(original) // COMPACT_TRIM_ATTEMPTS)
        trimmed = 0
        while True:
            try:
                sample = await self.sample(turn_id, [], parallel_tool_calls=False,
                                           input_items=[*original[trimmed:], summary_request()],
                                           stream_deltas=False)
                break
            except ModelError as e:
                # The history alone is too long for a summary request: leave out the oldest
                # items (the user's own messages survive in the new history anyway).
                if e.code != CONTEXT_LENGTH_EXCEEDED or trimmed + step >= len(original):
                    self.usage.in_context = None  # no new attempt before the next response
                    raise
                trimmed += step
        summary = "\n\n".join(message_text(it) for it in sample.items
                              if is_assistant_message(it)).strip()
        if sample.usage is not None:
            self.usage.total = self.usage.total + sample.usage
        new = compacted_history(original, summary or "(the previous model wrote no summary)")
        self.history.replace(new)
        self.usage.in_context = None  # estimated until the next response reports usage
        self.log(COMPACTED, {"message": summary, "replacement_history": new})
        tokens, _ = self.usage.tokens_in_context(self.history)
        self.emit(ContextCompacted(percent_left(self.context_window, tokens), turn_id=turn_id))
        self.emit(self.token_count(turn_id))


def _reported(usage: Usage) -> bool:
    return bool(usage.input_tokens or usage.output_tokens or usage.total_tokens)
