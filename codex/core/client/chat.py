"""The Chat Completions client (`POST {base_url}/chat/completions`, SSE chunks).

History stays Responses-shaped everywhere else; this module translates it to `messages` and
turns streamed chunks back into the same finished items the Responses client yields.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from codex.core.client.base import ModelClient, Prompt
from codex.core.client.errors import ModelError, error_from_failed
from codex.core.client.events import (
    Completed,
    ItemDone,
    ModelEvent,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from codex.core.client.responses import OUTPUT_SCHEMA_NAME
from codex.core.client.sse import DONE
from codex.core.client.transport import StreamingPost


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "\n".join(parts)


def _user_content(content: Any) -> Any:
    """Text, or a list of parts when the message carries images."""
    if not isinstance(content, list) or not any(
            isinstance(p, dict) and p.get("type") == "input_image" for p in content):
        return _text_of(content)
    out: list[dict[str, Any]] = []
    for p in content:
        if not isinstance(p, dict):
            continue
        if p.get("type") == "input_image":
            out.append({"type": "image_url", "image_url": {"url": p.get("image_url", "")}})
        elif isinstance(p.get("text"), str):
            out.append({"type": "text", "text": p["text"]})
    return out


def to_messages(instructions: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": instructions}]
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role", "user")
            if role == "assistant":
                msgs.append({"role": "assistant", "content": _text_of(item.get("content"))})
            else:
                msgs.append({"role": "system" if role in ("developer", "system") else "user",
                             "content": _user_content(item.get("content"))})
        elif kind in ("function_call", "custom_tool_call"):
            if kind == "function_call":
                args = item.get("arguments", "")
            else:
                args = json.dumps({"input": item.get("input", "")})
            call = {"id": item.get("call_id", ""), "type": "function",
                    "function": {"name": item.get("name", ""), "arguments": args}}
            last = msgs[-1]
            if last.get("role") == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            elif last.get("role") == "assistant" and last.get("content") is not None \
                    and "tool_calls" not in last:
                last["tool_calls"] = [call]
            else:
                msgs.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            out = item.get("output", "")
            if isinstance(out, list):  # content parts: a tool message carries text only
                out = "\n".join(p.get("text", "[image]") if isinstance(p, dict) else str(p)
                                 for p in out)
            elif not isinstance(out, str):
                out = json.dumps(out)
            msgs.append({"role": "tool", "tool_call_id": item.get("call_id", ""),
                         "content": out})
        # reasoning and anything else: dropped on this wire
    return msgs


def to_chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        if t.get("type") == "function":
            out.append({"type": "function", "function": {
                "name": t["name"], "description": t.get("description", ""),
                "parameters": t.get("parameters") or {"type": "object", "properties": {}}}})
        elif t.get("type") == "custom":
            out.append({"type": "function", "function": {
                "name": t["name"], "description": t.get("description", ""),
                "parameters": {"type": "object", "properties": {"input": {"type": "string"}},
                               "required": ["input"], "additionalProperties": False}}})
    return out


def _call_index(frag: dict[str, Any], calls: dict[int, dict[str, Any]]) -> int:
    """Which call a fragment continues: its `index`; failing that (some local servers omit
    it) the call with its id, else a new call when it brings an id, else the latest."""
    if isinstance(frag.get("index"), int):
        return frag["index"]
    fid = frag.get("id")
    for idx, acc in calls.items():
        if fid and acc["id"] == fid:
            return idx
    if fid or not calls:
        return max(calls, default=-1) + 1
    return max(calls)


def usage_from_chat(u: Any) -> Usage:
    if not isinstance(u, dict):
        return Usage()
    pd = u.get("prompt_tokens_details") or {}
    cd = u.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(u.get("prompt_tokens") or 0),
        cached_input_tokens=int(pd.get("cached_tokens") or 0),
        output_tokens=int(u.get("completion_tokens") or 0),
        reasoning_output_tokens=int(cd.get("reasoning_tokens") or 0),
        total_tokens=int(u.get("total_tokens") or 0),
    )


class ChatClient(ModelClient):
    path = "/chat/completions"

    def body(self, prompt: Prompt) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_messages(prompt.instructions, prompt.input),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        tools = to_chat_tools(prompt.tools)
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        if prompt.output_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": OUTPUT_SCHEMA_NAME, "strict": True, "schema": prompt.output_schema}}
        return body

    async def _events(self, post: StreamingPost) -> AsyncIterator[ModelEvent]:
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage = Usage()
        finished = False
        done = False
        response_id = None
        async for chunk in post.events():
            if chunk == DONE:
                done = True
                break
            if not isinstance(chunk, dict):
                continue
            if isinstance(chunk.get("error"), dict | str):
                err = chunk["error"]
                raise error_from_failed(err if isinstance(err, dict) else {"message": err})
            response_id = chunk.get("id") or response_id
            if chunk.get("usage"):
                usage = usage_from_chat(chunk["usage"])
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                content = delta.get("content")
                if isinstance(content, str) and content:
                    text.append(content)
                    yield TextDelta(content)
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if isinstance(reasoning, str) and reasoning:
                    yield ReasoningDelta(reasoning)
                for frag in delta.get("tool_calls") or []:
                    idx = _call_index(frag, calls)
                    acc = calls.setdefault(idx, {"id": "", "name": "", "arguments": ""})
                    if frag.get("id"):
                        acc["id"] = frag["id"]
                    fn = frag.get("function") or {}
                    if fn.get("name"):
                        acc["name"] += fn["name"]
                    if fn.get("arguments"):
                        acc["arguments"] += fn["arguments"]
                if choice.get("finish_reason"):
                    finished = True
        if not (done or finished):
            raise ModelError("stream closed before the completion finished", retryable=True)
        if text:
            yield ItemDone({"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": "".join(text)}]})
        for n, idx in enumerate(sorted(calls)):
            acc = calls[idx]
            yield ItemDone({"type": "function_call", "name": acc["name"],
                            "arguments": acc["arguments"] or "{}",
                            "call_id": acc["id"] or f"call_{n}"})
        yield Completed(response_id, usage)
