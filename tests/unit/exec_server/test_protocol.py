"""protocol.py: envelope parsing, param decoding, encoding round trips; and start-up imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codex.exec_server import protocol as p
from codex.exec_server.backend import Closed, Exited, Output, ReadResult, StartParams


def test_parse_shapes():
    assert p.parse_message('{"id":1,"method":"m"}') == p.Request(1, "m", {})
    assert p.parse_message('{"id":"x","method":"m","params":null}') == p.Request("x", "m", {})
    assert p.parse_message('{"method":"n","params":{"a":1}}') == p.Notification("n", {"a": 1})
    assert p.parse_message('{"jsonrpc":"2.0","id":2,"result":{}}') == p.Response(2, {}, None)
    assert p.parse_message(b'{"id":3,"method":"m"}') == p.Request(3, "m", {})


@pytest.mark.parametrize("frame", ["", "nope", "[]", "null", '{"id":1}', '{"method":1}',
                                   '{"id":[],"method":"m"}', '{"id":true,"method":"m"}',
                                   '{"jsonrpc":"1.0","method":"m"}', '{"method":"m","params":1}'])
def test_parse_errors_have_id_minus_one(frame):
    with pytest.raises(p.ParseError) as e:
        p.parse_message(frame)
    assert e.value.id == -1 and e.value.code == -32600
    assert e.value.message.startswith("failed to parse JSON-RPC message")


def test_request_with_non_object_params_keeps_its_id():
    with pytest.raises(p.ParseError) as e:
        p.parse_message('{"id":"r","method":"m","params":[1]}')
    assert e.value.id == "r" and e.value.code == -32602


def test_start_params_round_trip():
    sp = StartParams("a", ["ls", "-l"], "/tmp", {"A": "1"}, tty=True, pipe_stdin=True,
                     arg0="x", sandbox={"mode": "read-only"})
    assert p.decode_start(p.start_params_to_wire(sp)) == sp
    wire = p.start_params_to_wire(StartParams("b", ["true"], "/", {}))
    assert "sandbox" not in wire and p.decode_start(wire).sandbox is None


@pytest.mark.parametrize("name", ["A=B", ""])
def test_start_rejects_env_names_execve_cannot_pass(name):
    wire = {"processId": "p", "argv": ["true"], "cwd": "/tmp", "env": {name: "v"}, "tty": False}
    with pytest.raises(p.ProtocolError) as e:
        p.decode_start(wire)
    assert e.value.code == p.INVALID_PARAMS and "`env`" in e.value.message


def test_read_defaults_and_nulls():
    rp = p.decode_read({"processId": "a", "afterSeq": None, "maxBytes": None, "waitMs": None})
    assert rp == p.ReadParams("a", 0, None, 0)
    with pytest.raises(p.ProtocolError, match="`waitMs` must be an integer or null"):
        p.decode_read({"processId": "a", "waitMs": True})


def test_notifications_round_trip():
    out = Output(4, "stderr", b"\x00\xffhi")
    text = p.output_notification_frame('we"ird\u00e9', out)
    assert json.loads(text) == p.event_notification('we"ird\u00e9', out)
    msg = json.loads(text)
    assert p.decode_event(msg["method"], msg["params"]) == out
    for ev in (Exited(5, 130), Closed(6)):
        n = p.event_notification("x", ev)
        assert p.decode_event(n["method"], n["params"]) == ev
    rr = ReadResult([out], 5, True, 0, False)
    assert p.decode_read_result(json.loads(p.encode(p.encode_read_result(rr)))) == rr


def test_exec_server_start_up_imports_no_agent_or_http():
    """`codex exec-server` must not import requests or the agent (python -X importtime)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "codex", "exec-server",
                        "--listen", "stdio"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    modules = {line.split("|")[-1].strip() for line in r.stderr.splitlines()
               if line.startswith("import time:")}
    assert "codex.exec_server.handler" in modules  # the server did start
    banned = {m for m in modules if m.split(".")[0] in ("requests", "urllib3", "websockets")
              or m == "http.client"
              or m.startswith(("codex.core", "codex.unified_exec"))}
    assert not banned, banned


def test_dialect_is_the_envelope_and_answers_follow_it():
    req = p.parse_message('{"id":1,"method":"m"}')
    assert req.dialect is p.Dialect.CODEX
    assert p.parse_message('{"jsonrpc":"2.0","id":1,"method":"m"}').dialect is p.Dialect.LEGACY
    assert "jsonrpc" not in p.result_response(1, {}, p.Dialect.CODEX)
    assert p.result_response(1, {}, p.Dialect.LEGACY)["jsonrpc"] == "2.0"
    assert "jsonrpc" not in p.notification("n", {}, p.Dialect.CODEX)
    frags = p.result_response_fragments("x", p.RawJson((b'{"a":', b"1}")), p.Dialect.CODEX)
    assert json.loads(frags.joined()) == {"id": "x", "result": {"a": 1}}


def test_read_result_without_next_seq_is_an_error_on_both_ends():
    """The two ends used to disagree (the client took a missing nextSeq for 0)."""
    with pytest.raises(ValueError, match="nextSeq"):
        p.decode_read_result({"chunks": [], "exited": False, "closed": False})
    r = p.decode_read_result({"chunks": [], "nextSeq": 4, "exited": True, "exitCode": 0,
                              "closed": True, "failure": None, "sandboxDenied": True})
    assert r.next_seq == 4 and r.sandbox_denied
    assert p.encode_read_result(r, p.Dialect.CODEX)["sandboxDenied"] is True
    assert "sandboxDenied" not in p.encode_read_result(r, p.Dialect.LEGACY)


def test_start_in_the_newest_dialect():
    wire = {"processId": "a", "argv": ["true"], "cwd": "file:///tmp/a%20b", "env": {},
            "tty": False, "envPolicy": {"inherit": "core", "ignoreDefaultExcludes": True,
                                        "exclude": ["X*"], "set": {"A": "1"},
                                        "includeOnly": []},
            "metadata": {"threadId": "110589d3-c75b-41a8-a8bd-bab227398639",
                         "toolCallId": "c"}}
    sr = p.decode_start_request(wire)
    assert sr.params.cwd == "/tmp/a b" and sr.params.metadata["toolCallId"] == "c"
    assert sr.env_policy.as_config()["exclude"] == ["X*"]
    sp = StartParams("a", ["true"], "/tmp/a b", {"K": "v"}, metadata={"threadId": "t"})
    out = p.start_params_to_wire(sp, p.Dialect.CODEX, env_policy=sr.env_policy)
    assert out["cwd"] == "file:///tmp/a%20b" and out["envPolicy"]["inherit"] == "core"
    for bad in ({"cwd": "file:///tmp/a?b"}, {"envPolicy": {"inherit": "core"}},
                {"metadata": {"threadId": "nope"}}, {"envPolicy": {**wire["envPolicy"],
                                                                  "inherit": "most"}}):
        with pytest.raises(p.ProtocolError) as e:
            p.decode_start_request({**wire, **bad})
        assert e.value.code == p.INVALID_PARAMS


def test_write_ids_and_signals():
    assert p.decode_write({"processId": "a", "chunk": "eA==", "writeId": "w"}).write_id == "w"
    assert p.decode_write({"processId": "a", "chunk": "eA=="}).write_id is None
    with pytest.raises(p.ProtocolError, match="writeId must not be empty"):
        p.decode_write({"processId": "a", "chunk": "eA==", "writeId": ""})
    for bad in ("eA=", "e A==", "!!", "eA==\n"):
        with pytest.raises(p.ProtocolError, match="base64"):
            p.decode_write({"processId": "a", "chunk": bad})
    sig = p.decode_signal({"processId": "a", "signal": "interrupt"})
    assert (sig.signal, sig.dialect) == ("SIGINT", p.Dialect.CODEX)
    assert p.decode_signal({"processId": "a", "signal": "SIGTERM"}).dialect is p.Dialect.LEGACY
