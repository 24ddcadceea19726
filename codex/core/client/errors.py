"""Model errors: whether they may be retried, and after how long."""

from __future__ import annotations

import json
import re

from codex.errors import CodexError

# Error codes that no retry can fix.
FATAL_CODES = frozenset({"context_length_exceeded", "insufficient_quota", "invalid_prompt"})

_TRY_AGAIN = re.compile(r"try again in\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?)\b", re.I)


class ModelError(CodexError):
    """A failed model request. `retryable` errors go through the stream-retry loop."""

    def __init__(self, message: str, *, retryable: bool, code: str | None = None,
                 status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code
        self.status = status
        self.retry_after = retry_after


def try_again_hint(message: str) -> float | None:
    """Seconds from a `try again in 1.5s` / `try again in 250ms` hint, if any."""
    m = _TRY_AGAIN.search(message or "")
    if not m:
        return None
    value = float(m.group(1))
    return value / 1000 if m.group(2).lower() == "ms" else value


def parse_retry_after(value: str | None) -> float | None:
    """The `Retry-After` header in seconds (only the delta-seconds form is honoured)."""
    if not value:
        return None
    try:
        secs = float(value.strip())
    except ValueError:
        return None
    return secs if secs >= 0 else None


def error_from_body(status: int, body: str, retry_after: float | None) -> ModelError:
    """Turn a non-2xx HTTP answer into a ModelError; the body's message is what people see."""
    code = None
    message = body.strip() or f"HTTP {status}"
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            code = err.get("code") or err.get("type")
            message = str(err.get("message") or message)
        elif isinstance(err, str):
            message = err
    if status >= 500:
        retryable = True
    elif status == 429:
        retryable = code not in FATAL_CODES
        if retry_after is None:
            retry_after = try_again_hint(message)
    else:
        retryable = False
    if code in FATAL_CODES:
        retryable = False
    if code == "context_length_exceeded":
        message = f"the conversation is too long for the model's context window: {message}"
    elif code == "insufficient_quota":
        message = f"quota exceeded: {message}"
    return ModelError(f"{message}" if status < 500 else f"HTTP {status}: {message}",
                      retryable=retryable, code=code, status=status, retry_after=retry_after)


def error_from_failed(error: dict | None) -> ModelError:
    """A `response.failed` event's error."""
    error = error if isinstance(error, dict) else {}
    code = error.get("code") or error.get("type")
    message = str(error.get("message") or "the model response failed")
    retryable = code not in FATAL_CODES
    return ModelError(message, retryable=retryable, code=code,
                      retry_after=try_again_hint(message) if retryable else None)
