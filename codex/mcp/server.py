"""`codex mcp-server`: codex as an MCP server on stdio (spec mcp.md, "`codex mcp-server`").

Two tools, on the SDK's low-level server:

- `codex` starts a session (its own config: `model`, `profile`, `cwd`, `approval-policy`,
  `sandbox`, `config` overrides, `base-instructions`, `developer-instructions`), runs one turn
  with `prompt`, and returns the last agent message as text, with
  `structuredContent: {threadId, content}`;
- `codex-reply` continues the session `threadId` (alias `conversationId`) with `prompt`.

While a turn runs, its events go to the client as `notifications/progress` (when the call
carried a progress token). An approval the session asks for goes to the client as an
`elicitation/create` request naming the command (or the files) and the reason; the answer's
`decision` (`approved`, `approved_for_session`, `denied`, `abort`) is submitted to the session,
and a declined or cancelled elicitation (or a client that cannot elicit) is `denied`. Several
sessions run at once (the SDK runs each request in its own task); turns of one session run one
after the other. EOF on stdin ends every session and the process, with exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from pydantic import ConfigDict

from codex import __version__
from codex.config import APPROVAL_POLICIES, SANDBOX_MODES, load_config
from codex.core import protocol as P
from codex.errors import CodexError

log = logging.getLogger(__name__)

SERVER_NAME = "codex-mcp-server"
ORIGINATOR = "codex_mcp_server"
CODEX_TOOL = "codex"
REPLY_TOOL = "codex-reply"
SHUTDOWN_WAIT_S = 10.0
PROGRESS_TEXT_LIMIT = 400

_CONFIG_PROPS: dict[str, Any] = {
    "prompt": {"type": "string", "description": "The user's request: what Codex should do."},
    "model": {"type": "string", "description": "Model to use (e.g. gpt-5-codex)."},
    "profile": {"type": "string", "description": "A profile of config.toml to start from."},
    "cwd": {"type": "string", "description": "Working directory of the session (absolute, or "
                                             "relative to the server's)."},
    "approval-policy": {"type": "string", "enum": list(APPROVAL_POLICIES),
                        "description": "When to ask (through elicitation) before running."},
    "sandbox": {"type": "string", "enum": list(SANDBOX_MODES),
                "description": "Sandbox for the commands the model runs."},
    "config": {"type": "object", "additionalProperties": True,
               "description": "Config overrides, as in config.toml (dotted keys allowed)."},
    "base-instructions": {"type": "string", "description": "Replaces the base instructions."},
    "developer-instructions": {"type": "string",
                               "description": "Extra instructions, as a developer message."},
}
_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"threadId": {"type": "string"}, "content": {"type": "string"}},
    "required": ["threadId", "content"],
}

TOOLS = [
    types.Tool(
        name=CODEX_TOOL, title="Codex",
        description="Run a Codex session: Codex works on `prompt` (reading and editing files, "
                    "running commands) and answers. Continue it with codex-reply.",
        inputSchema={"type": "object", "properties": _CONFIG_PROPS, "required": ["prompt"],
                     "additionalProperties": False},
        outputSchema=_OUTPUT_SCHEMA),
    types.Tool(
        name=REPLY_TOOL, title="Codex reply",
        description="Continue a Codex session started by the codex tool.",
        inputSchema={"type": "object", "properties": {
            "threadId": {"type": "string", "description": "The session's id (threadId of the "
                                                         "codex tool's result)."},
            "conversationId": {"type": "string", "description": "Older name of threadId."},
            "prompt": {"type": "string", "description": "The next user message."}},
            "required": ["prompt"], "additionalProperties": False},
        outputSchema=_OUTPUT_SCHEMA),
]

DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"decision": {
        "type": "string", "title": "Decision",
        "enum": [d.value for d in P.ReviewDecision],
        "description": "approved: this once; approved_for_session: from now on in this "
                       "session; denied: no, go on; abort: stop the turn"}},
    "required": ["decision"],
}


class _ElicitAnswer(types.Result):
    """An elicitation answer: the MCP form (`action`, `content.decision`) or a bare
    `{"decision": ...}` as Codex's own clients send."""

    model_config = ConfigDict(extra="allow")
    action: str | None = None
    content: dict[str, Any] | None = None
    decision: str | None = None


def decision_of(answer: _ElicitAnswer) -> P.ReviewDecision:
    """The ReviewDecision an elicitation answer stands for (anything unclear: denied)."""
    raw = answer.decision
    if raw is None and answer.action == "accept" and answer.content:
        raw = answer.content.get("decision")
    try:
        return P.ReviewDecision(raw)
    except ValueError:
        return P.ReviewDecision.DENIED


def progress_text(ev: Any) -> str | None:
    """A line for `notifications/progress`, or None for events not worth one."""
    match ev:
        case P.AgentMessage(text=text):
            return f"codex: {text}"
        case P.Reasoning(text=text):
            return f"thinking: {text}"
        case P.ExecBegin(command=command):
            return f"exec: {command}"
        case P.ExecEnd(command=command, exit_code=code, status=status):
            return f"exec {command}: {status.value}" + (f" ({code})" if code is not None else "")
        case P.PatchEnd(success=ok, changes=changes):
            files = ", ".join(c.path for c in changes)
            return f"apply_patch {'applied' if ok else 'failed'}: {files}"
        case P.McpCallBegin(server=server, tool=tool):
            return f"mcp: {server}.{tool}"
        case P.PlanUpdate(plan=plan):
            return "plan: " + "; ".join(f"[{s.status}] {s.step}" for s in plan)
        case P.Warning(message=m) | P.StreamError(message=m) | P.Error(message=m):
            return m
    return None


@dataclass
class _Call:
    """The tools/call request a turn is running for: where its notifications go."""

    session: ServerSession
    request_id: Any
    progress_token: str | int | None
    progress: int = 0

    async def notify(self, text: str) -> None:
        if self.progress_token is None:
            return
        self.progress += 1
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self.session.send_progress_notification(
                self.progress_token, self.progress, message=text[:PROGRESS_TEXT_LIMIT],
                related_request_id=str(self.request_id))


@dataclass
class _TurnEnd:
    last_message: str | None
    failed: bool
    errors: list[str] = field(default_factory=list)


class _Thread:
    """One session and the pump that routes its events to the call running its turn."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.id: str = session.session_id
        self.lock = asyncio.Lock()  # one turn at a time per session
        self._call: _Call | None = None
        self._end: asyncio.Future[_TurnEnd] | None = None
        self._errors: list[str] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = asyncio.Event()
        self._pump = asyncio.ensure_future(self._pump_events())

    async def turn(self, prompt: str, call: _Call) -> _TurnEnd:
        async with self.lock:
            self._call, self._errors = call, []
            self._end = asyncio.get_running_loop().create_future()
            self.session.submit(P.UserTurn(items=({"type": "input_text", "text": prompt},)))
            try:
                return await self._end
            except asyncio.CancelledError:
                # The client cancelled the request (or went away): stop the turn too.
                self.session.submit(P.Interrupt())
                raise
            finally:
                self._call = self._end = None

    async def _pump_events(self) -> None:
        try:
            async for ev in self.session.events():
                self._route(ev)
        finally:
            self.closed.set()
            if self._end is not None and not self._end.done():
                self._end.set_result(_TurnEnd(None, True, ["the session ended"]))

    def _route(self, ev: Any) -> None:
        call, end = self._call, self._end
        if isinstance(ev, P.ExecApprovalRequest | P.PatchApprovalRequest):
            self._spawn(self._approve(ev, call))
            return
        if isinstance(ev, P.Error):
            self._errors.append(ev.message)
        if end is not None and not end.done():
            if isinstance(ev, P.TurnComplete):
                end.set_result(_TurnEnd(ev.last_message, ev.failed, list(self._errors)))
                return
            if isinstance(ev, P.TurnAborted):
                end.set_result(_TurnEnd(None, True, [f"turn aborted: {ev.reason}"]))
                return
        text = progress_text(ev)
        if text is not None and call is not None:
            self._spawn(call.notify(text))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _approve(self, ev: P.ExecApprovalRequest | P.PatchApprovalRequest,
                       call: _Call | None) -> None:
        decision = await ask(ev, call, self.id)
        op = P.ExecApproval if isinstance(ev, P.ExecApprovalRequest) else P.PatchApproval
        self.session.submit(op(call_id=ev.call_id, decision=decision))

    async def close(self) -> None:
        self.session.submit(P.Shutdown())
        try:
            await asyncio.wait_for(self.closed.wait(), SHUTDOWN_WAIT_S)
        except TimeoutError:
            log.warning("session %s did not shut down in %s s", self.id, SHUTDOWN_WAIT_S)
            self._pump.cancel()
        for task in list(self._tasks):
            task.cancel()


async def ask(ev: P.ExecApprovalRequest | P.PatchApprovalRequest, call: _Call | None,
              thread_id: str) -> P.ReviewDecision:
    """Ask the client through `elicitation/create`; its answer is the decision."""
    if call is None:
        return P.ReviewDecision.DENIED
    session = call.session
    params = session.client_params
    if params is None or params.capabilities.elicitation is None:
        log.info("client cannot elicit: approval %s denied", ev.call_id)
        return P.ReviewDecision.DENIED
    extra: dict[str, Any] = {"codex_call_id": ev.call_id, "codex_thread_id": thread_id,
                             "codex_reason": ev.reason}
    if isinstance(ev, P.ExecApprovalRequest):
        message = f"Codex wants to run `{ev.command}` in {ev.cwd}"
        extra |= {"codex_elicitation": "exec-approval", "codex_command": ev.command,
                  "codex_cwd": ev.cwd}
    else:
        files = ", ".join(f"{c.kind} {c.path}" for c in ev.changes)
        message = f"Codex wants to change files: {files}"
        extra |= {"codex_elicitation": "patch-approval",
                  "codex_changes": [{"path": c.path, "kind": c.kind, "diff": c.diff}
                                    for c in ev.changes]}
    if ev.reason:
        message += f"\nReason: {ev.reason}"
    allowed = [d.value for d in ev.available_decisions]
    schema = {**DECISION_SCHEMA, "properties": {"decision": {
        **DECISION_SCHEMA["properties"]["decision"], "enum": allowed}}}
    request = types.ServerRequest(types.ElicitRequest(
        params=types.ElicitRequestFormParams(message=message, requestedSchema=schema,
                                             **extra)))
    try:
        answer = await session.send_request(request, _ElicitAnswer,
                                            metadata=_related(call.request_id))
    except Exception as e:  # noqa: BLE001 - the client's error, or it went away: a "no"
        log.info("elicitation for %s failed: %s", ev.call_id, e)
        return P.ReviewDecision.DENIED
    decision = decision_of(answer)
    return decision if decision in ev.available_decisions else P.ReviewDecision.DENIED


def _related(request_id: Any) -> Any:
    from mcp.shared.message import ServerMessageMetadata

    return ServerMessageMetadata(related_request_id=request_id)


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                isError=True)


class CodexMcpServer:
    """The server's state: the running sessions by thread id."""

    def __init__(self, args: Any, session_factory: Callable[..., Any] | None = None) -> None:
        self._profile = getattr(args, "profile", None)
        self._overrides = list(getattr(args, "config_overrides", None) or [])
        self._threads: dict[str, _Thread] = {}
        self._factory = session_factory
        self.server: Server[Any, Any] = Server(SERVER_NAME, version=__version__)
        self.server.list_tools()(self._list_tools)
        self.server.call_tool(validate_input=True)(self._call_tool)

    async def _list_tools(self) -> list[types.Tool]:
        return TOOLS

    def _call(self) -> _Call:
        ctx = self.server.request_context
        token = ctx.meta.progressToken if ctx.meta is not None else None
        return _Call(ctx.session, ctx.request_id, token)

    async def _call_tool(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        if name == CODEX_TOOL:
            return await self._codex(arguments)
        if name == REPLY_TOOL:
            return await self._reply(arguments)
        return _error(f"unknown tool {name!r} (this server has codex and codex-reply)")

    async def _start_session(self, arguments: dict[str, Any]) -> Any:
        from codex.core.session import Session, SessionOptions

        flags: dict[str, Any] = {}
        for key, value in (arguments.get("config") or {}).items():
            flags[str(key)] = value
        for key, arg in (("model", "model"), ("approval_policy", "approval-policy"),
                         ("sandbox_mode", "sandbox")):
            if arguments.get(arg) is not None:
                flags[key] = arguments[arg]
        cwd = Path(arguments.get("cwd") or os.getcwd()).expanduser()
        if not cwd.is_absolute():
            cwd = Path(os.getcwd()) / cwd
        if not cwd.is_dir():
            raise CodexError(f"cwd {cwd} is not a directory")
        # The session's folder, not the server's, chooses a trusted project's layers.
        cfg = load_config(profile=arguments.get("profile") or self._profile,
                          overrides=self._overrides, flags=flags, cwd=cwd)
        options = SessionOptions(config=cfg, cwd=cwd, originator=ORIGINATOR, interactive=True,
                                 base_instructions=arguments.get("base-instructions"),
                                 developer_instructions=arguments.get("developer-instructions"))
        return await (self._factory or Session.start)(options)

    async def _codex(self, arguments: dict[str, Any]) -> types.CallToolResult:
        call = self._call()
        try:
            session = await self._start_session(arguments)
        except CodexError as e:
            return _error(f"cannot start a Codex session: {e.message}")
        thread = _Thread(session)
        self._threads[thread.id] = thread
        await call.notify(f"session {thread.id} started")
        if session.mcp is not None:
            # Headless like `codex exec`: required MCP servers must be up before the turn.
            failed = await session.mcp.required_failures()
            if failed:
                await thread.close()
                del self._threads[thread.id]
                return _error("; ".join(f"required MCP server {s.name} failed to start: "
                                        f"{s.reason}" for s in failed))
        return await self._run(thread, str(arguments["prompt"]), call)

    async def _reply(self, arguments: dict[str, Any]) -> types.CallToolResult:
        thread_id = arguments.get("threadId") or arguments.get("conversationId")
        if not isinstance(thread_id, str) or not thread_id:
            return _error("codex-reply needs threadId (the threadId of a codex result)")
        thread = self._threads.get(thread_id)
        if thread is None or thread.closed.is_set():
            return _error(f"no running Codex session with threadId {thread_id!r}")
        return await self._run(thread, str(arguments["prompt"]), self._call())

    async def _run(self, thread: _Thread, prompt: str, call: _Call) -> types.CallToolResult:
        end = await thread.turn(prompt, call)
        if end.failed:
            text = "; ".join(end.errors) or "the turn failed"
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=text)],
                structuredContent={"threadId": thread.id, "content": text}, isError=True)
        text = end.last_message or ""
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structuredContent={"threadId": thread.id, "content": text})

    async def close(self) -> None:
        await asyncio.gather(*(t.close() for t in self._threads.values()))
        self._threads.clear()

    async def serve_stdio(self) -> None:
        options = self.server.create_initialization_options(NotificationOptions(), {})
        try:
            async with stdio_server() as (read, write):
                await self.server.run(read, write, options)
        finally:
            await self.close()


def run(args: Any) -> int:
    """`codex mcp-server`: serve until the client closes stdin; exit 0."""
    if os.environ.get("CODEX_LOG", "").lower() != "debug":
        logging.getLogger("mcp").setLevel(logging.CRITICAL)
    server = CodexMcpServer(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve_stdio())
    return 0
