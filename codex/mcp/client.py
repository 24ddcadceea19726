"""One MCP server connection, on the official `mcp` SDK (1.x) — the module that imports it.

`McpConnectionManager` loads this module in a worker thread, so nothing on the start-up path
pays for the SDK. The SDK's `ClientSession` speaks the protocol; the transports are the SDK's
streamable HTTP client and, for stdio, our own bridge over a `ServerProcess` (so the process
follows codex's rules: its own session, the orphan watchdog, the stderr tail in reasons, and
EOF → SIGTERM → SIGKILL of the whole group at the end).

Lifecycle: `start()` runs one long-lived task per connection that enters the transport and
the session (anyio's cancel scopes must be left by the task that entered them), performs
`initialize` and the first `tools/list` within `startup_timeout_sec`, reports READY and then
waits until `close()` or until the server dies. A dead server (exit, or the connection lost)
is FAILED with the reason; the next call restarts it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import httpx
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from codex import __version__
from codex.mcp.config import (
    HttpTransport,
    McpConfigError,
    McpServerConfig,
    StdioTransport,
    stdio_env,
)
from codex.mcp.config import http_headers as build_headers
from codex.mcp.status import ServerState
from codex.mcp.stdio import ServerProcess, SpawnFailed

log = logging.getLogger(__name__)

CLIENT_INFO = types.Implementation(name="codex", version=__version__)
EXIT_WAIT_S = 1.0  # for the exit code of a server whose output just closed
HTTP_TIMEOUT_S = 30.0  # connect / write; reads of a held stream may last longer
HTTP_READ_TIMEOUT_S = 300.0
MAX_LINE_BYTES = 64 << 20  # one JSON-RPC message (a screenshot's base64 can be large)
_DEAD_STREAM = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)
REQUEST_TIMEOUT = 408  # the SDK's McpError code for a read timeout
CONNECTION_CLOSED = -32000  # the SDK's code for "Connection closed"
CANCEL_SEND_S = 2.0  # sending notifications/cancelled must not hold the turn up

# The SDK logs transport failures with tracebacks; we report them as reasons instead.
if os.environ.get("CODEX_LOG", "").lower() != "debug":
    logging.getLogger("mcp").setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """A call's end: `result` is the `CallToolResult` as JSON, or None with `error` (why)."""

    result: dict[str, Any] | None
    error: str | None = None


class ConnectionFailed(Exception):
    """The connection cannot go on; `reason` is for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- stdio: JSON lines over the server's pipes ----------------------------------------------
@contextlib.asynccontextmanager
async def _stdio_streams(process: ServerProcess) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's (read, write) streams over a started server's stdout/stdin."""
    loop = asyncio.get_running_loop()
    stdin_fd, stdout_fd = process.take_pipes()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    r_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(stdout_fd, "rb", buffering=0))
    w_transport, w_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(stdin_fd, "wb", buffering=0))
    writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)

    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

    async def pump_out() -> None:
        async with read_send:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as e:
                    line = e.partial
                    if not line.strip():
                        return  # EOF: the session fails its pending requests
                except (asyncio.LimitOverrunError, OSError) as e:
                    log.warning("MCP server output unreadable: %s", e)
                    return
                if not line.strip():
                    continue
                try:
                    message = types.JSONRPCMessage.model_validate_json(line)
                except ValidationError:
                    # A server printing logs on stdout; not ours to crash on.
                    log.debug("ignoring non-JSON-RPC line from server: %.200r", line)
                    continue
                try:
                    await read_send.send(SessionMessage(message))
                except _DEAD_STREAM:
                    return

    async def pump_in() -> None:
        async with write_recv:
            async for sm in write_recv:
                data = sm.message.model_dump_json(by_alias=True, exclude_none=True) + "\n"
                try:
                    writer.write(data.encode("utf-8"))
                    await writer.drain()
                except (BrokenPipeError, ConnectionResetError, RuntimeError):
                    return  # the server is gone; its exit explains why

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump_out)
            tg.start_soon(pump_in)
            try:
                yield read_recv, write_send
            finally:
                tg.cancel_scope.cancel()
    finally:
        w_transport.close()  # EOF on the server's stdin
        r_transport.close()
        await read_send.aclose()
        await write_send.aclose()


# -- streamable HTTP: remember why a request failed ------------------------------------------
class _RecordingTransport(httpx.AsyncBaseTransport):
    """httpx's transport, noting the last HTTP error status or connection failure: the SDK
    turns both into a bare "Connection closed", and the user needs the real reason."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.last_failure: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as e:
            self.last_failure = f"cannot reach {request.url}: {e or type(e).__name__}"
            raise
        if response.status_code >= 400:
            phrase = httpx.codes.get_reason_phrase(response.status_code)
            self.last_failure = f"HTTP {response.status_code} {phrase} from {request.url}"
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- the connection ---------------------------------------------------------------------------
class Connection:
    """One configured server. `on_change()` is called after every state change."""

    def __init__(self, config: McpServerConfig, *, cwd: str, environ: Mapping[str, str],
                 on_change: Callable[[Connection], None]) -> None:
        self.config = config
        self.name = config.name
        self._cwd = cwd
        self._environ = environ
        self._on_change = on_change
        self.state = ServerState.STARTING
        self.reason: str | None = None
        self.tools: list[dict[str, Any]] = []  # the MCP Tool objects as JSON, filtered
        self.has_resources = False
        self._session: ClientSession | None = None
        self._process: ServerProcess | None = None
        self._http: _RecordingTransport | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._dead = asyncio.Event()  # the session can no longer carry requests
        self._restarts_left = 1
        self._restart_lock = asyncio.Lock()

    def _set(self, state: ServerState, reason: str | None = None) -> None:
        self.state, self.reason = state, reason
        self._on_change(self)

    # -- start ---------------------------------------------------------------------------------
    async def start(self, process: ServerProcess | None = None) -> None:
        """Connect: `process` is a stdio server already spawned (else spawn it here). Returns
        when READY or FAILED; never raises for the server's faults."""
        self._stop = asyncio.Event()
        self._dead = asyncio.Event()
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.state is not ServerState.STARTING:
            self._set(ServerState.STARTING)
        self._runner = asyncio.create_task(self._run(process, ready),
                                           name=f"mcp server {self.name}")
        await asyncio.shield(ready)

    async def _run(self, process: ServerProcess | None, ready: asyncio.Future[None]) -> None:
        # Nothing may raise through the `async with`: anyio's task groups (the SDK session's,
        # our stdio pumps') would wrap it in an ExceptionGroup. Reasons are values here.
        reason: str | None
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._open_transport(stack, process)
                session = await stack.enter_async_context(
                    ClientSession(read, write, client_info=CLIENT_INFO))
                reason = await self._handshake(session)
                if reason is None:
                    self._session = session
                    self._set(ServerState.READY)
                    ready.set_result(None)
                    await self._wait_for_end()
                    self._session = None
                    if not self._stop.is_set():
                        why = await self._why_dead()
                        if self.state is ServerState.READY:  # a call may have said it
                            reason = why
                if reason is not None:
                    # Said now, not after the shutdown grace periods of leaving the stack.
                    self._set(ServerState.FAILED, reason)
                    if not ready.done():
                        ready.set_result(None)
        except ConnectionFailed as e:
            self._set(ServerState.FAILED, e.reason)
        except BaseExceptionGroup as group:
            # A transport task failed (the SDK's HTTP client raises a request's error into
            # its task group, which cancels us): the transport knows what went wrong.
            if self._http is not None and self._http.last_failure:
                self._set(ServerState.FAILED, self._http.last_failure)
            else:
                log.error("MCP server %s failed", self.name, exc_info=group)
                leaf = _first_leaf(group)
                self._set(ServerState.FAILED, f"{type(leaf).__name__}: {leaf}")
        except Exception as e:  # a bug of ours or the SDK's: say so rather than hang
            log.exception("MCP server %s: unexpected failure", self.name)
            self._set(ServerState.FAILED, f"internal error: {e!r}")
        finally:
            self._session = None
            if not ready.done():
                ready.set_result(None)

    async def _handshake(self, session: ClientSession) -> str | None:
        """`initialize` and the first `tools/list` within the startup timeout: None when the
        server is ready, else why not."""
        timeout = self.config.startup_timeout_s
        phase = "initialize"
        try:
            with anyio.fail_after(timeout):
                init = await session.initialize()
                phase = "tools/list"
                tools = await _all_pages(lambda p: session.list_tools(params=p), "tools") \
                    if init.capabilities.tools else []
                phase = "resources/list"
                # Many servers declare the capability with nothing behind it; the resources
                # tools are offered only when there is something to list.
                self.has_resources = init.capabilities.resources is not None \
                    and await _has_resources(session)
        except TimeoutError:
            return f"timed out after {timeout:g} s waiting for {phase} (startup_timeout_sec)"
        except McpError as e:
            return await self._explain(e, phase)
        except _DEAD_STREAM:
            return await self._why_dead()
        except (RuntimeError, ValidationError) as e:  # "Unsupported protocol version", ...
            return f"{phase} failed: {e}"
        self.tools = [t for t in tools if self.config.allows_tool(t["name"])]
        return None

    async def _open_transport(self, stack: contextlib.AsyncExitStack,
                              process: ServerProcess | None) -> tuple[Any, Any]:
        t = self.config.transport
        if isinstance(t, StdioTransport):
            if process is None:
                try:
                    process = ServerProcess.spawn(t, cwd=self._cwd,
                                                  env=stdio_env(t, self._environ))
                except SpawnFailed as e:
                    raise ConnectionFailed(e.reason) from None
            self._process = process
            stack.push_async_callback(process.terminate)
            return await stack.enter_async_context(_stdio_streams(process))
        assert isinstance(t, HttpTransport)
        try:
            headers = build_headers(t, self._environ)
        except McpConfigError as e:
            raise ConnectionFailed(e.message) from None
        self._http = _RecordingTransport()
        client = httpx.AsyncClient(headers=headers, transport=self._http,
                                   timeout=httpx.Timeout(HTTP_TIMEOUT_S,
                                                         read=HTTP_READ_TIMEOUT_S))
        await stack.enter_async_context(client)
        read, write, _ = await stack.enter_async_context(
            streamable_http_client(t.url, http_client=client))
        return read, write

    async def _wait_for_end(self) -> None:
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._stop.wait()),
                                            asyncio.ensure_future(self._dead.wait())]
        if self._process is not None:
            waits.append(self._process.exited)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits[:2]:
                w.cancel()

    # -- why it failed ---------------------------------------------------------------------
    async def _why_dead(self) -> str:
        if self._process is not None:
            code = await self._process.exit_code(EXIT_WAIT_S)
            return self._process.describe_exit(code)
        if self._http is not None and self._http.last_failure:
            return self._http.last_failure
        return "the connection was closed"

    async def _explain(self, e: McpError, phase: str) -> str:
        if e.error.code == CONNECTION_CLOSED:
            return await self._why_dead()
        return f"{phase} failed: {e.error.message} (MCP error {e.error.code})"

    # -- calls --------------------------------------------------------------------------------
    async def _usable_session(self) -> ClientSession | str:
        """The live session (restarting a dead server once), or why there is none."""
        async with self._restart_lock:
            if self.state is ServerState.FAILED and self._restarts_left > 0 \
                    and self._runner is not None:
                await asyncio.shield(self._runner)  # the old process is cleaned up first
                self._restarts_left -= 1
                log.info("restarting MCP server %s after: %s", self.name, self.reason)
                await self.start()
        if self._session is not None and self.state is ServerState.READY:
            return self._session
        why = self.reason or self.state.value
        return f"MCP server {self.name} is not available: {why}"

    async def call_tool(self, tool: str, arguments: dict[str, Any] | None) -> CallOutcome:
        """Run `tools/call` within `tool_timeout_sec`. Never raises for the server's faults."""
        session = await self._usable_session()
        if isinstance(session, str):
            return CallOutcome(None, session)
        timeout = self.config.tool_timeout_s
        # The id the SDK gives this request (it numbers them in order and assigns before its
        # first await), so an abandoned call can be cancelled on the server too.
        request_id = getattr(session, "_request_id", None)
        try:
            result = await session.call_tool(tool, arguments or {},
                                             read_timeout_seconds=timedelta(seconds=timeout))
        except McpError as e:
            if e.error.code == REQUEST_TIMEOUT:
                await self._cancel_on_server(session, request_id, "tool_timeout_sec elapsed")
                return CallOutcome(None, f"tool call timed out after {timeout:g} s "
                                         "(tool_timeout_sec)")
            if e.error.code == CONNECTION_CLOSED:
                return CallOutcome(None, await self._lost("during the call"))
            return CallOutcome(None, f"{e.error.message} (MCP error {e.error.code})")
        except _DEAD_STREAM:
            return CallOutcome(None, await self._lost("before the call"))
        except asyncio.CancelledError:
            # The turn was interrupted: the server may stop the work too. Shielded, as this
            # task is being cancelled; bounded by CANCEL_SEND_S.
            await asyncio.shield(self._cancel_on_server(session, request_id, "interrupted"))
            raise
        except (RuntimeError, ValidationError) as e:
            # The SDK checks structured results against the tool's outputSchema.
            return CallOutcome(None, f"invalid result from the server: {e}")
        return CallOutcome(result.model_dump(mode="json", by_alias=True, exclude_none=True))

    async def _cancel_on_server(self, session: ClientSession, request_id: Any,
                                reason: str) -> None:
        """`notifications/cancelled` for a request we stopped waiting for (MCP spec,
        "Cancellation"): the server may stop the work. Best effort: never raises."""
        if not isinstance(request_id, int):
            return
        note = types.ClientNotification(types.CancelledNotification(
            params=types.CancelledNotificationParams(requestId=request_id, reason=reason)))
        try:
            with anyio.fail_after(CANCEL_SEND_S):
                await session.send_notification(note)
        except Exception as e:  # noqa: BLE001 - the call's own outcome is what matters
            log.debug("could not cancel request %s on %s: %s", request_id, self.name, e)

    async def _lost(self, when: str) -> str:
        """The session died under a call: FAILED now (the next call restarts it)."""
        why = await self._why_dead()
        self._dead.set()
        if self.state is ServerState.READY:
            self._set(ServerState.FAILED, why)
        return f"MCP server {self.name} {why} ({when})"

    async def list_resources(self) -> list[dict[str, Any]]:
        """Every resource of the server (all pages), as JSON. Raises ConnectionFailed."""
        session = await self._usable_session()
        if isinstance(session, str):
            raise ConnectionFailed(session)
        try:
            with anyio.fail_after(self.config.tool_timeout_s):
                return await _all_pages(lambda p: session.list_resources(params=p),
                                        "resources")
        except TimeoutError:
            t = self.config.tool_timeout_s
            raise ConnectionFailed(f"resources/list timed out after {t:g} s") from None
        except McpError as e:
            raise ConnectionFailed(await self._explain(e, "resources/list")) from None

    async def read_resource(self, uri: str) -> dict[str, Any]:
        """`resources/read` of one URI, as JSON (`contents`). Raises ConnectionFailed."""
        from pydantic import AnyUrl

        session = await self._usable_session()
        if isinstance(session, str):
            raise ConnectionFailed(session)
        try:
            with anyio.fail_after(self.config.tool_timeout_s):
                res = await session.read_resource(AnyUrl(uri))
        except TimeoutError:
            t = self.config.tool_timeout_s
            raise ConnectionFailed(f"resources/read timed out after {t:g} s") from None
        except McpError as e:
            raise ConnectionFailed(await self._explain(e, "resources/read")) from None
        except ValidationError:
            raise ConnectionFailed(f"not a valid resource URI: {uri!r}") from None
        return res.model_dump(mode="json", by_alias=True, exclude_none=True)

    # -- end -----------------------------------------------------------------------------------
    async def close(self) -> None:
        """Leave the session and end the server (EOF, SIGTERM, SIGKILL). Idempotent."""
        self._stop.set()
        runner = self._runner
        if runner is not None and not runner.done():
            if self.state is ServerState.STARTING:
                runner.cancel()  # do not wait out the startup timeout
            try:
                await runner
            except asyncio.CancelledError:
                pass
        if self._process is not None:
            await self._process.terminate()
        if self.state is not ServerState.DISABLED:
            self._set(ServerState.CLOSED, self.reason)


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def _has_resources(session: ClientSession) -> bool:
    """Whether the server lists any resource (a server that fails to list has none)."""
    try:
        page = await session.list_resources()
    except McpError:
        return False
    return bool(page.resources)


async def _all_pages(list_page: Callable[[types.PaginatedRequestParams | None],
                                         Awaitable[Any]], field: str) -> list[dict[str, Any]]:
    """Every item of a paginated `*/list` (following `nextCursor`), as JSON."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await list_page(types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        items.extend(x.model_dump(mode="json", by_alias=True, exclude_none=True)
                     for x in getattr(page, field))
        cursor = page.nextCursor
        if not cursor:
            return items

