"""The session: one conversation as a service. Front-ends submit ops and read events.

Spec session.md; the ops and events are `codex.core.protocol` (read its contract). Usage:

    session = await Session.start(SessionOptions(config=cfg, cwd=Path.cwd()))
    session.submit(UserTurn(items=({"type": "input_text", "text": "hi"},)))
    async for event in session.events():     # SessionConfigured first
        ...                                  # submit(Shutdown()) when done;
                                             # the stream ends after ShutdownComplete

The session owns the model client, the tool registry (`session.tools`; MCP tools are added to
it while the session runs), the unified_exec manager and its processes, the sandbox policy,
the child environment, the login-shell snapshot, approvals and the rollout, and cleans all of
them up on `Shutdown`.

Ops are handled in the order submitted. `Interrupt`, `ExecApproval`, `PatchApproval`,
`OverrideContext` and `Shutdown` act at once; `UserTurn`, `Compact` and `RunUserShellCommand`
are work, run one at a time, each framed as a turn (`TurnStarted` ... `TurnComplete` /
`TurnAborted`); work submitted while a turn runs waits for it. `Undo` and `Rollback` wait for
the running turn too, then act outside any turn.

Errors: `Session.start` raises `CodexError` (bad configuration, no credentials, a session
file that cannot be created or read). After that nothing raises to the front-end: a failing
turn is an `Error` event then `TurnComplete(failed=True)`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codex.config import Config, ConfigError
from codex.core.approvals import Approvals
from codex.core.client import ModelClient, ModelError, Usage
from codex.core.conversation import Conversation
from codex.core.history import History, message_text, user_message
from codex.core.policy import DANGER_FULL_ACCESS, Policy
from codex.core.protocol import (
    Compact,
    Error,
    Event,
    ExecApproval,
    ExecBegin,
    ExecEnd,
    ExecSource,
    ExecStatus,
    Interrupt,
    Op,
    OverrideContext,
    PatchApproval,
    Rollback,
    RolledBack,
    RunUserShellCommand,
    SessionConfigured,
    Shutdown,
    ShutdownComplete,
    TurnAborted,
    TurnComplete,
    TurnStarted,
    Undo,
    UndoComplete,
    UserMessage,
    UserTurn,
    Warning,
)
from codex.core.rollout import (
    APPROVED_FOR_SESSION,
    EVENT_MSG,
    ROLLBACK,
    TURN_CONTEXT,
    NullRollout,
    Rollout,
    RolloutWriteError,
    RolloutWriter,
    new_session_id,
    read_rollout,
)
from codex.core.tools.registry import ToolRegistry
from codex.errors import CodexError

log = logging.getLogger(__name__)

EXEC_ORIGINATOR = "codex_exec"
USER_SHELL_OUTPUT_TOKENS = 10_000  # of a `!cmd`'s output recorded for the model


@dataclass(frozen=True)
class SessionOptions:
    """How to start a session. `config` is loaded with the front-end's flags applied."""

    config: Config
    cwd: Path
    resume_path: Path | None = None  # a rollout to resume
    ephemeral: bool = False  # no rollout file
    originator: str = EXEC_ORIGINATOR  # "codex_tui", "codex_mcp_server"
    interactive: bool = False  # False: nobody answers approvals -> `never` semantics
    add_dirs: tuple[str, ...] = ()
    exec_server_url: str | None = None
    output_schema: Any = None
    base_instructions: str | None = None
    developer_instructions: str | None = None
    model_client: ModelClient | None = None  # tests inject a scripted client


@dataclass(frozen=True)
class SessionStatus:
    """A read-only view for `/status`. Token figures are the session's totals; `percent_left`
    and `tokens_in_context` describe the context after the latest request (`estimated` when
    the server reported no usage)."""

    session_id: str
    rollout_path: str | None
    model: str
    provider: str
    reasoning_effort: str | None
    approval_policy: str
    sandbox_mode: str
    cwd: str
    total_usage: Usage
    last_usage: Usage
    context_window: int
    tokens_in_context: int
    percent_left: int | None
    estimated: bool
    agents_files: tuple[str, ...]
    history_length: int


@dataclass(frozen=True)
class _Settings:
    """What a turn runs with; `approval` as configured (see `Session._policy`)."""

    model: str
    effort: str | None
    approval: str
    sandbox_mode: str
    cwd: Path

    def updated(self, op: UserTurn | OverrideContext) -> _Settings:
        return _Settings(op.model or self.model, op.effort or self.effort,
                         op.approval_policy or self.approval,
                         op.sandbox_mode or self.sandbox_mode,
                         Path(op.cwd) if op.cwd else self.cwd)


class _State(enum.Enum):
    RUNNING = "running"
    SHUTTING_DOWN = "shutting_down"
    CLOSED = "closed"


class SessionClosed(CodexError):
    """`next_event()` after the stream ended with ShutdownComplete."""


_WORK_OPS = (UserTurn, Compact, RunUserShellCommand, Undo, Rollback)


class Session:
    """Create with `await Session.start(options)`."""

    def __init__(self, options: SessionOptions) -> None:
        """Use `await Session.start(options)`; this only makes the queues."""
        self.options = options
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._ops: asyncio.Queue[Op] = asyncio.Queue()
        self._work: collections.deque[Op] = collections.deque()
        self._work_ready = asyncio.Event()
        self._current: asyncio.Task[None] | None = None
        self._turns = 0
        self._state = _State.RUNNING
        self._delivered_last = False
        self._op_task: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.mcp: Any = None  # codex.mcp.tools.McpTools while MCP servers are configured

    @classmethod
    async def start(cls, options: SessionOptions) -> Session:
        """Build the session; its first event is `SessionConfigured`. Raises CodexError
        (configuration, credentials, a session file that cannot be created or read)."""
        self = cls(options)
        configured, early = await self._setup()
        self._emit(configured)
        for ev in early:
            self._emit(ev)
        self._start_mcp()
        self._op_task = asyncio.ensure_future(self._op_loop())
        self._worker = asyncio.ensure_future(self._work_loop())
        return self

    async def _setup(self) -> tuple[SessionConfigured, list[Event]]:
        from codex.core.context import initial_items, load_agents_docs
        from codex.core.models import auto_compact_limit, context_window
        from codex.core.prompt import BASE_INSTRUCTIONS

        options, cfg = self.options, self.options.config
        provider = cfg.provider()
        self._provider = provider
        cwd = Path(options.cwd).absolute()
        self._base_policy = Policy.from_config(cfg.values, list(options.add_dirs))
        self._settings = _Settings(str(cfg["model"]), cfg.get("model_reasoning_effort"),
                                   self._base_policy.approval, self._base_policy.sandbox_mode,
                                   cwd)
        self._active = self._settings
        policy = self._policy(self._settings)
        api_key = None
        if options.model_client is None:
            from codex.core.auth import resolve_api_key

            api_key = resolve_api_key(provider, cfg.codex_home,
                                      exec_mode=options.originator == EXEC_ORIGINATOR)
        instructions = options.base_instructions or BASE_INSTRUCTIONS
        doc_names = cfg.get("project_doc_fallback_filenames") or ()
        docs = load_agents_docs(cfg.codex_home, cwd, int(cfg["project_doc_max_bytes"]),
                                doc_names)
        self._agents_files = docs.files
        # Everything that can refuse the configuration comes before the rollout file exists.
        rec = read_rollout(options.resume_path) if options.resume_path is not None else None
        session_id = rec.id if rec is not None else new_session_id()
        self.session_id = session_id
        client = options.model_client or self._make_client(provider, api_key, session_id)
        env = child_environment(cfg, session_id)
        from codex.unified_exec.backend_select import backend_from_config

        backend = backend_from_config(cfg, options.exec_server_url)
        early: list[Event] = []
        if rec is not None:
            items, remembered, rollout = rec.items, rec.approved_keys, resume_rollout(options,
                                                                                      rec)
        else:
            items = initial_items(cfg.codex_home, cwd, policy, int(cfg["project_doc_max_bytes"]),
                                  doc_names, options.developer_instructions)
            remembered = []
            meta: dict[str, Any] = {
                "cwd": str(cwd), "originator": options.originator,
                "model_provider": provider["id"], "instructions": instructions}
            if not options.ephemeral:
                from codex.core.git_info import collect_git_info

                git = await collect_git_info(cwd)  # best effort, bounded; None outside git
                if git is not None:
                    meta["git"] = git
            rollout, failure = open_rollout(options, session_id, meta)
            if failure is not None:
                early.append(failure)
        replayed = tuple(items) if rec is not None else ()
        self.approvals = Approvals(emit=self._emit, record=self._remember_keys,
                                   interrupt=self._interrupt,
                                   interactive=options.interactive, remembered=remembered)
        window = context_window(self._settings.model, cfg.get("model_context_window"))
        self._conv = Conversation(
            emit=self._emit, history=History(items if rec is not None else ()), rollout=rollout,
            client=client, instructions=instructions,
            wire=str(provider.get("wire_api", "responses")), context_window=window,
            compact_limit=auto_compact_limit(window, cfg.get("model_auto_compact_token_limit")))
        if rec is None:
            for it in items:
                self._conv.record(it)
        self._build_tools(cwd, env, backend, session_id)
        notify = cfg.get("notify")
        self._notifier = None
        if notify:
            from codex.core.notify import Notifier

            self._notifier = Notifier(notify)
        configured = SessionConfigured(
            session_id=session_id, model=self._settings.model, provider=str(provider["id"]),
            cwd=str(cwd), approval_policy=policy.approval, sandbox_mode=policy.sandbox_mode,
            rollout_path=str(rollout.path) if rollout.path else None,
            reasoning_effort=self._settings.effort, history=replayed,
            agents_files=docs.files, context_window=window)
        return configured, early

    def _make_client(self, provider: dict[str, Any], api_key: str | None,
                     session_id: str) -> ModelClient:
        from codex.core.client import make_client

        cfg = self.options.config
        return make_client(provider, model=self._settings.model, api_key=api_key,
                           session_id=session_id, originator=self.options.originator,
                           reasoning_effort=self._settings.effort,
                           reasoning_summary=cfg.get("model_reasoning_summary"),
                           verbosity=cfg.get("model_verbosity"))

    def _build_tools(self, cwd: Path, env: dict[str, str], backend: Any,
                     session_id: str) -> None:
        """The unified_exec manager (with the login-shell snapshot) and the tool registry."""
        from codex.core.tools.patch import PatchTool
        from codex.core.tools.plan import plan_tool
        from codex.core.tools.shell import ShellTools
        from codex.core.undo import UndoLog
        from codex.exec_server.local import LocalBackend
        from codex.unified_exec import UnifiedExecManager

        cfg = self.options.config
        self._snapshot = None
        if isinstance(backend, LocalBackend):
            from codex.core.shell_snapshot import SNAPSHOT_DIR, ShellSnapshots

            self._snapshot = ShellSnapshots(
                directory=cfg.codex_home / SNAPSHOT_DIR, session_id=session_id, env=env,
                cwd=lambda: str(self._active.cwd), sandbox=self._sandbox_wire,
                warn=lambda text: self._emit(Warning(text, turn_id=self._conv.turn_id)))
        self._manager = UnifiedExecManager(
            backend, cwd=str(cwd), env=env, sandbox=self._sandbox_wire(),
            tool_output_token_limit=int(cfg["tool_output_token_limit"]),
            command_argv=self._snapshot.argv if self._snapshot is not None else None)
        self._undo = UndoLog()
        patch = PatchTool(self._undo)
        shell = ShellTools(self._manager, patch.apply)
        self.tools = ToolRegistry([*shell.tools(), patch.tool(), plan_tool()])

    def _start_mcp(self) -> None:
        """MCP servers start in the background; their tools join the registry when ready
        (codex.mcp.tools). Nothing here waits for them."""
        servers = self.options.config.mcp_servers()
        if any(s.enabled for s in servers.values()):
            from codex.mcp.tools import McpTools

            self.mcp = McpTools.start(servers, self.tools, cwd=str(self._settings.cwd),
                                      emit=self._emit, wire=self._conv.wire)

    def _sandbox_wire(self) -> dict[str, Any] | None:
        """The sandbox commands run under now; None = unsandboxed (danger-full-access)."""
        s = self._active
        if s.sandbox_mode == DANGER_FULL_ACCESS:
            return None
        return self._policy(s).sandbox_policy(s.cwd).to_wire()

    # -- the front-end's side ------------------------------------------------------------
    @property
    def rollout_path(self) -> Path | None:
        return self._conv.rollout.path

    @property
    def status(self) -> SessionStatus:
        conv, s = self._conv, self._settings
        tokens, estimated = conv.usage.tokens_in_context(conv.history)
        from codex.core.models import percent_left

        return SessionStatus(
            session_id=self.session_id,
            rollout_path=str(self.rollout_path) if self.rollout_path else None,
            model=s.model, provider=str(self._provider.get("id")), reasoning_effort=s.effort,
            approval_policy=self._policy(s).approval, sandbox_mode=s.sandbox_mode,
            cwd=str(s.cwd), total_usage=conv.usage.total, last_usage=conv.usage.last,
            context_window=conv.context_window, tokens_in_context=tokens,
            percent_left=percent_left(conv.context_window, tokens), estimated=estimated,
            agents_files=self._agents_files, history_length=len(conv.history))

    def submit(self, op: Op) -> None:
        """Queue an op (call from the event loop's thread). Ops after `Shutdown` are ignored."""
        if self._state is not _State.RUNNING:
            return
        if isinstance(op, Shutdown):
            self._state = _State.SHUTTING_DOWN
        self._ops.put_nowait(op)

    async def next_event(self) -> Event:
        """The next event; SessionClosed once `ShutdownComplete` has been delivered."""
        if self._delivered_last:
            raise SessionClosed("the session has shut down")
        ev = await self._events.get()
        if isinstance(ev, ShutdownComplete):
            self._delivered_last = True
        return ev

    async def events(self) -> AsyncIterator[Event]:
        """Every event, ending after `ShutdownComplete`."""
        while not self._delivered_last:
            yield await self.next_event()

    # -- internals: events and ops -------------------------------------------------------
    def _emit(self, event: Event) -> None:
        self._events.put_nowait(event)

    def _remember_keys(self, keys: list[str]) -> None:
        self._conv.log(EVENT_MSG, {"type": APPROVED_FOR_SESSION, "keys": keys})

    def _policy(self, s: _Settings) -> Policy:
        # Nobody to ask (headless) means `never`, whatever the configuration says.
        approval = s.approval if self.options.interactive else "never"
        return replace(self._base_policy, approval=approval, sandbox_mode=s.sandbox_mode)

    async def _op_loop(self) -> None:
        while True:
            op = await self._ops.get()
            try:
                if isinstance(op, Shutdown):
                    await self._shutdown()
                    return
                self._handle(op)
            except Exception:  # noqa: BLE001 - a bug in one op must not end the session
                log.exception("op %r failed", op)
                self._emit(Error(f"internal error handling {type(op).__name__}; see the log"))

    def _handle(self, op: Op) -> None:
        if isinstance(op, _WORK_OPS):
            self._work.append(op)
            self._work_ready.set()
        elif isinstance(op, Interrupt):
            self._interrupt()
        elif isinstance(op, ExecApproval | PatchApproval):
            if not self.approvals.answer(op.call_id, op.decision):
                self._emit(Warning(f"no approval request {op.call_id!r} is waiting"))
        elif isinstance(op, OverrideContext):
            self._settings = self._settings.updated(op)  # pending until the next turn
        else:
            self._emit(Warning(f"unknown op {type(op).__name__}"))

    def _interrupt(self) -> None:
        if self._current is not None and not self._current.done():
            self._current.cancel()

    def _activate(self) -> None:
        """At the start of each unit of work: make the pending settings (overrides arrive at
        any time, spec: "applies from the next turn on") those of the client and the
        commands."""
        new, old = self._settings, self._active
        self._active = new
        conv = self._conv
        if new.model != old.model or new.effort != old.effort:
            conv.client.model = new.model
            conv.client.reasoning_effort = new.effort
            from codex.core.models import auto_compact_limit, context_window

            cfg = self.options.config
            conv.context_window = context_window(new.model, cfg.get("model_context_window"))
            conv.compact_limit = auto_compact_limit(
                conv.context_window, cfg.get("model_auto_compact_token_limit"))
        if new.cwd != old.cwd or new.sandbox_mode != old.sandbox_mode:
            self._manager.configure(cwd=str(new.cwd), sandbox=self._sandbox_wire())

    # -- work ----------------------------------------------------------------------------
    async def _work_loop(self) -> None:
        while True:
            while not self._work:
                self._work_ready.clear()
                await self._work_ready.wait()
            op = self._work.popleft()
            if isinstance(op, Undo | Rollback):
                self._immediate_work(op)
                continue
            self._turns += 1
            self._current = asyncio.ensure_future(self._run_turn(op, f"turn-{self._turns}"))
            # `wait`, not `await`: an interrupt cancels the turn, not this loop.
            await asyncio.wait([self._current])
            self._current = None

    async def _run_turn(self, op: Op, turn_id: str) -> None:
        """One unit of work framed as a turn; always ends with TurnComplete or TurnAborted."""
        if isinstance(op, UserTurn):
            self._settings = self._settings.updated(op)
        self._activate()
        conv = self._conv
        conv.turn_id = turn_id
        self._emit(TurnStarted(turn_id, conv.context_window))
        try:
            if isinstance(op, UserTurn):
                result = await self._user_turn(op, turn_id)
            elif isinstance(op, Compact):
                await conv.compact(turn_id)
                result = None
            else:
                assert isinstance(op, RunUserShellCommand)
                await self._user_shell(op, turn_id)
                result = None
        except asyncio.CancelledError:
            conv.log(EVENT_MSG, {"type": "turn_aborted", "reason": "interrupted"})
            self._emit(TurnAborted(turn_id))
            return
        except CodexError as e:  # ModelError included
            self._fail(turn_id, e.message)
            return
        except Exception as e:  # noqa: BLE001 - a bug ends the turn, not the session
            log.exception("turn %s failed", turn_id)
            self._fail(turn_id, f"internal error: {type(e).__name__}: {e}")
            return
        finally:
            conv.turn_id = None
        last = result.last_message if result is not None else None
        usage = result.usage if result is not None else Usage()
        conv.log(EVENT_MSG, {"type": "turn_completed", "usage": usage.to_json()})
        self._emit(TurnComplete(turn_id, last, usage))
        if isinstance(op, UserTurn):
            self._notify(turn_id, op, last)

    def _fail(self, turn_id: str, message: str) -> None:
        self._conv.log(EVENT_MSG, {"type": "turn_failed", "message": message})
        self._emit(Error(message, turn_id=turn_id))
        self._emit(TurnComplete(turn_id, None, failed=True))

    async def _user_turn(self, op: UserTurn, turn_id: str) -> Any:
        from codex.core.context import environment_context
        from codex.core.turn import TurnRunner

        s = self._active
        policy = self._policy(s)
        conv = self._conv
        conv.output_schema = op.output_schema if op.output_schema is not None \
            else self.options.output_schema
        conv.log(TURN_CONTEXT, {"cwd": str(s.cwd), "model": s.model, "effort": s.effort,
                                "approval_policy": policy.approval,
                                "sandbox_policy": policy.to_wire(s.cwd)})
        if conv.needs_compaction():
            # Before the new input enters the history, so that it comes after the summary. A
            # failure here must not lose the input: the request's own overflow handling
            # (compact + retry) still applies.
            try:
                await conv.compact(turn_id)
            except ModelError as e:
                self._emit(Warning(f"could not compact the history before this turn: "
                                   f"{e.message}", turn_id=turn_id))
        # The world may have changed since the last turn (cwd, sandbox, date, a resume).
        env = environment_context(s.cwd, policy)
        if env != conv.history.last_environment():
            conv.record(user_message(env))
        item = {"type": "message", "role": "user", "content": list(op.items)}
        conv.record(item)
        self._emit(UserMessage(message_text(item),
                               sum(1 for p in op.items if p.get("type") == "input_image"),
                               turn_id=turn_id))
        runner = TurnRunner(conversation=conv, tools=self.tools, approvals=self.approvals,
                            emit=self._emit, turn_id=turn_id, cwd=s.cwd, policy=policy)
        return await runner.run()

    async def _user_shell(self, op: RunUserShellCommand, turn_id: str) -> None:
        """`!cmd`: run under the session's sandbox, shown as a command, recorded as a note the
        model reads with the next turn."""
        from codex.core.tools.context import ToolContext
        from codex.core.tools.shell import OutputStreamer, end_status
        from codex.core.user_shell import user_shell_note

        s = self._active
        policy = self._policy(s)
        call_id = f"user-shell-{turn_id}"
        ctx = ToolContext(turn_id=turn_id, call_id=call_id, cwd=s.cwd, policy=policy,
                          emit=self._emit, approvals=self.approvals)
        self._emit(ExecBegin(call_id, op.command, str(s.cwd),
                             policy.sandbox_mode != DANGER_FULL_ACCESS,
                             source=ExecSource.USER_SHELL, turn_id=turn_id))
        started = time.monotonic()
        try:
            result = await self._manager.run_to_exit(
                {"cmd": op.command, "workdir": str(s.cwd)},
                on_output=OutputStreamer(ctx, call_id))
        except asyncio.CancelledError:
            self._emit(ExecEnd(call_id, op.command, None, time.monotonic() - started, "",
                               ExecStatus.ABORTED, turn_id=turn_id))
            raise
        # A command that could not start has no output: its error text is shown instead.
        shown = (result.output or result.text) if result.failure else result.output
        self._emit(ExecEnd(call_id, op.command, result.exit_code, result.wall_time, shown,
                           end_status(result), turn_id=turn_id))
        self._conv.record(user_message(user_shell_note(op.command, result,
                                                       USER_SHELL_OUTPUT_TOKENS)))

    def _immediate_work(self, op: Undo | Rollback) -> None:
        if isinstance(op, Undo):
            result = self._undo.undo()
            if result is None:
                msg = ("nothing to undo: every turn that changed files has been undone already"
                       if self._undo.undone else
                       "nothing to undo: no turn changed files with apply_patch in this session")
                self._emit(UndoComplete(False, message=msg, remaining=0))
                return
            ok = not result.failed
            msg = (f"restored {len(result.restored)} file(s)" if ok else
                   "could not restore: " + "; ".join(result.failed))
            self._emit(UndoComplete(ok, result.restored, msg, removed=result.removed,
                                    remaining=len(self._undo)))
            return
        conv = self._conv
        dropped = conv.history.drop_user_turns(max(0, op.user_turns))
        conv.log(EVENT_MSG, {"type": ROLLBACK, "user_turns": dropped})
        conv.usage.in_context = None  # the reported figure described the longer history
        self._emit(RolledBack(dropped, tuple(conv.history.items)))
        self._emit(conv.token_count(None))

    def _notify(self, turn_id: str, op: UserTurn, last: str | None) -> None:
        if self._notifier is None:
            return
        inputs = [p.get("text", "") for p in op.items
                  if isinstance(p, dict) and p.get("type") == "input_text"]
        self._notifier.turn_complete(thread_id=self.session_id, turn_id=turn_id,
                                     cwd=str(self._active.cwd), input_messages=inputs,
                                     last_assistant_message=last)

    # -- shutdown ------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        self._work.clear()
        if self._current is not None and not self._current.done():
            self._current.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._current
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        try:
            await self._manager.shutdown()  # every process of the session ends here
        except Exception:  # noqa: BLE001 - shutdown goes on whatever one part does
            log.exception("closing the command sessions failed")
        if self.mcp is not None:
            await self.mcp.shutdown()  # MCP servers too (EOF, SIGTERM, SIGKILL)
        if self._snapshot is not None:
            self._snapshot.delete()
        if self._notifier is not None:
            await self._notifier.close()
        self._conv.client.close()
        self._conv.rollout.close()
        self._state = _State.CLOSED
        self._emit(ShutdownComplete())


def open_rollout(options: SessionOptions, session_id: str,
                 meta: dict[str, Any]) -> tuple[Rollout, Error | None]:
    """The rollout for a new session, and the error event to emit when the disk refused its
    first line (the session then runs unrecorded). CodexError when it cannot be created."""
    home = options.config.codex_home
    if options.ephemeral:
        return NullRollout(), None
    try:
        return RolloutWriter.create(home, session_id, meta), None
    except RolloutWriteError as e:
        return NullRollout(), Error(f"{e.message}; the session goes on without being recorded")
    except OSError as e:
        raise CodexError(f"cannot write the session file under {home}: {e.strerror or e} "
                         "(use --ephemeral to run without one)") from None


def resume_rollout(options: SessionOptions, rec: Any) -> Rollout:
    """The writer appending to the resumed session's file (none when ephemeral)."""
    if options.ephemeral:
        return NullRollout()
    try:
        return RolloutWriter(rec.path)
    except OSError as e:
        raise CodexError(f"cannot append to the session file {rec.path}: "
                         f"{e.strerror or e} (use --ephemeral to continue without "
                         "recording)") from None


def child_environment(config: Config, session_id: str) -> dict[str, str]:
    from codex.child_env import child_env

    try:
        return child_env(config.get("shell_environment_policy"), session_id)
    except ValueError as e:
        raise ConfigError(f"shell_environment_policy: {e}") from None
