"""A TCP proxy on loopback that a test can cut or freeze: the network faults a websocket
client meets (a connection reset mid-stream; answers that never arrive)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task] = field(default_factory=list)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target_port`. `cut()` resets every open connection
    (both sides see the reset) and keeps listening; while `freeze_down` is set, what the
    server sends is read and thrown away (the client hears nothing)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.freeze_down = False
        self.up_bytes = 0  # forwarded client -> server
        self.dropped_bytes = 0  # thrown away while frozen
        self.cuts = 0
        self.refused = 0  # connections turned away while down
        self._down_until = 0.0
        self.changed = asyncio.Event()  # set on every byte count change
        self._pairs: set[_Pair] = set()
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if asyncio.get_running_loop().time() < self._down_until:
            self.refused += 1
            writer.transport.abort()  # the network is "down": reset at once
            self._changed()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(writer, up_writer)
        self._pairs.add(pair)
        pair.tasks = [asyncio.ensure_future(self._pump(reader, up_writer, up=True)),
                      asyncio.ensure_future(self._pump(up_reader, writer, up=False))]
        await asyncio.gather(*pair.tasks, return_exceptions=True)
        self._pairs.discard(pair)
        for w in (writer, up_writer):
            w.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    up: bool) -> None:
        while data := await reader.read(65536):
            if up:
                self.up_bytes += len(data)
            elif self.freeze_down:
                self.dropped_bytes += len(data)
                self._changed()
                continue
            writer.write(data)
            await writer.drain()
            self._changed()

    def _changed(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def cut(self) -> None:
        """Reset every open connection now (RST to both sides)."""
        self.cuts += 1
        for pair in list(self._pairs):
            for t in pair.tasks:
                t.cancel()
            for w in (pair.client, pair.upstream):
                with contextlib.suppress(Exception):
                    w.transport.abort()
        self._pairs.clear()

    def go_down(self, seconds: float) -> None:
        """Cut every connection and reset new ones for `seconds` (a drop that lasts)."""
        self._down_until = asyncio.get_running_loop().time() + seconds
        self.cut()

    async def wait_for(self, predicate, timeout: float = 30.0) -> None:
        """Until `predicate(self)` holds (re-checked on every forwarded/dropped byte)."""
        async def wait() -> None:
            while not predicate(self):
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)
