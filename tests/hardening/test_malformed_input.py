"""Issue 15 item 11, the class "bad input ends the server": every malformed frame gets its
error answer and the server goes on — over stdio and websocket, from the checkout and from
the packaged file alike (these tests run against `CODEX_TEST_BINARY` when it is set).

The example: a JSON value nested ~600 levels deep used to end `--listen stdio` silently
(rc 0, later requests unanswered) and close a websocket without an answer; how deep was too
deep depended on the interpreter's recursion limit, which differs in a frozen build. The
depth is now checked before parsing, without recursion: deeper than 128 (Codex's own limit)
is an error, whatever the runtime."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from codex.exec_server import protocol
from tests.support.exec_server import WsClient, WsServer, make_client, run, server_cmd

PARSE_ERROR = "failed to parse JSON-RPC message"


def nested(depth: int, kind: str = "array") -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


# name -> frame (str or bytes). Each must get exactly one error answer with id -1.
MALFORMED = {
    "nested-600-arrays": nested(600),
    "nested-600-objects": nested(600, "object"),
    "nested-129": nested(129),
    "nested-100000": nested(100_000),
    "deep-params-in-a-request": '{"id":1,"method":"initialize","params":{"x":'
                                + nested(700) + "}}",
    "invalid-utf8": b'{"id":1,"method":"initialize","params":{"clientName":"\xff\xfe"}}',
    "huge-integer": '{"id":' + "9" * 100_000 + ',"method":"initialize"}',
    "two-messages": '{"id":1,"method":"initialize"}{"id":2,"method":"initialize"}',
    "not-json": "this is not json",
    "nul-bytes": b"\x00\x00\x00",
    "truncated": '{"id":1,"method":"initia',
    "bare-string": '"initialize"',
}


@pytest.fixture(scope="module")
def ws_server():
    with WsServer() as server:
        yield server


@pytest.fixture(params=["stdio", "ws"])
def transport(request):
    url = request.getfixturevalue("ws_server").url if request.param == "ws" else None
    return request.param, url


@pytest.mark.parametrize("name", list(MALFORMED))
@run
async def test_malformed_frame_gets_its_error_and_the_connection_goes_on(transport, name):
    async with make_client(*transport, dialect="codex") as c:
        msg = await c.call_raw(MALFORMED[name], id=-1)
        assert msg["error"]["code"] == -32600
        assert msg["error"]["message"].startswith(PARSE_ERROR), msg
        # Same connection, same server: the next request is answered.
        await c.handshake()
        assert await c.request("environment/status", {}) == {"status": "ready"}
        assert not c.gone.is_set()


@pytest.mark.parametrize("depth", [128, 129, 600, 2000])
@run
async def test_depth_limit_is_the_same_everywhere(transport, depth):
    """128 levels parse (and get an ordinary answer), 129 and deeper are refused."""
    async with make_client(*transport, dialect="codex") as c:
        frame = '{"id":"d","method":"initialize","params":{"clientName":"t","x":' \
                + nested(depth - 2) + "}}"
        msg = await c.call_raw(frame, id="d" if depth <= 128 else -1)
        if depth <= 128:
            assert "sessionId" in msg["result"]
        else:
            assert msg["error"]["message"] == \
                f"{PARSE_ERROR}: nesting deeper than 128 levels"


def test_stdio_example_600_levels_then_more_requests():
    """The issue's example, byte for byte over a pipe: the server answers the bad line,
    then the next requests, and exits 0 only at EOF."""
    lines = [nested(600),
             json.dumps({"id": 1, "method": "initialize", "params": {"clientName": "x"}}),
             json.dumps({"method": "initialized"}),
             json.dumps({"id": 2, "method": "environment/status"})]
    r = subprocess.run(server_cmd("--listen", "stdio"),
                       input="\n".join(lines) + "\n", capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    assert answers[0]["id"] == -1 and answers[0]["error"]["message"].startswith(PARSE_ERROR)
    assert answers[1]["id"] == 1 and "sessionId" in answers[1]["result"]
    assert answers[2] == {"id": 2, "result": {"status": "ready"}}


@run
async def test_websocket_binary_garbage_and_deep_frames_in_a_row(ws_server):
    """Sibling: many bad frames back to back on one websocket (binary garbage, deep,
    invalid UTF-8) — each answered, the link never closed."""
    async with WsClient(ws_server.url, dialect="codex") as c:
        for frame in (b"\x80\x81\xfe\xff", nested(5000).encode(), b"\xff" * 1000,
                      nested(800, "object")):
            msg = await c.call_raw(frame, id=-1)
            assert msg["error"]["code"] == -32600
        await c.handshake()
        assert not c.gone.is_set()


def test_depth_check_does_not_depend_on_the_recursion_limit():
    """What differs in a frozen build (the interpreter's recursion budget) no longer
    matters: with a much lower limit the same frames get the same verdicts."""
    import inspect

    old = sys.getrecursionlimit()
    try:
        # Barely more than what is already on the stack: too little for json to parse
        # even 128 levels by itself (a frozen runtime's parser can need two frames a level).
        sys.setrecursionlimit(len(inspect.stack()) + 60)
        verdicts = []
        for depth in (100, 128, 129, 600):
            try:
                protocol.loads(nested(depth))
                verdicts.append("ok")
            except protocol.ParseError as e:
                verdicts.append(e.message)
    finally:
        sys.setrecursionlimit(old)
    deep = f"{PARSE_ERROR}: nesting deeper than 128 levels"
    assert verdicts == ["ok", "ok", deep, deep]


def test_brackets_inside_strings_do_not_count():
    value = protocol.loads('["' + "[" * 10_000 + '", "\\"[[["]')
    assert value[0] == "[" * 10_000


def test_a_deep_frame_is_cheap_to_refuse():
    """Refusing is a scan with an early exit, not a parse: a 20 MB frame of brackets."""
    frame = "[" * 20_000_000

    async def refuse():
        with pytest.raises(protocol.ParseError):
            protocol.loads(frame)

    asyncio.run(refuse())
