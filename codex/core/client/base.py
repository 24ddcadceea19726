"""The one model-client interface: `stream(prompt)` yields ModelEvents, retries included.

Two layers of retry, as the spec says. The HTTP layer re-sends a request that got a 5xx or
could not connect, up to `request_max_retries`, with exponential backoff. The stream layer
re-runs a whole attempt (announcing `Reconnecting... N/M`) when the stream broke, ended early,
idled out, or the server said 429 / `response.failed` with a retryable error.
"""

from __future__ import annotations

import asyncio
import os
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from codex import __version__
from codex.core.client.errors import ModelError, error_from_body, parse_retry_after
from codex.core.client.events import ModelEvent, Reconnecting
from codex.core.client.transport import StreamingPost, TransportError

# Spec: backoff from 200 ms, doubling, +-10 % jitter.
BACKOFF_BASE_MS = 200
BACKOFF_FACTOR = 2.0
BACKOFF_JITTER = 0.10
# (ours) Tests and benchmarks shrink the base backoff with this variable.
BACKOFF_ENV = "CODEX_RETRY_BASE_MS"

DEFAULT_REQUEST_MAX_RETRIES = 4
DEFAULT_STREAM_MAX_RETRIES = 5
DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000


def backoff_s(attempt: int) -> float:
    """Delay before retry number `attempt` (1-based)."""
    try:
        base = float(os.environ.get(BACKOFF_ENV, BACKOFF_BASE_MS))
    except ValueError:
        base = BACKOFF_BASE_MS
    delay = base * BACKOFF_FACTOR ** (attempt - 1) / 1000
    return delay * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)


@dataclass
class Prompt:
    """Everything one model request needs; `input` is the whole history, Responses-shaped."""

    instructions: str
    input: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    output_schema: Any = None
    # False for a compaction request (no tools; spec session.md, "Auto-compaction").
    parallel_tool_calls: bool = True


class ModelClient(ABC):
    """Shared plumbing: URL, headers, HTTP-layer and stream-layer retries."""

    path = ""

    def __init__(self, provider: Mapping[str, Any], *, model: str, api_key: str | None,
                 session_id: str, originator: str = "codex_exec",
                 reasoning_effort: str | None = None, reasoning_summary: str | None = None,
                 verbosity: str | None = None) -> None:
        self.provider = provider
        self.model = model
        self.api_key = api_key
        self.session_id = session_id
        self.originator = originator
        self.reasoning_effort = reasoning_effort
        self.reasoning_summary = reasoning_summary
        self.verbosity = verbosity
        self.request_max_retries = int(provider.get("request_max_retries",
                                                    DEFAULT_REQUEST_MAX_RETRIES))
        self.stream_max_retries = int(provider.get("stream_max_retries",
                                                   DEFAULT_STREAM_MAX_RETRIES))
        self.idle_timeout_s = int(provider.get("stream_idle_timeout_ms",
                                               DEFAULT_STREAM_IDLE_TIMEOUT_MS)) / 1000
        self._session = requests.Session()
        # No proxy from the environment for a server on this machine.
        self._session.trust_env = not _is_loopback(self.url)

    @property
    def url(self) -> str:
        base = str(self.provider.get("base_url") or "").rstrip("/")
        url = f"{base}{self.path}"
        params = self.provider.get("query_params")
        if isinstance(params, Mapping) and params:
            url += ("&" if "?" in url else "?") + urlencode({k: str(v) for k, v in params.items()})
        return url

    def headers(self) -> dict[str, str]:
        h = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "originator": self.originator,
            "user-agent": f"codex-py/{__version__} ({self.originator})",
            "session-id": self.session_id,
        }
        if self.api_key:
            h["authorization"] = f"Bearer {self.api_key}"
        for k, v in (self.provider.get("http_headers") or {}).items():
            h[str(k).lower()] = str(v)
        for k, env in (self.provider.get("env_http_headers") or {}).items():
            value = os.environ.get(str(env))
            if value:
                h[str(k).lower()] = value
        return h

    @abstractmethod
    def body(self, prompt: Prompt) -> dict[str, Any]:
        """The request body for this wire."""

    @abstractmethod
    def _events(self, post: StreamingPost) -> AsyncIterator[ModelEvent]:
        """This wire's stream decoded into internal events."""

    async def _open(self, body: dict[str, Any]) -> AsyncIterator[StreamingPost | Reconnecting]:
        """Send the request, retrying 5xx and connection errors (the HTTP layer): yields
        Reconnecting before each retry, then the open post. ModelError when out of retries
        (naming the URL and what to check) or for an error no retry can fix."""
        attempt = 0
        while True:
            post = StreamingPost(self._session, self.url, self.headers(), body,
                                 self.idle_timeout_s)
            unreachable = False
            try:
                status = await post.start()
            except TransportError as e:
                err = ModelError(str(e), retryable=True)
                unreachable = True
            else:
                if status < 400:
                    if _media_type(post.headers) == "text/html":
                        # A captive portal, a proxy's login page, or a base_url pointing at a
                        # website: no retry will turn that into a model stream.
                        post.close()
                        raise ModelError(
                            f"{self.url} answered with an HTML page (HTTP {status}), not an "
                            "event stream: check the provider's base_url, or a proxy in the way",
                            retryable=False, status=status)
                    yield post
                    return
                text = await post.error_body()
                post.close()
                err = error_from_body(status, text,
                                      parse_retry_after(post.headers.get("retry-after")))
                if status < 500:
                    raise err
            if attempt >= self.request_max_retries:
                raise ModelError(self._gave_up(err, unreachable), retryable=False,
                                 status=err.status)
            attempt += 1
            yield Reconnecting(attempt, self.request_max_retries, err.message, layer="request")
            await asyncio.sleep(backoff_s(attempt))

    def _gave_up(self, err: ModelError, unreachable: bool) -> str:
        """The message once the HTTP layer's retries are spent: where, why, what to check."""
        provider = str(self.provider.get("id") or self.provider.get("name") or "")
        limit = f"exceeded retry limit ({self.request_max_retries} retries)"
        base = self.provider.get("base_url")
        where = f"model provider {provider!r} (base_url {base})" if provider else \
            f"base_url {base}"
        if unreachable:
            return (f"cannot reach {self.url}: {err.message}; {limit}. Check that the server "
                    f"is running and reachable from here, the {where} in config.toml"
                    + (" or OPENAI_BASE_URL" if provider == "openai" else "")
                    + ", and any proxy in between")
        return (f"{self.url} kept failing: {err.message}; {limit}. The server is reachable "
                "but erroring: try again later, or check the status of the "
                f"{where}")

    async def stream(self, prompt: Prompt) -> AsyncIterator[ModelEvent]:
        """Sample once; yields Reconnecting before every stream-layer retry."""
        body = self.body(prompt)
        attempt = 0
        while True:
            post = None
            try:
                async for opened in self._open(body):
                    if isinstance(opened, Reconnecting):
                        yield opened  # an HTTP-layer retry, announced like a stream one
                    else:
                        post = opened
                assert post is not None
                async for ev in self._events(post):
                    yield ev
                return
            except TransportError as e:
                err = ModelError(str(e), retryable=True)
            except ModelError as e:
                err = e
            finally:
                if post is not None:
                    post.close()
            if not err.retryable or attempt >= self.stream_max_retries:
                raise err
            attempt += 1
            yield Reconnecting(attempt, self.stream_max_retries, err.message)
            delay = err.retry_after if err.retry_after is not None else backoff_s(attempt)
            await asyncio.sleep(delay)

    def close(self) -> None:
        self._session.close()


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _media_type(headers: Mapping[str, str]) -> str:
    """`text/html` from `Content-Type: text/html; charset=utf-8` (lower case, no params)."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()
