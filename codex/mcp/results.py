"""An MCP `CallToolResult` as the tool output the model reads (spec: "Client behaviour").

Works on the result as JSON (`content`, `structuredContent`, `isError`), so it needs no SDK:
- text parts are joined with newlines;
- `structuredContent`, when present, is the output as JSON text (servers also put the same
  JSON in a text part for old clients; sending both would say it twice);
- images become `input_image` parts where the wire carries them (Responses), else a note;
- audio, resource links and embedded resources become short descriptive text;
- `isError: true` makes the call a failed one (the model still reads the text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a call gives back: `text` always; `parts` (Responses `input_text` /
    `input_image` content items) only when the result holds images and the wire allows."""

    text: str
    success: bool
    parts: tuple[dict[str, Any], ...] | None = None

    def for_model(self) -> str | list[dict[str, Any]]:
        """The `output` of the function_call_output item."""
        return list(self.parts) if self.parts is not None else self.text


def _describe(part: Mapping[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text", ""))
    if kind == "image":
        return f"[image: {part.get('mimeType', 'unknown type')}]"
    if kind == "audio":
        return f"[audio: {part.get('mimeType', 'unknown type')}]"
    if kind == "resource_link":
        label = part.get("title") or part.get("name") or ""
        return f"[resource link: {part.get('uri', '')}{f' ({label})' if label else ''}]"
    if kind == "resource":
        res = part.get("resource") or {}
        if isinstance(res.get("text"), str):
            return res["text"]
        return f"[binary resource: {res.get('uri', '')} ({res.get('mimeType', 'unknown type')})]"
    return json.dumps(part, ensure_ascii=False)


def map_result(result: Mapping[str, Any], *, images: bool = True) -> ToolOutput:
    """The model's view of a `CallToolResult` (as JSON). `images`: may the output carry
    `input_image` parts (the Responses wire), or must images become text notes (Chat)."""
    content = [p for p in result.get("content") or [] if isinstance(p, Mapping)]
    success = not bool(result.get("isError"))
    structured = result.get("structuredContent")
    if structured is not None:
        body = json.dumps(structured, ensure_ascii=False)
        texts = [body] + [_describe(p) for p in content if p.get("type") not in ("text",)]
    else:
        texts = [_describe(p) for p in content]
    text = "\n".join(t for t in texts if t)
    has_images = any(p.get("type") == "image" and p.get("data") for p in content)
    if not (images and has_images):
        return ToolOutput(text, success)
    parts: list[dict[str, Any]] = []
    if structured is not None:
        parts.append({"type": "input_text", "text": json.dumps(structured, ensure_ascii=False)})
    for p in content:
        if p.get("type") == "image" and p.get("data"):
            url = f"data:{p.get('mimeType', 'image/png')};base64,{p['data']}"
            parts.append({"type": "input_image", "image_url": url})
        elif structured is None or p.get("type") != "text":
            parts.append({"type": "input_text", "text": _describe(p)})
    return ToolOutput(text, success, tuple(parts))


def failure(reason: str) -> ToolOutput:
    """A call that got no result (timeout, crash, declined): the model reads why."""
    return ToolOutput(reason, False)
