"""`codex exec` for people: progress on stderr; the final message goes to stdout (exec_cmd)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from codex.core import protocol as P

SHOWN_OUTPUT_LINES = 6
_PATCH_MARKS = {"add": "A", "update": "M", "delete": "D"}


class HumanRenderer:
    """Call with each event; writes lines to `err`."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self._output: dict[str, str] = {}  # command output so far, by call id
        self._by_session: dict[int, str] = {}  # running command's first call id

    def say(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def __call__(self, ev: P.Event) -> None:
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)

    def finish(self) -> None:
        pass

    def _configured(self, ev: P.SessionConfigured) -> None:
        self.say(f"codex exec · session {ev.session_id}\nmodel: {ev.model} · provider: "
                 f"{ev.provider} · sandbox: {ev.sandbox_mode} · approval: "
                 f"{ev.approval_policy}\n--------")

    def _user(self, ev: P.UserMessage) -> None:
        self.say(f"user\n{ev.text}")

    def _exec_begin(self, ev: P.ExecBegin) -> None:
        first = self._by_session.get(ev.session_id) if ev.session_id is not None else None
        if first is None:
            self.say(f"exec {ev.command}")
            self._output[ev.call_id] = ""
        else:
            self._output[ev.call_id] = self._output.pop(first, "")

    def _exec_end(self, ev: P.ExecEnd) -> None:
        if ev.status is P.ExecStatus.DECLINED:
            self.say(f"exec {ev.command}\n  declined")
            return
        output = self._output.pop(ev.call_id, "") + ev.aggregated_output
        if ev.status is P.ExecStatus.RUNNING and ev.session_id is not None:
            self._by_session[ev.session_id] = ev.call_id
            self._output[ev.call_id] = output
            return
        lines = output.rstrip("\n").splitlines()
        shown = lines[:SHOWN_OUTPUT_LINES]
        if len(lines) > SHOWN_OUTPUT_LINES:
            shown.append(f"  ... ({len(lines) - SHOWN_OUTPUT_LINES} more lines)")
        body = "".join(f"\n  {line}" for line in shown)
        if ev.status is P.ExecStatus.ABORTED:
            head = "interrupted"
        else:
            head = "failed" if ev.exit_code is None else f"exited {ev.exit_code}"
        self.say(f"  {head}{body}")

    def _patch_end(self, ev: P.PatchEnd) -> None:
        if ev.success:
            for c in ev.changes:
                self.say(f"apply_patch {_PATCH_MARKS.get(c.kind, '?')} {c.path}")
        else:
            self.say("apply_patch failed")

    def _plan(self, ev: P.PlanUpdate) -> None:
        lines = "".join(f"\n  [{'x' if s.status == 'completed' else ' '}] {s.step}"
                        for s in ev.plan)
        self.say(f"plan{lines}")

    def _reasoning(self, ev: P.Reasoning) -> None:
        self.say(f"thinking\n{ev.text}")

    def _agent_message(self, ev: P.AgentMessage) -> None:
        self.say(f"codex\n{ev.text}")

    # -- MCP (codex/mcp) -------------------------------------------------------------------
    def _mcp_startup(self, ev: P.McpStartupUpdate) -> None:
        if ev.status == "ready":
            self.say(f"mcp: {ev.server} ready ({len(ev.tools)} tools)")
        elif ev.status == "failed":
            self.say(f"mcp: {ev.server} failed: {ev.reason or 'unknown reason'}")

    def _mcp_begin(self, ev: P.McpCallBegin) -> None:
        self.say(f"tool {ev.server}.{ev.tool}({json.dumps(ev.arguments, ensure_ascii=False)})")

    def _mcp_end(self, ev: P.McpCallEnd) -> None:
        took = f"{ev.duration_s * 1000:.0f}ms"
        if ev.result is None:
            self.say(f"  failed in {took}: {ev.error}")
            return
        from codex.mcp.results import map_result

        out = map_result(ev.result, images=False)
        lines = out.text.rstrip("\n").splitlines()
        shown = lines[:SHOWN_OUTPUT_LINES]
        if len(lines) > SHOWN_OUTPUT_LINES:
            shown.append(f"... ({len(lines) - SHOWN_OUTPUT_LINES} more lines)")
        body = "".join(f"\n  {line}" for line in shown)
        self.say(f"  {'succeeded' if out.success else 'failed'} in {took}:{body}")

    def _notice(self, ev: Any) -> None:
        self.say(ev.message)

    def _warning(self, ev: P.Warning) -> None:
        self.say(f"warning: {ev.message}")

    def _error(self, ev: P.Error) -> None:
        self.say(f"ERROR: {ev.message}")

    def _turn_complete(self, ev: P.TurnComplete) -> None:
        if not ev.failed:
            self.say(f"tokens used: {ev.usage.input_tokens + ev.usage.output_tokens}")

    def _turn_aborted(self, ev: P.TurnAborted) -> None:
        self.say(ev.reason)


_HANDLERS: dict[type, Any] = {
    P.SessionConfigured: HumanRenderer._configured,
    P.UserMessage: HumanRenderer._user,
    P.ExecBegin: HumanRenderer._exec_begin,
    P.ExecEnd: HumanRenderer._exec_end,
    P.PatchEnd: HumanRenderer._patch_end,
    P.PlanUpdate: HumanRenderer._plan,
    P.Reasoning: HumanRenderer._reasoning,
    P.AgentMessage: HumanRenderer._agent_message,
    P.McpStartupUpdate: HumanRenderer._mcp_startup,
    P.McpCallBegin: HumanRenderer._mcp_begin,
    P.McpCallEnd: HumanRenderer._mcp_end,
    P.StreamError: HumanRenderer._notice,
    P.Warning: HumanRenderer._warning,
    P.Error: HumanRenderer._error,
    P.TurnComplete: HumanRenderer._turn_complete,
    P.TurnAborted: HumanRenderer._turn_aborted,
}
