"""The conversation history: Responses-shaped items, and what the session needs to know of them.

Items are plain dicts exactly as they are sent to the model (`message`, `reasoning`,
`function_call`, `function_call_output`, `custom_tool_call`, `custom_tool_call_output`). Some
user messages are context the session wrote, not words the user typed: the AGENTS.md
instructions, the `<environment_context>` block, a `!cmd` the user ran (`<user_shell_command>`)
and a compaction summary. Rollback and compaction count only the user's own messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

BYTES_PER_TOKEN = 4  # the spec's estimate for servers that report no usage

AGENTS_PREFIX = "# AGENTS.md instructions"
ENVIRONMENT_PREFIX = "<environment_context>"
USER_SHELL_PREFIX = "<user_shell_command>"
# Our own words (spec session.md, "Auto-compaction"): how the summary is introduced.
SUMMARY_PREFIX = (
    "Another language model worked on this task before you and had to hand it over. It wrote "
    "the summary below of what was done, what was decided and what is left; the user's own "
    "messages so far are above it. Continue the work from here.")
CONTEXT_PREFIXES = (AGENTS_PREFIX, ENVIRONMENT_PREFIX, USER_SHELL_PREFIX, SUMMARY_PREFIX)


def user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]}


def message_text(item: dict[str, Any]) -> str:
    """The text of a message item (all its text parts, joined)."""
    parts = item.get("content") or []
    if isinstance(parts, str):
        return parts
    return "".join(p.get("text", "") for p in parts
                   if isinstance(p, dict) and isinstance(p.get("text"), str))


def reasoning_text(item: dict[str, Any]) -> str:
    parts = item.get("summary") or []
    return "\n\n".join(p.get("text", "") for p in parts if isinstance(p, dict)).strip()


def is_assistant_message(item: dict[str, Any]) -> bool:
    return item.get("type") == "message" and item.get("role", "assistant") == "assistant"


def is_user_message(item: dict[str, Any]) -> bool:
    return item.get("type", "message") == "message" and item.get("role") == "user"


def is_context_message(item: dict[str, Any]) -> bool:
    """A user-role message the session wrote (instructions, environment, notes, summary)."""
    return is_user_message(item) and message_text(item).lstrip().startswith(CONTEXT_PREFIXES)


def is_user_turn(item: dict[str, Any]) -> bool:
    """A message the user typed: the start of a user turn."""
    return is_user_message(item) and not is_context_message(item)


def for_history(item: dict[str, Any]) -> dict[str, Any]:
    """A model output item as it is kept: with `store: false` the server keeps nothing, so its
    item ids must not be replayed (reasoning items travel with their encrypted content)."""
    if item.get("type") == "reasoning":
        return item
    return {k: v for k, v in item.items() if k != "id"}


def drop_user_turns(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """`items` without its last `n` user turns (each from the user's message to the end of
    what followed it). Context written before the first dropped turn stays."""
    if n <= 0:
        return list(items)
    starts = [i for i, it in enumerate(items) if is_user_turn(it)]
    if not starts:
        return list(items)
    cut = starts[-min(n, len(starts))]
    return list(items[:cut])


def item_bytes(item: dict[str, Any]) -> int:
    return len(json.dumps(item, ensure_ascii=False).encode("utf-8", "surrogateescape"))


def estimate_tokens(n_bytes: int) -> int:
    return -(-n_bytes // BYTES_PER_TOKEN)


class History:
    """The items sent to the model, with their size kept up to date (for the estimate the
    spec asks for when a server reports no usage)."""

    def __init__(self, items: Iterable[dict[str, Any]] = ()) -> None:
        self._items: list[dict[str, Any]] = []
        self._bytes = 0
        self.replace(items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    @property
    def items(self) -> list[dict[str, Any]]:
        """A copy: what one request sends."""
        return list(self._items)

    def append(self, item: dict[str, Any]) -> None:
        self._items.append(item)
        self._bytes += item_bytes(item)

    def replace(self, items: Iterable[dict[str, Any]]) -> None:
        self._items = list(items)
        self._bytes = sum(item_bytes(it) for it in self._items)

    def drop_user_turns(self, n: int) -> int:
        """Drop the last `n` user turns; returns how many were dropped."""
        before = sum(1 for it in self._items if is_user_turn(it))
        self.replace(drop_user_turns(self._items, n))
        return before - sum(1 for it in self._items if is_user_turn(it))

    def user_turns(self) -> int:
        return sum(1 for it in self._items if is_user_turn(it))

    @property
    def estimated_tokens(self) -> int:
        return estimate_tokens(self._bytes)

    def last_environment(self) -> str | None:
        for item in reversed(self._items):
            if is_user_message(item):
                text = message_text(item)
                if text.startswith(ENVIRONMENT_PREFIX):
                    return text
        return None
