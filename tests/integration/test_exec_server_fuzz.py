"""Fuzz a live `codex exec-server` over websocket with random and mutated frames.

Properties: the server stays up; every request with a usable id gets exactly one well-formed
response; malformed frames get an id -1 error; only the frames the spec says close the
connection (client notifications, responses) do; a normal session works afterwards.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.exec_server import WsServer

EXAMPLES = 2000
STEP_TIMEOUT = 20.0

SEEDS: list[dict[str, Any]] = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"clientName": "fuzz"}},
    {"jsonrpc": "2.0", "method": "initialized"},
    {"id": "s", "method": "process/start",
     "params": {"processId": "f1", "argv": ["true"], "cwd": "/", "env": {}, "tty": False}},
    {"id": 3, "method": "process/start",
     "params": {"processId": "f2", "argv": ["echo", "fuzz"], "cwd": "/tmp", "env": {},
                "tty": True, "pipeStdin": False, "arg0": None}},
    {"id": 4, "method": "process/read",
     "params": {"processId": "f1", "afterSeq": 0, "maxBytes": 10}},
    {"id": 5, "method": "process/write", "params": {"processId": "f2", "chunk": "aGkK"}},
    {"id": 6, "method": "process/terminate", "params": {"processId": "f1"}},
    {"id": 7, "method": "process/signal", "params": {"processId": "f2", "signal": "SIGINT"}},
    {"id": 8, "method": "no/such/method", "params": {}},
    {"id": "\ud800", "method": "process/read", "params": {"processId": "\udfff"}},
    {"id": 9, "result": {}},
    {"method": "process/output", "params": {"processId": "x"}},
]

json_scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63) | \
    st.floats(allow_nan=False) | st.text(max_size=20) | \
    st.text(st.characters(codec=None, categories=["Cs", "Lu", "Nd"]), max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=10), children, max_size=4),
    max_leaves=12)


@st.composite
def mutated(draw) -> str | bytes:
    seed = json.loads(json.dumps(draw(st.sampled_from(SEEDS))))
    how = draw(st.sampled_from(["replace", "delete", "add", "param", "truncate", "flip"]))
    if how in ("replace", "delete", "add"):
        key = draw(st.sampled_from(sorted(seed)) if how != "add" else st.text(max_size=8))
        if how == "delete":
            seed.pop(key, None)
        else:
            seed[key] = draw(json_values)
    elif how == "param" and isinstance(seed.get("params"), dict) and seed["params"]:
        key = draw(st.sampled_from(sorted(seed["params"])))
        # Values that could make the server wait or run something real are kept away.
        if key not in ("argv", "waitMs"):
            seed["params"][key] = draw(json_values)
    text = json.dumps(seed)
    if how == "truncate":
        return text[:draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "flip":
        raw = bytearray(text.encode())
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] = draw(st.integers(0, 255))
        return bytes(raw)
    return text


frames = st.one_of(
    mutated(),
    st.text(max_size=60),
    st.binary(max_size=60),
    json_values.map(json.dumps),
)


def _usable_id(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, str)


def classify(frame: str | bytes) -> tuple[str, Any]:
    """What the spec says must happen: ("request", id) one response with that id;
    ("close", None) the server may hang up; ("error", None) an id -1 error."""
    try:
        obj = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return "error", None
    if not isinstance(obj, dict):
        return "error", None
    if "jsonrpc" in obj and obj["jsonrpc"] != "2.0":
        return "error", None
    if "method" in obj:
        if not isinstance(obj["method"], str):
            return "error", None
        if "id" in obj:
            return ("request", obj["id"]) if _usable_id(obj["id"]) else ("error", None)
        params = obj.get("params")
        if params is not None and not isinstance(params, dict):
            return "error", None
        return "close", None
    if "id" in obj and ("result" in obj or "error" in obj):
        if obj["id"] is not None and not _usable_id(obj["id"]):
            return "error", None
        if obj.get("error") is not None and not isinstance(obj["error"], dict):
            return "error", None
        return "close", None
    return "error", None


def well_formed(msg: dict[str, Any]) -> bool:
    if "method" in msg:  # a notification of ours
        return isinstance(msg["method"], str) and isinstance(msg.get("params"), dict) \
            and "processId" in msg["params"] and isinstance(msg["params"].get("seq"), int)
    # Codex's dialect (a request without "jsonrpc") is answered without it.
    if msg.get("jsonrpc", "2.0") != "2.0" or not _usable_id(msg.get("id")):
        return False
    if ("result" in msg) == ("error" in msg):
        return False
    if "error" in msg:
        e = msg["error"]
        return isinstance(e, dict) and isinstance(e.get("code"), int) and \
            isinstance(e.get("message"), str)
    return True


class SyncSession:
    """A blocking websocket client: send a frame, then a probe, collect what came back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.probe = 0
        self.ws = None
        self.reconnects = 0
        self.connect()

    def connect(self) -> None:
        from websockets.sync.client import connect

        self.ws = connect(self.url, max_size=None, compression=None).__enter__()
        self.ws.send(json.dumps(SEEDS[0]))
        assert "result" in json.loads(self.ws.recv(timeout=STEP_TIMEOUT))
        self.ws.send(json.dumps(SEEDS[1]))

    def step(self, frame: str | bytes) -> tuple[list[dict[str, Any]], bool]:
        """Send `frame` then a probe; return messages received until the probe's answer,
        and whether the server closed the connection instead."""
        from websockets.exceptions import ConnectionClosed

        self.probe += 1
        probe_id = f"probe-{self.probe}"
        got: list[dict[str, Any]] = []
        try:
            self.ws.send(frame)
            self.ws.send(json.dumps({"id": probe_id, "method": "process/write",
                                     "params": {"processId": "none", "chunk": ""}}))
            while True:
                msg = json.loads(self.ws.recv(timeout=STEP_TIMEOUT))
                if msg.get("id") == probe_id:
                    assert msg["result"] == {"status": "unknownProcess"}, msg
                    return got, False
                got.append(msg)
        except ConnectionClosed:
            self.reconnects += 1
            self.connect()
            return got, True

    def close(self) -> None:
        self.ws.__exit__(None, None, None)


@pytest.fixture(scope="module")
def live_server():
    with WsServer("--session-grace-ms=0") as server:
        yield server


def test_fuzz_frames_at_live_server(live_server):
    session = SyncSession(live_server.url)
    counts = {"request": 0, "error": 0, "close": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(frames)
    def one(frame):
        kind, req_id = classify(frame)
        counts[kind] += 1
        got, closed = session.step(frame)
        assert all(well_formed(m) for m in got), got
        responses = [m for m in got if "method" not in m]
        if kind == "request":
            assert not closed, f"server hung up on a request: {frame!r}"
            mine = [m for m in responses if m["id"] == req_id]
            assert len(mine) == 1, (frame, got)
        elif kind == "error":
            assert not closed, f"server hung up on a malformed frame: {frame!r}"
            assert [m["id"] for m in responses] == [-1], (frame, got)
            assert responses[0]["error"]["code"] == -32600
            assert responses[0]["error"]["message"].startswith(
                "failed to parse JSON-RPC message")
        assert live_server.proc.poll() is None

    one()
    session.close()
    assert sum(counts.values()) >= EXAMPLES
    assert all(counts.values()), counts  # every kind of frame was exercised

    # Afterwards a normal session works.
    from websockets.sync.client import connect

    with connect(live_server.url) as ws:
        ws.send(json.dumps(SEEDS[0]))
        assert "sessionId" in json.loads(ws.recv(timeout=STEP_TIMEOUT))["result"]
        ws.send(json.dumps(SEEDS[1]))
        ws.send(json.dumps({"id": 1, "method": "process/start", "params": {
            "processId": "after", "argv": ["echo", "still here"], "cwd": "/", "env": {},
            "tty": False}}))
        seen = []
        deadline = time.monotonic() + STEP_TIMEOUT
        while not any(m.get("method") == "process/closed" for m in seen):
            assert time.monotonic() < deadline
            seen.append(json.loads(ws.recv(timeout=STEP_TIMEOUT)))
        assert {"id": 1, "result": {"processId": "after", "sandboxType": "none"}} in seen
        import base64

        out = b"".join(base64.b64decode(m["params"]["chunk"]) for m in seen
                       if m.get("method") == "process/output")
        assert out == b"still here\n"
    assert live_server.proc.poll() is None
