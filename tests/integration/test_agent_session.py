"""The session's flows over the real mock HTTP server, on both wires: through `codex exec
--json` (streamed answers, streamed command output, parallel calls, auto-compaction, resume
after compaction) and in-process with the real HTTP client (approvals answered by a person)."""

from __future__ import annotations

import asyncio
import json

import pytest

from codex.config import load_config
from codex.core import protocol as P
from codex.core.compact import SUMMARY_REQUEST
from codex.core.history import SUMMARY_PREFIX
from codex.core.session import Session, SessionOptions
from tests.support import mock_model as mm
from tests.support.exec_harness import Harness, json_events
from tests.support.session_harness import of, shutdown, until

FULL = ("-s", "danger-full-access")


def _tools(h: Harness, index: int) -> list:
    return h.mock.requests[index].body.get("tools") or []


def _last_user(h: Harness, index: int) -> str:
    return h.user_texts(index)[-1]


def test_streamed_answer_keeps_the_jsonl_of_complete_items(h: Harness) -> None:
    h.mock.add(h.answer("streamed in two deltas"))
    r = h.run("--json", "hi")
    assert r.returncode == 0, r.stderr
    evs = json_events(r.stdout)
    assert [e["type"] for e in evs] == ["thread.started", "turn.started", "item.completed",
                                        "turn.completed"]
    assert evs[2]["item"] == {"id": "item_0", "type": "agent_message",
                              "text": "streamed in two deltas"}


def test_command_then_parallel_calls(h: Harness) -> None:
    flag = h.cwd / "flag"
    h.mock.add(h.calls(
        ("c1", "exec_command", {"cmd": f"while [ ! -e {flag} ]; do sleep 0.01; done; echo one",
                                "yield_time_ms": 30000}),
        ("c2", "exec_command", {"cmd": f"touch {flag}; echo two"})), h.answer("both"))
    r = h.run("--json", *FULL, "two at once")
    assert r.returncode == 0, r.stderr
    assert h.output_order(1) == ["c1", "c2"]
    items = [e for e in json_events(r.stdout) if e["type"].startswith("item.")]
    cmds = [(e["type"], e["item"]["id"], e["item"]["status"]) for e in items
            if e["item"]["type"] == "command_execution"]
    assert cmds[:2] == [("item.started", "item_0", "in_progress"),
                        ("item.started", "item_1", "in_progress")]
    assert sorted(cmds[2:]) == [("item.completed", "item_0", "completed"),
                                ("item.completed", "item_1", "completed")]


def test_auto_compaction_and_resume_after_it(h: Harness) -> None:
    # The mock reports 15 tokens per response: a limit of 10 compacts before the 2nd request.
    h.mock.add(h.calls(("c1", "exec_command", {"cmd": "echo tool-ran"})),
               h.answer("SUMMARY-OF-THE-WORK"), h.answer("finished"))
    r = h.run("--json", *FULL, "-c", "model_auto_compact_token_limit=10", "first task")
    assert r.returncode == 0, r.stderr
    assert len(h.mock.requests) == 3
    assert not _tools(h, 1)  # the compaction request offers no tools
    assert _last_user(h, 1) == SUMMARY_REQUEST
    if h.wire == "responses":
        assert h.mock.requests[1].body["parallel_tool_calls"] is False
    after = h.user_texts(2)
    assert "first task" in after
    assert any(t.startswith(SUMMARY_PREFIX) and "SUMMARY-OF-THE-WORK" in t for t in after)
    assert h.outputs(2) == {}  # the tool call and its output went into the summary
    rollout = next((h.home / "sessions").glob("*/*/*/*.jsonl"))
    lines = [json.loads(x) for x in rollout.read_text().splitlines()]
    assert [x["payload"]["message"] for x in lines if x["type"] == "compacted"] == [
        "SUMMARY-OF-THE-WORK"]

    h.mock.add(h.answer("resumed"))
    r = h.run("--json", *FULL, "resume", "--last", "second task")
    assert r.returncode == 0, r.stderr
    resumed = h.user_texts(3)
    assert resumed[-1] == "second task"
    assert sum(t.startswith(SUMMARY_PREFIX) for t in resumed) == 1
    assert h.outputs(3) == {}
    # Everything the model saw after compaction is what resume sends again.
    before = h.mock.requests[2].body.get("input") or h.mock.requests[2].body["messages"]
    again = h.mock.requests[3].body.get("input") or h.mock.requests[3].body["messages"]
    assert again[:len(before)] == before


def test_context_overflow_compacts_and_retries_through_exec(h: Harness) -> None:
    if h.wire == "responses":
        overflow = mm.failed("context_length_exceeded", "Your input exceeds the context window")
    else:
        overflow = mm.http_error(400, "Your input exceeds the context window",
                                 code="context_length_exceeded")
    h.mock.add(overflow, h.answer("a summary"), h.answer("answered after all"))
    r = h.run("--json", "big")
    assert r.returncode == 0, r.stderr
    assert json_events(r.stdout)[-2]["item"]["text"] == "answered after all"
    assert len(h.mock.requests) == 3


# -- in-process, real HTTP: a person answers -------------------------------------------------
def _session_options(h: Harness, approval: str, sandbox: str) -> SessionOptions:
    overrides = [f"model={h.model}"]
    if h.wire == "chat":
        overrides += ["model_provider=mock", f'model_providers.mock.base_url="{h.mock.url}"',
                      'model_providers.mock.wire_api="chat"',
                      'model_providers.mock.env_key="OPENAI_API_KEY"']
    else:
        overrides += [f'model_providers.openai.base_url="{h.mock.url}"']
    cfg = load_config(home=h.home, overrides=overrides, warn_unknown=False,
                      flags={"approval_policy": approval, "sandbox_mode": sandbox})
    return SessionOptions(config=cfg, cwd=h.cwd, interactive=True, originator="codex_tui")


@pytest.mark.asyncio
@pytest.mark.parametrize("decision", [P.ReviewDecision.APPROVED, P.ReviewDecision.DENIED])
async def test_an_approval_answered_over_the_real_wire(h: Harness, decision,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("CODEX_HOME", str(h.home))
    h.mock.add(h.calls(("c1", "exec_command", {"cmd": "touch approved.txt"})),
               h.answer("done"))
    s = await Session.start(_session_options(h, "untrusted", "danger-full-access"))
    try:
        s.submit(P.UserTurn(items=({"type": "input_text", "text": "make it"},)))
        evs = await until(s, P.ExecApprovalRequest)
        assert evs[-1].command == "touch approved.txt"
        deltas = of(evs, P.AgentMessageDelta)
        assert deltas == []  # a call, no text
        s.submit(P.ExecApproval("c1", decision))
        evs = await until(s, P.TurnComplete)
        assert not evs[-1].failed and evs[-1].last_message == "done"
        await asyncio.to_thread(h.mock.wait_for_requests, 2)
        out = h.outputs(1)["c1"]
        if decision is P.ReviewDecision.APPROVED:
            assert "Process exited with code 0" in out and (h.cwd / "approved.txt").exists()
        else:
            assert out.startswith("exec_command declined") and \
                not (h.cwd / "approved.txt").exists()
        assert h.mock.requests[0].headers["originator"] == "codex_tui"
    finally:
        await shutdown(s)


@pytest.mark.asyncio
async def test_text_deltas_arrive_from_the_real_stream(h: Harness,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    h.mock.add(h.answer("one two three"))
    s = await Session.start(_session_options(h, "never", "read-only"))
    try:
        s.submit(P.UserTurn(items=({"type": "input_text", "text": "count"},)))
        evs = await until(s, P.TurnComplete)
        assert "".join(d.delta for d in of(evs, P.AgentMessageDelta)) == "one two three"
        assert len(of(evs, P.AgentMessageDelta)) >= 1
        assert of(evs, P.AgentMessage)[0].text == "one two three"
        count = of(evs, P.TokenCount)[0]
        assert count.last.input_tokens == 10 and count.percent_left == 100
    finally:
        await shutdown(s)
