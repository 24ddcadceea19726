"""RemoteBackend: processes on an exec-server (ours or Codex's), over a websocket or a stdio
child.

It speaks the newest Codex dialect (protocol.Dialect.CODEX) and falls back to our first one
when the server's `initialize` answer has no `sessionId`. Each process has one event channel,
registered *before* `process/start` (its first notifications may beat the answer) and
dropped after `process/closed`.

A dropped websocket is not the end: the backend reconnects with backoff for up to
RESUME_WINDOW_S and resumes its session (`initialize {resumeSessionId}`); every process then
catches up with `process/read {afterSeq: last seq seen}`, notifications are de-duplicated by
seq, and calls cut off by the drop are sent again (a write with the same `writeId`, which the
server applies once). Output acknowledgements (`process/ack`, when the server offers them)
make the server keep everything we have not received, so nothing is lost however much was in
flight. Only when the resume is impossible does every live process get `Failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from codex.exec_server import protocol as p
from codex.exec_server.backend import (
    Closed,
    EventStream,
    ExecBackend,
    ExecProcess,
    Exited,
    Failed,
    Output,
    ReadResult,
    SpawnError,
    StartParams,
    WriteStatus,
)
from codex.exec_server.client_transport import (
    ClientTransport,
    DisconnectReason,
    ExecServerDisconnected,
    ExecServerError,
    ExecServerUnavailable,
    StdioTransport,
    WebSocketTransport,
)
from codex.exec_server.jsonrpc_client import JsonRpcClient

__all__ = ["ExecServerDisconnected", "ExecServerError", "ExecServerUnavailable",
           "RemoteBackend", "RemoteProcess"]

log = logging.getLogger(__name__)

CLIENT_NAME = "codex-unified-exec"
# How long to keep trying to resume after a drop: inside the server's 30 s grace period, as
# the two clocks start independently.
RESUME_WINDOW_S = 25.0
RESUME_FIRST_DELAY_S = 0.05
RESUME_MAX_DELAY_S = 1.0
# Acknowledge a process's output after this much (the server's window is 4 MiB).
ACK_EVERY_BYTES = 512 << 10
# One catch-up read after a resume returns at most this much.
CATCH_UP_READ_BYTES = 4 << 20
# Our `process/start` for a Codex server: the environment is exactly StartParams.env.
EXACT_ENV = p.EnvPolicy(inherit="none", ignore_default_excludes=True, exclude=(), set={},
                        include_only=())


class LinkState(enum.Enum):
    DISCONNECTED = "disconnected"  # no session (not yet connected, or the last one failed)
    READY = "ready"
    RECOVERING = "recovering"  # reconnecting to resume the session
    CLOSED = "closed"  # close() was called


class ChannelState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    CLOSED = "closed"  # `Closed` delivered
    FAILED = "failed"  # `Failed` delivered


@dataclass(eq=False)
class _Channel:
    """One process's event channel and what has been delivered on it."""

    process_id: str
    stream: EventStream
    generation: int  # the session it belongs to
    state: ChannelState = ChannelState.STARTING
    last_output_seq: int = 0
    exited: bool = False
    held: list[Output | Exited | Closed] | None = None  # during a catch-up
    unacked_bytes: int = 0
    failure: ExecServerDisconnected | None = None
    kept: list[Output | Exited | Closed] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state in (ChannelState.CLOSED, ChannelState.FAILED)


def default_stdio_command() -> list[str]:
    """This program's own `exec-server --listen stdio`."""
    if getattr(sys, "frozen", False) or "__compiled__" in globals():
        return [sys.executable, "exec-server", "--listen", "stdio"]
    return [sys.executable, "-m", "codex", "exec-server", "--listen", "stdio"]


def read_token_file(path: str | os.PathLike[str]) -> str:
    path_ = Path(path).expanduser()
    try:
        token = path_.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ExecServerUnavailable(f"cannot read exec-server token file {path_}: {e}") from e
    if not token:
        raise ExecServerUnavailable(f"exec-server token file {path_} is empty")
    return token


class RemoteProcess(ExecProcess):
    """A process on the exec-server, driven through its JSON-RPC methods."""

    def __init__(self, backend: RemoteBackend, channel: _Channel, tty: bool) -> None:
        self._backend = backend
        self._channel = channel
        self.process_id = channel.process_id
        self.tty = tty

    async def _call(self, method: str, **params: Any) -> Any:
        return await self._backend._call(self._channel, method,
                                         {"processId": self.process_id, **params})

    async def write(self, data: bytes) -> WriteStatus:
        # One id for every attempt: a write retried after a resume is applied once.
        write_id = uuid.uuid4().hex if self._backend.dialect is p.Dialect.CODEX else None
        result = await self._backend._call(
            self._channel, p.PROCESS_WRITE,
            p.write_params_to_wire(self.process_id, data, write_id))
        try:
            return WriteStatus(p.decode_write_status(result))
        except ValueError as e:
            raise ExecServerError(p.INTERNAL_ERROR, f"unexpected process/write answer: {e}") \
                from None

    async def terminate(self) -> bool:
        result = await self._call(p.PROCESS_TERMINATE)
        return bool((result or {}).get("running"))

    async def interrupt(self) -> bool:
        return await self.signal("SIGINT")

    async def signal(self, name: str) -> bool:
        """Send signal `name` to the process group. Codex's server knows only `interrupt`
        (SIGINT) and does not say whether it was delivered (True then)."""
        backend = self._backend
        if backend.dialect is p.Dialect.CODEX and not backend.server_is_ours:
            if name != "SIGINT":
                raise ExecServerError(p.METHOD_NOT_FOUND,
                                      f"this exec-server can only interrupt, not send {name}")
            await self._call(p.PROCESS_SIGNAL, signal="interrupt")
            return True
        try:
            result = await self._call(p.PROCESS_SIGNAL, signal=name)
        except ExecServerError as e:
            if e.code == p.METHOD_NOT_FOUND:
                raise ExecServerError(e.code, "this exec-server cannot signal processes "
                                      "(it lacks process/signal)") from e
            raise
        return bool((result or {}).get("delivered"))

    async def read(self, after_seq: int = 0, max_bytes: int | None = None,
                   wait_ms: int = 0) -> ReadResult:
        result = await self._backend._call(
            self._channel, p.PROCESS_READ,
            p.read_params_to_wire(self.process_id, after_seq, max_bytes, wait_ms))
        try:
            return p.decode_read_result(result)
        except ValueError as e:
            raise ExecServerError(p.INTERNAL_ERROR, f"unexpected process/read answer: {e}") \
                from None


class RemoteBackend(ExecBackend):
    """An `ExecBackend` on an exec-server. Connects on first use (or `await connect()`)."""

    def __init__(self, *, url: str | None = None, token_file: str | None = None,
                 stdio_command: Sequence[str] | None = None,
                 stdio_env: Mapping[str, str] | None = None,
                 resume_window_s: float = RESUME_WINDOW_S) -> None:
        if (url is None) == (stdio_command is None):
            raise ValueError("RemoteBackend needs exactly one of url or stdio_command")
        self.url = url
        self._token_file = token_file
        self._stdio_command = list(stdio_command) if stdio_command is not None else None
        self._stdio_env = stdio_env
        self._resume_window_s = resume_window_s
        self.state = LinkState.DISCONNECTED
        self.dialect = p.Dialect.CODEX
        self.session_id: str | None = None
        self.server_is_ours = False  # it offered output acks: our extensions work
        self._client: JsonRpcClient | None = None
        self._transport: ClientTransport | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._channels: dict[str, _Channel] = {}
        self._generation = 0
        self._recovery: asyncio.Task[None] | None = None
        self._lost: ExecServerDisconnected | None = None
        self._thread_id = str(uuid.uuid4())
        self._tasks: set[asyncio.Task[None]] = set()
        self.resumes = 0  # successful resumes (for tests and logs)

    @classmethod
    def websocket(cls, url: str, token_file: str | None = None, **kw: Any) -> RemoteBackend:
        return cls(url=url, token_file=token_file, **kw)

    @classmethod
    def stdio(cls, command: Sequence[str] | None = None,
              env: Mapping[str, str] | None = None) -> RemoteBackend:
        """Spawn `command` (default: this program's `exec-server --listen stdio`)."""
        if env is None:
            from codex.child_env import user_environ

            env = user_environ()
        return cls(stdio_command=command or default_stdio_command(), stdio_env=env)

    def describe(self) -> str:
        return self.url or "(stdio child)"

    @property
    def server_pid(self) -> int | None:
        """The pid of a stdio exec-server child (None for websockets)."""
        t = self._transport
        return t.pid if isinstance(t, StdioTransport) else None

    @property
    def live_process_ids(self) -> list[str]:
        """Processes with a registered event channel (started, not yet closed)."""
        return list(self._channels)

    # --- connecting ---------------------------------------------------------------------

    async def _open(self, resume_session_id: str | None) -> JsonRpcClient:
        """A new transport and a completed handshake (a new session, or a resumed one)."""
        if self._stdio_command is not None:
            transport: ClientTransport = await StdioTransport.spawn(self._stdio_command,
                                                                    self._stdio_env)
        else:
            assert self.url is not None
            token = read_token_file(self._token_file) if self._token_file else None
            transport = await WebSocketTransport.open(self.url, token)
        client = JsonRpcClient(transport, self._on_notification, self._on_lost,
                               dialect=p.Dialect.CODEX)
        init: dict[str, Any] = {"clientName": CLIENT_NAME, "outputAcks": True}
        if resume_session_id is not None:
            init["resumeSessionId"] = resume_session_id
        try:
            result = await client.request(p.INITIALIZE, init)
            session_id = result.get("sessionId") if isinstance(result, dict) else None
            if isinstance(session_id, str) and session_id:
                client.dialect = p.Dialect.CODEX
            else:
                client.dialect = p.Dialect.LEGACY  # an older server of ours
                session_id = None
            await client.notify(p.INITIALIZED, {})
        except BaseException:
            await client.close()
            raise
        self._transport = transport
        self.dialect = client.dialect
        self.session_id = session_id
        self.server_is_ours = bool(isinstance(result, dict) and result.get("outputAcks"))
        return client

    async def connect(self) -> None:
        """Connect (a new session) unless connected; wait out a resume in progress."""
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self.state is LinkState.CLOSED:
                raise ExecServerUnavailable("exec-server connection was closed")
            if self.state is LinkState.RECOVERING and self._recovery is not None:
                await asyncio.shield(self._recovery)
            if self.state is LinkState.READY:
                return
            if self._client is not None:
                # The old session is gone (its processes got `Failed`); new processes get a
                # new connection — for stdio, a new server child.
                log.info("reconnecting to exec-server %s after: %s", self.describe(),
                         self._lost.message if self._lost else "disconnect")
                old, self._client = self._client, None
                await old.close()
            try:
                self._client = await self._open(None)
            except ExecServerError as e:
                raise ExecServerUnavailable(
                    f"exec-server {self.describe()} did not complete the handshake: "
                    f"{e.message}") from e
            except ExecServerDisconnected as e:
                raise ExecServerUnavailable(
                    f"exec-server {self.describe()} did not complete the handshake: "
                    f"{e.message}") from e
            self._generation += 1
            self._lost = None
            self.state = LinkState.READY

    def _resumable(self) -> bool:
        return (self.state is not LinkState.CLOSED and self.session_id is not None
                and self._transport is not None and self._transport.resumable
                and self._resume_window_s > 0)

    def _on_lost(self, error: ExecServerDisconnected) -> None:
        if self.state is not LinkState.READY or self._client is None \
                or self._client.lost is not error:
            return  # an old client's goodbye, a drop during a resume, or our own close()
        if error.reason is DisconnectReason.CLOSED_BY_CLIENT:
            return
        self._lost = error
        if self._resumable():
            log.warning("exec-server link lost (%s); resuming session %s", error.detail,
                        self.session_id)
            self.state = LinkState.RECOVERING
            for ch in self._channels.values():
                ch.held = []  # notifications after the resume wait for the catch-up
            self._recovery = asyncio.get_running_loop().create_task(self._recover(error))
        else:
            self._fail_all(error)
            self.state = LinkState.DISCONNECTED

    async def _recover(self, error: ExecServerDisconnected) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._resume_window_s
        delay = RESUME_FIRST_DELAY_S
        why = "timed out"
        while self.state is LinkState.RECOVERING:
            try:
                client = await asyncio.wait_for(self._open(self.session_id),
                                                max(0.1, deadline - loop.time()))
            except ExecServerError as e:
                if e.code != p.SESSION_ATTACHED:  # unknown or expired: nothing to resume
                    why = e.message
                    break
                why = e.message  # the server has not noticed the drop yet: try again
            except ExecServerUnavailable as e:
                why = e.message
                if e.refused:
                    break  # nothing listens there any more: the server is gone
            except (ExecServerDisconnected, TimeoutError) as e:
                why = getattr(e, "message", None) or "timed out"
            else:
                if await self._resume_with(client):
                    return
                why = "the link dropped again while catching up"
            if loop.time() + delay >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESUME_MAX_DELAY_S)
        if self.state is LinkState.RECOVERING:
            final = ExecServerDisconnected(
                error.reason, f"{error.detail}; the session could not be resumed: {why}")
            self._lost = final
            self._fail_all(final)
            self.state = LinkState.DISCONNECTED

    async def _resume_with(self, client: JsonRpcClient) -> bool:
        """Install a resumed connection and bring every channel up to date (still
        RECOVERING meanwhile: other calls wait; a drop now just means another attempt)."""
        old, self._client = self._client, client
        if old is not None:
            self._spawn(old.close())
        try:
            for ch in list(self._channels.values()):
                if ch.generation == self._generation and not ch.done:
                    await self._catch_up(client, ch)
        except ExecServerDisconnected:
            for ch in self._channels.values():
                if ch.held is None:
                    ch.held = []
            return False
        if client.lost is not None:
            return False
        self.state = LinkState.READY
        self.resumes += 1
        log.info("resumed exec-server session %s", self.session_id)
        return True

    async def _catch_up(self, client: JsonRpcClient, ch: _Channel) -> None:
        """What `ch` missed while the link was down, then what was held back meanwhile."""
        if ch.held is None:
            ch.held = []
        last: ReadResult | None = None
        while True:
            try:
                raw = await client.request(p.PROCESS_READ, p.read_params_to_wire(
                    ch.process_id, ch.last_output_seq, CATCH_UP_READ_BYTES, 0))
            except ExecServerError as e:
                # Started after all? (A start cut off by the drop is retried by its caller.)
                if ch.state is ChannelState.STARTING:
                    ch.held = None
                    return
                self._fail(ch, ExecServerDisconnected(
                    DisconnectReason.CLOSED_BY_SERVER,
                    f"process {ch.process_id} was lost across the resume: {e.message}"))
                return
            last = p.decode_read_result(raw)
            fresh = [c for c in last.chunks if c.seq > ch.last_output_seq]
            for chunk in fresh:
                self._deliver(ch, chunk)
            if not fresh:
                break
        held, ch.held = ch.held or [], None
        if last.exited and not ch.exited:
            self._deliver(ch, Exited(ch.last_output_seq + 1, last.exit_code or 0,
                                     last.sandbox_denied))
        for ev in held:
            self._deliver(ch, ev)
        if last.closed and not ch.done:
            self._deliver(ch, Closed(max(ch.last_output_seq, last.next_seq - 1) + 1))
        if self.server_is_ours and not ch.done and ch.last_output_seq:
            client.notify_soon(p.PROCESS_ACK, {"processId": ch.process_id,
                                               "seq": ch.last_output_seq})

    # --- calls --------------------------------------------------------------------------

    async def _ready_client(self, ch: _Channel | None) -> JsonRpcClient:
        while True:
            if ch is not None and ch.failure is not None:
                raise ch.failure
            if ch is not None and ch.generation != self._generation:
                raise self._lost or ExecServerDisconnected(
                    DisconnectReason.CLOSED_BY_SERVER, "the exec-server session is gone")
            if self.state is LinkState.READY and self._client is not None \
                    and self._client.lost is None:
                return self._client
            if self.state is LinkState.RECOVERING and self._recovery is not None:
                await asyncio.shield(self._recovery)
                continue
            if self.state is LinkState.CLOSED:
                raise ExecServerUnavailable("exec-server connection was closed")
            raise self._lost or ExecServerUnavailable("exec-server is not connected")

    async def _call(self, ch: _Channel | None, method: str, params: Mapping[str, Any]) -> Any:
        """`method` on the current connection; a call cut off by a drop is sent again once
        the session is resumed (every call we make is safe to repeat)."""
        while True:
            client = await self._ready_client(ch)
            try:
                return await client.request(method, params)
            except ExecServerDisconnected:
                if self.state is not LinkState.RECOVERING:
                    raise

    def _start_wire(self, params: StartParams) -> dict[str, Any]:
        if self.dialect is p.Dialect.LEGACY:
            return p.start_params_to_wire(params, p.Dialect.LEGACY)
        if params.sandbox is not None and not self.server_is_ours \
                and "permissions" not in params.sandbox:
            from codex.exec_server.sandbox_context import context_from_policy

            params = replace(params, sandbox=context_from_policy(params.sandbox, params.cwd,
                                                                 params.env))
        metadata = dict(params.metadata or {})
        thread_id = params.env.get("CODEX_THREAD_ID", "")
        metadata.setdefault("threadId", thread_id if _is_uuid(thread_id) else self._thread_id)
        metadata.setdefault("toolCallId", params.process_id)
        return p.start_params_to_wire(replace(params, metadata=metadata), p.Dialect.CODEX,
                                      env_policy=EXACT_ENV)

    async def start(self, params: StartParams) -> tuple[ExecProcess, EventStream]:
        await self.connect()
        pid = params.process_id
        if pid in self._channels:
            raise ExecServerError(p.INVALID_REQUEST, f"process {pid} already exists")
        ch = _Channel(pid, EventStream(), self._generation)
        self._channels[pid] = ch  # before the request: its first events may beat the answer
        try:
            await self._start_once(ch, self._start_wire(params))
        except ExecServerError as e:
            self._unroute(ch)
            raise SpawnError(e.message) from e
        except asyncio.CancelledError:
            # The server may start it anyway: nobody would ever see or stop it. Kill it.
            self._unroute(ch)
            self._background_terminate(pid)
            raise
        except BaseException:
            self._unroute(ch)
            raise
        if ch.state is ChannelState.STARTING:
            ch.state = ChannelState.RUNNING
        return RemoteProcess(self, ch, params.tty), ch.stream

    async def _start_once(self, ch: _Channel, wire: dict[str, Any]) -> None:
        """`process/start`, and after a drop that cut it off: started after all (the server
        knows the id) or sent again."""
        while True:
            client = await self._ready_client(ch)
            try:
                await client.request(p.PROCESS_START, wire)
                return
            except ExecServerDisconnected:
                if self.state is not LinkState.RECOVERING:
                    raise
            client = await self._ready_client(ch)
            try:
                await client.request(p.PROCESS_READ, p.read_params_to_wire(
                    ch.process_id, 0, 0, 0))
                return  # it did start
            except ExecServerError:
                continue  # unknown to the server: start it now

    def _background_terminate(self, pid: str) -> None:
        async def terminate() -> None:
            with contextlib.suppress(ExecServerError, ExecServerDisconnected,
                                     ExecServerUnavailable):
                await self._call(None, p.PROCESS_TERMINATE, {"processId": pid})

        self._spawn(terminate())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _unroute(self, ch: _Channel) -> None:
        if self._channels.get(ch.process_id) is ch:
            del self._channels[ch.process_id]

    # --- events -------------------------------------------------------------------------

    def _on_notification(self, method: str, params: Mapping[str, Any]) -> None:
        pid = params.get("processId")
        ch = self._channels.get(pid) if isinstance(pid, str) else None
        if ch is None:
            if method.startswith("process/"):
                log.debug("dropping %s for unknown process %r", method, pid)
            return
        try:
            ev = p.decode_event(method, params)
        except (KeyError, TypeError, ValueError) as e:
            log.warning("malformed %s notification from exec-server: %s", method, e)
            return
        if ev is None:
            log.debug("ignoring notification %s", method)
        elif ch.held is not None:
            ch.held.append(ev)
        else:
            self._deliver(ch, ev)

    def _deliver(self, ch: _Channel, ev: Output | Exited | Closed) -> None:
        """Push `ev` unless it was delivered already (a resume can bring it twice)."""
        if ch.done:
            return
        if isinstance(ev, Output):
            if ev.seq <= ch.last_output_seq:
                return
            ch.last_output_seq = ev.seq
            ch.stream.push(ev)
            if self.server_is_ours:
                ch.unacked_bytes += len(ev.chunk)
                if ch.unacked_bytes >= ACK_EVERY_BYTES and self._client is not None:
                    ch.unacked_bytes = 0
                    self._client.notify_soon(p.PROCESS_ACK,
                                             {"processId": ch.process_id, "seq": ev.seq})
        elif isinstance(ev, Exited):
            if ch.exited:
                return
            ch.exited = True
            ch.stream.push(ev)
        else:
            ch.state = ChannelState.CLOSED
            ch.stream.push(ev)
            self._unroute(ch)

    def _fail(self, ch: _Channel, error: ExecServerDisconnected) -> None:
        ch.failure = error
        ch.held = None
        if not ch.done:
            ch.state = ChannelState.FAILED
            ch.stream.push(Failed(error.message))
        self._unroute(ch)

    def _fail_all(self, error: ExecServerDisconnected) -> None:
        for ch in list(self._channels.values()):
            self._fail(ch, error)

    async def close(self) -> None:
        self.state = LinkState.CLOSED
        if self._recovery is not None and not self._recovery.done():
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        for t in list(self._tasks):
            t.cancel()
        if self._client is not None:
            await self._client.close()
        self._fail_all(ExecServerDisconnected(DisconnectReason.CLOSED_BY_CLIENT,
                                              "connection closed by client"))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
