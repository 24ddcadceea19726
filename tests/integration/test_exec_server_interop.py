"""Interop with Codex's own exec-server (npm @openai/codex, pinned; tests/support/codex_cli):
a small client speaking Codex's newest dialect, frame for frame as Codex's client does, runs
the same conversation against Codex's server and ours, and the answers must agree (shapes,
values, error codes). Differences we keep on purpose are asserted as such and listed in the
spec's section on the newest dialect. Also: our RemoteBackend resumes a session on Codex's
server after the link is reset."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from pathlib import Path

import pytest

from codex.exec_server.backend import Closed, Exited, Output, StartParams
from codex.exec_server.path_uri import from_path
from codex.exec_server.remote import RemoteBackend
from tests.support.exec_server import WsClient, WsServer, run, unb64, wait_until
from tests.support.tcp_proxy import TcpProxy

SERVERS = ("ours", "codex")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    from tests.support.codex_cli import CodexCliUnavailable, codex_binary, codex_server_env

    try:
        binary = codex_binary()
    except CodexCliUnavailable as e:
        pytest.fail(f"cannot run the interop tests: {e}")
    home = tmp_path_factory.mktemp("codex-home")
    with WsServer() as ours, WsServer(program=[str(binary)],
                                      env=codex_server_env(home)) as theirs:
        yield {"ours": ours.url, "codex": theirs.url}


def exact_env() -> dict:
    return {"inherit": "none", "ignoreDefaultExcludes": True, "exclude": [], "set": {},
            "includeOnly": []}


def start(pid: str, argv: list[str], cwd: str, **extra) -> dict:
    """`process/start` params as Codex's client sends them."""
    return {"processId": pid, "argv": argv, "cwd": from_path(cwd),
            "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, "tty": False,
            "envPolicy": exact_env(),
            "metadata": {"threadId": str(uuid.uuid4()), "toolCallId": f"call-{pid}"},
            "arg0": None, **extra}


async def conversation(url: str, work: Path) -> dict:
    """One scripted session; returns what each step answered."""
    seen: dict = {}
    async with WsClient(url, dialect="codex") as c:
        init = await c.request("initialize", {"clientName": "interop"})
        seen["init_keys"] = {"sessionId", "environmentInfo"} <= set(init)
        info = init["environmentInfo"]
        seen["info"] = (info["shell"]["name"], info["platformOs"], info["cwd"][:8],
                        info["tempDir"][:8], info["userHomeDir"][:8])
        await c.notify("initialized")
        seen["status"] = await c.request("environment/status", {})
        seen["info_again"] = sorted(k for k in await c.request("environment/info", {})
                                    if k in ("shell", "cwd", "platformOs", "tempDir",
                                             "userHomeDir", "capabilities"))

        r = await c.request("process/start", start("echo", ["sh", "-c", "echo hi"], str(work)))
        seen["start"] = r
        evs = await c.events("echo")
        seen["events"] = [(e["method"], e["params"]["seq"],
                           e["params"].get("exitCode"), e["params"].get("sandboxDenied"),
                           unb64(e["params"]["chunk"]) if "chunk" in e["params"] else None)
                          for e in evs]
        read = await c.request("process/read", {"processId": "echo", "afterSeq": 0,
                                                "maxBytes": None, "waitMs": 0})
        seen["read"] = ([(ch["seq"], ch["stream"], unb64(ch["chunk"])) for ch in read["chunks"]],
                        read["exited"], read["exitCode"], read["closed"], read["failure"],
                        read["sandboxDenied"])

        # Idempotent writes: the same writeId twice reaches `cat` once.
        await c.request("process/start", start("cat", ["cat"], str(work), pipeStdin=True))
        once = base64.b64encode(b"ping\n").decode()
        seen["writes"] = [await c.request("process/write", {"processId": "cat", "chunk": once,
                                                            "writeId": "w-1"})
                          for _ in range(2)]
        await c.events_until_output("cat", b"ping\n")
        seen["signal"] = await c.request("process/signal", {"processId": "cat",
                                                            "signal": "interrupt"})
        cat = await c.events("cat")
        # (cat's stream after the first ping: no second ping)
        seen["cat_rest"] = b"".join(unb64(e["params"]["chunk"]) for e in cat
                                    if e["method"] == "process/output")
        seen["unknown_write"] = await c.request("process/write", {
            "processId": "ghost", "chunk": once, "writeId": "w-2"})
        seen["terminate_gone"] = await c.request("process/terminate", {"processId": "ghost"})

        # File system.
        f = work / "a.txt"
        uri = from_path(f)
        seen["write"] = await c.request("fs/writeFile", {"path": uri,
                                                         "dataBase64": "aGVsbG8K"})
        seen["readFile"] = await c.request("fs/readFile", {"path": uri})
        meta = await c.request("fs/getMetadata", {"path": uri})
        seen["meta"] = {k: meta[k] for k in ("isDirectory", "isFile", "isSymlink", "size")}
        seen["mkdir"] = await c.request("fs/createDirectory", {"path": from_path(work / "d/e")})
        seen["copy"] = await c.request("fs/copy", {"sourcePath": uri,
                                                   "destinationPath": from_path(work / "d/b"),
                                                   "recursive": False})
        listing = await c.request("fs/readDirectory", {"path": from_path(work / "d")})
        seen["listing"] = sorted((e["fileName"], e["isDirectory"], e["isFile"])
                                 for e in listing["entries"])
        seen["canonical"] = await c.request("fs/canonicalize",
                                            {"path": from_path(work / "d" / ".." / "a.txt")})
        seen["remove"] = await c.request("fs/remove", {"path": from_path(work / "d")})

        async def code(method: str, params: dict) -> int:
            return (await c.request_msg(method, params))["error"]["code"]

        seen["errors"] = {
            "missing file": await code("fs/readFile", {"path": from_path(work / "nope")}),
            "native path": await code("fs/readFile", {"path": str(f)}),
            "query": await code("fs/readFile", {"path": uri + "?x=1"}),
            "fragment": await code("fs/readFile", {"path": uri + "#x"}),
            "bad base64": await code("fs/writeFile", {"path": uri, "dataBase64": "!!"}),
            "directory copy": await code("fs/copy", {
                "sourcePath": from_path(work), "destinationPath": from_path(work / "x"),
                "recursive": False}),
            "remove missing, no force": await code("fs/remove", {
                "path": from_path(work / "nope"), "force": False}),
            "unknown method": await code("fs/nothing", {}),
            "empty writeId": await code("process/write", {
                "processId": "cat", "chunk": once, "writeId": ""}),
            "thread id not a uuid": await code("process/start", {
                **start("m", ["true"], str(work)), "metadata": {"threadId": "x"}}),
            "envPolicy incomplete": await code("process/start", {
                **start("e", ["true"], str(work)), "envPolicy": {"inherit": "core"}}),
            "empty argv": await code("process/start", start("z", [], str(work))),
            "read unknown": await code("process/read", {"processId": "ghost"}),
            "signal name": await code("process/signal", {"processId": "cat",
                                                         "signal": "bogus"}),
        }
    return seen


def test_the_same_conversation_gets_the_same_answers(servers, tmp_path):
    answers = {}
    for name in SERVERS:
        work = tmp_path / name
        work.mkdir()
        answers[name] = run(conversation)(servers[name], work)
    ours, theirs = answers["ours"], answers["codex"]
    for key in theirs:
        if key in ("canonical",):
            continue
        assert ours[key] == theirs[key], key
    # The same path, each under its own work dir.
    assert ours["canonical"]["path"].endswith("/ours/a.txt")
    assert theirs["canonical"]["path"].endswith("/codex/a.txt")
    # And what both say, spelled out.
    assert theirs["start"] == {"processId": "echo", "sandboxType": "none"}
    assert theirs["events"] == [("process/output", 1, None, None, b"hi\n"),
                                ("process/exited", 2, 0, False, None),
                                ("process/closed", 3, None, None, None)]
    assert theirs["writes"] == [{"status": "accepted"}] * 2 and theirs["cat_rest"] == b""
    assert theirs["errors"]["missing file"] == -32004
    assert theirs["errors"]["native path"] == -32602


@run
async def test_remote_backend_resumes_on_codex_server_after_a_reset(servers):
    """Our client against Codex's server: the link is reset mid-stream; the session is
    resumed (Codex refuses a resume until it has noticed the drop: we retry) and the output
    arrives complete, in order, once."""
    url = servers["codex"]
    async with TcpProxy(int(url.rsplit(":", 1)[1])) as proxy:
        backend = RemoteBackend.websocket(proxy.url)
        try:
            await backend.connect()
            assert backend.session_id and not backend.server_is_ours
            script = "for i in $(seq 1 400); do echo line-$i; sleep 0.005; done"
            proc, events = await backend.start(StartParams("s", ["sh", "-c", script], "/",
                                                           dict(os.environ)))
            got = []
            seen_bytes = [0]

            async def collect():
                async for ev in events:
                    got.append(ev)
                    if isinstance(ev, Output):
                        seen_bytes[0] += len(ev.chunk)

            task = asyncio.ensure_future(collect())
            await wait_until(lambda: seen_bytes[0] > 500, 30, "some output")
            proxy.cut()
            await asyncio.wait_for(task, 60)
        finally:
            await backend.close()
    assert backend.resumes == 1
    assert isinstance(got[-1], Closed)
    assert [e.exit_code for e in got if isinstance(e, Exited)] == [0]
    out = b"".join(e.chunk for e in got if isinstance(e, Output))
    assert out == b"".join(b"line-%d\n" % i for i in range(1, 401))
