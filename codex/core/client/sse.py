"""Server-sent events: `data:` lines grouped by blank lines into JSON payloads.

`SseDecoder` is fed lines in the HTTP worker thread, so JSON decoding stays off the event
loop; `parse_sse` wraps it for an async line source (tests, other transports).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

DONE = "[DONE]"  # the Chat Completions end-of-stream sentinel, passed through as is


class SseDecoder:
    """Feed lines without their newline; get each complete event's payload, or None.
    Payloads that are not JSON (other than [DONE]) are skipped, as the spec says."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, raw: bytes) -> Any | None:
        line = raw.decode("utf-8", "replace")
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def flush(self) -> Any | None:
        if not self._data:
            return None
        text = "\n".join(self._data)
        self._data = []
        if text.strip() == DONE:
            return DONE
        try:
            return json.loads(text)
        except ValueError:
            return None


async def parse_sse(lines: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    decoder = SseDecoder()
    async for raw in lines:
        ev = decoder.feed(raw)
        if ev is not None:
            yield ev
    ev = decoder.flush()
    if ev is not None:
        yield ev
