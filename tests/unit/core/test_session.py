"""The session driven in-process with a scripted model: event sequences, streaming, tools,
interrupts, the registry at run time, overrides."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codex.core import protocol as P
from codex.core.tools import Tool, ToolCall, ToolContext
from tests.support import scripted_model as sm
from tests.support.session_harness import (
    SessionHarness,
    names,
    of,
    rollout_lines,
    shutdown,
    until,
    user_turn,
)
from tests.support.unified_exec import wait_pids_gone

pytestmark = pytest.mark.asyncio


async def test_streamed_answer_event_sequence(harness: SessionHarness) -> None:
    harness.model.add(sm.text("Hello there, friend.", chunks=3))
    s = await harness.start()
    first = await s.next_event()
    assert isinstance(first, P.SessionConfigured) and first.session_id == s.session_id
    assert first.rollout_path == str(s.rollout_path) and s.rollout_path.exists()
    s.submit(user_turn("say hello"))
    evs = await until(s, P.TurnComplete)
    assert names(evs) == ["TurnStarted", "UserMessage", "AgentMessageDelta",
                          "AgentMessageDelta", "AgentMessageDelta", "AgentMessage",
                          "TokenCount", "TurnComplete"]
    turn = evs[0].turn_id
    assert all(getattr(e, "turn_id", None) == turn for e in evs)
    assert "".join(e.delta for e in of(evs, P.AgentMessageDelta)) == "Hello there, friend."
    assert of(evs, P.AgentMessage)[0].text == "Hello there, friend."
    done = evs[-1]
    assert done.last_message == "Hello there, friend." and not done.failed
    assert done.usage == sm.USAGE
    count = of(evs, P.TokenCount)[0]
    assert count.total == sm.USAGE and count.context_window == 272_000  # gpt-5-codex
    assert count.percent_left == 100 and not count.estimated
    req = harness.model.requests[0]
    assert harness.model.user_texts(0)[-1] == "say hello"
    assert {"exec_command", "write_stdin", "apply_patch", "update_plan"} <= set(
        harness.model.tool_names(0))
    assert req.parallel_tool_calls
    end = await shutdown(s)
    assert isinstance(end[-1], P.ShutdownComplete)
    assert harness.model.closed
    with pytest.raises(Exception, match="shut down"):
        await s.next_event()
    kinds = [line["type"] for line in rollout_lines(s.rollout_path)]
    assert kinds[0] == "session_meta" and "turn_context" in kinds


async def test_reasoning_is_streamed_then_shown(harness: SessionHarness) -> None:
    harness.model.add(sm.reasoning("Thinking it over", sm.text("done")))
    s = await harness.start()
    s.submit(user_turn("think"))
    evs = await until(s, P.TurnComplete)
    assert [e.delta for e in of(evs, P.ReasoningDelta)] == ["Thinking it over"]
    assert of(evs, P.Reasoning)[0].text == "Thinking it over"
    assert names(evs).index("Reasoning") < names(evs).index("AgentMessage")
    # In wire order: the reasoning is shown before the answer it preceded starts streaming
    # (a front-end printing it after would show the answer first).
    assert names(evs).index("Reasoning") < names(evs).index("AgentMessageDelta")


async def test_a_reconnect_is_a_stream_error_and_voids_the_attempt(
        harness: SessionHarness) -> None:
    harness.model.add(sm.reconnect_then(sm.text("whole")))
    s = await harness.start()
    s.submit(user_turn("go"))
    evs = await until(s, P.TurnComplete)
    assert [e.message for e in of(evs, P.StreamError)] == [
        "Reconnecting... 1/5 (stream broke)"]
    assert [e.text for e in of(evs, P.AgentMessage)] == ["whole"]


async def test_command_output_is_streamed_while_it_runs(harness: SessionHarness) -> None:
    # The command waits for a file that the test creates only after it has seen the first
    # output as a delta: without streaming this would not finish within the call's wait.
    gate = harness.cwd / "go"
    cmd = f"printf FIRST; while [ ! -e {gate} ]; do sleep 0.01; done; printf SECOND"
    harness.model.add(sm.calls(("c1", "exec_command", {"cmd": cmd, "yield_time_ms": 30000})),
                      sm.text("ran it"))
    s = await harness.start()
    s.submit(user_turn("run"))
    evs = await until(s, P.ExecOutputDelta)
    begin = of(evs, P.ExecBegin)[0]
    assert begin.call_id == "c1" and begin.command == cmd and not begin.sandboxed
    assert begin.source is P.ExecSource.AGENT
    assert evs[-1].chunk == b"FIRST" and evs[-1].call_id == "c1"
    gate.touch()
    rest = await until(s, P.TurnComplete)
    end = of(rest, P.ExecEnd)[0]
    assert end.status is P.ExecStatus.COMPLETED and end.exit_code == 0
    assert end.aggregated_output == "FIRSTSECOND"
    streamed = b"".join(e.chunk for e in of(evs + rest, P.ExecOutputDelta))
    assert streamed == b"FIRSTSECOND"
    assert names(rest).index("ExecEnd") < names(rest).index("TurnComplete")
    assert harness.model.outputs(1)["c1"].endswith("FIRSTSECOND")


async def test_parallel_calls_run_together_and_answer_in_call_order(
        harness: SessionHarness) -> None:
    # c1 can only finish once c2 has run: both must run at the same time.
    flag = harness.cwd / "flag"
    harness.model.add(sm.calls(
        ("c1", "exec_command", {"cmd": f"while [ ! -e {flag} ]; do sleep 0.01; done; echo one",
                                "yield_time_ms": 30000}),
        ("c2", "exec_command", {"cmd": f"touch {flag}; echo two"})), sm.text("both"))
    s = await harness.start()
    s.submit(user_turn("two at once"))
    evs = await until(s, P.TurnComplete)
    begins = [n for n in names(evs) if n in ("ExecBegin", "ExecEnd")]
    assert begins[:2] == ["ExecBegin", "ExecBegin"]
    assert {e.call_id: e.status for e in of(evs, P.ExecEnd)} == {
        "c1": P.ExecStatus.COMPLETED, "c2": P.ExecStatus.COMPLETED}
    outs = harness.model.outputs(1)
    assert list(outs) == ["c1", "c2"]
    assert outs["c1"].endswith("one\n") and outs["c2"].endswith("two\n")
    inputs = [it.get("type") for it in harness.model.requests[1].input[-4:]]
    assert inputs == ["function_call", "function_call", "function_call_output",
                      "function_call_output"]


async def test_bad_calls_get_answers_and_the_turn_goes_on(harness: SessionHarness) -> None:
    harness.model.add(sm.calls(("c1", "frobnicate", {}), ("c2", "exec_command", "{nope"),
                               ("c3", "update_plan", {"plan": "x"})), sm.text("sorry"))
    s = await harness.start()
    s.submit(user_turn("go"))
    evs = await until(s, P.TurnComplete)
    assert not evs[-1].failed
    outs = harness.model.outputs(1)
    assert outs["c1"] == "unsupported call: frobnicate"
    assert outs["c2"].startswith("failed to parse function arguments: ")
    assert outs["c3"].startswith("failed to parse function arguments: `plan`")
    assert of(evs, P.ExecBegin) == []


async def test_a_command_left_running_ends_running_and_write_stdin_continues_it(
        harness: SessionHarness) -> None:
    def poll(prompt):
        out = [it for it in prompt.input if it.get("type") == "function_call_output"][-1]
        sid = int(out["output"].split("session ID ")[1].split()[0])
        return sm.calls(("c2", "write_stdin", {"session_id": sid, "yield_time_ms": 20000}))

    harness.model.add(sm.calls(("c1", "exec_command", {"cmd": "sleep 0.5; echo later",
                                                       "yield_time_ms": 250})),
                      poll, sm.text("done"))
    s = await harness.start()
    s.submit(user_turn("wait"))
    evs = await until(s, P.TurnComplete)
    ends = of(evs, P.ExecEnd)
    assert ends[0].call_id == "c1" and ends[0].status is P.ExecStatus.RUNNING
    sid = ends[0].session_id
    assert sid is not None
    begin2 = [b for b in of(evs, P.ExecBegin) if b.call_id == "c2"][0]
    assert begin2.session_id == sid and begin2.command == "sleep 0.5; echo later"
    assert ends[1].call_id == "c2" and ends[1].status is P.ExecStatus.COMPLETED
    assert ends[1].aggregated_output == "later\n"


async def test_interrupt_during_a_command_kills_it_and_records_aborted(
        harness: SessionHarness) -> None:
    pidfile = harness.cwd / "pid"
    harness.model.add(sm.calls(("c1", "exec_command", {
        "cmd": f"echo $$ > {pidfile}; exec sleep 60", "yield_time_ms": 30000})))
    s = await harness.start()
    s.submit(user_turn("long"))
    await until(s, P.ExecBegin)
    while not (pidfile.exists() and pidfile.read_text().strip()):
        await asyncio.sleep(0.01)  # waiting for the command's own pid file
    pid = int(pidfile.read_text())
    s.submit(P.Interrupt())
    evs = await until(s, P.TurnAborted)
    end = of(evs, P.ExecEnd)[0]
    assert end.status is P.ExecStatus.ABORTED and end.call_id == "c1"
    assert names(evs)[-2:] == ["ExecEnd", "TurnAborted"]
    assert wait_pids_gone([pid]) == []  # no process left behind
    lines = rollout_lines(s.rollout_path)  # every line valid JSON
    outputs = [x["payload"] for x in lines if x["type"] == "response_item"
               and x["payload"].get("type") == "function_call_output"]
    assert outputs and outputs[-1]["call_id"] == "c1"
    assert outputs[-1]["output"].startswith("aborted")
    assert any(x["type"] == "event_msg" and x["payload"]["type"] == "turn_aborted"
               for x in lines)
    # The session goes on: the next turn answers the aborted call in its history.
    harness.model.add(sm.text("next"))
    s.submit(user_turn("again"))
    await until(s, P.TurnComplete)
    assert harness.model.outputs(1)["c1"].startswith("aborted")


async def test_interrupt_during_streaming(harness: SessionHarness) -> None:
    hold = sm.Hold()
    harness.model.add(sm.text("partial answer", hold=hold))
    s = await harness.start()
    s.submit(user_turn("talk"))
    evs = await until(s, P.AgentMessageDelta)
    await hold.reached.wait()
    s.submit(P.Interrupt())
    evs = await until(s, (P.TurnAborted, P.TurnComplete))
    assert isinstance(evs[-1], P.TurnAborted)
    assert of(evs, P.AgentMessage) == []
    lines = rollout_lines(s.rollout_path)
    assert not any(x["type"] == "response_item" and x["payload"].get("role") == "assistant"
                   for x in lines)


async def test_work_submitted_during_a_turn_waits_for_it(harness: SessionHarness) -> None:
    hold = sm.Hold()
    harness.model.add(sm.text("first", hold=hold), sm.text("second"))
    s = await harness.start()
    s.submit(user_turn("one"))
    s.submit(user_turn("two"))
    evs = await until(s, P.AgentMessageDelta)
    await hold.reached.wait()
    assert len(harness.model.requests) == 1
    hold.release()
    evs += await until(s, P.TurnComplete)
    evs += await until(s, P.TurnComplete)
    assert [e.text for e in of(evs, P.AgentMessage)] == ["first", "second"]
    assert harness.model.user_texts(1)[-1] == "two"
    assert len({e.turn_id for e in of(evs, P.TurnStarted)}) == 2


async def test_model_error_fails_the_turn_not_the_session(harness: SessionHarness) -> None:
    harness.model.add(sm.failure("server_error", "it broke"), sm.text("fine now"))
    s = await harness.start()
    s.submit(user_turn("go"))
    evs = await until(s, P.TurnComplete)
    assert names(evs)[-2:] == ["Error", "TurnComplete"]
    assert evs[-1].failed and evs[-2].message == "it broke"
    s.submit(user_turn("again"))
    evs = await until(s, P.TurnComplete)
    assert not evs[-1].failed and evs[-1].last_message == "fine now"


async def test_a_tool_registered_at_run_time_uses_the_tool_context(
        harness: SessionHarness) -> None:
    """What an MCP tool does: emit McpCallBegin/End and ask for approval via its context."""
    seen: list[ToolContext] = []

    async def handler(call: ToolCall, ctx: ToolContext) -> str:
        seen.append(ctx)
        ctx.emit(P.McpCallBegin(ctx.call_id, "srv", "lookup", call.arguments(),
                                turn_id=ctx.turn_id))
        decision = await ctx.request_approval(
            P.ExecApprovalRequest(ctx.call_id, "srv.lookup", str(ctx.cwd), "look it up"),
            keys=["mcp:srv/lookup"])
        ctx.emit(P.McpCallEnd(ctx.call_id, "srv", "lookup", call.arguments(),
                              {"content": []}, None, 0.0, turn_id=ctx.turn_id))
        return f"decision={decision.value}"

    spec = {"type": "function", "name": "srv__lookup", "description": "d",
            "parameters": {"type": "object", "properties": {}}}
    harness.model.add(sm.text("no tool yet"),
                      sm.calls(("m1", "srv__lookup", {"q": 1})), sm.text("ok"))
    s = await harness.start(approval="on-request")
    s.submit(user_turn("one"))
    await until(s, P.TurnComplete)
    assert "srv__lookup" not in harness.model.tool_names(0)
    s.tools.register(Tool(spec, handler))
    s.submit(user_turn("two"))
    evs = await until(s, P.ExecApprovalRequest)
    assert "srv__lookup" in harness.model.tool_names(1)
    req = evs[-1]
    assert req.turn_id == evs[0].turn_id and req.call_id == "m1"
    s.submit(P.ExecApproval("m1", P.ReviewDecision.APPROVED))
    evs = await until(s, P.TurnComplete)
    assert names(evs).index("McpCallEnd") < names(evs).index("TurnComplete")
    assert harness.model.outputs(2)["m1"] == "decision=approved"
    assert seen[0].policy.approval == "on-request" and seen[0].cwd == harness.cwd


async def test_override_context_applies_from_the_next_turn(harness: SessionHarness,
                                                           tmp_path: Path) -> None:
    other = harness.cwd / "sub"
    other.mkdir()
    harness.model.add(sm.text("a"), sm.calls(("c1", "exec_command", {"cmd": "pwd"})),
                      sm.text("b"))
    s = await harness.start()
    s.submit(user_turn("one"))
    await until(s, P.TurnComplete)
    s.submit(P.OverrideContext(cwd=str(other), model="other-model", effort="high"))
    s.submit(user_turn("two"))
    await until(s, P.TurnComplete)
    assert harness.model.model == "other-model" and harness.model.reasoning_effort == "high"
    assert harness.model.outputs(2)["c1"].endswith(f"{other}\n")
    envs = [u for u in harness.model.user_texts(1) if u.startswith("<environment_context>")]
    assert len(envs) == 2 and f"<cwd>{other}</cwd>" in envs[-1]
    status = s.status
    assert status.cwd == str(other) and status.model == "other-model"
    lines = rollout_lines(s.rollout_path)
    contexts = [x["payload"] for x in lines if x["type"] == "turn_context"]
    assert contexts[-1]["cwd"] == str(other) and contexts[-1]["model"] == "other-model"


async def test_status_view(harness: SessionHarness) -> None:
    (harness.cwd / "AGENTS.md").write_text("be nice")
    harness.model.add(sm.text("hi", usage=sm.usage_of(64_000)))
    s = await harness.start(overrides=["model_context_window=128000"])
    s.submit(user_turn("hi"))
    await until(s, P.TurnComplete)
    st = s.status
    assert st.session_id == s.session_id and st.rollout_path == str(s.rollout_path)
    assert st.context_window == 128_000 and st.tokens_in_context == 64_000
    assert st.percent_left == 50 and not st.estimated
    assert st.total_usage.total_tokens == 64_000
    assert st.agents_files == (str(harness.cwd / "AGENTS.md"),)
    assert st.approval_policy == "never" and st.sandbox_mode == "danger-full-access"


async def test_headless_session_never_asks(harness: SessionHarness) -> None:
    harness.model.add(sm.calls(("c1", "exec_command", {"cmd": "touch x.txt"})), sm.text("ok"))
    s = await harness.start(approval="untrusted", interactive=False)
    first = await s.next_event()
    assert first.approval_policy == "never"  # nobody to ask: `never` semantics
    s.submit(user_turn("go"))
    evs = await until(s, P.TurnComplete)
    assert of(evs, P.ExecApprovalRequest) == []
    assert (harness.cwd / "x.txt").exists()


async def test_shutdown_during_a_turn_aborts_it_first(harness: SessionHarness) -> None:
    hold = sm.Hold()
    harness.model.add(sm.text("never finished", hold=hold))
    s = await harness.start()
    s.submit(user_turn("go"))
    await until(s, P.AgentMessageDelta)
    evs = await shutdown(s)
    assert names(evs)[-2:] == ["TurnAborted", "ShutdownComplete"]


async def test_ephemeral_session_writes_no_file(harness: SessionHarness) -> None:
    harness.model.add(sm.text("x"))
    s = await harness.start(ephemeral=True)
    first = await s.next_event()
    assert first.rollout_path is None and s.rollout_path is None
    s.submit(user_turn("go"))
    await until(s, P.TurnComplete)
    assert not (harness.home / "sessions").exists()


async def test_unknown_approval_answer_is_a_warning(harness: SessionHarness) -> None:
    s = await harness.start()
    await s.next_event()
    s.submit(P.ExecApproval("nope", P.ReviewDecision.APPROVED))
    evs = await until(s, P.Warning)
    assert "nope" in evs[-1].message


async def test_a_tool_may_answer_with_content_parts(harness: SessionHarness) -> None:
    parts = [{"type": "input_text", "text": "a picture:"},
             {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]

    async def handler(call: ToolCall, ctx: ToolContext) -> list[dict]:
        return parts

    harness.model.add(sm.calls(("p1", "picture", {})), sm.text("nice"))
    s = await harness.start()
    s.tools.register(Tool({"type": "function", "name": "picture", "parameters": {}}, handler))
    s.submit(user_turn("show me"))
    await until(s, P.TurnComplete)
    out = [it for it in harness.model.requests[1].input if it.get("call_id") == "p1"
           and it["type"] == "function_call_output"]
    assert out == [{"type": "function_call_output", "call_id": "p1", "output": parts}]
    from codex.core.client.chat import to_messages

    tool_msg = [m for m in to_messages("i", harness.model.requests[1].input)
                if m["role"] == "tool"]
    assert tool_msg[0]["content"] == "a picture:\n[image]"
