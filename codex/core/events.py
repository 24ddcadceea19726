"""What a turn reports to its front end (`codex exec` prints these as text or JSONL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codex.core.client.events import Usage


@dataclass(frozen=True, slots=True)
class TurnStarted:
    pass


@dataclass(frozen=True, slots=True)
class ItemStarted:
    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ItemUpdated:
    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ItemCompleted:
    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StreamNotice:
    """A non-fatal problem worth showing (e.g. `Reconnecting... 1/5 (...)`)."""

    message: str


@dataclass(frozen=True, slots=True)
class TurnCompleted:
    usage: Usage
    last_message: str | None


@dataclass(frozen=True, slots=True)
class TurnFailed:
    message: str


AgentEvent = (TurnStarted | ItemStarted | ItemUpdated | ItemCompleted | StreamNotice
              | TurnCompleted | TurnFailed)


class Emitter:
    """Hands events to the front end and numbers the items `item_0, item_1, ...`."""

    def __init__(self, sink: Callable[[AgentEvent], None]) -> None:
        self._sink = sink
        self._next = 0

    def new_item(self, kind: str, **fields: Any) -> dict[str, Any]:
        item = {"id": f"item_{self._next}", "type": kind, **fields}
        self._next += 1
        return item

    def __call__(self, event: AgentEvent) -> None:
        self._sink(event)
