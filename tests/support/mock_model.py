"""A scripted model server on 127.0.0.1 for agent tests (real HTTP, real sockets).

Each request pops the next scripted reply: a Responses SSE stream, Chat Completions chunks,
an HTTP error, a stream cut mid-way, or a stream that stalls until released. Every request
(path, headers, JSON body) is recorded, and tests wait for them with `wait_for_requests`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""  # for non-streaming (error) replies
    events: list[Any] = field(default_factory=list)  # SSE payloads (dict or "[DONE]")
    cut_after: int | None = None  # close the connection after this many events
    hold: threading.Event | None = None  # stall after the events until set
    wait_before: threading.Event | None = None  # answer nothing until set


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class MockModel:
    """Start with `with MockModel() as m:`; `m.url` is the base URL (ending in /v1)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._script: list[Reply | Callable[[Request], Reply]] = []
        self.default: Reply | None = None
        self._cond = threading.Condition()
        self._holds: list[threading.Event] = []
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                reply = mock._record(Request(self.path, {k.lower(): v for k, v in
                                                         self.headers.items()}, body))
                mock._serve(self, reply)

            def do_GET(self) -> None:  # noqa: N802 - used by the --oss probe
                data = b'{"data": [{"id": "mock-model"}], "models": []}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> MockModel:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for h in self._holds:
            h.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- scripting ---------------------------------------------------------------------
    def add(self, *replies: Reply | Callable[[Request], Reply]) -> None:
        """Queue replies; a callable builds its reply from the request (e.g. to echo an id
        that only the previous tool output revealed)."""
        with self._cond:
            self._script.extend(replies)

    def wait_for_requests(self, n: int, timeout: float = 60) -> list[Request]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"expected {n} requests, got {len(self.requests)}")
            return list(self.requests)

    def _record(self, req: Request) -> Reply:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()
            if self._script:
                nxt = self._script.pop(0)
                return nxt(req) if callable(nxt) else nxt
            if self.default is not None:
                return self.default
        return Reply(status=500, body='{"error": {"message": "mock: no scripted reply"}}')

    def _serve(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.wait_before is not None:
            self._holds.append(reply.wait_before)
            reply.wait_before.wait(120)
        if reply.status != 200 or not reply.events and reply.hold is None:
            data = reply.body.encode()
            h.send_response(reply.status)
            for k, v in reply.headers.items():
                h.send_header(k, v)
            if not any(k.lower() == "content-type" for k in reply.headers):
                h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        for k, v in reply.headers.items():
            h.send_header(k, v)
        h.end_headers()
        try:
            for i, ev in enumerate(reply.events):
                if reply.cut_after is not None and i >= reply.cut_after:
                    h.wfile.flush()
                    h.close_connection = True
                    return  # no terminating chunk: the client sees a broken stream
                payload = ev if isinstance(ev, str) else json.dumps(ev)
                typ = "" if isinstance(ev, str) else f"event: {ev.get('type', 'message')}\n"
                chunk = f"{typ}data: {payload}\n\n".encode()
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                h.wfile.flush()
            if reply.hold is not None:
                self._holds.append(reply.hold)
                reply.hold.wait(120)
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


# -- Responses API stream builders ------------------------------------------------------
def message_item(text: str, item_id: str = "msg_1") -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "id": item_id,
            "content": [{"type": "output_text", "text": text}]}


def function_call(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"type": "function_call", "name": name, "arguments": args, "call_id": call_id}


def custom_call(name: str, input_text: str, call_id: str) -> dict[str, Any]:
    return {"type": "custom_tool_call", "name": name, "input": input_text, "call_id": call_id}


def reasoning_item(summary: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": "rs_1", "summary": [
        {"type": "summary_text", "text": summary}], "encrypted_content": "ENC"}


USAGE = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 2},
         "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 1},
         "total_tokens": 15}


def responses_events(items: Iterable[dict[str, Any]], *, usage: Any = USAGE,
                     response_id: str = "resp_1") -> list[Any]:
    evs: list[Any] = [{"type": "response.created", "response": {"id": response_id}}]
    for i, item in enumerate(items):
        evs.append({"type": "response.output_item.added", "output_index": i, "item": item})
        if item.get("type") == "message":
            for part in item["content"]:
                evs.append({"type": "response.output_text.delta", "delta": part["text"]})
        evs.append({"type": "response.output_item.done", "output_index": i, "item": item})
    done: dict[str, Any] = {"id": response_id}
    if usage is not None:
        done["usage"] = usage
    evs.append({"type": "response.completed", "response": done})
    return evs


def sse(*items: dict[str, Any], **kw: Any) -> Reply:
    return Reply(events=responses_events(items, **kw))


def failed(code: str, message: str) -> Reply:
    return Reply(events=[{"type": "response.created", "response": {"id": "r"}},
                         {"type": "response.failed",
                          "response": {"id": "r", "error": {"code": code, "message": message}}}])


def http_error(status: int, message: str = "boom", code: str | None = None,
               headers: dict[str, str] | None = None) -> Reply:
    err: dict[str, Any] = {"message": message, "type": "error"}
    if code:
        err["code"] = code
    return Reply(status=status, body=json.dumps({"error": err}), headers=headers or {})


# -- Chat Completions builders -----------------------------------------------------------
CHAT_USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
              "prompt_tokens_details": {"cached_tokens": 2},
              "completion_tokens_details": {"reasoning_tokens": 1}}


def chat_text(text: str, *, usage: Any = CHAT_USAGE) -> Reply:
    half = len(text) // 2
    chunks: list[Any] = [
        {"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant",
                                                        "content": text[:half]}}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {"content": text[half:]}}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    if usage is not None:
        chunks.append({"id": "c1", "choices": [], "usage": usage})
    chunks.append("[DONE]")
    return Reply(events=chunks)


def chat_calls(*calls: tuple[str, str, Any], usage: Any = CHAT_USAGE) -> Reply:
    """Tool calls streamed in fragments: (call_id, name, arguments) each."""
    chunks: list[Any] = []
    for idx, (cid, name, args) in enumerate(calls):
        a = args if isinstance(args, str) else json.dumps(args)
        half = len(a) // 2
        chunks.append({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": idx, "id": cid, "type": "function",
             "function": {"name": name, "arguments": a[:half]}}]}}]})
        chunks.append({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": idx, "function": {"arguments": a[half:]}}]}}]})
    chunks.append({"id": "c1", "choices": [{"index": 0, "delta": {},
                                             "finish_reason": "tool_calls"}]})
    if usage is not None:
        chunks.append({"id": "c1", "choices": [], "usage": usage})
    chunks.append("[DONE]")
    return Reply(events=chunks)
