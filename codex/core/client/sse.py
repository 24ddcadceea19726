"""Server-sent events: `data:` lines grouped by blank lines into JSON payloads.

`SseDecoder` is fed lines in the HTTP worker thread, so JSON decoding stays off the event
loop; `parse_sse` wraps it for an async line source (tests, other transports).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

DONE = "[DONE]"  # the Chat Completions end-of-stream sentinel, passed through as is
DONE_BYTES = DONE.encode()


class SseDecoder:
    """Feed lines without their newline; get each complete event's payload, or None.
    Payloads that are not JSON (other than [DONE]) are skipped, as the spec says.

    Works on bytes (no decode per line): a streamed answer is one event per token, so this
    runs ten thousand times for a long answer."""

    def __init__(self) -> None:
        self._data: list[bytes] = []

    def feed(self, raw: bytes) -> Any | None:
        if not raw:
            return self.flush()
        if raw.startswith(b"data"):
            rest = raw[4:]
            if not rest:  # a bare "data" field: an empty value
                self._data.append(b"")
            elif rest[:1] == b":":
                self._data.append(rest[2:] if rest[1:2] == b" " else rest[1:])
        # Comments (":...") and the other fields (event, id, retry) carry nothing we use.
        return None

    def flush(self) -> Any | None:
        if not self._data:
            return None
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        if data.strip() == DONE_BYTES:
            return DONE
        try:
            return json.loads(data)
        except UnicodeDecodeError:
            try:
                return json.loads(data.decode("utf-8", "replace"))
            except ValueError:
                return None
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
