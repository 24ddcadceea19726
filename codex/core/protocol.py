"""The session's wire: ops a front-end submits, events the session emits (pure data, no I/O).

Every front-end (`codex exec`, the interactive UI, `codex mcp-server`) drives a session the same
way: it calls `Session.submit(op)` and renders what `Session.events()` yields. Source:
`shared/specs/session.md` ("Ops" and "Events" tables). The contract of the seam:

- Events come out in the order things happened; every event of a turn carries that turn's
  `turn_id` (events outside a turn carry `None`).
- A turn ends with exactly one of `TurnComplete` or `TurnAborted` (an error that ends the turn
  is an `Error` event followed by `TurnComplete(last_message=None, failed=True)`).
- Every `ExecBegin` is followed by exactly one `ExecEnd` with the same `call_id` before the
  turn's end event (a command still running in a unified_exec session when the turn ends gets
  `ExecEnd(status=ExecStatus.RUNNING)`), and likewise `PatchBegin`/`PatchEnd`,
  `McpCallBegin`/`McpCallEnd`.
- An approval request stays pending until the matching `ExecApproval`/`PatchApproval` op, or
  until `Interrupt` (then it is cancelled: the call gets an aborted output).
- `Shutdown` is always answered by `ShutdownComplete`, which is the last event.

Fields may be added (with defaults); names are not changed without updating every front-end.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from codex.core.client.events import Usage

# --- values shared by ops and events -------------------------------------------------------


class ReviewDecision(enum.StrEnum):
    """A person's answer to an approval request (spec: "Approvals")."""

    APPROVED = "approved"
    APPROVED_FOR_SESSION = "approved_for_session"
    DENIED = "denied"
    ABORT = "abort"


ALL_DECISIONS: tuple[ReviewDecision, ...] = tuple(ReviewDecision)


class ExecStatus(enum.StrEnum):
    COMPLETED = "completed"  # exited 0
    FAILED = "failed"  # exited non-zero, or could not start
    DECLINED = "declined"  # refused by policy or by the user; never started
    RUNNING = "running"  # still alive in a unified_exec session when the call returned
    ABORTED = "aborted"  # the turn was interrupted while it ran


class ExecSource(enum.StrEnum):
    AGENT = "agent"  # exec_command / write_stdin from the model
    USER_SHELL = "user_shell"  # `!cmd` typed by the user (op RunUserShellCommand)


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file of a patch: `kind` is add | delete | update; `diff` a unified diff (text)."""

    path: str
    kind: str
    diff: str = ""
    move_path: str | None = None


@dataclass(frozen=True, slots=True)
class PlanStep:
    step: str
    status: str  # pending | in_progress | completed


# --- ops (front-end -> session) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserTurn:
    """Start a turn. `items` are Responses input content parts:
    `{"type": "input_text", "text": ...}`, `{"type": "input_image", "image_url": ...}`.
    The overrides apply to this turn and the following ones (like `OverrideContext`).
    While a turn runs, the input is queued and starts the next turn."""

    items: tuple[dict[str, Any], ...]
    model: str | None = None
    effort: str | None = None
    approval_policy: str | None = None
    sandbox_mode: str | None = None
    cwd: str | None = None
    output_schema: Any = None


@dataclass(frozen=True, slots=True)
class Interrupt:
    pass


@dataclass(frozen=True, slots=True)
class ExecApproval:
    call_id: str
    decision: ReviewDecision


@dataclass(frozen=True, slots=True)
class PatchApproval:
    call_id: str
    decision: ReviewDecision


@dataclass(frozen=True, slots=True)
class OverrideContext:
    """Applies from the next turn on; recorded in the rollout. None = unchanged."""

    model: str | None = None
    effort: str | None = None
    approval_policy: str | None = None
    sandbox_mode: str | None = None
    cwd: str | None = None


@dataclass(frozen=True, slots=True)
class Compact:
    pass


@dataclass(frozen=True, slots=True)
class Undo:
    """Restore the files the last turn's patches changed, from the snapshot taken before it."""


@dataclass(frozen=True, slots=True)
class Rollback:
    """Drop the last `user_turns` user turns from the history (fork from an earlier message;
    files are not reverted). Recorded in the rollout."""

    user_turns: int


@dataclass(frozen=True, slots=True)
class RunUserShellCommand:
    """`!cmd` in the UI: run it under the session's sandbox, shown as a command."""

    command: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Op = (UserTurn | Interrupt | ExecApproval | PatchApproval | OverrideContext | Compact | Undo
      | Rollback | RunUserShellCommand | Shutdown)


# --- events (session -> front-end) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionConfigured:
    """First event. `history` is the recorded conversation (Responses items) on resume, so a
    front-end can replay it; empty for a new session."""

    session_id: str
    model: str
    provider: str
    cwd: str
    approval_policy: str
    sandbox_mode: str
    rollout_path: str | None
    reasoning_effort: str | None = None
    history: tuple[dict[str, Any], ...] = ()
    agents_files: tuple[str, ...] = ()
    context_window: int | None = None
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class TurnStarted:
    turn_id: str
    context_window: int | None = None


@dataclass(frozen=True, slots=True)
class UserMessage:
    """The user's input as it enters the history (also for queued input when it starts)."""

    text: str
    images: int = 0
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class AgentMessageDelta:
    delta: str
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class AgentMessage:
    text: str
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    delta: str
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reasoning:
    text: str
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExecBegin:
    """`session_id`: set when this call (a `write_stdin`) continues the unified_exec session
    an earlier `ExecEnd(status=RUNNING, session_id=...)` left running; None for a new
    command."""

    call_id: str
    command: str
    cwd: str
    sandboxed: bool
    source: ExecSource = ExecSource.AGENT
    turn_id: str | None = None
    session_id: int | None = None


@dataclass(frozen=True, slots=True)
class ExecOutputDelta:
    """Output as it arrives. `stream` is stdout | stderr | pty; `chunk` raw bytes."""

    call_id: str
    stream: str
    chunk: bytes
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExecEnd:
    """`exit_code` None unless the process exited; `session_id` set while it still runs in a
    unified_exec session (status RUNNING); `duration_s` wall time seen by the call(s)."""

    call_id: str
    command: str
    exit_code: int | None
    duration_s: float
    aggregated_output: str
    status: ExecStatus
    session_id: int | None = None
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExecApprovalRequest:
    """`reason`: the model's justification, or why the sandbox failed (on-failure retry).
    `escalated`: approving runs the command outside the sandbox."""

    call_id: str
    command: str
    cwd: str
    reason: str | None
    available_decisions: tuple[ReviewDecision, ...] = ALL_DECISIONS
    escalated: bool = False
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class PatchApprovalRequest:
    call_id: str
    changes: tuple[FileChange, ...]
    reason: str | None
    available_decisions: tuple[ReviewDecision, ...] = ALL_DECISIONS
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class PatchBegin:
    call_id: str
    changes: tuple[FileChange, ...]
    auto_approved: bool = True
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class PatchEnd:
    """`output` is the text the model reads (summary or the failure)."""

    call_id: str
    success: bool
    changes: tuple[FileChange, ...]
    output: str = ""
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class PlanUpdate:
    plan: tuple[PlanStep, ...]
    explanation: str | None = None
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class McpStartupUpdate:
    """One MCP server's start: status starting | ready | failed; `reason` when failed."""

    server: str
    status: str
    reason: str | None = None
    tools: tuple[str, ...] = ()
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class McpCallBegin:
    call_id: str
    server: str
    tool: str
    arguments: Any
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class McpCallEnd:
    """`result` is the MCP CallToolResult as JSON (content, structuredContent, isError), or
    None with `error` set when the call failed (timeout, crash, declined)."""

    call_id: str
    server: str
    tool: str
    arguments: Any
    result: dict[str, Any] | None
    error: str | None
    duration_s: float
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenCount:
    """`last`: the latest request; `total`: the session so far. `percent_left` of the context
    window after the latest request; `estimated` when the server reported no usage."""

    last: Usage
    total: Usage
    context_window: int | None
    percent_left: int | None
    estimated: bool = False
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContextCompacted:
    percent_left: int | None = None
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class UndoComplete:
    """`restored`: the paths written back (or removed, for files the turn created)."""

    success: bool
    restored: tuple[str, ...] = ()
    message: str = ""
    turn_id: str | None = None
    removed: tuple[str, ...] = ()  # of `restored`: files the undone turn had created
    remaining: int | None = None  # turns that a further Undo could still undo


@dataclass(frozen=True, slots=True)
class RolledBack:
    """Answer to `Rollback`: `user_turns` were dropped; `history` is what remains (Responses
    items), for a front-end to redraw the conversation."""

    user_turns: int
    history: tuple[dict[str, Any], ...] = ()
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class Warning:  # noqa: A001 - the spec's name; codex never uses the builtin
    message: str
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class StreamError:
    """The model request or stream failed and is being retried (`Reconnecting... N/M (why)`).
    `attempt` of `max_attempts` (None: not told) lets a front-end show progress without
    parsing the message."""

    message: str
    turn_id: str | None = None
    attempt: int | None = None
    max_attempts: int | None = None
    layer: str = "stream"  # "stream" (spec model-wire.md "Retries") or "request" (HTTP layer)


@dataclass(frozen=True, slots=True)
class Error:
    message: str
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class TurnComplete:
    turn_id: str
    last_message: str | None
    usage: Usage = field(default_factory=Usage)
    failed: bool = False


@dataclass(frozen=True, slots=True)
class TurnAborted:
    turn_id: str
    reason: str = "interrupted"


@dataclass(frozen=True, slots=True)
class ShutdownComplete:
    turn_id: str | None = None


Event = (SessionConfigured | TurnStarted | UserMessage | AgentMessageDelta | AgentMessage
         | ReasoningDelta | Reasoning | ExecBegin | ExecOutputDelta | ExecEnd
         | ExecApprovalRequest | PatchApprovalRequest | PatchBegin | PatchEnd | PlanUpdate
         | McpStartupUpdate | McpCallBegin | McpCallEnd | TokenCount | ContextCompacted
         | UndoComplete | RolledBack | Warning | StreamError | Error | TurnComplete | TurnAborted
         | ShutdownComplete)
