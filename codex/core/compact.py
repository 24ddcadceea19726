"""Compaction: the summary request and the history that replaces the old one (pure functions).

Spec session.md, "Auto-compaction". The request is an ordinary request with no tools whose
input is the history plus one user message asking for a handoff summary. The new history is:
the initial context (instructions, AGENTS.md, the latest environment context), the user's own
messages so far (the most recent ones, about `USER_MESSAGES_TOKEN_BUDGET` tokens in all), then
one user message introducing the summary (`history.SUMMARY_PREFIX`) followed by it.
"""

from __future__ import annotations

from typing import Any

from codex.core.history import (
    BYTES_PER_TOKEN,
    SUMMARY_PREFIX,
    is_context_message,
    is_user_turn,
    message_text,
    user_message,
)

USER_MESSAGES_TOKEN_BUDGET = 20_000

# Our own words: what the summary must hold so that another model can carry on.
SUMMARY_REQUEST = """\
Stop here: the conversation is about to be handed over to another assistant that will not \
see it, only your summary and the user's own messages. Write that handoff summary now. \
Cover, in plain text:
- the task as the user stated it, and any constraints or preferences they gave;
- what has been done so far, and what was found out (including what did not work);
- decisions taken and why;
- exact details the next assistant needs: file paths, function names, commands and their \
results, error messages, versions, identifiers;
- what is left to do, in order, and the very next step.
Be complete but concise; do not call any tools."""


def summary_request() -> dict[str, Any]:
    return user_message(SUMMARY_REQUEST)


def summary_message(summary: str) -> dict[str, Any]:
    return user_message(f"{SUMMARY_PREFIX}\n\n{summary.strip()}")


def recent_user_messages(items: list[dict[str, Any]],
                         budget_tokens: int = USER_MESSAGES_TOKEN_BUDGET) -> list[dict[str, Any]]:
    """The user's own messages, newest kept first, within `budget_tokens` (the oldest one
    kept may be cut to fit), in their original order."""
    budget = budget_tokens * BYTES_PER_TOKEN
    kept: list[dict[str, Any]] = []
    for item in reversed([it for it in items if is_user_turn(it)]):
        text = message_text(item)
        size = len(text.encode("utf-8", "surrogateescape"))
        if size <= budget:
            kept.append(item)
            budget -= size
            continue
        if budget > 0:
            cut = text.encode("utf-8", "surrogateescape")[:budget].decode("utf-8", "ignore")
            kept.append(user_message(cut + "\n… (cut)"))
        break
    kept.reverse()
    return kept


def initial_context(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The context messages the history starts with (instructions, AGENTS.md, environment),
    with only the latest environment context kept."""
    from codex.core.history import ENVIRONMENT_PREFIX, SUMMARY_PREFIX, USER_SHELL_PREFIX

    out: list[dict[str, Any]] = []
    latest_env: dict[str, Any] | None = None
    for item in items:
        if item.get("type", "message") != "message":
            continue
        text = message_text(item)
        if item.get("role") in ("developer", "system"):
            out.append(item)
        elif is_context_message(item):
            if text.startswith(ENVIRONMENT_PREFIX):
                latest_env = item
            elif not text.startswith((SUMMARY_PREFIX, USER_SHELL_PREFIX)):
                out.append(item)  # AGENTS.md
    if latest_env is not None:
        out.append(latest_env)
    return out


def compacted_history(items: list[dict[str, Any]], summary: str) -> list[dict[str, Any]]:
    """The history that replaces `items` once `summary` is written."""
    return [*initial_context(items), *recent_user_messages(items), summary_message(summary)]
