"""The Responses API client (`POST {base_url}/responses`, SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from codex.core.client.base import ModelClient, Prompt
from codex.core.client.errors import ModelError, error_from_failed
from codex.core.client.events import (
    Completed,
    ItemAdded,
    ItemDone,
    ModelEvent,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from codex.core.client.transport import StreamingPost

OUTPUT_SCHEMA_NAME = "codex_output_schema"

_REASONING_PREFIXES = ("gpt-5", "o1", "o3", "o4", "codex-")


def model_has_reasoning(model: str) -> bool:
    return model.lower().startswith(_REASONING_PREFIXES)


def usage_from_responses(u: Any) -> Usage:
    if not isinstance(u, dict):
        return Usage()
    inp = u.get("input_tokens_details") or {}
    out = u.get("output_tokens_details") or {}
    return Usage(
        input_tokens=int(u.get("input_tokens") or 0),
        cached_input_tokens=int(inp.get("cached_tokens") or 0),
        output_tokens=int(u.get("output_tokens") or 0),
        reasoning_output_tokens=int(out.get("reasoning_tokens") or 0),
        total_tokens=int(u.get("total_tokens") or 0),
    )


class ResponsesClient(ModelClient):
    path = "/responses"

    def body(self, prompt: Prompt) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "instructions": prompt.instructions,
            "input": prompt.input,
            "tools": prompt.tools,
            "tool_choice": "auto",
            "parallel_tool_calls": prompt.parallel_tool_calls,
            "store": False,
            "stream": True,
            "prompt_cache_key": self.session_id,
        }
        if model_has_reasoning(self.model) and self.reasoning_effort != "none":
            reasoning: dict[str, Any] = {"effort": self.reasoning_effort or "medium"}
            if self.reasoning_summary and self.reasoning_summary != "none":
                reasoning["summary"] = self.reasoning_summary
            body["reasoning"] = reasoning
            body["include"] = ["reasoning.encrypted_content"]
        text: dict[str, Any] = {}
        if prompt.output_schema is not None:
            text["format"] = {"type": "json_schema", "strict": True,
                              "name": OUTPUT_SCHEMA_NAME, "schema": prompt.output_schema}
        if self.verbosity and self.model.lower().startswith("gpt-5"):
            text["verbosity"] = self.verbosity
        if text:
            body["text"] = text
        return body

    async def _events(self, post: StreamingPost) -> AsyncIterator[ModelEvent]:
        async for ev in post.events():
            if not isinstance(ev, dict):
                continue
            kind = ev.get("type")
            if kind == "response.output_item.done" and isinstance(ev.get("item"), dict):
                yield ItemDone(ev["item"])
            elif kind == "response.output_text.delta":
                yield TextDelta(str(ev.get("delta") or ""))
            elif kind == "response.reasoning_summary_text.delta":
                yield ReasoningDelta(str(ev.get("delta") or ""))
            elif kind == "response.output_item.added" and isinstance(ev.get("item"), dict):
                yield ItemAdded(ev["item"])
            elif kind == "response.completed":
                resp = ev.get("response") or {}
                yield Completed(resp.get("id"), usage_from_responses(resp.get("usage")))
                return
            elif kind == "response.failed":
                resp = ev.get("response") or {}
                raise error_from_failed(resp.get("error"))
            elif kind == "error":
                raise error_from_failed(ev.get("error") if isinstance(ev.get("error"), dict)
                                        else ev)
            elif kind == "response.incomplete":
                # Asking again yields the same cut-off answer: report it instead.
                details = (ev.get("response") or {}).get("incomplete_details") or {}
                reason = details.get("reason") or "unknown reason"
                raise ModelError(f"the model's response was incomplete ({reason})",
                                 retryable=False, code="incomplete")
        raise ModelError("stream closed before response.completed", retryable=True)
