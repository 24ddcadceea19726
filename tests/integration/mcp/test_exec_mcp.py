"""`codex exec` with MCP servers: the model (mock) sees and calls the tools of real servers,
failures are reported while the turn goes on, a required server that fails exits 1, and no
server process outlives codex."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support import mcp_servers as ms
from tests.support import mock_model as mm
from tests.support.exec_harness import Harness, json_events


def tool_names(h: Harness, request_index: int) -> set[str]:
    tools = h.mock.requests[request_index].body.get("tools") or []
    return {t["name"] if "name" in t else t["function"]["name"] for t in tools}


def tool_params(h: Harness, request_index: int, name: str) -> dict[str, Any]:
    for t in h.mock.requests[request_index].body.get("tools") or []:
        if t.get("name") == name:
            return t["parameters"]
        if t.get("function", {}).get("name") == name:
            return t["function"]["parameters"]
    raise AssertionError(f"{name} not offered")


def write_config(h: Harness, text: str) -> None:
    (h.home / "config.toml").write_text(text)


def git_repo(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "notes.txt").write_text("remember the milk\n")
    return path


def test_model_calls_the_reference_servers(h: Harness, tmp_path: Path, servers_venv: str,
                                           mark: str) -> None:
    repo = git_repo(tmp_path / "project")
    write_config(h, f"""
[mcp_servers.time]
command = "{ms.server_bin('mcp-server-time')}"
args = ["--local-timezone", "UTC"]
env = {{ {ms.MARK_VAR} = "{mark}" }}
required = true

[mcp_servers.git]
command = "{ms.server_bin('mcp-server-git')}"
args = ["--repository", "{repo}"]
env = {{ {ms.MARK_VAR} = "{mark}" }}
required = true
""")
    h.mock.add(h.calls(("c1", "mcp__time__get_current_time", {"timezone": "Asia/Tokyo"}),
                       ("c2", "mcp__git__git_status", {"repo_path": str(repo)})),
               h.answer("It is evening in Tokyo and notes.txt is untracked."))
    r = h.run("what time is it in Tokyo, and what is the git status?")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "It is evening in Tokyo and notes.txt is untracked.\n"
    # the model saw the servers' tools, with the servers' own schemas
    assert {"mcp__time__get_current_time", "mcp__time__convert_time",
            "mcp__git__git_status", "mcp__git__git_log"} <= tool_names(h, 0)
    assert "timezone" in tool_params(h, 0, "mcp__time__get_current_time")["properties"]
    # ... called them, and the next request carries the servers' real answers
    outputs = h.outputs(1)
    now = json.loads(outputs["c1"])
    assert now["timezone"] == "Asia/Tokyo" and now["datetime"].endswith("+09:00")
    assert "Untracked files" in outputs["c2"] and "notes.txt" in outputs["c2"]
    assert "mcp: time ready (2 tools)" in r.stderr
    assert 'tool time.get_current_time({"timezone": "Asia/Tokyo"})' in r.stderr
    assert ms.marked_processes(mark) == []


def test_jsonl_mcp_tool_call_items(hr: Harness, servers_venv: str, mark: str) -> None:
    write_config(hr, f"""
[mcp_servers.time]
command = "{ms.server_bin('mcp-server-time')}"
env = {{ {ms.MARK_VAR} = "{mark}" }}
required = true
""")
    hr.mock.add(hr.calls(("c1", "mcp__time__convert_time",
                          {"source_timezone": "UTC", "time": "12:00",
                           "target_timezone": "Asia/Kolkata"}),
                         ("c2", "mcp__time__get_current_time", {"timezone": "Nowhere/Land"})),
                hr.answer("done"))
    r = hr.run("--json", "convert")
    assert r.returncode == 0, r.stderr
    items = [e["item"] for e in json_events(r.stdout)
             if e["type"].startswith("item.") and e["item"]["type"] == "mcp_tool_call"]
    started = [i for i in items if i["status"] == "in_progress"]
    done = {i["id"]: i for i in items if i["status"] != "in_progress"}
    assert len(started) == 2 and len(done) == 2
    ok = next(i for i in done.values() if i["tool"] == "convert_time")
    assert ok["server"] == "time" and ok["status"] == "completed" and ok["error"] is None
    assert ok["arguments"]["target_timezone"] == "Asia/Kolkata"
    assert ok["result"]["structured_content"]["target"]["timezone"] == "Asia/Kolkata"
    assert ok["result"]["content"][0]["type"] == "text"
    bad = next(i for i in done.values() if i["tool"] == "get_current_time")
    assert bad["status"] == "failed"  # the server answered with isError
    assert "Nowhere/Land" in json.dumps(bad["result"])
    assert "Nowhere/Land" in hr.outputs(1)["c2"]
    assert ms.marked_processes(mark) == []


def test_a_server_still_starting_joins_from_the_next_request(hr: Harness, tmp_path: Path,
                                                              servers_venv: str,
                                                              mark: str) -> None:
    # The server cannot start until the test writes to this FIFO, which it does only once
    # codex's first request has arrived: a first request that waited would never come.
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    write_config(hr, f"""
[mcp_servers.time]
command = "sh"
args = ["-c", 'read go < "$0" && exec "$1"', "{fifo}", "{ms.server_bin('mcp-server-time')}"]
env = {{ {ms.MARK_VAR} = "{mark}" }}
""")
    gate = threading.Event()  # reply 1 waits until the server is ready
    held = mm.sse(mm.function_call("update_plan", {"plan": [
        {"step": "ask the time server", "status": "in_progress"}]}, "c0"))
    held.wait_before = gate
    hr.mock.add(held,
                mm.sse(mm.function_call("mcp__time__get_current_time", {"timezone": "UTC"},
                                        "c1")),
                hr.answer("done"))
    p = hr.popen("what time is it")
    watcher = ms.LineWatcher(p.stderr)
    hr.mock.wait_for_requests(1)
    assert not any(n.startswith("mcp__") for n in tool_names(hr, 0))
    with open(fifo, "w") as f:
        f.write("go\n")
    watcher.wait_for("mcp: time ready")
    gate.set()
    # not communicate(): it would read stderr too, racing the watcher for its lines
    other = ms.LineWatcher(p.stdout)
    p.wait(timeout=60)
    other.text()
    assert p.returncode == 0, watcher.text()
    assert "mcp__time__get_current_time" in tool_names(hr, 1)
    assert json.loads(hr.outputs(2)["c1"])["timezone"] == "UTC"
    assert ms.marked_processes(mark) == []


FAILING = """
[mcp_servers.missing]
command = "codex-test-no-such-server"

[mcp_servers.quits]
command = "{python}"
args = ["{gone}"]
env = {{ {var} = "{mark}" }}

[mcp_servers.silent]
command = "{python}"
args = ["{hang}"]
env = {{ {var} = "{mark}" }}
startup_timeout_sec = 1

[mcp_servers.crashy]
command = "{python}"
args = ["{crashy}"]
env = {{ {var} = "{mark}" }}
required = true
"""


@pytest.mark.parametrize("json_mode", [False, True])
def test_failing_servers_are_reported_and_the_turn_goes_on(hr: Harness, tmp_path: Path,
                                                           mark: str, json_mode: bool) -> None:
    write_config(hr, FAILING.format(
        python=ms.script_python(), var=ms.MARK_VAR, mark=mark,
        gone=ms.write_script(tmp_path / "gone.py", ms.EXITING_SERVER),
        hang=ms.write_script(tmp_path / "hang.py", ms.HANGING_SERVER),
        crashy=ms.write_script(tmp_path / "crashy.py", ms.CRASHING_SERVER)))
    gate = threading.Event()  # the final answer waits until every failure is reported
    after_failures = mm.sse(mm.message_item("I could not get everything, but here it is."))
    after_failures.wait_before = gate
    hr.mock.add(mm.sse(mm.function_call("mcp__crashy__crash", {"code": 5}, "c1")),
                after_failures)
    p = hr.popen(*(["--json"] if json_mode else []), "go")
    if json_mode:
        watcher = ms.LineWatcher(p.stdout)
        for name in ("missing", "quits", "silent"):
            watcher.wait_for(f'"message": "mcp: {name} failed:')
    else:
        watcher = ms.LineWatcher(p.stderr)
        for name in ("missing", "quits", "silent"):
            watcher.wait_for(f"mcp: {name} failed:")
    gate.set()
    # not communicate(): it would read the watched pipe too, racing the watcher for its lines
    other = ms.LineWatcher(p.stderr if json_mode else p.stdout)
    p.wait(timeout=60)
    other.text()
    assert p.returncode == 0, watcher.text()
    text = watcher.text()
    expected = ["mcp: missing failed: command not found: codex-test-no-such-server",
                "mcp: quits failed: exited with code 7: fatal: no configuration found",
                "mcp: silent failed: timed out after 1 s waiting for initialize "
                "(startup_timeout_sec)",
                # a server that dies is failed too (until its next call restarts it)
                "mcp: crashy failed: exited with code 5: crashing on purpose"]
    for line in expected:
        assert line in text
    # the crash mid-call is the call's failure, which the model reads; the turn went on
    output = hr.outputs(1)["c1"]
    assert output == ("MCP tool call failed: MCP server crashy exited with code 5: crashing "
                      "on purpose (during the call)")
    if json_mode:
        evs = json_events(text)
        errors = [e["item"]["message"] for e in evs if e["type"] == "item.completed"
                  and e["item"]["type"] == "error"]
        assert sorted(errors) == sorted(expected)
        call = [e["item"] for e in evs if e["type"] == "item.completed"
                and e["item"]["type"] == "mcp_tool_call"]
        assert call[0]["status"] == "failed" and "exited with code 5" in \
            call[0]["error"]["message"]
        # (a server's status may still change after the turn: only the turn's end is sure)
        assert [e["type"] for e in evs].count("turn.completed") == 1
    else:
        assert "  failed in" in text and "exited with code 5" in text
    assert ms.marked_processes(mark) == []


def test_a_required_server_that_fails_exits_1_before_any_request(hr: Harness, tmp_path: Path,
                                                                 servers_venv: str,
                                                                 mark: str) -> None:
    gone = ms.write_script(tmp_path / "gone.py", ms.EXITING_SERVER)
    write_config(hr, f"""
[mcp_servers.time]
command = "{ms.server_bin('mcp-server-time')}"
env = {{ {ms.MARK_VAR} = "{mark}" }}

[mcp_servers.must]
command = "{ms.script_python()}"
args = ["{gone}"]
env = {{ {ms.MARK_VAR} = "{mark}" }}
required = true
""")
    hr.mock.add(hr.answer("should not be asked"))
    r = hr.run("hi")
    assert r.returncode == 1
    assert "required MCP server must failed to start: exited with code 7: fatal: no " \
           "configuration found" in r.stderr
    assert hr.mock.requests == []
    assert ms.marked_processes(mark) == []


def test_streamable_http_server_in_exec(hr: Harness) -> None:
    with ms.http_server(token="tok-42") as srv:
        write_config(hr, f"""
[mcp_servers.notes]
url = "{srv.url}"
bearer_token_env_var = "NOTES_TOKEN"
required = true
""")
        hr.mock.add(mm.sse(mm.function_call("mcp__notes__add_note", {"text": "buy milk"}, "c1")),
                    mm.sse(mm.function_call("read_mcp_resource",
                                            {"server": "notes", "uri": "notes://all"}, "c2")),
                    hr.answer("noted"))
        r = hr.run("note it", env=hr.env(NOTES_TOKEN="tok-42"))
        assert r.returncode == 0, r.stderr
        assert {"mcp__notes__add_note", "list_mcp_resources", "read_mcp_resource"} <= \
            tool_names(hr, 0)
        # FastMCP wraps a str return as structuredContent {"result": ...}: sent as JSON
        assert json.loads(hr.outputs(1)["c1"]) == {"result": "stored note #1: buy milk"}
        assert json.loads(hr.outputs(2)["c2"])["contents"][0]["text"] == "buy milk"
        assert srv.notes == ["buy milk"]


def test_kill_9_of_codex_leaves_no_server(hr: Harness, servers_venv: str, mark: str,
                                          tmp_path: Path) -> None:
    import signal
    import time

    hang = ms.write_script(tmp_path / "hang.py", ms.HANGING_SERVER)
    write_config(hr, f"""
[mcp_servers.time]
command = "{ms.server_bin('mcp-server-time')}"
env = {{ {ms.MARK_VAR} = "{mark}" }}
required = true

[mcp_servers.silent]
command = "{ms.script_python()}"
args = ["{hang}"]
env = {{ {ms.MARK_VAR} = "{mark}" }}
startup_timeout_sec = 300
""")
    never = threading.Event()
    reply = hr.answer("never sent")
    reply.wait_before = never
    hr.mock.add(reply)
    p = hr.popen("hi")
    hr.mock.wait_for_requests(1)  # servers are up (time is required), a turn is running
    assert len(ms.marked_processes(mark)) >= 3  # time, the hanging server and its child
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    # the orphan watchdog notices codex is gone and kills the servers' process groups
    deadline = time.monotonic() + 30
    while ms.marked_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ms.marked_processes(mark) == []
    never.set()
