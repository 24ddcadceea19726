"""`exec_command` / `write_stdin`: unified_exec calls with approvals and streamed output.

Events per call (protocol.py's contract): `ExecBegin`, `ExecOutputDelta`s while the call waits
on the process, then exactly one `ExecEnd` — `COMPLETED`/`FAILED` when the process exited,
`RUNNING` (with `session_id`) when it runs on in a unified_exec session, `ABORTED` when the
turn was interrupted, `DECLINED` (without a Begin) when policy or the user refused it. A
`write_stdin` call on a known session is framed the same way, its `ExecBegin.session_id` naming
the session it continues. An `apply_patch <<'EOF'` command is a patch (`PatchBegin`/`PatchEnd`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from codex.core.approvals import (
    REQUIRE_ESCALATED,
    ExecVerdict,
    exec_key,
    exec_verdict,
    retry_unsandboxed,
)
from codex.core.policy import DANGER_FULL_ACCESS
from codex.core.protocol import (
    ExecApprovalRequest,
    ExecBegin,
    ExecEnd,
    ExecOutputDelta,
    ExecStatus,
    ReviewDecision,
)
from codex.core.safety import is_known_safe
from codex.core.tools.registry import Tool, ToolCall

if TYPE_CHECKING:
    from codex.core.tools.context import ToolContext
    from codex.unified_exec import ToolResult, UnifiedExecManager

# Streamed output per call is capped (the whole output still reaches ExecEnd and the model):
# a command that floods must not flood the front-end's queue.
MAX_DELTAS_PER_CALL = 10_000
MAX_DELTA_BYTES_PER_CALL = 8 << 20
SANDBOX_SETUP_FAILED = 125  # the sandbox helper's exit when it could not confine the command

PatchRunner = Callable[[str, str, "ToolContext"], Awaitable[tuple[str, bool]]]


def end_status(result: ToolResult) -> ExecStatus:
    if result.exit_code is None and result.session_id is not None and result.failure is None:
        return ExecStatus.RUNNING
    if result.exit_code == 0 and result.failure is None:
        return ExecStatus.COMPLETED
    return ExecStatus.FAILED


class OutputStreamer:
    """Turns a call's output into ExecOutputDelta events, up to the per-call caps."""

    def __init__(self, ctx: ToolContext, call_id: str) -> None:
        self._ctx = ctx
        self._call_id = call_id
        self._count = 0
        self._bytes = 0

    def __call__(self, stream: str, chunk: bytes) -> None:
        if self._count >= MAX_DELTAS_PER_CALL or self._bytes >= MAX_DELTA_BYTES_PER_CALL:
            return
        self._count += 1
        self._bytes += len(chunk)
        self._ctx.emit(ExecOutputDelta(self._call_id, stream, chunk, turn_id=self._ctx.turn_id))


class ShellTools:
    """The two unified_exec tools of one session. `run_patch(patch, cwd, ctx)` applies an
    `apply_patch` heredoc sent as a command."""

    def __init__(self, manager: UnifiedExecManager, run_patch: PatchRunner) -> None:
        self.manager = manager
        self._run_patch = run_patch
        self._sandboxed: dict[int, bool] = {}  # session id -> its command runs sandboxed

    def tools(self) -> list[Tool]:
        from codex.unified_exec import EXEC_COMMAND_TOOL, WRITE_STDIN_TOOL

        return [Tool(EXEC_COMMAND_TOOL, self.exec_command),
                Tool(WRITE_STDIN_TOOL, self.write_stdin)]

    # -- exec_command ------------------------------------------------------------------
    async def exec_command(self, call: ToolCall, ctx: ToolContext) -> str:
        args = call.arguments()
        cmd = args.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            # Nothing to run: the model gets the argument error, the user sees no "exec null".
            return (await self.manager.exec_command(args)).text
        workdir = args.get("workdir")
        cwd = os.path.normpath(os.path.join(ctx.cwd, workdir)) if workdir else str(ctx.cwd)
        args = {**args, "workdir": cwd}

        from codex.unified_exec.manager import extract_apply_patch

        heredoc = extract_apply_patch(cmd, cwd)
        if heredoc is not None:
            return await self._patch_command(cmd, *heredoc, ctx)

        policy = ctx.policy
        unsandboxed = policy.sandbox_mode == DANGER_FULL_ACCESS
        escalated = args.get("sandbox_permissions") == REQUIRE_ESCALATED
        justification = args.get("justification")
        decision = exec_verdict(policy.approval, escalated=escalated, unsandboxed=unsandboxed,
                                known_safe=is_known_safe(cmd),
                                justification=justification
                                if isinstance(justification, str) else None)
        if decision.verdict is ExecVerdict.REFUSE_ESCALATION:
            self._declined(ctx, cmd)
            return _escalation_refusal(policy.approval, policy.sandbox_mode)
        run_escalated = decision.verdict is ExecVerdict.ASK_ESCALATED
        if not run_escalated:
            args.pop("sandbox_permissions", None)
        if decision.verdict in (ExecVerdict.ASK, ExecVerdict.ASK_ESCALATED):
            answer = await ctx.request_approval(
                ExecApprovalRequest(call.call_id, cmd, cwd, decision.reason,
                                    escalated=run_escalated),
                keys=[exec_key(cmd, run_escalated)])
            if answer is ReviewDecision.DENIED:
                self._declined(ctx, cmd)
                return _user_declined(cmd)

        result = await self._run(ctx, call.call_id, cmd, cwd, args,
                                 sandboxed=not (unsandboxed or run_escalated))
        failed = (result.session_id is None and result.exit_code not in (None, 0)) or \
            result.failure is not None
        if failed and retry_unsandboxed(policy.approval, unsandboxed=unsandboxed or run_escalated,
                                        sandbox_failed=_sandbox_failed(result, ctx)):
            return await self._retry_unsandboxed(ctx, call, cmd, cwd, args, result)
        return self._with_denial_note(result, ctx, ran_unsandboxed=run_escalated)

    async def _retry_unsandboxed(self, ctx: ToolContext, call: ToolCall, cmd: str, cwd: str,
                                 args: dict[str, Any], first: ToolResult) -> str:
        reason = (f"the {ctx.policy.sandbox_mode} sandbox stopped it (exit "
                  f"{first.exit_code if first.exit_code is not None else 'before start'}); "
                  "run it again without the sandbox?")
        answer = await ctx.request_approval(
            ExecApprovalRequest(call.call_id, cmd, cwd, reason, escalated=True),
            keys=[exec_key(cmd, True)])
        if answer is ReviewDecision.DENIED:
            return (first.text + "\n\nNote: the sandbox denied this command and the user "
                    "declined to run it outside the sandbox.")
        retry = await self._run(ctx, call.call_id, cmd, cwd,
                                {**args, "sandbox_permissions": REQUIRE_ESCALATED},
                                sandboxed=False)
        return retry.text

    # -- write_stdin -----------------------------------------------------------------
    async def write_stdin(self, call: ToolCall, ctx: ToolContext) -> str:
        args = call.arguments()
        sid = args.get("session_id")
        session_id = int(sid) if isinstance(sid, int | float) and not isinstance(sid, bool) \
            else None
        command = self.manager.command_of(session_id) if session_id is not None else None
        if command is None:
            return (await self.manager.write_stdin(args)).text  # the unknown-id error
        assert session_id is not None
        sandboxed = self._sandboxed.get(session_id, True)
        ctx.emit(ExecBegin(call.call_id, command, str(ctx.cwd), sandboxed,
                           session_id=session_id, turn_id=ctx.turn_id))
        started = time.monotonic()
        try:
            result = await self.manager.write_stdin(
                args, on_output=OutputStreamer(ctx, call.call_id))
        except asyncio.CancelledError:
            # The process runs on in its session (spec: an interrupted turn kills no session).
            ctx.emit(ExecEnd(call.call_id, command, None, time.monotonic() - started, "",
                             ExecStatus.RUNNING, session_id=session_id, turn_id=ctx.turn_id))
            raise
        self._emit_end(ctx, call.call_id, command, result)
        return self._with_denial_note(result, ctx, ran_unsandboxed=not sandboxed)

    # -- running -----------------------------------------------------------------------
    async def _run(self, ctx: ToolContext, call_id: str, cmd: str, cwd: str,
                   args: dict[str, Any], *, sandboxed: bool) -> ToolResult:
        ctx.emit(ExecBegin(call_id, cmd, cwd, sandboxed, turn_id=ctx.turn_id))
        started = time.monotonic()
        try:
            result = await self.manager.exec_command(args, on_output=OutputStreamer(ctx, call_id),
                                                     kill_on_cancel=True)
        except asyncio.CancelledError:
            ctx.emit(ExecEnd(call_id, cmd, None, time.monotonic() - started, "",
                             ExecStatus.ABORTED, turn_id=ctx.turn_id))
            raise
        if result.session_id is not None:
            self._sandboxed[result.session_id] = sandboxed
        self._emit_end(ctx, call_id, cmd, result)
        return result

    def _emit_end(self, ctx: ToolContext, call_id: str, cmd: str, result: ToolResult) -> None:
        status = end_status(result)
        shown = result.output or ""
        if result.failure and not shown:
            # It never started (no exec-server, no such program): the user sees why, not only
            # the model (a bare "failed" hid an unreachable --exec-server).
            shown = f"could not start: {result.failure}"
        ctx.emit(ExecEnd(call_id, cmd, result.exit_code, result.wall_time, shown,
                         status, session_id=result.session_id if status is ExecStatus.RUNNING
                         else None, turn_id=ctx.turn_id))

    @staticmethod
    def _declined(ctx: ToolContext, cmd: str) -> None:
        ctx.emit(ExecEnd(ctx.call_id, cmd, None, 0.0, "", ExecStatus.DECLINED,
                         turn_id=ctx.turn_id))

    async def _patch_command(self, cmd: str, patch: str, cwd: str, ctx: ToolContext) -> str:
        from codex.unified_exec.buffer import Collected
        from codex.unified_exec.output import format_result

        started = time.monotonic()
        text, ok = await self._run_patch(patch, cwd, ctx)
        data = text.encode("utf-8")
        lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
        return format_result(wall_time=time.monotonic() - started, exit_code=0 if ok else 1,
                             session_id=None, out=Collected(data, b"", len(data), lines),
                             budget_tokens=self.manager.budget_tokens)

    def _with_denial_note(self, result: ToolResult, ctx: ToolContext, *,
                          ran_unsandboxed: bool) -> str:
        """Tell the model when the sandbox (not the command) is why it failed, and what it
        can do about it under the session's approval policy."""
        text = result.text
        policy = ctx.policy
        if ran_unsandboxed or policy.sandbox_mode == DANGER_FULL_ACCESS \
                or result.exit_code in (None, 0) or not _sandbox_failed(result, ctx):
            return text
        if policy.approval == "on-request":
            advice = ("to run it outside the sandbox, call exec_command again with "
                      "sandbox_permissions \"require_escalated\" and a one-sentence "
                      "justification; the user will be asked")
        else:
            advice = f"approval policy `{policy.approval}`: it cannot be rerun outside the sandbox"
        return text + f"\n\nNote: the {policy.sandbox_mode} sandbox denied this command ({advice})."


def _sandbox_failed(result: ToolResult, ctx: ToolContext) -> bool:
    """Whether the sandbox caused the failure: a denied write or network, or a sandbox that
    could not be set up (exit 125, or a spawn refused as 'sandbox unavailable')."""
    from codex.sandbox import is_sandbox_denial

    if result.failure is not None:
        return "sandbox" in result.failure.lower()
    if result.exit_code == SANDBOX_SETUP_FAILED:
        return True
    return is_sandbox_denial(result.exit_code, result.output or "",
                             policy=ctx.policy.to_wire(ctx.cwd))


def _escalation_refusal(approval: str, mode: str) -> str:
    if approval == "never":
        return ("command declined: it asked to run outside the sandbox, and under approval "
                f"policy `{approval}` nobody can approve that. Work within the {mode} sandbox "
                "or tell the user what you need.")
    return ("command declined: running outside the sandbox (sandbox_permissions "
            f"\"require_escalated\") can only be asked for under approval policy `on-request`; "
            f"this session's policy is `{approval}`. Run it without sandbox_permissions, inside "
            f"the {mode} sandbox.")


def _user_declined(cmd: str) -> str:
    return (f"exec_command declined: the user did not allow `{cmd}` to run. Do not run it "
            "again as it is; ask the user what they want, or try another way.")
