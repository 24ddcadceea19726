"""What a model client yields: the same small events for the Responses and Chat wires."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_output_tokens + other.reasoning_output_tokens,
            self.total_tokens + other.total_tokens,
        )

    def to_json(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_output_tokens": self.reasoning_output_tokens,
        }


@dataclass(frozen=True, slots=True)
class ItemAdded:
    """An output item started streaming (for progress display only)."""

    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TextDelta:
    delta: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    delta: str


@dataclass(frozen=True, slots=True)
class ItemDone:
    """A finished output item: the authoritative one that is recorded and executed."""

    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Completed:
    response_id: str | None
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The stream failed and is being retried: forget the items of the failed attempt."""

    attempt: int
    max_attempts: int
    reason: str
    layer: str = "stream"  # "stream": a whole attempt again; "request": the HTTP request again

    @property
    def message(self) -> str:
        return f"Reconnecting... {self.attempt}/{self.max_attempts} ({self.reason})"


ModelEvent = ItemAdded | TextDelta | ReasoningDelta | ItemDone | Completed | Reconnecting
