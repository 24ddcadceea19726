"""The exec-server client's JSON-RPC handling against a scripted websocket peer (a real
socket on loopback): ids, out-of-order answers, junk frames, server requests, lost links."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest
from websockets.asyncio.server import serve

from codex.exec_server.backend import Closed, Failed, Output, SpawnError, StartParams
from codex.exec_server.remote import ExecServerDisconnected, RemoteBackend


def params(pid: str) -> StartParams:
    return StartParams(pid, ["true"], os.getcwd(), {})


async def with_peer(script, body):
    """Run `script(ws, inbox)` as the server and `body(backend, inbox)` as the client."""
    inbox: asyncio.Queue = asyncio.Queue()

    async def handler(ws):
        async def pump():
            async for frame in ws:
                await inbox.put(json.loads(frame))
        reader = asyncio.create_task(pump())
        try:
            await script(ws, inbox)
        finally:
            reader.cancel()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        backend = RemoteBackend.websocket(f"ws://127.0.0.1:{port}")
        try:
            return await asyncio.wait_for(body(backend, inbox), 20)
        finally:
            await backend.close()


async def handshake(ws, inbox) -> None:
    init = await inbox.get()
    assert init["method"] == "initialize" and init["params"]["clientName"] == "codex-unified-exec"
    await ws.send(json.dumps({"id": init["id"], "result": {"serverName": "x", "extra": 1}}))
    assert (await inbox.get())["method"] == "initialized"


def test_answers_out_of_order_junk_and_server_requests() -> None:
    async def script(ws, inbox):
        await handshake(ws, inbox)
        a, b = await inbox.get(), await inbox.get()
        await ws.send("not json at all")  # ignored, the link stays up
        await ws.send(json.dumps({"id": 99, "method": "client/whatever", "params": {}}))
        reply = await inbox.get()
        assert reply["id"] == 99 and reply["error"]["code"] == -32601
        for req in (b, a):  # answer in reverse order
            pid = req["params"]["processId"]
            await ws.send(json.dumps({"method": "process/output", "params": {
                "processId": pid, "seq": 1, "stream": "stdout",
                "chunk": base64.b64encode(pid.encode()).decode()}}))
            await ws.send(json.dumps({"id": req["id"], "result": {"processId": pid}}))
            await ws.send(json.dumps({"method": "process/closed",
                                      "params": {"processId": pid, "seq": 2}}))
        # After closed: dropped, not delivered.
        await ws.send(json.dumps({"method": "process/output", "params": {
            "processId": "a", "seq": 3, "stream": "stdout", "chunk": "eA=="}}))
        await ws.wait_closed()

    async def body(backend, inbox):
        (pa, ea), (pb, eb) = await asyncio.gather(backend.start(params("a")),
                                                  backend.start(params("b")))
        evs = {"a": [e async for e in ea], "b": [e async for e in eb]}
        return evs, backend.live_process_ids

    evs, live = asyncio.run(with_peer(script, body))
    for pid in ("a", "b"):
        assert evs[pid] == [Output(1, "stdout", pid.encode()), Closed(2)]
    assert live == []


def test_failed_start_frees_the_channel() -> None:
    async def script(ws, inbox):
        await handshake(ws, inbox)
        req = await inbox.get()
        await ws.send(json.dumps({"id": req["id"], "error": {
            "code": -32603, "message": "No such file or directory: 'nope'"}}))
        await ws.wait_closed()

    async def body(backend, inbox):
        with pytest.raises(SpawnError, match="No such file"):
            await backend.start(params("p"))
        return backend.live_process_ids

    assert asyncio.run(with_peer(script, body)) == []


def test_lost_link_fails_live_processes_and_pending_calls() -> None:
    async def script(ws, inbox):
        await handshake(ws, inbox)
        req = await inbox.get()
        await ws.send(json.dumps({"id": req["id"], "result": {"processId": "p"}}))
        await inbox.get()  # the write we never answer
        await ws.close()

    async def body(backend, inbox):
        proc, events = await backend.start(params("p"))
        with pytest.raises(ExecServerDisconnected, match="^exec-server transport disconnected"):
            await proc.write(b"x")
        evs = [e async for e in events]
        with pytest.raises(ExecServerDisconnected):
            await proc.terminate()
        return evs

    evs = asyncio.run(with_peer(script, body))
    assert len(evs) == 1 and isinstance(evs[0], Failed)
    assert evs[0].message.startswith("exec-server transport disconnected")
