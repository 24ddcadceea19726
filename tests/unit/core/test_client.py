"""Model clients in-process against the mock server: events, errors, retry plumbing."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from codex.core.client import ItemDone, ModelError, Prompt, Reconnecting, TextDelta, make_client
from codex.core.client.base import backoff_s
from codex.core.client.chat import to_messages
from codex.core.client.errors import error_from_body, parse_retry_after, try_again_hint
from codex.core.client.sse import DONE, parse_sse
from tests.support import mock_model as mm


def _provider(url: str, wire: str = "responses", **kw: object) -> dict:
    return {"id": "mock", "base_url": url, "wire_api": wire, "request_max_retries": 4,
            "stream_max_retries": 5, "stream_idle_timeout_ms": 30_000, **kw}


async def _collect(client, prompt: Prompt) -> list:
    return [ev async for ev in client.stream(prompt)]


def test_responses_events_and_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_RETRY_BASE_MS", "1")
    monkeypatch.setenv("MOCK_HDR", "from-env")
    with mm.MockModel() as m:
        m.add(mm.sse(mm.message_item("hi"), mm.function_call("f", {"a": 1}, "c1")))
        c = make_client(_provider(m.url, http_headers={"X-Static": "1"},
                                  env_http_headers={"X-Env": "MOCK_HDR"},
                                  query_params={"api-version": "2025"}),
                        model="m", api_key=None, session_id="sid")
        evs = asyncio.run(_collect(c, Prompt("inst", [{"type": "message", "role": "user",
                                                       "content": []}])))
        c.close()
        req = m.requests[0]
    assert [e.delta for e in evs if isinstance(e, TextDelta)] == ["hi"]
    done = [e.item for e in evs if isinstance(e, ItemDone)]
    assert [d["type"] for d in done] == ["message", "function_call"]
    assert req.path == "/v1/responses?api-version=2025"
    assert "authorization" not in req.headers  # no key, no header
    assert req.headers["x-static"] == "1" and req.headers["x-env"] == "from-env"
    assert req.headers["session-id"] == "sid"


def _refused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_exhausts_http_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_RETRY_BASE_MS", "1")
    port = _refused_port()
    c = make_client(_provider(f"http://127.0.0.1:{port}/v1", request_max_retries=2),
                    model="m", api_key="k", session_id="s")
    with pytest.raises(ModelError) as ei:
        asyncio.run(_collect(c, Prompt("i", [])))
    assert "exceeded retry limit (2 retries)" in ei.value.message
    assert "connection error" in ei.value.message


def test_http_retries_are_announced_and_the_last_error_says_what_to_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_RETRY_BASE_MS", "1")
    port = _refused_port()
    c = make_client(_provider(f"http://127.0.0.1:{port}/v1", request_max_retries=3),
                    model="m", api_key="k", session_id="s")
    seen: list[object] = []

    async def run() -> None:
        async for ev in c.stream(Prompt("i", [])):
            seen.append(ev)

    with pytest.raises(ModelError) as ei:
        asyncio.run(run())
    assert [(e.attempt, e.max_attempts) for e in seen if isinstance(e, Reconnecting)] == [
        (1, 3), (2, 3), (3, 3)]
    msg = ei.value.message
    assert f"cannot reach http://127.0.0.1:{port}/v1/responses" in msg
    assert "Check that the server is running" in msg and "'mock'" in msg
    assert "connection error: [Errno 111] Connection refused;" in msg  # not urllib3's repr
    assert not ei.value.retryable


def test_chat_tool_call_fragments_accumulate_by_index(monkeypatch: pytest.MonkeyPatch) -> None:
    with mm.MockModel() as m:
        m.add(mm.chat_calls(("a", "exec_command", {"cmd": "ls"}),
                            ("b", "update_plan", {"plan": []})))
        c = make_client(_provider(m.url, "chat"), model="m", api_key="k", session_id="s")
        evs = asyncio.run(_collect(c, Prompt("i", [])))
    calls = [e.item for e in evs if isinstance(e, ItemDone)]
    assert [(x["call_id"], x["name"], json.loads(x["arguments"])) for x in calls] == [
        ("a", "exec_command", {"cmd": "ls"}), ("b", "update_plan", {"plan": []})]


def test_reconnecting_message_format() -> None:
    assert Reconnecting(2, 5, "boom").message == "Reconnecting... 2/5 (boom)"


@pytest.mark.parametrize("text,secs", [("Please try again in 1.5s.", 1.5),
                                       ("try again in 250ms", 0.25),
                                       ("Try again in 3 seconds", 3.0), ("no hint", None)])
def test_try_again_hint(text: str, secs: float | None) -> None:
    assert try_again_hint(text) == secs


def test_retry_after_and_error_bodies() -> None:
    assert parse_retry_after("2") == 2.0 and parse_retry_after("soon") is None
    e = error_from_body(400, '{"error": {"message": "bad thing", "code": "x"}}', None)
    assert not e.retryable and e.message == "bad thing"
    e = error_from_body(429, '{"error": {"message": "slow down, try again in 2s"}}', None)
    assert e.retryable and e.retry_after == 2.0
    e = error_from_body(429, '{"error": {"message": "q", "code": "insufficient_quota"}}', 1)
    assert not e.retryable
    assert error_from_body(503, "", None).retryable


def test_backoff_doubles_with_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEX_RETRY_BASE_MS", raising=False)
    for attempt, nominal in ((1, 0.2), (2, 0.4), (3, 0.8)):
        d = backoff_s(attempt)
        assert nominal * 0.9 <= d <= nominal * 1.1


def test_sse_parser_skips_garbage_and_joins_data_lines() -> None:
    async def lines():
        for raw in [b": comment", b"event: x", b'data: {"a":', b'data: 1}', b"",
                    b"data: not json", b"", b"data: [DONE]", b""]:
            yield raw

    async def run() -> list:
        return [ev async for ev in parse_sse(lines())]

    assert asyncio.run(run()) == [{"a": 1}, DONE]


def test_chat_messages_from_history() -> None:
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"type": "reasoning", "summary": [], "encrypted_content": "E"},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "let me look"}]},
        {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "c1"},
        {"type": "custom_tool_call", "name": "apply_patch", "input": "P", "call_id": "c2"},
        {"type": "function_call_output", "call_id": "c1", "output": "o1"},
        {"type": "custom_tool_call_output", "call_id": "c2", "output": "o2"},
    ]
    msgs = to_messages("sys", items)
    assert msgs[0] == {"role": "system", "content": "sys"}
    assert msgs[1] == {"role": "user", "content": "q"}
    assert msgs[2]["role"] == "assistant" and msgs[2]["content"] == "let me look"
    assert [c["id"] for c in msgs[2]["tool_calls"]] == ["c1", "c2"]
    assert json.loads(msgs[2]["tool_calls"][1]["function"]["arguments"]) == {"input": "P"}
    assert msgs[3:] == [{"role": "tool", "tool_call_id": "c1", "content": "o1"},
                        {"role": "tool", "tool_call_id": "c2", "content": "o2"}]


def test_chat_user_images_become_image_url_parts() -> None:
    items = [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]}]
    assert to_messages("s", items)[1] == {"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}


def test_chat_fragments_without_index_follow_ids() -> None:
    with mm.MockModel() as m:
        m.add(mm.Reply(events=[
            {"choices": [{"delta": {"tool_calls": [
                {"id": "a", "function": {"name": "f", "arguments": '{"x"'}}]}}]},
            {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": ": 1}"}}]}}]},
            {"choices": [{"delta": {"tool_calls": [
                {"id": "b", "function": {"name": "g", "arguments": "{}"}}]}}]},
            {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}, "[DONE]"]))
        c = make_client(_provider(m.url, "chat"), model="m", api_key="k", session_id="s")
        evs = asyncio.run(_collect(c, Prompt("i", [])))
    calls = [(e.item["call_id"], e.item["name"], e.item["arguments"]) for e in evs
             if isinstance(e, ItemDone)]
    assert calls == [("a", "f", '{"x": 1}'), ("b", "g", "{}")]


def test_many_small_deltas_arrive_whole_and_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # One SSE event (and one HTTP chunk) per token, as a server streams an answer: the
    # transport hands them over in bursts and adjacent deltas may be merged, but the text is
    # exactly what was sent and nothing else moves past it.
    monkeypatch.setenv("CODEX_RETRY_BASE_MS", "1")
    words = [f"w{i} " + ("\n" if i % 9 == 8 else "") for i in range(3000)]
    item = mm.message_item("".join(words))
    events: list = [{"type": "response.created", "response": {"id": "r"}},
                    {"type": "response.output_item.added", "output_index": 0, "item": item}]
    events += [{"type": "response.output_text.delta", "output_index": 0, "content_index": 0,
                "delta": w} for w in words]
    events += [{"type": "response.output_item.done", "output_index": 0, "item": item},
               {"type": "response.completed", "response": {"id": "r", "usage": mm.USAGE}}]
    with mm.MockModel() as m:
        m.add(mm.Reply(events=events))
        c = make_client(_provider(m.url), model="m", api_key=None, session_id="sid")
        evs = asyncio.run(_collect(c, Prompt("inst", [])))
        c.close()
    deltas = [e.delta for e in evs if isinstance(e, TextDelta)]
    assert "".join(deltas) == "".join(words)
    assert 1 <= len(deltas) <= len(words)
    kinds = [type(e).__name__ for e in evs]
    assert kinds[-2:] == ["ItemDone", "Completed"]


def test_merge_deltas_joins_runs_of_one_part_only() -> None:
    from codex.core.client.responses import merge_deltas

    def d(text: str, kind: str = "response.output_text.delta", **kw: object) -> dict:
        return {"type": kind, "delta": text, "output_index": 0, "content_index": 0, **kw}

    other = {"type": "response.output_item.added", "output_index": 1, "item": {}}
    batch = [d("a"), d("b"), d("c", content_index=1), other, d("x"), d("y"),
             d("s1", "response.reasoning_summary_text.delta"),
             d("s2", "response.reasoning_summary_text.delta"), DONE]
    merged = merge_deltas(batch)
    assert [(e.get("type"), e.get("delta")) if isinstance(e, dict) else e for e in merged] == [
        ("response.output_text.delta", "ab"), ("response.output_text.delta", "c"),
        ("response.output_item.added", None), ("response.output_text.delta", "xy"),
        ("response.reasoning_summary_text.delta", "s1s2"), DONE]
    assert merge_deltas([d("only")]) == [d("only")]


def test_sse_decoder_reads_bytes_and_keeps_odd_payloads_safe() -> None:
    from codex.core.client.sse import SseDecoder

    dec = SseDecoder()
    out = []
    for raw in [b"data:{\"a\":1}", b"", b"data", b"", b"data: \xff\xfe", b"", b"id: 5",
                b"retry: 10", b"data: {\"b\":", b"data: 2}", b"", b": ping", b"data: [DONE]",
                b""]:
        ev = dec.feed(raw)
        if ev is not None:
            out.append(ev)
    assert out == [{"a": 1}, {"b": 2}, DONE]
