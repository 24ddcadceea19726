"""Retries and failures of the model stream, through the real `codex exec`, on both wires."""

from __future__ import annotations

from pathlib import Path

from tests.support import mock_model as mm
from tests.support.exec_harness import Harness, harness_for, json_events


def _errors(stdout: str) -> list[str]:
    return [e["message"] for e in json_events(stdout) if e["type"] == "error"]


def test_two_500s_then_success(h: Harness) -> None:
    h.mock.add(mm.http_error(500), mm.http_error(502), h.answer("third time lucky"))
    r = h.run("--json", "go")
    assert r.returncode == 0, r.stderr
    assert len(h.mock.requests) == 3
    # the HTTP layer retries quietly: no Reconnecting announcement
    assert _errors(r.stdout) == []
    assert json_events(r.stdout)[-1]["type"] == "turn.completed"


def test_endless_500_fails_the_turn(h: Harness) -> None:
    h.mock.default = mm.http_error(500, "server on fire")
    r = h.run("--json", "go")
    assert r.returncode == 1
    assert len(h.mock.requests) == 5  # 1 + request_max_retries (4)
    last = json_events(r.stdout)[-1]
    assert last["type"] == "turn.failed"
    assert "server on fire" in last["error"]["message"]


def test_request_max_retries_from_config(hr: Harness) -> None:
    hr.mock.default = mm.http_error(503)
    r = hr.run("-c", "model_providers.openai.request_max_retries=1", "go")
    assert r.returncode == 1
    assert len(hr.mock.requests) == 2
    assert "ERROR:" in r.stderr


def test_429_with_retry_after_is_retried_at_stream_layer(h: Harness) -> None:
    h.mock.add(mm.http_error(429, "Rate limit reached", code="rate_limit_exceeded",
                             headers={"Retry-After": "0.05"}),
               h.answer("after the wait"))
    r = h.run("--json", "go")
    assert r.returncode == 0, r.stderr
    errs = _errors(r.stdout)
    assert len(errs) == 1 and errs[0].startswith("Reconnecting... 1/5 (")
    assert "Rate limit reached" in errs[0]
    assert json_events(r.stdout)[-2]["item"]["text"] == "after the wait"


def test_response_failed_rate_limit_try_again_hint(hr: Harness) -> None:
    hr.mock.add(mm.failed("rate_limit_exceeded",
                          "Rate limit reached for gpt-5. Please try again in 20ms."),
                mm.failed("rate_limit_exceeded", "Slow down. Please try again in 0.01s."),
                hr.answer("ok now"))
    r = hr.run("--json", "go")
    assert r.returncode == 0, r.stderr
    errs = _errors(r.stdout)
    assert [e.split(" (")[0] for e in errs] == ["Reconnecting... 1/5", "Reconnecting... 2/5"]
    assert "try again in 20ms" in errs[0]
    assert len(hr.mock.requests) == 3


def test_human_mode_announces_reconnect_on_stderr(hr: Harness) -> None:
    hr.mock.add(mm.failed("server_error", "blip"), hr.answer("fine"))
    r = hr.run("go")
    assert r.returncode == 0, r.stderr
    assert "Reconnecting... 1/5 (blip)" in r.stderr
    assert r.stdout == "fine\n"


def test_context_length_exceeded_compacts_once_then_fails(h: Harness) -> None:
    """Not retried at the stream layer: the session compacts once and retries once (spec
    session.md); a second overflow ends the turn."""
    if h.wire == "responses":
        overflow = mm.failed("context_length_exceeded", "Your input exceeds the context window")
    else:
        overflow = mm.http_error(400, "Your input exceeds the context window",
                                 code="context_length_exceeded")
    h.mock.add(overflow, h.answer("SUMMARY OF WORK"), overflow)
    h.mock.default = h.answer("must not be reached")
    r = h.run("--json", "go")
    assert r.returncode == 1
    assert len(h.mock.requests) == 3  # the request, the compaction, the one retry
    assert _errors(r.stdout) == []
    compaction = h.mock.requests[1].body
    assert not compaction.get("tools")
    assert any("handoff summary" in u for u in h.user_texts(1))
    assert any("SUMMARY OF WORK" in u for u in h.user_texts(2))  # the retry: the new history
    last = json_events(r.stdout)[-1]
    assert last["type"] == "turn.failed" and "context window" in last["error"]["message"]


def test_insufficient_quota_429_is_not_retried(hr: Harness) -> None:
    hr.mock.add(mm.http_error(429, "You exceeded your current quota", code="insufficient_quota"))
    hr.mock.default = hr.answer("must not be reached")
    r = hr.run("go")
    assert r.returncode == 1
    assert len(hr.mock.requests) == 1
    assert "You exceeded your current quota" in r.stderr


def test_other_4xx_body_becomes_the_message(h: Harness) -> None:
    h.mock.add(mm.Reply(status=401, body="Incorrect API key provided: sk-te***"))
    h.mock.default = h.answer("must not be reached")
    r = h.run("go")
    assert r.returncode == 1
    assert len(h.mock.requests) == 1
    assert "Incorrect API key provided" in r.stderr


def test_stream_cut_before_completed_reconnects(h: Harness) -> None:
    cut = h.answer("partial")
    cut.cut_after = 2
    h.mock.add(cut, h.answer("whole answer"))
    r = h.run("--json", "go")
    assert r.returncode == 0, r.stderr
    errs = _errors(r.stdout)
    assert len(errs) == 1 and errs[0].startswith("Reconnecting... 1/5")
    msgs = [e["item"]["text"] for e in json_events(r.stdout)
            if e.get("item", {}).get("type") == "agent_message"]
    assert msgs == ["whole answer"]  # nothing from the broken attempt leaks out


def test_stream_ending_without_completed_is_retried(hr: Harness) -> None:
    truncated = mm.sse(mm.message_item("half"))
    truncated.events = truncated.events[:-1]  # a clean end, but no response.completed
    hr.mock.add(truncated, hr.answer("full"))
    r = hr.run("--json", "go")
    assert r.returncode == 0, r.stderr
    assert "response.completed" in _errors(r.stdout)[0]
    assert len(hr.mock.requests) == 2


def test_stream_retries_exhausted_fail_the_turn(hr: Harness) -> None:
    hr.mock.default = mm.failed("server_error", "always broken")
    r = hr.run("--json", "-c", "model_providers.openai.stream_max_retries=2", "go")
    assert r.returncode == 1
    assert len(hr.mock.requests) == 3
    assert [e.split(" (")[0] for e in _errors(r.stdout)] == ["Reconnecting... 1/2",
                                                             "Reconnecting... 2/2"]
    assert json_events(r.stdout)[-1]["type"] == "turn.failed"


def test_idle_timeout_reconnects(hr: Harness) -> None:
    import threading

    stall = mm.Reply(events=[{"type": "response.created", "response": {"id": "r"}}],
                     hold=threading.Event())
    hr.mock.add(stall, hr.answer("after idle"))
    r = hr.run("--json", "-c", "model_providers.openai.stream_idle_timeout_ms=300", "go")
    stall.hold.set()
    assert r.returncode == 0, r.stderr
    errs = _errors(r.stdout)
    assert len(errs) == 1 and "idle" in errs[0]


def test_missing_usage_counts_as_zero(hr: Harness) -> None:
    hr.mock.add(mm.sse(mm.message_item("no usage"), usage=None))
    r = hr.run("--json", "go")
    assert r.returncode == 0, r.stderr
    assert json_events(r.stdout)[-1]["usage"] == {
        "input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0,
        "reasoning_output_tokens": 0}


def test_chat_error_chunk_rate_limit_is_retried(tmp_path: Path) -> None:
    for h in harness_for(tmp_path, "chat"):
        h.mock.add(mm.Reply(events=[{"error": {"code": "rate_limit_exceeded",
                                               "message": "Busy. Please try again in 10ms."}}]),
                   h.answer("ok"))
        r = h.run("--json", "go")
        assert r.returncode == 0, r.stderr
        errs = _errors(r.stdout)
        assert len(errs) == 1 and "try again in 10ms" in errs[0]


def test_incomplete_response_is_reported_not_retried(hr: Harness) -> None:
    hr.mock.add(mm.Reply(events=[{"type": "response.created", "response": {"id": "r"}},
                                 {"type": "response.incomplete", "response": {
                                     "id": "r", "incomplete_details": {
                                         "reason": "max_output_tokens"}}}]))
    hr.mock.default = hr.answer("must not be reached")
    r = hr.run("go")
    assert r.returncode == 1
    assert len(hr.mock.requests) == 1
    assert "incomplete (max_output_tokens)" in r.stderr


def test_chat_stream_ending_without_finish_is_retried(tmp_path: Path) -> None:
    for h in harness_for(tmp_path, "chat"):
        truncated = mm.chat_text("half")
        truncated.events = truncated.events[:2]  # text, then a clean end: no finish, no [DONE]
        h.mock.add(truncated, h.answer("full"))
        r = h.run("--json", "go")
        assert r.returncode == 0, r.stderr
        assert len(_errors(r.stdout)) == 1 and len(h.mock.requests) == 2
        msgs = [e["item"]["text"] for e in json_events(r.stdout)
                if e.get("item", {}).get("type") == "agent_message"]
        assert msgs == ["full"]


def test_an_html_page_instead_of_a_stream_fails_at_once_and_says_so(h: Harness) -> None:
    # e.g. a proxy's login page answering 200 for the model's URL
    h.mock.add(mm.Reply(status=200, body="<html><body>Please log in</body></html>",
                        headers={"content-type": "text/html; charset=utf-8"}))
    h.mock.default = h.answer("must not be reached")
    r = h.run("--json", "go")
    assert r.returncode == 1
    assert len(h.mock.requests) == 1  # not retried
    last = json_events(r.stdout)[-1]
    assert last["type"] == "turn.failed"
    assert "answered with an HTML page (HTTP 200)" in last["error"]["message"]
