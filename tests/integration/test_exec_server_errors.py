"""Every error row of specs/exec-server.md with its code and message, over every transport;
after each error the connection still works (or is closed, where the spec says so)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import pytest

from codex.exec_server.backend import StartParams
from codex.exec_server.local import LocalBackend
from tests.support.exec_server import (
    TRANSPORTS,
    InProcClient,
    RpcError,
    WsClient,
    WsServer,
    b64,
    make_client,
    output_of,
    run,
    start_params,
    unb64,
    wait_until,
)
from tests.support.signals import SIGPIPE_BIT, inherited_sigign, sigign_of

PARSE = "failed to parse JSON-RPC message"


@pytest.fixture(scope="module")
def ws_server():
    with WsServer("--session-grace-ms=0") as server:
        yield server


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    kind = request.param
    return kind, (request.getfixturevalue("ws_server").url if kind == "ws" else None)


async def still_works(c) -> None:
    """A normal request after an error: the connection is usable."""
    r = await c.request("process/write", {"processId": "nope", "chunk": ""})
    assert r == {"status": "unknownProcess"}


# (frame, expected code, expected message prefix)
PARSE_ROWS = {
    "not-json": ("not-json", -32600, PARSE),
    "array": ("[1,2]", -32600, PARSE),
    "number": ("42", -32600, PARSE),
    "no-method-no-result": ('{"id":3}', -32600, PARSE),
    "method-not-string": ('{"id":3,"method":7}', -32600, PARSE),
    "id-float": ('{"id":1.5,"method":"initialize"}', -32600, PARSE),
    "id-bool": ('{"id":true,"method":"initialize"}', -32600, PARSE),
    "id-object": ('{"id":{},"method":"initialize"}', -32600, PARSE),
    "bad-jsonrpc": ('{"jsonrpc":"1.0","id":1,"method":"initialize"}', -32600, PARSE),
    "two-messages": ('{"id":1,"method":"initialize"}{"id":2,"method":"initialize"}',
                     -32600, PARSE),
    "invalid-utf8": (b'{"id":1,"method":"\xff"}', -32600, PARSE),
}


@pytest.mark.parametrize("row", list(PARSE_ROWS))
@run
async def test_malformed_frame_is_parse_error_and_connection_stays(transport, row):
    frame, code, prefix = PARSE_ROWS[row]
    async with make_client(*transport) as c:
        await c.handshake()
        msg = await c.call_raw(frame, id=-1)
        assert msg["id"] == -1 and msg["error"]["code"] == code
        assert msg["error"]["message"].startswith(prefix)
        await still_works(c)


VALID_START = {"processId": "p", "argv": ["true"], "cwd": "/", "env": {}, "tty": False}

# (method, params, code, exact message)
PARAM_ROWS = {
    "unknown-method": ("process/frobnicate", {}, -32601, "method not found: process/frobnicate"),
    "start-missing-processId": ("process/start", {k: v for k, v in VALID_START.items()
                                                  if k != "processId"},
                                -32602, "invalid params: missing field `processId`"),
    "start-argv-not-array": ("process/start", {**VALID_START, "argv": "true"},
                             -32602, "invalid params: `argv` must be an array of strings"),
    "start-argv-not-strings": ("process/start", {**VALID_START, "argv": ["echo", 1]},
                               -32602, "invalid params: `argv` must be an array of strings"),
    "start-empty-argv": ("process/start", {**VALID_START, "argv": []},
                         -32602, "argv must not be empty"),
    "start-cwd-relative": ("process/start", {**VALID_START, "cwd": "tmp"},
                           -32602,
                           "invalid params: `cwd` must be an absolute path or a file:// URI"),
    "start-env-not-strings": ("process/start", {**VALID_START, "env": {"A": 1}},
                              -32602, "invalid params: `env` must be an object of strings"),
    "start-tty-missing": ("process/start", {k: v for k, v in VALID_START.items()
                                            if k != "tty"},
                          -32602, "invalid params: missing field `tty`"),
    "start-tty-not-bool": ("process/start", {**VALID_START, "tty": "yes"},
                           -32602, "invalid params: `tty` must be a boolean"),
    "start-arg0-not-string": ("process/start", {**VALID_START, "arg0": 5},
                              -32602, "invalid params: `arg0` must be a string or null"),
    "start-sandbox-not-object": ("process/start", {**VALID_START, "sandbox": "strict"},
                                 -32602, "invalid params: `sandbox` must be an object or null"),
    "start-no-such-program": ("process/start", {**VALID_START, "argv": ["/nonexistent/prog"]},
                              -32603, "[Errno 2] No such file or directory: '/nonexistent/prog'"),
    "start-no-such-cwd": ("process/start", {**VALID_START, "cwd": "/nonexistent-dir"},
                          -32603, "[Errno 2] No such file or directory: '/nonexistent-dir'"),
    "read-unknown": ("process/read", {"processId": "ghost"}, -32600, "unknown process id ghost"),
    "read-afterSeq-string": ("process/read", {"processId": "x", "afterSeq": "1"},
                             -32602, "invalid params: `afterSeq` must be an integer or null"),
    "read-maxBytes-negative": ("process/read", {"processId": "x", "maxBytes": -1},
                               -32602, "invalid params: `maxBytes` must be >= 0"),
    "read-params-array": ("process/read", ["x"], -32602,
                          "invalid params: `params` must be an object"),
    "write-bad-base64": ("process/write", {"processId": "x", "chunk": "@@@"},
                         -32602, "invalid params: `chunk` is not valid base64"),
    "write-missing-chunk": ("process/write", {"processId": "x"},
                            -32602, "invalid params: missing field `chunk`"),
    "terminate-processId-int": ("process/terminate", {"processId": 3},
                                -32602, "invalid params: `processId` must be a string"),
    "signal-bad-name": ("process/signal", {"processId": "x", "signal": "SIGFOO"},
                        -32602, "invalid params: `signal` must be one of interrupt, SIGINT, "
                        "SIGTERM, SIGKILL, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGSTOP, "
                        "SIGTSTP, SIGWINCH"),
}


@pytest.mark.parametrize("row", list(PARAM_ROWS))
@run
async def test_error_row(transport, row):
    method, params, code, message = PARAM_ROWS[row]
    async with make_client(*transport) as c:
        await c.handshake()
        msg = await c.request_msg(method, params, id=f"req-{row}")
        assert msg["id"] == f"req-{row}"
        assert msg["error"]["code"] == code
        assert msg["error"]["message"] == message
        await still_works(c)


@run
async def test_spawn_failure_frees_the_id(transport):
    async with make_client(*transport) as c:
        await c.handshake()
        with pytest.raises(RpcError) as e:
            await c.start("p", ["definitely-not-a-program-xyz"])
        assert e.value.code == -32603 and "definitely-not-a-program-xyz" in e.value.message
        assert await c.start("p", ["true"]) == {"processId": "p"}
        await c.events("p")


@run
async def test_handshake_rules(transport):
    async with make_client(*transport) as c:
        msg = await c.request_msg("process/start", VALID_START)
        assert msg["error"] == {"code": -32600, "message":
                                "client must call initialize before using exec methods"}
        msg = await c.request_msg("initialize", {})
        assert msg["error"] == {"code": -32602,
                                "message": "invalid params: missing field `clientName`"}
        assert "sessionId" in await c.request("initialize", {"clientName": "t"})
        msg = await c.request_msg("process/read", {"processId": "x"})
        assert msg["error"] == {"code": -32600, "message":
                                "client must send initialized before using exec methods"}
        msg = await c.request_msg("initialize", {"clientName": "t"})
        assert msg["error"] == {"code": -32600,
                                "message": "initialize may only be sent once per connection"}
        await c.notify("initialized")
        await still_works(c)


CLOSING = {
    "initialized-first": '{"method":"initialized"}',
    "other-notification": None,  # after the handshake
    "response-object": '{"id":99,"result":{}}',
    "error-object": '{"id":99,"error":{"code":1,"message":"x"}}',
}


@pytest.mark.parametrize("row", list(CLOSING))
@run
async def test_protocol_violations_close_the_connection(transport, row):
    async with make_client(*transport) as c:
        if row == "other-notification":
            await c.handshake()
            await c.start("p", ["sleep", "1000"])
            await c.send_raw('{"method":"process/output","params":{}}')
        else:
            await c.send_raw(CLOSING[row])
        await asyncio.wait_for(c.gone.wait(), 10)


@run
async def test_write_status_rows(transport):
    async with make_client(*transport) as c:
        await c.handshake()
        w = {"processId": "cat", "chunk": b64(b"ping\n")}
        assert (await c.request("process/write", w))["status"] == "unknownProcess"
        await c.start("cat", ["cat"], pipeStdin=True)
        assert (await c.request("process/write", w))["status"] == "accepted"
        await c.start("nostdin", ["sleep", "1000"])
        r = await c.request("process/write", {"processId": "nostdin", "chunk": b64(b"x")})
        assert r["status"] == "stdinClosed"
        r = await c.request("process/read", {"processId": "cat", "waitMs": 10_000})
        assert b"".join(unb64(ch["chunk"]) for ch in r["chunks"]) == b"ping\n"
        assert (await c.request("process/terminate", {"processId": "cat"}))["running"]
        assert (await c.request("process/terminate", {"processId": "nostdin"}))["running"]
        for pid in ("cat", "nostdin"):
            evs = await c.events(pid)
            assert [e["params"]["exitCode"] for e in evs
                    if e["method"] == "process/exited"] == [143]
        # Exited: stdin is gone with it.
        assert (await c.request("process/write", w))["status"] == "stdinClosed"
        assert (await c.request("process/terminate", {"processId": "cat"})) == {"running": False}
        assert (await c.request("process/terminate", {"processId": "ghost"})) == \
            {"running": False}


class _SlowStartBackend(LocalBackend):
    """A real LocalBackend whose start waits for a gate: holds a process in `starting`."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def start(self, params: StartParams):
        await self.gate.wait()
        return await super().start(params)


@run
async def test_starting_state_rows():
    backend = _SlowStartBackend()
    async with InProcClient(backend=backend) as c:
        await c.handshake()
        start = asyncio.ensure_future(c.start("p", ["true"]))
        await wait_until(lambda: "p" in c.conn.session.slots, 10, "the start to be taken")
        msg = await c.request_msg("process/read", {"processId": "p"})
        assert msg["error"] == {"code": -32600, "message": "process id p is starting"}
        r = await c.request("process/write", {"processId": "p", "chunk": b64(b"x")})
        assert r == {"status": "starting"}
        assert await c.request("process/terminate", {"processId": "p"}) == {"running": False}
        assert await c.request("process/signal", {"processId": "p", "signal": "SIGINT"}) == \
            {"delivered": False}
        msg = await c.request_msg("process/start", start_params("p", ["true"]))
        assert msg["error"] == {"code": -32600, "message": "process p already exists"}
        backend.gate.set()
        assert await start == {"processId": "p"}
        await c.events("p")


@run
async def test_retention_after_close(transport):
    kind, url = transport
    server = None
    if kind == "ws":
        server = WsServer("--retain-closed-ms=400").__enter__()
        url = server.url
    try:
        async with make_client(kind, url, retain_closed_ms=400) as c:
            await c.handshake()
            await c.start("p", ["/bin/sh", "-c", "printf kept"])
            await c.events("p")
            # Retained: readable, terminate says false, the id is taken.
            r = await c.request("process/read", {"processId": "p"})
            assert r["closed"] and b"".join(unb64(x["chunk"]) for x in r["chunks"]) == b"kept"
            assert await c.request("process/terminate", {"processId": "p"}) == \
                {"running": False}
            msg = await c.request_msg("process/start", start_params("p", ["true"]))
            assert msg["error"] == {"code": -32600, "message": "process p already exists"}
            # Then removed: unknown, and the id is free again.
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            while "error" not in (m := await c.request_msg("process/read",
                                                           {"processId": "p"})):
                assert loop.time() - t0 < 20
                await asyncio.sleep(0.05)
            assert m["error"] == {"code": -32600, "message": "unknown process id p"}
            assert (await c.request("process/write",
                                    {"processId": "p", "chunk": ""}))["status"] == \
                "unknownProcess"
            assert await c.start("p", ["true"]) == {"processId": "p"}
            await c.events("p")
    finally:
        if server is not None:
            server.__exit__(None, None, None)


@run
async def test_env_is_whole_environment_and_arg0(transport):
    async with make_client(*transport) as c:
        await c.handshake()
        await c.start("env", ["/usr/bin/env"], env={"ONLY": "this"})
        assert output_of(await c.events("env")) == b"ONLY=this\n"
        show_argv0 = ["-c", "import sys; sys.stdout.buffer.write("
                      "sys.orig_argv[0].encode())"]
        for tty in (False, True):
            pid = f"arg0-{tty}"
            await c.start(pid, [sys.executable, *show_argv0], tty=tty, arg0="custom-arg0")
            assert output_of(await c.events(pid)) == b"custom-arg0"


@run
async def test_exit_codes_and_signal_extension(transport):
    async with make_client(*transport) as c:
        await c.handshake()
        await c.start("self-kill", ["/bin/sh", "-c", "kill -KILL $$"])
        evs = await c.events("self-kill")
        assert [e["params"]["exitCode"] for e in evs if e["method"] == "process/exited"] == \
            [137]
        await c.start("three", ["/bin/sh", "-c", "exit 3"])
        evs = await c.events("three")
        assert [e["params"]["exitCode"] for e in evs if e["method"] == "process/exited"] == [3]
        await c.start("int", ["sleep", "1000"])
        r = await c.request("process/signal", {"processId": "int", "signal": "SIGINT"})
        assert r == {"delivered": True}
        evs = await c.events("int")
        assert [e["params"]["exitCode"] for e in evs if e["method"] == "process/exited"] == \
            [130]
        r = await c.request("process/signal", {"processId": "int", "signal": "SIGINT"})
        assert r == {"delivered": False}
        r = await c.request("process/signal", {"processId": "ghost", "signal": "SIGTERM"})
        assert r == {"delivered": False}


@run
async def test_sandbox_param(transport, tmp_path):
    """`sandbox` reaches LocalBackend: a read-only policy stops a write (or, where this
    kernel cannot enforce it, the start fails with a clear -32603), never a silent run."""
    target = tmp_path / "written"
    async with make_client(*transport) as c:
        await c.handshake()
        show_argv0 = ["-c", "import sys; sys.stdout.buffer.write("
                      "sys.orig_argv[0].encode())"]
        msg = await c.request_msg("process/start", start_params(
            "sb", [sys.executable, *show_argv0], cwd=str(tmp_path), arg0="sandboxed-arg0",
            sandbox={"type": "read-only"}))
        if "error" in msg:
            assert msg["error"]["code"] == -32603
            assert msg["error"]["message"].startswith("sandbox unavailable")
        else:
            assert output_of(await c.events("sb")) == b"sandboxed-arg0"
            await c.start("sbw", ["/bin/sh", "-c", f"echo x > {target}"], cwd=str(tmp_path),
                          sandbox={"type": "read-only"})
            evs = await c.events("sbw")
            assert [e["params"]["exitCode"] for e in evs
                    if e["method"] == "process/exited"] != [0]
            assert not target.exists()
        msg = await c.request_msg("process/start", start_params(
            "bad", ["true"], sandbox={"type": "no-such-mode"}))
        assert msg["error"]["code"] == -32603
        # null means unsandboxed: the same write goes through.
        await c.start("nosb", ["/bin/sh", "-c", f"echo x > {target}"], sandbox=None)
        await c.events("nosb")
        assert target.read_text() == "x\n"


@run
async def test_long_poll_read_does_not_block_write(transport):
    async with make_client(*transport) as c:
        await c.handshake()
        await c.start("cat", ["cat"], tty=True)
        read = asyncio.ensure_future(
            c.request("process/read", {"processId": "cat", "afterSeq": 0, "waitMs": 20_000}))
        await asyncio.sleep(0.1)  # the read is parked in its long poll
        assert not read.done()
        w = await c.request("process/write", {"processId": "cat", "chunk": b64(b"x\n")})
        assert w == {"status": "accepted"}
        r = await asyncio.wait_for(read, 10)
        assert b"x" in b"".join(unb64(ch["chunk"]) for ch in r["chunks"])
        await c.request("process/terminate", {"processId": "cat"})
        await c.events("cat")


def test_bad_listen_and_token_rules(tmp_path):
    from tests.conftest import run_codex

    r = run_codex(["exec-server", "--listen", "tcp://1.2.3.4:5"])
    assert r.returncode != 0
    assert "ws://IP:PORT" in r.stderr and "stdio" in r.stderr
    r = run_codex(["exec-server", "--listen", "ws://0.0.0.0:0"])
    assert r.returncode != 0
    assert "non-loopback" in r.stderr and "--ws-token-file" in r.stderr
    empty = tmp_path / "empty"
    empty.write_text("")
    r = run_codex(["exec-server", "--listen", "ws://0.0.0.0:0", "--ws-token-file", str(empty)])
    assert r.returncode != 0 and "empty" in r.stderr


@run
async def test_origin_forbidden_and_token(tmp_path):
    from websockets.exceptions import InvalidStatus

    with WsServer() as plain:
        with pytest.raises(InvalidStatus) as e:
            await WsClient(
                plain.url, origin="https://evil.example").open()
        assert e.value.response.status_code == 403
    token = uuid.uuid4().hex
    tf = tmp_path / "token"
    tf.write_text(token + "\n")
    os.chmod(tf, 0o600)
    with WsServer("--ws-token-file", str(tf), listen="ws://0.0.0.0:0") as server:
        url = server.url.replace("0.0.0.0", "127.0.0.1")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            with pytest.raises(InvalidStatus) as e:
                await WsClient(url, additional_headers=headers).open()
            assert e.value.response.status_code == 401
        c = WsClient(
            url, additional_headers={"Authorization": f"Bearer {token}"})
        async with c:
            await c.handshake()
            await c.start("p", ["true"])
            await c.events("p")
        # Origin is refused even with a good token.
        with pytest.raises(InvalidStatus) as e:
            await WsClient(
                url, origin="https://evil.example",
                additional_headers={"Authorization": f"Bearer {token}"}).open()
        assert e.value.response.status_code == 403


@run
async def test_binary_frame_holding_json_is_accepted(transport):
    async with make_client(*transport) as c:
        msg = await c.call_raw(b'{"id":"bin","method":"initialize","params":{"clientName":"b"}}',
                               id="bin")
        assert msg["id"] == "bin" and "sessionId" in msg["result"]


@run
async def test_lone_surrogates_are_echoed_safely(transport):
    """JSON allows "\\ud800" (not valid UTF-8): ids and process ids holding one still get
    their answers and notifications."""
    async with make_client(*transport) as c:
        await c.handshake()
        msg = await c.call_raw('{"id":"\\ud800","method":"nope"}', id="\ud800")
        assert msg["error"]["code"] == -32601
        await c.start("p\ud800", ["true"])
        evs = await c.events("p\ud800")
        assert evs[-1]["method"] == "process/closed"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"),
                    reason="reads the child's ignored-signal mask from /proc (Linux)")
@run
async def test_children_start_with_default_signal_dispositions(transport):
    """Python ignores SIGPIPE; our children must not inherit that (PTY and pipes)."""
    async with make_client(*transport) as c:
        await c.handshake()
        for tty in (False, True):
            pid = f"sig-{tty}"
            await c.start(pid, ["cat", "/proc/self/status"], tty=tty)
            status = output_of(await c.events(pid)).decode()
            mask = sigign_of(status)
            assert mask == inherited_sigign() and not mask & SIGPIPE_BIT, hex(mask)
