"""The connection manager against real MCP servers: the reference stdio servers from PyPI,
a streamable HTTP server built with the SDK, and servers that fail in every way the spec
names. Each failure is a reason for people; nothing is left running afterwards."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from codex.core.protocol import McpStartupUpdate
from codex.mcp.config import parse_servers
from codex.mcp.manager import McpConnectionManager
from codex.mcp.status import ServerState
from tests.support import mcp_servers as ms

pytestmark = pytest.mark.asyncio


class Recorder:
    def __init__(self) -> None:
        self.events: list[McpStartupUpdate] = []

    def __call__(self, ev: McpStartupUpdate) -> None:
        self.events.append(ev)

    def by_server(self, name: str) -> list[tuple[str, str | None]]:
        return [(e.status, e.reason) for e in self.events if e.server == name]


def manager(tables: dict[str, Any], cwd: Path, rec: Recorder | None = None
            ) -> McpConnectionManager:
    return McpConnectionManager(parse_servers(tables), cwd=cwd, on_event=rec)


def git_repo(path: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "hello.txt").write_text("hello\n")
    return path


async def test_reference_servers_tools_and_calls(tmp_path: Path, servers_venv: str,
                                                 mark: str) -> None:
    repo = git_repo(tmp_path / "repo")
    rec = Recorder()
    m = manager({
        "time": {"command": ms.server_bin("mcp-server-time"),
                 "args": ["--local-timezone", "UTC"], "env": {ms.MARK_VAR: mark}},
        "git": {"command": ms.server_bin("mcp-server-git"), "args": ["--repository", str(repo)],
                "env": {ms.MARK_VAR: mark}, "disabled_tools": ["git_commit", "git_reset"]},
    }, tmp_path, rec)
    m.start()
    try:
        await m.wait_started()
        assert rec.by_server("time") == [("starting", None), ("ready", None)]
        names = {t.qualified_name for t in m.tools()}
        assert {"mcp__time__get_current_time", "mcp__time__convert_time",
                "mcp__git__git_status"} <= names
        assert "mcp__git__git_commit" not in names  # disabled_tools
        tool = m.lookup("mcp__time__get_current_time")
        assert tool is not None and tool.server == "time"
        assert "timezone" in json.dumps(tool.input_schema)

        out = await m.call_tool("time", "get_current_time", {"timezone": "Asia/Tokyo"})
        assert out.error is None and out.result is not None
        assert out.result["structuredContent"]["timezone"] == "Asia/Tokyo"
        assert out.result["structuredContent"]["datetime"].endswith("+09:00")

        out = await m.call_tool("git", "git_status", {"repo_path": str(repo)})
        assert out.error is None and "hello.txt" in out.result["content"][0]["text"]

        bad = await m.call_tool("time", "get_current_time", {"timezone": "Mars/Olympus"})
        assert bad.result is not None and bad.result.get("isError") is True  # a tool error
        statuses = {s.name: s for s in m.statuses()}
        assert statuses["git"].state is ServerState.READY and len(statuses["git"].tools) > 5
    finally:
        await m.shutdown()
    assert ms.marked_processes(mark) == []
    assert {s.state for s in m.statuses()} == {ServerState.CLOSED}


async def test_failures_are_reasons_and_leave_nothing(tmp_path: Path, servers_venv: str,
                                                      mark: str) -> None:
    hang = ms.write_script(tmp_path / "hang.py", ms.HANGING_SERVER)
    gone = ms.write_script(tmp_path / "gone.py", ms.EXITING_SERVER)
    env = {ms.MARK_VAR: mark}
    rec = Recorder()
    m = manager({
        "missing": {"command": "codex-test-no-such-server"},
        "quits": {"command": ms.script_python(), "args": [str(gone)], "env": env},
        "silent": {"command": ms.script_python(), "args": [str(hang)], "env": env,
                   "startup_timeout_sec": 1},
        "nocwd": {"command": "true", "cwd": str(tmp_path / "nowhere")},
        "off": {"command": "codex-test-no-such-server", "enabled": False},
        "time": {"command": ms.server_bin("mcp-server-time"), "env": env},
    }, tmp_path, rec)
    m.start()
    try:
        await m.wait_started()
        reasons = {s.name: (s.state, s.reason) for s in m.statuses()}
        assert reasons["missing"] == (ServerState.FAILED,
                                      "command not found: codex-test-no-such-server")
        assert reasons["quits"] == (ServerState.FAILED,
                                    "exited with code 7: fatal: no configuration found")
        assert reasons["silent"] == (ServerState.FAILED, "timed out after 1 s waiting for "
                                     "initialize (startup_timeout_sec)")
        assert reasons["nocwd"] == (ServerState.FAILED,
                                    f"working directory {tmp_path / 'nowhere'} does not exist")
        assert reasons["off"] == (ServerState.DISABLED, None)
        assert reasons["time"] == (ServerState.READY, None)  # the others do not hold it back
        assert rec.by_server("off") == []
        assert rec.by_server("quits")[-1][0] == "failed"
        out = await m.call_tool("quits", "anything", {})
        assert out.result is None and "exited with code 7" in (out.error or "")
    finally:
        await m.shutdown()
    assert ms.marked_processes(mark) == []


async def test_crash_mid_call_then_one_restart(tmp_path: Path, servers_venv: str,
                                               mark: str) -> None:
    crashy = ms.write_script(tmp_path / "crashy.py", ms.CRASHING_SERVER)
    m = manager({"crashy": {"command": ms.script_python(), "args": [str(crashy)],
                            "env": {ms.MARK_VAR: mark}}}, tmp_path)
    m.start()
    try:
        await m.wait_started()
        ok = await m.call_tool("crashy", "echo", {"text": "hi"})
        assert ok.result is not None and ok.result["content"][0]["text"] == "hi"

        out = await m.call_tool("crashy", "crash", {"code": 3})
        assert out.result is None
        assert out.error == "MCP server crashy exited with code 3: crashing on purpose " \
                            "(during the call)"
        [status] = m.statuses()
        assert status.state is ServerState.FAILED and "exited with code 3" in status.reason

        # restarted once, on the next call
        again = await m.call_tool("crashy", "echo", {"text": "back"})
        assert again.error is None and again.result["content"][0]["text"] == "back"
        assert m.statuses()[0].state is ServerState.READY

        out = await m.call_tool("crashy", "crash", {"code": 4})
        assert "exited with code 4" in (out.error or "")
        # ... but not twice
        last = await m.call_tool("crashy", "echo", {"text": "again"})
        assert last.result is None
        assert last.error == "MCP server crashy is not available: exited with code 4: " \
                             "crashing on purpose"
    finally:
        await m.shutdown()
    assert ms.marked_processes(mark) == []


async def test_tool_timeout(tmp_path: Path, servers_venv: str, mark: str) -> None:
    cancelled, started = tmp_path / "cancelled", tmp_path / "started"
    slow = ms.write_script(tmp_path / "slow.py", f"""
        import anyio
        from mcp.server.fastmcp import FastMCP
        app = FastMCP("slow", log_level="WARNING")

        @app.tool()
        async def wait(seconds: float) -> str:
            \"\"\"Sleep, then answer.\"\"\"
            open({str(started)!r}, "w").write("started")
            try:
                await anyio.sleep(seconds)
            except anyio.get_cancelled_exc_class():
                # the SDK cancels the handler when notifications/cancelled names its request
                open({str(cancelled)!r}, "w").write("cancelled")
                raise
            return "done"

        app.run()
    """)
    m = manager({"slow": {"command": ms.script_python(), "args": [str(slow)],
                          "env": {ms.MARK_VAR: mark}, "tool_timeout_sec": 2},
                 "patient": {"command": ms.script_python(), "args": [str(slow)],
                             "env": {ms.MARK_VAR: mark}}}, tmp_path)
    m.start()
    try:
        await m.wait_started()
        out = await m.call_tool("slow", "wait", {"seconds": 30})
        assert out.error == "tool call timed out after 2 s (tool_timeout_sec)"
        assert started.exists()  # 2 s: the tool was running when the client gave up
        # ... and the server was told to stop the work (notifications/cancelled)
        deadline = time.monotonic() + 10
        while not cancelled.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert cancelled.exists()
        assert m.statuses()[0].state is ServerState.READY  # the server itself is fine
        fast = await m.call_tool("slow", "wait", {"seconds": 0})
        assert fast.result is not None and fast.result["content"][0]["text"] == "done"
        # An interrupted call (the user stopped the turn) is cancelled on the server too.
        cancelled.unlink()
        started.unlink()
        call = asyncio.ensure_future(m.call_tool("patient", "wait", {"seconds": 60}))
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        deadline = time.monotonic() + 10
        while not cancelled.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert cancelled.exists()
    finally:
        await m.shutdown()
    assert ms.marked_processes(mark) == []


async def test_streamable_http_with_bearer_token_and_headers(tmp_path: Path,
                                                             monkeypatch: Any) -> None:
    with ms.http_server(token="s3cret") as srv:
        environ = {"NOTES_TOKEN": "s3cret", "TEAM": "blue", "PATH": "/usr/bin"}
        m = McpConnectionManager(parse_servers({
            "notes": {"url": srv.url, "bearer_token_env_var": "NOTES_TOKEN",
                      "http_headers": {"X-Client": "codex-test"},
                      "env_http_headers": {"X-Team": "TEAM", "X-Empty": "UNSET"}},
            "wrongtoken": {"url": srv.url, "bearer_token_env_var": "TEAM"},
            "notoken": {"url": srv.url, "bearer_token_env_var": "UNSET"},
            "nobody": {"url": "http://127.0.0.1:9/mcp", "startup_timeout_sec": 5},
        }), cwd=tmp_path, environ=environ)
        m.start()
        try:
            await m.wait_started()
            st = {s.name: s for s in m.statuses()}
            assert st["notes"].state is ServerState.READY, st["notes"].reason
            assert {t.qualified_name for t in st["notes"].tools} == {
                "mcp__notes__add_note", "mcp__notes__count_notes"}
            assert st["wrongtoken"].reason == f"HTTP 401 Unauthorized from {srv.url}"
            assert st["notoken"].reason == ("environment variable UNSET (bearer_token_env_var) "
                                            "is not set")
            assert st["nobody"].state is ServerState.FAILED
            assert st["nobody"].reason.startswith("cannot reach http://127.0.0.1:9/mcp")
            out = await m.call_tool("notes", "add_note", {"text": "buy milk"})
            assert out.result["content"][0]["text"] == "stored note #1: buy milk"
            assert m.has_resources
            resources = await m.list_resources()
            assert [r["uri"] for r in resources["notes"]] == ["notes://all"]
            read = await m.read_resource("notes", "notes://all")
            assert read["contents"][0]["text"] == "buy milk"
        finally:
            await m.shutdown()
        sent = [h for h in srv.seen_headers if h.get("authorization") == "Bearer s3cret"]
        assert sent and all(h["x-client"] == "codex-test" and h["x-team"] == "blue"
                            and "x-empty" not in h for h in sent)


async def test_shutdown_while_starting_kills_everything(tmp_path: Path, servers_venv: str,
                                                        mark: str) -> None:
    hang = ms.write_script(tmp_path / "hang.py", ms.HANGING_SERVER)
    m = manager({"silent": {"command": ms.script_python(), "args": [str(hang)],
                            "env": {ms.MARK_VAR: mark}, "startup_timeout_sec": 300}}, tmp_path)
    m.start()
    # wait until its grandchild exists, so the kill has a whole tree to end
    while len(ms.marked_processes(mark)) < 2:
        await asyncio.sleep(0.05)
    await m.shutdown()
    assert ms.marked_processes(mark) == []
