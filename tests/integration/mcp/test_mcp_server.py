"""`codex mcp-server` driven by the SDK's own client over stdio, against the mock model."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from tests.conftest import codex_cmd
from tests.support import mcp_servers as ms
from tests.support import mock_model as mm


def _env(home: Path, mock: mm.MockModel) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
            "CODEX_HOME": str(home), "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": mock.url,
            "CODEX_RETRY_BASE_MS": "1"}


@asynccontextmanager
async def client(home: Path, mock: mm.MockModel, **callbacks: Any
                 ) -> AsyncIterator[ClientSession]:
    cmd = codex_cmd()
    params = StdioServerParameters(command=cmd[0], args=[*cmd[1:], "mcp-server"],
                                   env=_env(home, mock))
    with open(home / "server-stderr.log", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), \
                ClientSession(read, write, **callbacks) as session:
            await session.initialize()
            yield session


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "codex-home"
    h.mkdir()
    (h / "config.toml").write_text('model = "mock-model"\n')
    return h


@pytest.fixture
def mock() -> Any:
    with mm.MockModel() as m:
        yield m


def user_texts(req: mm.Request) -> list[str]:
    return ["".join(p.get("text", "") for p in it["content"]) for it in req.body["input"]
            if it.get("type") == "message" and it.get("role") == "user"]


@pytest.mark.asyncio
async def test_tools_list(home: Path, mock: mm.MockModel) -> None:
    async with client(home, mock) as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
    assert set(tools) == {"codex", "codex-reply"}
    assert tools["codex"].inputSchema["required"] == ["prompt"]
    assert {"prompt", "model", "cwd", "approval-policy", "sandbox", "config"} <= \
        set(tools["codex"].inputSchema["properties"])
    assert set(tools["codex-reply"].inputSchema["properties"]) >= {"threadId", "prompt"}


@pytest.mark.asyncio
async def test_codex_then_codex_reply_continues_the_thread(home: Path, mock: mm.MockModel,
                                                          tmp_path: Path) -> None:
    mock.add(mm.sse(mm.message_item("The answer is 42.")),
             mm.sse(mm.message_item("Because I counted.")))
    progress: list[str] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with client(home, mock) as s:
        first = await s.call_tool("codex", {"prompt": "what is the answer?",
                                            "cwd": str(tmp_path)},
                                  progress_callback=on_progress)
        assert not first.isError, first
        assert first.content[0].text == "The answer is 42."
        thread = first.structuredContent["threadId"]
        assert first.structuredContent == {"threadId": thread, "content": "The answer is 42."}
        second = await s.call_tool("codex-reply", {"threadId": thread, "prompt": "why?"})
        assert second.content[0].text == "Because I counted."
        assert second.structuredContent["threadId"] == thread
        # the alias works too, and a wrong id is a clear error
        bad = await s.call_tool("codex-reply", {"conversationId": "nope", "prompt": "x"})
        assert bad.isError and "no running Codex session with threadId 'nope'" in \
            bad.content[0].text
    assert "codex: The answer is 42." in progress
    # the second request carries the first turn's history
    req2 = mock.requests[1].body["input"]
    texts = user_texts(mock.requests[1])
    assert "what is the answer?" in texts and texts[-1] == "why?"
    assert any(it.get("type") == "message" and it.get("role") == "assistant"
               and "The answer is 42." in json.dumps(it) for it in req2)
    assert mock.requests[0].headers["originator"] == "codex_mcp_server"


@pytest.mark.asyncio
async def test_the_sessions_folder_chooses_the_trusted_projects_config(
        home: Path, mock: mm.MockModel, tmp_path: Path) -> None:
    trusted, unknown = tmp_path / "trusted", tmp_path / "unknown"
    for folder in (trusted, unknown):
        (folder / ".codex").mkdir(parents=True)
        (folder / ".codex" / "config.toml").write_text('model = "model-from-project"\n')
    (home / "config.toml").write_text(f'model = "mock-model"\n[projects."{trusted.resolve()}"]\n'
                                      'trust_level = "trusted"\n')
    mock.add(mm.sse(mm.message_item("one")), mm.sse(mm.message_item("two")))
    async with client(home, mock) as s:
        for folder in (trusted, unknown):
            res = await s.call_tool("codex", {"prompt": "hi", "cwd": str(folder)})
            assert not res.isError, res
    assert [r.body["model"] for r in mock.requests] == ["model-from-project", "mock-model"]


@pytest.mark.parametrize("decision", ["approved", "denied"])
@pytest.mark.asyncio
async def test_approval_is_an_elicitation_and_the_answer_decides(
        home: Path, mock: mm.MockModel, tmp_path: Path, decision: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    mock.add(mm.sse(mm.function_call("exec_command", {"cmd": "touch made-by-codex.txt"}, "c1")),
             mm.sse(mm.message_item("finished")))
    asked: list[types.ElicitRequestParams] = []

    async def elicit(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"decision": decision})

    async with client(home, mock, elicitation_callback=elicit) as s:
        res = await s.call_tool("codex", {"prompt": "make the file", "cwd": str(work),
                                          "approval-policy": "untrusted",
                                          "sandbox": "danger-full-access"})
    assert not res.isError, res
    assert len(asked) == 1
    params = asked[0]
    assert "touch made-by-codex.txt" in params.message
    extra = params.model_extra or {}
    assert extra["codex_elicitation"] == "exec-approval"
    assert extra["codex_command"] == "touch made-by-codex.txt"
    assert extra["codex_cwd"] == str(work)
    assert "approved" in json.dumps(params.requestedSchema)
    made = (work / "made-by-codex.txt").exists()
    output = next(it["output"] for it in mock.requests[1].body["input"]
                  if it.get("type") == "function_call_output")
    if decision == "approved":
        assert made
    else:
        assert not made and "declined" in output.lower()


@pytest.mark.asyncio
async def test_declined_elicitation_is_denied(home: Path, mock: mm.MockModel,
                                              tmp_path: Path) -> None:
    mock.add(mm.sse(mm.function_call("exec_command", {"cmd": "touch nope.txt"}, "c1")),
             mm.sse(mm.message_item("ok")))

    async def elicit(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    async with client(home, mock, elicitation_callback=elicit) as s:
        res = await s.call_tool("codex", {"prompt": "p", "cwd": str(tmp_path),
                                          "approval-policy": "untrusted",
                                          "sandbox": "danger-full-access"})
    assert res.content[0].text == "ok"
    assert not (tmp_path / "nope.txt").exists()


@pytest.mark.asyncio
async def test_several_sessions_at_once(home: Path, mock: mm.MockModel, tmp_path: Path) -> None:
    both = threading.Event()  # each first answer waits until both sessions have asked

    def echo(req: mm.Request) -> mm.Reply:
        reply = mm.sse(mm.message_item(f"echo: {user_texts(req)[-1]}"))
        reply.wait_before = both
        return reply

    mock.add(echo, echo)
    async with client(home, mock) as s:
        calls = [asyncio.ensure_future(s.call_tool("codex", {"prompt": f"task {i}",
                                                             "cwd": str(tmp_path)}))
                 for i in (1, 2)]
        await asyncio.to_thread(mock.wait_for_requests, 2)
        both.set()
        r1, r2 = await asyncio.gather(*calls)
    assert r1.content[0].text == "echo: task 1" and r2.content[0].text == "echo: task 2"
    assert r1.structuredContent["threadId"] != r2.structuredContent["threadId"]


@pytest.mark.asyncio
async def test_bad_config_is_a_tool_error(home: Path, mock: mm.MockModel) -> None:
    async with client(home, mock) as s:
        res = await s.call_tool("codex", {"prompt": "p", "config": {"sandbox_mode": "yolo"}})
        assert res.isError and "invalid sandbox_mode 'yolo'" in res.content[0].text
        res = await s.call_tool("codex", {"prompt": "p", "cwd": "/no/such/dir"})
        assert res.isError and "/no/such/dir is not a directory" in res.content[0].text


def test_eof_ends_the_server_and_its_sessions(home: Path, mock: mm.MockModel,
                                              tmp_path: Path) -> None:
    # A turn is running (its command sleeps) when the client closes stdin.
    marker = f"codex-mcp-eof-{os.getpid()}"
    mock.add(mm.sse(mm.function_call("exec_command",
                                     {"cmd": f"sleep 300 # {marker}", "yield_time_ms": 250},
                                     "c1")),
             mm.Reply(events=[], hold=threading.Event()))
    p = subprocess.Popen([*codex_cmd(), "mcp-server"], env=_env(home, mock),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdin is not None and p.stdout is not None

    def send(obj: dict[str, Any]) -> None:
        p.stdin.write(json.dumps(obj) + "\n")
        p.stdin.flush()

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}})
    assert json.loads(p.stdout.readline())["result"]["serverInfo"]["name"] == \
        "codex-mcp-server"
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "codex", "arguments": {"prompt": "sleep", "cwd": str(tmp_path),
                                       "sandbox": "danger-full-access"}}})
    mock.wait_for_requests(2)  # the command has started and the model was asked again
    p.stdin.close()
    assert p.wait(30) == 0
    leftover = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert leftover == ""


@pytest.mark.parametrize(("mode", "decision", "asks"), [
    ("auto", "approved", True), ("auto", "denied", True), ("approve", None, False)])
@pytest.mark.asyncio
async def test_mcp_tool_calls_follow_the_approval_policy(
        home: Path, mock: mm.MockModel, tmp_path: Path, servers_venv: str, mark: str,
        mode: str, decision: str | None, asks: bool) -> None:


    (home / "config.toml").write_text(f"""model = "mock-model"
[mcp_servers.time]
command = "{ms.server_bin('mcp-server-time')}"
env = {{ {ms.MARK_VAR} = "{mark}" }}
required = true
approval_mode = "{mode}"
""")
    mock.add(mm.sse(mm.function_call("mcp__time__get_current_time", {"timezone": "UTC"},
                                     "c1")),
             mm.sse(mm.message_item("done")))
    asked: list[types.ElicitRequestParams] = []

    async def elicit(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"decision": decision})

    async with client(home, mock, elicitation_callback=elicit) as s:
        res = await s.call_tool("codex", {"prompt": "time?", "cwd": str(tmp_path),
                                          "approval-policy": "untrusted"})
    assert res.content[0].text == "done", res
    output = next(it["output"] for it in mock.requests[1].body["input"]
                  if it.get("type") == "function_call_output")
    assert bool(asked) is asks
    if asks:
        assert 'mcp: time.get_current_time({"timezone": "UTC"})' in asked[0].message
    if decision == "denied":
        assert output.startswith("MCP tool call declined")
    else:
        assert json.loads(output)["timezone"] == "UTC"
    assert ms.marked_processes(mark) == []


@pytest.mark.asyncio
async def test_required_server_failure_is_a_tool_error(home: Path, mock: mm.MockModel) -> None:
    (home / "config.toml").write_text('model = "mock-model"\n[mcp_servers.must]\n'
                                      'command = "codex-test-no-such-server"\nrequired = true\n')
    async with client(home, mock) as s:
        res = await s.call_tool("codex", {"prompt": "p"})
    assert res.isError
    assert res.content[0].text == ("required MCP server must failed to start: command not "
                                   "found: codex-test-no-such-server")
    assert mock.requests == []
