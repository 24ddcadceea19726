"""`codex exec --json`: the session's events as JSONL on stdout (spec model-wire.md).

Lines: `thread.started {thread_id}`, `turn.started`, `item.started|updated|completed {item}`,
`turn.completed {usage}`, `turn.failed {error: {message}}`, `error {message}`. Items are
numbered `item_0, item_1, ...` in the order they first appear:
- `agent_message {text}` and `reasoning {text}`: completed when the model's response is.
- `command_execution {command, aggregated_output, exit_code, status}`: started when the
  command starts; updated when the call returns with the command still running (it runs on in a
  session, and later `write_stdin` calls add to the same item); completed when it exits
  (`completed` for exit 0, else `failed`), is `declined` (only `item.completed`), or is
  interrupted (`failed`, exit_code null).
- `file_change {changes: [{path, kind}], status}`: completed (`changes` empty when it failed).
- `todo_list {items: [{text, completed}]}`: started by the first plan of the turn, updated by
  the next ones, completed at the end of the turn.
- `mcp_tool_call {server, tool, arguments, result, error, status}`: started when the call
  starts; completed with `result: {content, structured_content}` (the MCP result) and
  `status: "completed"`, or `status: "failed"` with `error: {message}` (timeout, crash,
  declined) or with the result the server marked `isError`.
- `error {message}` for a warning, and for an MCP server that failed to start
  (`mcp: <server> failed: <reason>`).

Every item started in a turn is completed before its `turn.completed` / `turn.failed`. A
command still running in its session when the turn ends is completed with `status:
"in_progress"` and `exit_code: null` (it was alive when the turn ended; `codex exec` then ends
it on exit). An `Error` that ends the turn becomes `turn.failed`; any other becomes `error`.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from codex.core import protocol as P

# ExecEnd status -> the JSONL item's status.
_EXEC_STATUS = {
    P.ExecStatus.COMPLETED: "completed",
    P.ExecStatus.FAILED: "failed",
    P.ExecStatus.DECLINED: "declined",
    P.ExecStatus.ABORTED: "failed",
    P.ExecStatus.RUNNING: "in_progress",
}
STILL_RUNNING_STATUS = "in_progress"


class JsonlRenderer:
    """Call with each event; writes complete lines to `out` (flushed)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._next = 0
        self._by_call: dict[str, dict[str, Any]] = {}  # open items by call id
        self._by_session: dict[int, dict[str, Any]] = {}  # running commands by session id
        self._open: dict[str, dict[str, Any]] = {}  # open items by id, in order of opening
        self._plan: dict[str, Any] | None = None
        self._pending_error: str | None = None

    def line(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()

    def __call__(self, ev: P.Event) -> None:
        if self._pending_error is not None and not (
                isinstance(ev, P.TurnComplete) and ev.failed):
            self.line({"type": "error", "message": self._pending_error})
            self._pending_error = None
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)

    def finish(self) -> None:
        """At the end of the stream: say an error that no turn end claimed."""
        if self._pending_error is not None:
            self.line({"type": "error", "message": self._pending_error})
            self._pending_error = None

    # -- items ---------------------------------------------------------------------------
    def _new(self, kind: str, **fields: Any) -> dict[str, Any]:
        item = {"id": f"item_{self._next}", "type": kind, **fields}
        self._next += 1
        return item

    def _emit(self, what: str, item: dict[str, Any]) -> None:
        self.line({"type": f"item.{what}", "item": dict(item)})

    def _start(self, item: dict[str, Any]) -> None:
        self._open[item["id"]] = item
        self._emit("started", item)

    def _complete(self, item: dict[str, Any]) -> None:
        self._open.pop(item["id"], None)
        self._emit("completed", item)

    def _close_turn(self) -> None:
        for item in list(self._open.values()):
            if item["type"] == "command_execution":
                item["status"] = STILL_RUNNING_STATUS
            self._complete(item)
        self._by_call.clear()
        self._by_session.clear()
        self._plan = None

    # -- handlers ------------------------------------------------------------------------
    def _configured(self, ev: P.SessionConfigured) -> None:
        self.line({"type": "thread.started", "thread_id": ev.session_id})

    def _turn_started(self, ev: P.TurnStarted) -> None:
        self.line({"type": "turn.started"})

    def _agent_message(self, ev: P.AgentMessage) -> None:
        self._emit("completed", self._new("agent_message", text=ev.text))

    def _reasoning(self, ev: P.Reasoning) -> None:
        self._emit("completed", self._new("reasoning", text=ev.text))

    def _exec_begin(self, ev: P.ExecBegin) -> None:
        item = self._by_session.get(ev.session_id) if ev.session_id is not None else None
        if item is None:
            item = self._new("command_execution", command=ev.command, aggregated_output="",
                             exit_code=None, status="in_progress")
            self._start(item)
        self._by_call[ev.call_id] = item

    def _exec_end(self, ev: P.ExecEnd) -> None:
        item = self._by_call.pop(ev.call_id, None)
        if item is None:  # declined: it never started
            item = self._new("command_execution", command=ev.command, aggregated_output="",
                             exit_code=None, status="in_progress")
        item["aggregated_output"] += ev.aggregated_output
        item["status"] = _EXEC_STATUS[ev.status]
        if ev.status is P.ExecStatus.RUNNING and ev.session_id is not None:
            self._by_session[ev.session_id] = item
            self._emit("updated", item)
            return
        for sid, running in list(self._by_session.items()):
            if running is item:
                del self._by_session[sid]
        item["exit_code"] = ev.exit_code
        self._complete(item)

    def _patch_end(self, ev: P.PatchEnd) -> None:
        changes = [{"path": c.path, "kind": c.kind} for c in ev.changes] if ev.success else []
        self._emit("completed", self._new("file_change", changes=changes,
                                          status="completed" if ev.success else "failed"))

    def _plan_update(self, ev: P.PlanUpdate) -> None:
        todo = [{"text": s.step, "completed": s.status == "completed"} for s in ev.plan]
        if self._plan is None:
            self._plan = self._new("todo_list", items=todo)
            self._start(self._plan)
        else:
            self._plan["items"] = todo
            self._emit("updated", self._plan)

    # -- MCP (codex/mcp) -------------------------------------------------------------------
    def _mcp_begin(self, ev: P.McpCallBegin) -> None:
        item = self._new("mcp_tool_call", server=ev.server, tool=ev.tool,
                         arguments=ev.arguments, result=None, error=None,
                         status="in_progress")
        self._by_call[ev.call_id] = item
        self._start(item)

    def _mcp_end(self, ev: P.McpCallEnd) -> None:
        item = self._by_call.pop(ev.call_id, None) or self._new(
            "mcp_tool_call", server=ev.server, tool=ev.tool, arguments=ev.arguments)
        result = None if ev.result is None else {
            "content": ev.result.get("content") or [],
            "structured_content": ev.result.get("structuredContent")}
        failed = ev.error is not None or bool((ev.result or {}).get("isError"))
        item.update(result=result,
                    error={"message": ev.error} if ev.error is not None else None,
                    status="failed" if failed else "completed")
        self._complete(item)

    def _warning(self, ev: P.Warning) -> None:
        self._emit("completed", self._new("error", message=ev.message))

    def _mcp_startup(self, ev: P.McpStartupUpdate) -> None:
        if ev.status == "failed":
            self._emit("completed", self._new(
                "error", message=f"mcp: {ev.server} failed: {ev.reason or 'unknown reason'}"))

    def _stream_error(self, ev: P.StreamError) -> None:
        if ev.layer != "stream":
            return  # the JSON stream announces stream-layer retries only (HTTP ones: quiet)
        self.line({"type": "error", "message": ev.message})

    def _error(self, ev: P.Error) -> None:
        self._pending_error = ev.message  # turn.failed if the turn ends on it

    def _turn_complete(self, ev: P.TurnComplete) -> None:
        self._close_turn()
        if ev.failed:
            message, self._pending_error = self._pending_error or "the turn failed", None
            self.line({"type": "turn.failed", "error": {"message": message}})
        else:
            self.line({"type": "turn.completed", "usage": ev.usage.to_json()})

    def _turn_aborted(self, ev: P.TurnAborted) -> None:
        self._close_turn()
        self.line({"type": "turn.failed", "error": {"message": ev.reason}})


_HANDLERS: dict[type, Any] = {
    P.SessionConfigured: JsonlRenderer._configured,
    P.TurnStarted: JsonlRenderer._turn_started,
    P.AgentMessage: JsonlRenderer._agent_message,
    P.Reasoning: JsonlRenderer._reasoning,
    P.ExecBegin: JsonlRenderer._exec_begin,
    P.ExecEnd: JsonlRenderer._exec_end,
    P.PatchEnd: JsonlRenderer._patch_end,
    P.PlanUpdate: JsonlRenderer._plan_update,
    P.McpCallBegin: JsonlRenderer._mcp_begin,
    P.McpCallEnd: JsonlRenderer._mcp_end,
    P.McpStartupUpdate: JsonlRenderer._mcp_startup,
    P.Warning: JsonlRenderer._warning,
    P.StreamError: JsonlRenderer._stream_error,
    P.Error: JsonlRenderer._error,
    P.TurnComplete: JsonlRenderer._turn_complete,
    P.TurnAborted: JsonlRenderer._turn_aborted,
}
