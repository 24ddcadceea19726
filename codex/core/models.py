"""What the session knows of models: context windows (spec session.md, "Auto-compaction").

`model_context_window` in config wins; otherwise a family's window from the table below, and
128,000 tokens for a model we do not know.
"""

from __future__ import annotations

FALLBACK_CONTEXT_WINDOW = 128_000
# Compaction starts at this fraction of the window unless `model_auto_compact_token_limit` says.
AUTO_COMPACT_FRACTION = 0.9

# (model name prefix, context window in tokens); the first match wins.
_CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-5", 272_000),
    ("codex-", 272_000),
    ("gpt-4.1", 1_047_576),
    ("o3", 200_000),
    ("o4", 200_000),
    ("gpt-4o", 128_000),
    ("gpt-oss", 128_000),
)


def context_window(model: str, configured: int | None = None) -> int:
    """The context window of `model` in tokens."""
    if configured:
        return int(configured)
    name = model.lower().rsplit("/", 1)[-1]  # "openai/gpt-5" on some routers
    for prefix, window in _CONTEXT_WINDOWS:
        if name.startswith(prefix):
            return window
    return FALLBACK_CONTEXT_WINDOW


def auto_compact_limit(window: int, configured: int | None = None) -> int:
    """Tokens in context (last input + output) from which the history is compacted."""
    if configured:
        return int(configured)
    return int(window * AUTO_COMPACT_FRACTION)


def percent_left(window: int | None, tokens_in_context: int) -> int | None:
    """Percent of the window still free (0..100), None without a window."""
    if not window:
        return None
    free = (window - tokens_in_context) / window
    return max(0, min(100, round(free * 100)))
