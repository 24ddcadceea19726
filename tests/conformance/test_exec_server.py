"""Conformance cases 1-14 of specs/exec-server.md, each in both dialects (ours and Codex's
newest) over the in-process handler, a real `codex exec-server --listen stdio` child and a
real websocket server child."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid

import pytest

from codex.exec_server.backend import Closed, Exited, Output, StartParams
from codex.exec_server.local import RETAINED_OUTPUT_BYTES, LocalBackend
from tests.support.exec_server import (
    DIALECTS,
    TRANSPORTS,
    Client,
    WsServer,
    make_client,
    output_of,
    run,
    session_pids,
    start_params,
    unb64,
    wait_until,
)


@pytest.fixture(scope="module")
def ws_server():
    with WsServer() as server:
        yield server


@pytest.fixture(params=DIALECTS)
def dialect(request) -> str:
    return request.param


@pytest.fixture(params=TRANSPORTS)
def transport(request, dialect) -> tuple[str, str | None, str]:
    kind = request.param
    url = request.getfixturevalue("ws_server").url if kind == "ws" else None
    return kind, url, dialect


def client(transport: tuple[str, str | None, str], **kw) -> Client:
    kind, url, dialect = transport
    return make_client(kind, url, dialect=dialect, **kw)


@run
async def test_case_01_initialize_echoes_id(transport):
    async with client(transport) as c:
        msg = await c.request_msg("initialize", {"clientName": "t"}, id="init-abc")
        assert msg["id"] == "init-abc" and isinstance(msg["result"]["sessionId"], str)
        if c.dialect == "codex":
            assert msg["result"]["environmentInfo"]["platformOs"]
    async with client(transport) as c:
        msg = await c.request_msg("initialize", {"clientName": "t"}, id=7)
        assert msg["id"] == 7 and "result" in msg


@run
async def test_case_02_start_true_returns_process_id(transport):
    async with client(transport) as c:
        await c.handshake()
        assert await c.start("proc-1", ["true"]) == {"processId": "proc-1"}
        await c.events("proc-1")


@run
async def test_case_03_malformed_frame_then_initialize(transport):
    async with client(transport) as c:
        msg = await c.call_raw("not-json", id=-1)
        assert msg["id"] == -1
        assert msg["error"]["code"] == -32600
        assert msg["error"]["message"].startswith("failed to parse JSON-RPC message")
        assert "sessionId" in await c.request("initialize", {"clientName": "t"})


@run
async def test_case_04_concurrent_starts_one_wins(transport):
    async with client(transport) as c:
        await c.handshake()
        params = start_params("proc-1", ["true"], env={}, dialect=c.dialect)
        r1, r2 = await asyncio.gather(c.request_msg("process/start", params, id=1),
                                      c.request_msg("process/start", params, id=2))
        results = [m for m in (r1, r2) if "result" in m]
        errors = [m for m in (r1, r2) if "error" in m]
        assert len(results) == 1 and len(errors) == 1
        assert results[0]["result"]["processId"] == "proc-1"
        assert errors[0]["error"] == {"code": -32600, "message": "process proc-1 already exists"}
        await c.events("proc-1")


@run
async def test_case_05_terminate_polls_to_not_running(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("p", ["sleep", "0.1"])
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while (await c.request("process/terminate", {"processId": "p"}))["running"]:
            assert loop.time() - t0 < 1.0
            await asyncio.sleep(0.01)
        assert loop.time() - t0 < 1.0


@run
async def test_case_06_exited_before_closed(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("p", ["true"])
        evs = await c.events("p")
        methods = [e["method"] for e in evs]
        assert methods == ["process/exited", "process/closed"]
        assert evs[0]["params"]["exitCode"] == 0
        assert evs[0]["params"]["seq"] < evs[1]["params"]["seq"]


@run
async def test_case_07_output_exit_closed(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("p", ["/bin/sh", "-c", "sleep 0.05; printf 'session output\\n'"])
        evs = await c.events("p")
        assert output_of(evs) == b"session output\n"
        exited = [e for e in evs if e["method"] == "process/exited"]
        assert len(exited) == 1 and exited[0]["params"]["exitCode"] == 0
        assert evs[-1]["method"] == "process/closed"
        assert all(e["params"]["stream"] == "stdout" for e in evs
                   if e["method"] == "process/output")


@run
async def test_case_08_tty_echo(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("t", ["/bin/sh", "-c", "read line; echo \"got:$line\""], tty=True)
        await asyncio.sleep(0.2)  # the case: the write comes 200 ms after the start
        r = await c.write("t", b"hello\n")
        assert r == {"status": "accepted"}
        evs = await c.events("t")
        out = output_of(evs)
        assert b"hello" in out and b"got:hello" in out
        assert all(e["params"]["stream"] == "pty" for e in evs
                   if e["method"] == "process/output")
        assert [e for e in evs if e["method"] == "process/exited"][0]["params"]["exitCode"] == 0
        assert evs[-1]["method"] == "process/closed"


@run
async def test_case_09_late_reader_loses_nothing(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("p", ["/bin/sh", "-c", "printf 'early bird\\n'"])
        await asyncio.sleep(0.2)  # the case: the consumer comes 200 ms late
        r = await c.wait_closed_read("p")
        full = await c.request("process/read", {"processId": "p", "afterSeq": 0})
        assert b"".join(unb64(ch["chunk"]) for ch in full["chunks"]) == b"early bird\n"
        assert r["exited"] and r["exitCode"] == 0
        assert output_of(await c.events("p")) == b"early bird\n"


@run
async def test_case_09_late_subscriber_backend():
    """Case 9 on the backend seam: events queued before the consumer subscribes are kept."""
    backend = LocalBackend()
    try:
        proc, events = await backend.start(StartParams(
            "p", ["/bin/sh", "-c", "printf 'early bird\\n'"], "/", dict(os.environ)))
        r = await proc.read(wait_ms=0)
        while not r.closed:
            r = await proc.read(after_seq=r.next_seq - 1, wait_ms=1000)
        await asyncio.sleep(0.2)  # the case: subscribe 200 ms after the output
        got = [ev async for ev in events]
        assert b"".join(e.chunk for e in got if isinstance(e, Output)) == b"early bird\n"
        assert isinstance(got[-1], Closed) and any(isinstance(e, Exited) for e in got)
    finally:
        await backend.close()


@run
async def test_case_10_server_dies_no_closed(transport, tmp_path):
    """Server side of case 10: when the server goes away mid-process the client sees the
    transport end and never a `process/closed`; the process does not survive the server."""
    kind, url, dialect = transport
    marker = f"10.{uuid.uuid4().int % 10**9}"
    own_server = None
    if kind == "ws":
        own_server = WsServer().__enter__()
        url = own_server.url
    try:
        async with make_client(kind, url, dialect=dialect) as c:
            await c.handshake()
            await c.start("s", ["sleep", marker])
            await wait_until(lambda: session_pids(marker), 10, "sleep to start")
            if kind == "inproc":
                await c.aclose()
            elif kind == "stdio":
                c.proc.terminate()
            else:
                own_server.proc.terminate()
            await asyncio.wait_for(c.gone.wait(), 10)
            assert not [m for m in c.messages if m.get("method") == "process/closed"]
            await wait_until(lambda: not session_pids(marker), 5, "sleep to be killed")
    finally:
        if own_server is not None:
            own_server.__exit__(None, None, None)


@run
async def test_case_10_remote_backend_failed():
    """Case 10 through the RemoteBackend client."""
    from codex.exec_server.backend import Failed
    from codex.exec_server.remote import RemoteBackend as backend_cls

    server = WsServer().__enter__()
    try:
        backend = backend_cls.websocket(server.url)
        await backend.connect()
        proc, events = await backend.start(StartParams("s", ["sleep", "10"], "/",
                                                       dict(os.environ)))
        await asyncio.to_thread(server.stop)
        got = [ev async for ev in events]
        assert isinstance(got[-1], Failed)
        assert got[-1].message.startswith("exec-server transport disconnected")
        assert not any(isinstance(e, Closed) for e in got)
        await backend.close()
    finally:
        server.__exit__(None, None, None)


@run
async def test_case_11_write_statuses(transport):
    async with client(transport) as c:
        await c.handshake()
        r = await c.write("nope", b"x")
        assert r == {"status": "unknownProcess"}
        await c.start("p", ["sleep", "5"])
        r = await c.write("p", b"x")
        assert r == {"status": "stdinClosed"}
        await c.request("process/terminate", {"processId": "p"})
        await c.events("p")


@pytest.mark.parametrize("how", ["drop", "server-sigterm", "server-sigint"])
@run
async def test_case_12_disconnect_kills_tree(transport, how):
    """Case 12 holds with grace 0 (the module's server runs the default grace: see
    test_exec_server_resume for the grace period itself)."""
    kind, url, dialect = transport
    if kind == "inproc" and how != "drop":
        pytest.skip("no server process in-process; aclose() is the disconnect case")
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    own_server = None
    if kind == "ws":
        own_server = WsServer("--session-grace-ms=0").__enter__()
        url = own_server.url
    try:
        c = make_client(kind, url, dialect=dialect)
        await c.open()
        await c.handshake()
        await c.start("tree", ["sh", "-c", f"sleep {marker} & sleep {marker}"])
        await wait_until(lambda: len(session_pids(marker)) >= 2, 10, "both sleeps")
        if how == "drop":
            if kind == "inproc":
                asyncio.get_running_loop().create_task(c.aclose())
            else:
                await c.drop()
        else:
            # A signal to the server: everything dies, and the server exits 0 (issue 3).
            sig = signal.SIGINT if how == "server-sigint" else signal.SIGTERM
            (c.proc if kind == "stdio" else own_server.proc).send_signal(sig)
        took = await wait_until(lambda: not session_pids(marker), 2.0, "the tree to be gone")
        assert took <= 2.0
        if kind == "stdio":
            assert await asyncio.wait_for(c.proc.wait(), 10) == 0
        if kind == "ws" and how != "drop":
            assert await asyncio.to_thread(own_server.proc.wait, 10) == 0
        await c.aclose()
    finally:
        if own_server is not None:
            own_server.__exit__(None, None, None)


@run
async def test_case_13_after_seq_and_max_bytes(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("p", ["/bin/sh", "-c",
                            "for i in 1 2 3 4 5 6; do printf \"chunk-$i-\"; sleep 0.03; done"])
        await c.wait_closed_read("p")
        full = await c.request("process/read", {"processId": "p"})
        chunks = full["chunks"]
        assert len(chunks) >= 2
        assert b"".join(unb64(ch["chunk"]) for ch in chunks) == b"".join(
            b"chunk-%d-" % i for i in range(1, 7))
        for k, ch in enumerate(chunks):
            r = await c.request("process/read", {"processId": "p", "afterSeq": ch["seq"]})
            assert r["chunks"] == chunks[k + 1:]
        sizes = [len(unb64(ch["chunk"])) for ch in chunks]
        for max_bytes in range(1, sum(sizes) + 2):
            r = await c.request("process/read", {"processId": "p", "maxBytes": max_bytes})
            got = r["chunks"]
            assert got == chunks[:len(got)] and got  # whole chunks, in order, never empty
            total = sum(sizes[:len(got)])
            assert total <= max_bytes or len(got) == 1
            assert len(got) == len(chunks) or total + sizes[len(got)] > max_bytes \
                or total >= max_bytes
            assert r["nextSeq"] == got[-1]["seq"] + 1


@run
async def test_case_14_retention_evicts_oldest(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("big", ["head", "-c", "10000000", "/dev/zero"])
        evs = await c.events("big")
        assert len(output_of(evs)) == 10_000_000
        r = await c.request("process/read", {"processId": "big", "afterSeq": 0})
        seqs = [ch["seq"] for ch in r["chunks"]]
        retained = sum(len(unb64(ch["chunk"])) for ch in r["chunks"])
        assert 0 < retained <= RETAINED_OUTPUT_BYTES
        assert seqs[0] > 1  # the oldest were evicted...
        live = {e["params"]["seq"]: unb64(e["params"]["chunk"]) for e in evs
                if e["method"] == "process/output"}
        # ...and the rest are the newest output chunks, under the seqs they were sent with.
        assert seqs == sorted(live)[-len(seqs):]
        assert all(live[ch["seq"]] == unb64(ch["chunk"]) for ch in r["chunks"])


def test_cases_are_json_clean():
    """The spec's wire examples use plain JSON: what we send must round-trip exactly."""
    from codex.exec_server import protocol

    msg = protocol.event_notification("p", Output(1, "stdout", b"\xff\x00"))
    assert json.loads(protocol.encode(msg)) == msg
