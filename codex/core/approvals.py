"""Approvals: when to ask (spec session.md, "Approvals"), and the requests waiting for a person.

The policy table, in one place (exec_command; apply_patch):
- `untrusted`: ask unless the command is known-safe (`codex.core.safety`); ask before every
  patch.
- `on-request`: ask when the model escalates (`sandbox_permissions: "require_escalated"`);
  ask when a patch writes outside the writable roots.
- `on-failure`: after a failure the sandbox caused, ask to run the command again unsandboxed;
  ask when a patch writes outside the writable roots.
- `never`: never ask; an escalation is declined, a patch outside the roots declined.

Escalation is only offered under `on-request` (elsewhere the model is told it cannot escalate).
An approved command runs inside the session's sandbox unless it is an approved escalation or
an approved retry. `approved_for_session` remembers the request's keys (`exec:` + the exact
command, `file:` + each path of a patch) for the rest of the session and in the rollout.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from codex.core.protocol import (
    Event,
    ExecApprovalRequest,
    PatchApprovalRequest,
    ReviewDecision,
)

UNTRUSTED = "untrusted"
ON_REQUEST = "on-request"
ON_FAILURE = "on-failure"
NEVER = "never"
REQUIRE_ESCALATED = "require_escalated"


class ExecVerdict(enum.Enum):
    """What to do with a command before it runs."""

    RUN = "run"  # inside the sandbox (or unsandboxed in danger-full-access)
    ASK = "ask"  # ask first; approved -> run inside the sandbox
    ASK_ESCALATED = "ask_escalated"  # ask first; approved -> run outside the sandbox
    REFUSE_ESCALATION = "refuse_escalation"  # escalation is not possible under this policy


@dataclass(frozen=True, slots=True)
class ExecDecision:
    verdict: ExecVerdict
    reason: str | None = None  # shown with the approval request


def exec_verdict(approval: str, *, escalated: bool, unsandboxed: bool,
                 known_safe: bool, justification: str | None) -> ExecDecision:
    """Before running a command. `unsandboxed`: the session has no sandbox to escape."""
    if escalated and not unsandboxed:
        if approval == ON_REQUEST:
            return ExecDecision(ExecVerdict.ASK_ESCALATED, justification)
        return ExecDecision(ExecVerdict.REFUSE_ESCALATION)
    if approval == UNTRUSTED and not known_safe:
        return ExecDecision(ExecVerdict.ASK, justification)
    return ExecDecision(ExecVerdict.RUN)


def retry_unsandboxed(approval: str, *, unsandboxed: bool, sandbox_failed: bool) -> bool:
    """After a command failed: offer to run it again outside the sandbox (`on-failure`)."""
    return approval == ON_FAILURE and not unsandboxed and sandbox_failed


def patch_needs_approval(approval: str, *, outside_roots: bool) -> bool | None:
    """True: ask; False: apply; None: decline (writes outside the roots under `never`)."""
    if approval == UNTRUSTED:
        return True
    if outside_roots:
        return None if approval == NEVER else True
    return False


def exec_key(command: str, escalated: bool) -> str:
    return "exec:" + json.dumps([command, escalated], ensure_ascii=False)


def file_key(path: str) -> str:
    return f"file:{path}"


ApprovalRequest = ExecApprovalRequest | PatchApprovalRequest


class Approvals:
    """Requests waiting for an answer, and what was approved for the session.

    `emit` sends the request event; `record(keys)` writes remembered keys to the rollout;
    `interrupt()` ends the running turn (decision `abort`)."""

    def __init__(self, *, emit: Callable[[Event], None],
                 record: Callable[[list[str]], None], interrupt: Callable[[], None],
                 interactive: bool, remembered: Iterable[str] = ()) -> None:
        self._emit = emit
        self._record = record
        self._interrupt = interrupt
        self.interactive = interactive
        self._keys: set[str] = set(remembered)
        self._pending: dict[str, asyncio.Future[ReviewDecision]] = {}

    @property
    def pending(self) -> list[str]:
        """Call ids of the requests waiting for an answer."""
        return list(self._pending)

    def remembered(self, keys: Sequence[str]) -> bool:
        return bool(keys) and all(k in self._keys for k in keys)

    async def request(self, request: ApprovalRequest,
                      keys: Sequence[str] = ()) -> ReviewDecision:
        if self.remembered(keys):
            return ReviewDecision.APPROVED
        if not self.interactive:
            return ReviewDecision.DENIED
        fut: asyncio.Future[ReviewDecision] = asyncio.get_running_loop().create_future()
        self._pending[request.call_id] = fut
        self._emit(request)
        try:
            decision = await fut
        finally:
            self._pending.pop(request.call_id, None)
        if decision is ReviewDecision.APPROVED_FOR_SESSION and keys:
            new = [k for k in keys if k not in self._keys]
            self._keys.update(new)
            if new:
                self._record(new)
        if decision is ReviewDecision.ABORT:
            self._interrupt()
            raise asyncio.CancelledError
        return decision

    def answer(self, call_id: str, decision: ReviewDecision) -> bool:
        """Resolve the request for `call_id`; False when none is pending."""
        fut = self._pending.get(call_id)
        if fut is None or fut.done():
            return False
        fut.set_result(ReviewDecision(decision))
        return True
