"""`ToolContext`: what a tool handler may use of its session during one call.

A handler (built-in or MCP) gets a fresh context per call:

- `turn_id`, `call_id`: put them on every event it emits (`McpCallBegin(call_id=ctx.call_id,
  ..., turn_id=ctx.turn_id)`).
- `cwd`, `policy`: the turn's working directory and its approval policy / sandbox mode
  (`policy.approval` is already `never` when nobody can answer, e.g. `codex exec`).
- `emit(event)`: send a protocol event to the front-end, in order with the session's own.
  Contract (protocol.py): a `*Begin` event must be followed by its `*End` before the handler
  returns, also when it fails; on cancellation (an interrupted turn) emit the `*End` in an
  `except asyncio.CancelledError` block and re-raise.
- `await request_approval(request, keys=...)`: ask the person. `request` is an
  `ExecApprovalRequest` or `PatchApprovalRequest` (its `turn_id` is filled in). Returns the
  `ReviewDecision`: `APPROVED`, `APPROVED_FOR_SESSION` (the `keys` — strings naming what was
  approved, e.g. `"mcp:server/tool"` — are remembered for the session and in the rollout; a
  later request whose keys are all remembered returns `APPROVED` without asking) or `DENIED`.
  `ABORT` never returns: the turn is interrupted and `asyncio.CancelledError` is raised. With
  nobody to ask (`policy.approval == "never"`) the answer is `DENIED` at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from codex.core.policy import Policy
    from codex.core.protocol import (
        Event,
        ExecApprovalRequest,
        PatchApprovalRequest,
        ReviewDecision,
    )


class ApprovalGate(Protocol):
    """The session side of `ToolContext.request_approval` (codex.core.approvals.Approvals)."""

    async def request(self, request: ExecApprovalRequest | PatchApprovalRequest,
                      keys: Sequence[str] = ()) -> ReviewDecision: ...

    def remembered(self, keys: Sequence[str]) -> bool: ...


@dataclass(frozen=True)
class ToolContext:
    turn_id: str
    call_id: str
    cwd: Path
    policy: Policy
    emit: Callable[[Event], None]
    approvals: ApprovalGate

    async def request_approval(self, request: ExecApprovalRequest | PatchApprovalRequest,
                               keys: Sequence[str] = ()) -> ReviewDecision:
        return await self.approvals.request(replace(request, turn_id=self.turn_id), keys)
