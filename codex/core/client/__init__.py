"""Model clients: Responses (SSE) and Chat Completions, one interface, the same events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from codex.core.client.errors import ModelError
from codex.core.client.events import (
    Completed,
    ItemAdded,
    ItemDone,
    ModelEvent,
    ReasoningDelta,
    Reconnecting,
    TextDelta,
    Usage,
)

if TYPE_CHECKING:
    from codex.core.client.base import ModelClient, Prompt

__all__ = [
    "Completed", "ItemAdded", "ItemDone", "ModelClient", "ModelError", "ModelEvent", "Prompt",
    "ReasoningDelta", "Reconnecting", "TextDelta", "Usage", "make_client",
]


def __getattr__(name: str) -> Any:
    # The clients pull in requests (~0.2 s); `codex.core.protocol` only needs `Usage`, and the
    # interactive UI imports it before its composer is drawn.
    if name in ("ModelClient", "Prompt"):
        from codex.core.client import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_client(provider: Mapping[str, Any], **kwargs: Any) -> ModelClient:
    """The client for the provider's `wire_api`."""
    wire = provider.get("wire_api", "responses")
    if wire not in ("responses", "chat"):
        from codex.config import ConfigError

        raise ConfigError(f"model provider {provider.get('id')!r}: invalid wire_api {wire!r} "
                          "(expected \"responses\" or \"chat\")")
    if not provider.get("base_url"):
        from codex.config import ConfigError

        raise ConfigError(f"model provider {provider.get('id')!r} has no base_url")
    if wire == "chat":
        from codex.core.client.chat import ChatClient

        return ChatClient(provider, **kwargs)
    from codex.core.client.responses import ResponsesClient

    return ResponsesClient(provider, **kwargs)
