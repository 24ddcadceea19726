"""A streaming POST run by `requests` in a worker thread, its SSE events fed to the loop.

`requests` blocks, so each request gets a daemon thread that reads the body as it arrives,
decodes the server-sent events, and hands them to the loop. The loop side waits with the idle
timeout, and closing the stream from the loop unblocks the thread.

The hand-off is the per-delta hot path of a streamed answer (a server sends one small chunk per
token): the worker appends to an inbox and wakes the loop only when the inbox was empty, and
the loop drains everything that arrived meanwhile in one go, arming the idle timer only when
it actually has to wait. One `call_soon_threadsafe` and one timer per token cost more than
decoding it.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import requests

from codex.core.client.sse import SseDecoder

CONNECT_TIMEOUT_S = 30.0


class TransportError(Exception):
    """The connection failed or broke (retryable at the HTTP or stream layer)."""


class StreamingPost:
    """One POST whose response body is consumed line by line from asyncio."""

    def __init__(self, session: requests.Session, url: str, headers: Mapping[str, str],
                 body: Mapping[str, Any], idle_timeout_s: float) -> None:
        self._session = session
        self._url = url
        self._headers = dict(headers)
        self._body = json.dumps(body).encode()
        self._idle = idle_timeout_s
        self._inbox: list[tuple] = []  # filled by the worker, under _lock
        self._lock = threading.Lock()
        self._wake_pending = False  # a wake-up is scheduled and not yet consumed
        self._ready: deque[tuple] = deque()  # drained from the inbox, loop side only
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._sock: socket.socket | None = None
        self._finished = False
        self._closed = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self._thread = threading.Thread(target=self._run, name="codex-http", daemon=True)

    # -- worker thread -------------------------------------------------------------------
    def _put(self, msg: tuple) -> None:
        with self._lock:
            self._inbox.append(msg)
            if self._wake_pending:
                return  # the loop has not drained the inbox yet: it will see this too
            self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            self._closed = True

    def _run(self) -> None:
        try:
            resp = self._session.post(self._url, data=self._body, headers=self._headers,
                                      stream=True, timeout=(CONNECT_TIMEOUT_S, self._idle))
        except requests.RequestException as e:
            self._put(("error", _describe(e)))
            return
        conn = getattr(resp.raw, "connection", None) or getattr(resp.raw, "_connection", None)
        self._sock = getattr(conn, "sock", None)
        self._put(("status", resp.status_code, {k.lower(): v for k, v in resp.headers.items()}))
        try:
            if resp.status_code >= 400:
                self._put(("body", resp.content.decode("utf-8", "replace")))
                return
            raw = resp.raw
            read = raw.read1 if hasattr(raw, "read1") else raw.read
            decoder = SseDecoder()
            pending = b""
            while not self._closed:
                chunk = read(65536)
                if not chunk:
                    break
                pending += chunk
                if b"\n" in pending:
                    *lines, pending = pending.split(b"\n")
                    events = [ev for ev in (decoder.feed(x.rstrip(b"\r")) for x in lines)
                              if ev is not None]
                    if events:
                        self._put(("events", events))
            if not self._closed:
                tail = [decoder.feed(pending.rstrip(b"\r"))] if pending else []
                tail.append(decoder.flush())
                events = [ev for ev in tail if ev is not None]
                if events:
                    self._put(("events", events))
            self._put(("eof",))
        except Exception as e:  # noqa: BLE001 - any read failure ends this attempt
            self._put(("error", self._idle_message() if _is_timeout(e) else _describe(e)))
        finally:
            self._finished = True
            resp.close()

    # -- loop side -----------------------------------------------------------------------
    def _drain(self) -> None:
        with self._lock:
            self._ready.extend(self._inbox)
            self._inbox.clear()
            if not self._ready:
                # Cleared under the lock: a message put after this schedules a new set().
                self._wake_pending = False
                self._wake.clear()

    async def _get(self) -> tuple:
        while not self._ready:
            self._drain()
            if self._ready:
                break
            # asyncio.timeout, not wait_for: in 3.11 wait_for swallows a cancellation
            # (Ctrl-C) that lands just as a message arrives, leaving the turn running.
            try:
                async with asyncio.timeout(self._idle):
                    await self._wake.wait()
            except TimeoutError:
                self.close()
                raise TransportError(self._idle_message()) from None
        return self._ready.popleft()

    def _idle_message(self) -> str:
        return f"idle timeout: no data from the model for {self._idle:g} s"

    async def start(self) -> int:
        """Send the request; return the HTTP status (raises TransportError)."""
        self._thread.start()
        msg = await self._get()
        if msg[0] == "error":
            raise TransportError(msg[1])
        _, self.status, self.headers = msg
        return self.status

    async def error_body(self) -> str:
        msg = await self._get()
        return msg[1] if msg[0] == "body" else ""

    async def batches(self) -> AsyncIterator[list[Any]]:
        """Yield the body's SSE payloads (decoded JSON, or DONE) in lists of those that are
        ready together (so a consumer can merge a run of deltas); TransportError if the body
        breaks off."""
        while True:
            msg = await self._get()
            kind = msg[0]
            if kind == "events":
                batch = list(msg[1])
                self._drain()
                while self._ready and self._ready[0][0] == "events":
                    batch.extend(self._ready.popleft()[1])
                yield batch
            elif kind == "eof":
                return
            else:
                raise TransportError(msg[1])

    async def events(self) -> AsyncIterator[Any]:
        """Yield the body's SSE payloads one by one (see `batches`)."""
        async for batch in self.batches():
            for ev in batch:
                yield ev

    def close(self) -> None:
        """Stop reading. Never blocks: closing the response from this thread would wait for
        the buffer lock the worker holds while blocked in recv(); shutting the socket down
        instead wakes that recv, and the worker closes the response itself."""
        self._closed = True
        sock = self._sock
        if sock is not None and not self._finished:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _is_timeout(e: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    return isinstance(e, ReadTimeoutError | socket.timeout | requests.Timeout)


_OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")


def _describe(e: BaseException) -> str:
    if isinstance(e, requests.ConnectionError):
        inner = e.args[0] if e.args else e
        reason = str(getattr(inner, "reason", None) or inner)
        # urllib3 wraps the OS error in its connection's repr: keep what the user can act on
        # ("[Errno 111] Connection refused", "[Errno -2] Name or service not known").
        m = _OS_ERROR.search(reason)
        return f"connection error: {m.group(0).rstrip() if m else reason}"
    if isinstance(e, requests.Timeout):
        return "timed out waiting for the model"
    return f"{type(e).__name__}: {e}"
