"""Server-sent events: `data:` lines grouped by blank lines into JSON payloads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

DONE = object()  # the Chat Completions `data: [DONE]` sentinel


async def parse_sse(lines: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    """Yield each event's decoded JSON (or DONE); unparseable events are skipped."""
    data: list[str] = []
    async for raw in lines:
        line = raw.decode("utf-8", "replace")
        if not line:
            if data:
                ev = _decode("\n".join(data))
                data = []
                if ev is not None:
                    yield ev
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
    if data:
        ev = _decode("\n".join(data))
        if ev is not None:
            yield ev


def _decode(text: str) -> Any:
    if text.strip() == "[DONE]":
        return DONE
    try:
        return json.loads(text)
    except ValueError:
        return None
