"""`apply_patch`: verify, check the policy (ask when it says so), snapshot for undo, apply.

Events: a patch that is applied gets `PatchBegin` then `PatchEnd(success)`; one refused before
that (does not verify, declined by policy or by the user) gets only `PatchEnd(success=False)`
with the text the model reads. Each `FileChange` carries the absolute path and a unified diff.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from codex.core.approvals import file_key, patch_needs_approval
from codex.core.policy import READ_ONLY
from codex.core.protocol import (
    FileChange,
    PatchApprovalRequest,
    PatchBegin,
    PatchEnd,
    ReviewDecision,
)
from codex.core.tools.registry import CallKind, Tool, ToolCall, ToolCallError
from codex.core.undo import UndoLog

if TYPE_CHECKING:
    from codex.core.apply_patch import PatchPlan
    from codex.core.tools.context import ToolContext

MAX_DIFF_BYTES = 256 * 1024  # per file, in an approval request or PatchBegin


class PatchTool:
    """apply_patch for one session; its snapshots go to `undo`."""

    def __init__(self, undo: UndoLog) -> None:
        self.undo = undo

    def tool(self) -> Tool:
        from codex.core.apply_patch.tool import APPLY_PATCH_FREEFORM_TOOL, APPLY_PATCH_JSON_TOOL

        # Freeform (raw patch text) on Responses; a JSON function with `input` on Chat.
        return Tool(APPLY_PATCH_FREEFORM_TOOL, self.handle,
                    wire_specs={"chat": APPLY_PATCH_JSON_TOOL})

    async def handle(self, call: ToolCall, ctx: ToolContext) -> str:
        if call.kind is CallKind.CUSTOM:
            patch = call.payload
        else:
            args = call.arguments()
            patch = args.get("input", args.get("patch"))
            if not isinstance(patch, str):
                raise ToolCallError(
                    "failed to parse function arguments: missing string field `input`")
        return (await self.apply(patch, str(ctx.cwd), ctx))[0]

    async def apply(self, patch: str, cwd: str, ctx: ToolContext) -> tuple[str, bool]:
        """(text for the model, applied?) for `patch` with paths relative to `cwd`."""
        from codex.core.apply_patch import PatchError, verify_patch

        base = Path(cwd)
        try:
            plan = await asyncio.to_thread(verify_patch, patch, base)
        except PatchError as e:
            return self._refused(ctx, f"apply_patch verification failed: {e.message}")
        changes = _file_changes(plan, base)
        written = list(plan.written_paths)
        policy = ctx.policy
        outside = [str(p) for p in written if not policy.may_write(p, ctx.cwd)]
        need = patch_needs_approval(policy.approval, outside_roots=bool(outside))
        if need is None:
            why = ("the sandbox is read-only" if policy.sandbox_mode == READ_ONLY
                   else "outside the writable roots of the workspace-write sandbox")
            return self._refused(ctx, f"apply_patch declined: writing {', '.join(outside)} is "
                                 f"not allowed ({why}; approval policy `{policy.approval}`).",
                                 changes)
        if need:
            # Under read-only every path is "outside": say why in those words, not as if the
            # paths were wrong.
            reason = None
            if outside and policy.sandbox_mode == READ_ONLY:
                reason = "the sandbox is read-only: approving lets this patch write its files"
            elif outside:
                reason = f"writes outside the writable roots: {', '.join(outside)}"
            answer = await ctx.request_approval(
                PatchApprovalRequest(ctx.call_id, changes, reason),
                keys=[file_key(str(p)) for p in written])
            if answer is ReviewDecision.DENIED:
                return self._refused(ctx, "apply_patch declined: the user did not approve "
                                     "this patch; nothing was changed. Ask the user how to "
                                     "proceed.", changes)
        self.undo.snapshot(ctx.turn_id, written)
        ctx.emit(PatchBegin(ctx.call_id, changes, auto_approved=not need, turn_id=ctx.turn_id))
        try:
            result = await asyncio.to_thread(plan.apply)
        except PatchError as e:
            text = f"apply_patch verification failed: {e.message}"
            ctx.emit(PatchEnd(ctx.call_id, False, changes, text, turn_id=ctx.turn_id))
            return text, False
        text = result.summary_text()
        ctx.emit(PatchEnd(ctx.call_id, True, changes, text, turn_id=ctx.turn_id))
        return text, True

    @staticmethod
    def _refused(ctx: ToolContext, text: str,
                 changes: tuple[FileChange, ...] = ()) -> tuple[str, bool]:
        ctx.emit(PatchEnd(ctx.call_id, False, changes, text, turn_id=ctx.turn_id))
        return text, False


def _file_changes(plan: PatchPlan, base: Path) -> tuple[FileChange, ...]:
    out: list[FileChange] = []
    for c in plan.changes:
        src = c.abs_path or base / c.path
        dest = c.abs_move_path
        before, after = plan.contents(src)
        if dest is not None and dest != src:
            after = plan.contents(dest)[1]
        out.append(FileChange(str(dest or src), c.kind,
                              _diff(str(src), str(dest or src), before, after, c.kind),
                              move_path=str(dest) if dest is not None and dest != src else None))
    return tuple(out)


def _diff(old_name: str, new_name: str, before: bytes | None, after: bytes | None,
          kind: str) -> str:
    import difflib  # only when a patch is shown

    a = (before or b"").decode("utf-8", "replace") if kind != "add" else ""
    b = (after or b"").decode("utf-8", "replace") if kind != "delete" else ""
    text = "".join(difflib.unified_diff(
        a.splitlines(keepends=True), b.splitlines(keepends=True),
        fromfile="/dev/null" if kind == "add" else old_name,
        tofile="/dev/null" if kind == "delete" else new_name))
    if len(text) > MAX_DIFF_BYTES:
        text = text[:MAX_DIFF_BYTES] + "\n… (diff cut)\n"
    return text
