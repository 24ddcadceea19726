"""Auto-compaction and the Compact op (spec session.md, "Auto-compaction")."""

from __future__ import annotations

import pytest

from codex.core import protocol as P
from codex.core.compact import SUMMARY_REQUEST, compacted_history, recent_user_messages
from codex.core.history import SUMMARY_PREFIX, user_message
from codex.core.rollout import read_rollout
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

LOW_LIMIT = ["model_auto_compact_token_limit=1000", "model_context_window=2000"]


def _is_summary_request(prompt) -> bool:
    last = prompt.input[-1]
    return last.get("role") == "user" and last["content"][0]["text"] == SUMMARY_REQUEST


@pytest.mark.asyncio
async def test_auto_compaction_at_a_low_limit(harness: SessionHarness) -> None:
    harness.model.add(
        sm.calls(("c1", "exec_command", {"cmd": "echo tool-output"}),
                 usage=sm.usage_of(400)),
        sm.text("first answer", usage=sm.usage_of(1200)),  # over the limit from here on
        sm.text("THE SUMMARY: echo ran", usage=sm.usage_of(50)),  # the compaction request
        sm.text("second answer", usage=sm.usage_of(300)))
    s = await harness.start(overrides=LOW_LIMIT)
    s.submit(user_turn("first question"))
    await until(s, P.TurnComplete)
    s.submit(user_turn("second question"))
    evs = await until(s, P.TurnComplete)
    reqs = harness.model.requests
    assert len(reqs) == 4
    compaction = reqs[2]
    assert compaction.tools == [] and compaction.parallel_tool_calls is False
    assert compaction.output_schema is None
    assert _is_summary_request(compaction)
    # The compaction request carries the whole history: the tool call and its output too.
    assert any(it.get("type") == "function_call_output" for it in compaction.input)
    after = reqs[3]
    texts = harness.model.user_texts(3)
    assert texts[-1] == "second question"
    assert any(t.startswith(SUMMARY_PREFIX) and "THE SUMMARY: echo ran" in t for t in texts)
    assert "first question" in texts
    assert not any(it.get("type") in ("function_call", "function_call_output")
                   for it in after.input)
    assert any(t.startswith("<environment_context>") for t in texts)
    assert names(evs).index("ContextCompacted") < names(evs).index("AgentMessage")
    compacted = of(evs, P.ContextCompacted)[0]
    assert compacted.percent_left is not None and compacted.percent_left > 0
    lines = rollout_lines(s.rollout_path)
    (line,) = [x for x in lines if x["type"] == "compacted"]
    assert line["payload"]["message"] == "THE SUMMARY: echo ran"


@pytest.mark.asyncio
async def test_context_length_exceeded_compacts_and_retries_once(
        harness: SessionHarness) -> None:
    harness.model.add(sm.failure("context_length_exceeded", "too long"),
                      sm.text("summary of it all"), sm.text("answer after retry"))
    s = await harness.start()
    s.submit(user_turn("big question"))
    evs = await until(s, P.TurnComplete)
    assert not evs[-1].failed and evs[-1].last_message == "answer after retry"
    assert len(harness.model.requests) == 3
    assert _is_summary_request(harness.model.requests[1])
    assert harness.model.user_texts(2)[-1].startswith(SUMMARY_PREFIX)
    assert "big question" in harness.model.user_texts(2)
    assert of(evs, P.ContextCompacted)


@pytest.mark.asyncio
async def test_a_second_overflow_fails_the_turn(harness: SessionHarness) -> None:
    harness.model.add(sm.failure("context_length_exceeded", "too long"), sm.text("summary"),
                      sm.failure("context_length_exceeded", "still too long"))
    s = await harness.start()
    s.submit(user_turn("q"))
    evs = await until(s, P.TurnComplete)
    assert evs[-1].failed and of(evs, P.Error)[-1].message == "still too long"
    assert len(harness.model.requests) == 3


@pytest.mark.asyncio
async def test_a_summary_request_too_long_itself_drops_the_oldest_items(
        harness: SessionHarness) -> None:
    harness.model.add(sm.text("one"), sm.text("two"))
    s = await harness.start()
    for q in ("q1", "q2"):
        s.submit(user_turn(q))
        await until(s, P.TurnComplete)
    harness.model.add(sm.failure("context_length_exceeded", "too long"), sm.text("summary"))
    s.submit(P.Compact())
    evs = await until(s, P.TurnComplete)
    assert not evs[-1].failed and of(evs, P.ContextCompacted)
    first, second = harness.model.requests[2:4]
    assert len(second.input) < len(first.input)


@pytest.mark.asyncio
async def test_compact_op_is_a_turn_and_resume_rebuilds_the_same_history(
        harness: SessionHarness) -> None:
    harness.model.add(sm.text("a1"), sm.text("a2"), sm.text("SUMMARY"), sm.text("a3"))
    s = await harness.start()
    for q in ("q1", "q2"):
        s.submit(user_turn(q))
        await until(s, P.TurnComplete)
    s.submit(P.Compact())
    evs = await until(s, P.TurnComplete)
    assert names(evs) == ["TurnStarted", "ContextCompacted", "TokenCount", "TurnComplete"]
    s.submit(user_turn("q3"))
    await until(s, P.TurnComplete)
    sent = harness.model.requests[3].input
    path = s.rollout_path
    await shutdown(s)

    rec = read_rollout(path)
    resumed = sm.ScriptedModel(sm.text("a4"))
    r = await harness.start(resume_path=path, model=resumed)
    first = await r.next_event()
    # The rebuilt history is what the model saw, plus that turn's answer.
    assert list(first.history) == rec.items
    assert rec.items[:len(sent)] == sent
    assert rec.items[len(sent)]["content"][0]["text"] == "a3"
    r.submit(user_turn("q4"))
    await until(r, P.TurnComplete)
    assert resumed.requests[0].input[:len(rec.items)] == rec.items
    texts = resumed.user_texts(0)
    assert texts.count("q1") == 1 and texts[-1] == "q4"
    assert sum(t.startswith(SUMMARY_PREFIX) for t in texts) == 1


@pytest.mark.asyncio
async def test_a_server_without_usage_is_estimated_and_still_compacts(
        harness: SessionHarness) -> None:
    big = "x" * 6000  # ~1500 tokens by the 4-bytes estimate: over the 1000 limit
    harness.model.add(sm.text("ok", usage=None), sm.text("summary", usage=None),
                      sm.text("ok again", usage=None))
    s = await harness.start(overrides=LOW_LIMIT)
    s.submit(user_turn(big))
    evs = await until(s, P.TurnComplete)
    count = of(evs, P.TokenCount)[-1]
    assert count.estimated and count.percent_left < 20
    assert evs[-1].usage == P.Usage()  # nothing reported, nothing invented
    s.submit(user_turn("next"))
    evs = await until(s, P.TurnComplete)
    assert of(evs, P.ContextCompacted)
    assert _is_summary_request(harness.model.requests[1])


def test_recent_user_messages_keep_the_newest_within_the_budget() -> None:
    items = [user_message("a" * 400), user_message("<environment_context>x"),
             user_message("b" * 400), user_message("c" * 100)]
    kept = recent_user_messages(items, budget_tokens=150)  # 600 bytes
    texts = [it["content"][0]["text"] for it in kept]
    assert texts[1:] == ["b" * 400, "c" * 100]
    assert texts[0].startswith("a" * 100) and len(texts[0]) < 400  # the oldest, cut


def test_compacted_history_shape() -> None:
    items = [user_message("# AGENTS.md instructions for /x\n\nrules"),
             user_message("<environment_context>old</environment_context>"),
             user_message("question"),
             {"type": "message", "role": "assistant",
              "content": [{"type": "output_text", "text": "answer"}]},
             user_message("<environment_context>new</environment_context>")]
    new = compacted_history(items, "S")
    texts = [it["content"][0]["text"] for it in new]
    assert texts[0].startswith("# AGENTS.md") and texts[1].endswith("new</environment_context>")
    assert texts[2] == "question" and texts[3] == f"{SUMMARY_PREFIX}\n\nS"
    assert len(new) == 4
