"""The client end of the exec-server's JSON-RPC: requests matched to answers by id,
notifications handed to a callback, all built and parsed by `protocol` (the same envelopes
and decoders the server uses).

One client lives as long as one transport; when the transport ends every pending request
fails with ExecServerDisconnected and `on_lost` is called once. Requests from the server are
answered "method not found" (we serve none); frames that are not messages are logged and
skipped, the link stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from codex.errors import CodexError
from codex.exec_server import protocol as p
from codex.exec_server.client_transport import (
    ClientTransport,
    DisconnectReason,
    ExecServerDisconnected,
    ExecServerError,
)

log = logging.getLogger(__name__)


class JsonRpcClient:
    """Requests/notifications over one ClientTransport, in `dialect`'s envelope."""

    def __init__(
        self,
        transport: ClientTransport,
        on_notification: Callable[[str, Mapping[str, Any]], None],
        on_lost: Callable[[ExecServerDisconnected], None],
        *,
        dialect: p.Dialect = p.Dialect.CODEX,
    ) -> None:
        self.transport = transport
        self.dialect = dialect
        self._on_notification = on_notification
        self._on_lost = on_lost
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.lost: ExecServerDisconnected | None = None  # once the transport is gone
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """The result of `method`; ExecServerError for an error answer,
        ExecServerDisconnected when the link goes before the answer comes."""
        if self.lost is not None:
            raise self.lost
        req_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            await self.transport.send(p.encode(p.request(req_id, method, params, self.dialect)))
            return await fut
        except ExecServerDisconnected as e:
            self._lose(e)
            raise self.lost or e from None
        finally:
            self._pending.pop(req_id, None)

    async def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        if self.lost is not None:
            raise self.lost
        try:
            await self.transport.send(p.encode(p.notification(method, params, self.dialect)))
        except ExecServerDisconnected as e:
            self._lose(e)
            raise

    def notify_soon(self, method: str, params: Mapping[str, Any]) -> None:
        """Send a notification in the background (nobody waits for it; a lost link is
        reported through on_lost anyway)."""
        if self.lost is not None:
            return

        async def send() -> None:
            with contextlib.suppress(ExecServerDisconnected):
                await self.notify(method, params)

        task = asyncio.get_running_loop().create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_loop(self) -> None:
        end: ExecServerDisconnected | None = None
        try:
            while True:
                text = await self.transport.recv()
                if text is None:
                    end = self.transport.end()
                    return
                self._dispatch(text)
        except ExecServerDisconnected as e:
            end = e
        except OSError as e:
            end = ExecServerDisconnected(DisconnectReason.TRANSPORT_ERROR, f"transport error: {e}")
        finally:
            self._lose(end or ExecServerDisconnected(DisconnectReason.CLOSED_BY_CLIENT,
                                                     "connection closed by client"))

    def _dispatch(self, text: str) -> None:
        try:
            msg = p.parse_message(text)
        except p.ParseError as e:
            log.warning("exec-server sent a frame that is not a message (%s): %.200r",
                        e.message, text)
            return
        if isinstance(msg, p.Notification):
            self._on_notification(msg.method, msg.params)
        elif isinstance(msg, p.Request):
            # We serve no requests; answer so the server is not left waiting.
            err = p.ProtocolError(p.METHOD_NOT_FOUND, "client serves no methods")
            self._send_soon(p.error_response(msg.id, err, msg.dialect))
        else:
            self._on_response(msg)

    def _on_response(self, msg: p.Response) -> None:
        fut = self._pending.get(msg.id) if isinstance(msg.id, int) else None
        if fut is None or fut.done():
            if msg.error is not None:
                log.warning("exec-server error not matching a request: %.300r", msg.error)
            return
        if msg.error is not None:
            code = msg.error.get("code")
            fut.set_exception(ExecServerError(
                code if isinstance(code, int) else p.INTERNAL_ERROR,
                str(msg.error.get("message", "exec-server error")), msg.error.get("data")))
        else:
            fut.set_result(msg.result)

    def _send_soon(self, msg: Mapping[str, Any]) -> None:
        async def send() -> None:
            with contextlib.suppress(CodexError, OSError):
                await self.transport.send(p.encode(msg))

        task = asyncio.get_running_loop().create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _lose(self, error: ExecServerDisconnected) -> None:
        if self.lost is not None:
            return
        self.lost = error
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(error)
        self._on_lost(error)

    async def close(self) -> None:
        try:
            await self.transport.close()
        finally:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), 5)
            if not self._reader.done():
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
            for t in list(self._tasks):
                t.cancel()
            self._lose(ExecServerDisconnected(DisconnectReason.CLOSED_BY_CLIENT,
                                              "connection closed by client"))
