"""The process side of the newest Codex dialect on our server (spec "The newest Codex
dialect"): envPolicy, metadata, writeId idempotency, process/signal, sandboxDenied,
sandboxType, environment/info and environment/status — over every transport."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.exec_server import (
    TRANSPORTS,
    WsServer,
    b64,
    make_client,
    output_of,
    run,
    start_params,
)


@pytest.fixture(scope="module")
def ws_server():
    with WsServer() as server:
        yield server


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    url = request.getfixturevalue("ws_server").url if request.param == "ws" else None
    return request.param, url


def client(transport, dialect: str = "codex"):
    return make_client(*transport, dialect=dialect)


def policy(**over) -> dict:
    return {"inherit": "none", "ignoreDefaultExcludes": False, "exclude": [], "set": {},
            "includeOnly": [], **over}


async def env_of(c, pid: str, env: dict, env_policy: dict) -> dict[str, str]:
    await c.start(pid, ["/usr/bin/env"], env=env, envPolicy=env_policy)
    out = output_of(await c.events(pid)).decode()
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@run
async def test_env_policy_builds_the_environment_then_env_overlays(transport):
    async with client(transport) as c:
        await c.handshake()
        exact = await env_of(c, "e1", {"A": "1"}, policy(set={"B": "2"}))
        assert exact == {"A": "1", "B": "2"}
        overlaid = await env_of(c, "e2", {"B": "from-env"}, policy(set={"B": "from-set"}))
        assert overlaid == {"B": "from-env"}
        core = await env_of(c, "e3", {}, policy(inherit="core"))
        assert set(core) <= {"HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME",
                             "TMPDIR", "TEMP", "TMP"} and "PATH" in core
        everything = await env_of(c, "e4", {}, policy(inherit="all", includeOnly=["PA*"]))
        assert set(everything) == {"PATH"}
        # Default excludes drop *KEY*/*SECRET*/*TOKEN* from what is inherited...
        filtered = await env_of(c, "e5", {}, policy(inherit="all",
                                                    set={"MY_TOKEN": "set-later"}))
        assert filtered.get("MY_TOKEN") == "set-later"  # `set` comes after the excludes
        msg = await c.request_msg("process/start", start_params(
            "bad", ["true"], dialect="codex", envPolicy={"inherit": "core"}))
        assert msg["error"]["code"] == -32602 and "ignoreDefaultExcludes" in \
            msg["error"]["message"]
        msg = await c.request_msg("process/start", start_params(
            "bad2", ["true"], dialect="codex", envPolicy=policy(inherit="some")))
        assert msg["error"]["code"] == -32602


@run
async def test_metadata_is_accepted_and_checked(transport):
    async with client(transport) as c:
        await c.handshake()
        ok = {"threadId": str(uuid.uuid4()), "toolCallId": "call_1"}
        assert await c.start("m", ["true"], metadata=ok) == {"processId": "m"}
        await c.events("m")
        msg = await c.request_msg("process/start", start_params(
            "m2", ["true"], dialect="codex", metadata={"threadId": "not-a-uuid"}))
        assert msg["error"]["code"] == -32602 and "UUID" in msg["error"]["message"]


@run
async def test_a_repeated_write_id_is_written_once(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("cat", ["cat"], pipeStdin=True)
        for _ in range(3):
            assert await c.write("cat", b"once\n", write_id="same") == {"status": "accepted"}
        assert await c.write("cat", b"twice\n", write_id="other") == {"status": "accepted"}
        # Our older form (no writeId) is still accepted.
        assert await c.request("process/write", {"processId": "cat",
                                                 "chunk": b64(b"plain\n")}) == \
            {"status": "accepted"}
        msg = await c.request_msg("process/write", {"processId": "cat", "chunk": b64(b"x"),
                                                    "writeId": ""})
        assert msg["error"] == {"code": -32602, "message": "writeId must not be empty"}
        first = await c.events_until_output("cat", b"plain\n")
        await c.request("process/terminate", {"processId": "cat"})
        rest = await c.events("cat")
        assert output_of(first + rest) == b"once\ntwice\nplain\n"


@run
async def test_signal_interrupt_and_posix_names(transport):
    async with client(transport) as c:
        await c.handshake()
        await c.start("s", ["sleep", "30"])
        assert await c.request("process/signal", {"processId": "s",
                                                  "signal": "interrupt"}) == {}
        evs = await c.events("s")
        exited = [e for e in evs if e["method"] == "process/exited"][0]["params"]
        assert exited["exitCode"] == 130 and exited["sandboxDenied"] is False
        # Unknown or finished ids: a no-op, still `{}`.
        assert await c.request("process/signal", {"processId": "s",
                                                  "signal": "interrupt"}) == {}
        assert await c.request("process/signal", {"processId": "ghost",
                                                  "signal": "interrupt"}) == {}
        # Our POSIX names keep their answer.
        await c.start("t", ["sleep", "30"])
        assert await c.request("process/signal", {"processId": "t", "signal": "SIGTERM"}) \
            == {"delivered": True}
        await c.events("t")


@run
async def test_each_dialect_gets_its_own_read_and_exit_fields(transport):
    for dialect, has_denied in (("codex", True), ("legacy", False)):
        async with client(transport, dialect) as c:
            await c.handshake()
            await c.start("p", ["true"])
            evs = await c.events("p")
            exited = [e for e in evs if e["method"] == "process/exited"][0]
            assert ("jsonrpc" in exited) == (dialect == "legacy")
            assert ("sandboxDenied" in exited["params"]) == has_denied
            r = await c.request("process/read", {"processId": "p"})
            assert ("sandboxDenied" in r) == has_denied


@run
async def test_sandbox_denied_and_sandbox_type(transport, tmp_path):
    """A command stopped by the sandbox (Codex's context form, translated to ours) says so
    in `sandboxDenied`; `sandboxType` names the sandbox."""
    work = tmp_path / "w"
    work.mkdir()
    from codex.exec_server.path_uri import from_path

    ctx = {"permissions": {"type": "managed", "file_system": {"type": "restricted", "entries": [
        {"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"},
        {"path": {"type": "path", "path": from_path(work)}, "access": "write"}]},
        "network": "restricted"}, "cwd": from_path(work), "windowsSandboxLevel": "disabled"}
    outside = tmp_path / "outside.txt"
    async with client(transport) as c:
        await c.handshake()
        r = await c.request("process/start", start_params(
            "deny", ["sh", "-c", f"echo x > {outside}"], cwd=str(work), dialect="codex",
            sandbox=ctx))
        if r.get("sandboxType") == "none":
            pytest.fail("a sandbox context must never run unsandboxed")
        evs = await c.events("deny")
        exited = [e for e in evs if e["method"] == "process/exited"][0]["params"]
        if b"sandbox unavailable" in output_of(evs):
            pytest.skip("this kernel cannot enforce the sandbox (no Landlock)")
        assert exited["exitCode"] != 0 and exited["sandboxDenied"] is True
        assert not outside.exists()
        r = await c.request("process/read", {"processId": "deny"})
        assert r["sandboxDenied"] is True
        await c.start("fine", ["sh", "-c", f"echo x > {work}/ok"], cwd=str(work), sandbox=ctx)
        evs = await c.events("fine")
        assert [e["params"]["sandboxDenied"] for e in evs
                if e["method"] == "process/exited"] == [False]
        assert (work / "ok").read_text() == "x\n"


@run
async def test_environment_info_and_status(transport):
    async with client(transport) as c:
        await c.handshake()
        info = await c.request("environment/info", {})
        assert info["shell"]["path"].startswith("/") and info["shell"]["name"]
        assert info["platformOs"] in ("linux", "macos")
        for key in ("cwd", "userHomeDir", "tempDir"):
            assert info[key].startswith("file:///")
        assert info["userHomeDir"].endswith(os.path.expanduser("~").rstrip("/")) or \
            info["userHomeDir"] == "file:///"
        assert isinstance(info["capabilities"], dict) and info["executorVersion"]
        assert await c.request("environment/status", {}) == {"status": "ready"}
        assert await c.request("environment/status") == {"status": "ready"}  # no params
