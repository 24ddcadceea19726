"""Issue 15, fault class "JSONL leaves an item open": every `item.started` gets its
`item.completed` before the turn's end line. The example (a command still running when the
turn ends) and its siblings: an interrupted command, a session polled and still running, a
failing turn with a plan and a running command, events that never close an item."""

from __future__ import annotations

import io
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codex.core import protocol as P
from codex.exec.jsonl import STILL_RUNNING_STATUS, JsonlRenderer
from tests.support import mock_model as mm
from tests.support.exec_harness import WIRES, Harness, harness_for, json_events

FULL = ("-s", "danger-full-access")


@pytest.fixture(params=WIRES)
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, request.param)


def assert_all_closed(events: list[dict[str, Any]]) -> None:
    """Per turn: every started item id is completed before the turn's end line."""
    open_ids: set[str] = set()
    for ev in events:
        kind = ev["type"]
        if kind == "item.started":
            open_ids.add(ev["item"]["id"])
        elif kind == "item.completed":
            open_ids.discard(ev["item"]["id"])
        elif kind in ("turn.completed", "turn.failed"):
            assert open_ids == set(), f"items left open at {kind}: {open_ids}"


def test_a_command_still_running_at_turn_end_is_completed(h: Harness) -> None:
    """The issue's example."""
    h.mock.add(h.calls(("c1", "exec_command", {"cmd": "sleep 30", "yield_time_ms": 250})),
               h.answer("left it running"))
    r = h.run("--json", *FULL, "start a server")
    assert r.returncode == 0, r.stderr
    evs = json_events(r.stdout)
    assert_all_closed(evs)
    cmd = [e for e in evs if e.get("item", {}).get("type") == "command_execution"]
    assert [e["type"] for e in cmd] == ["item.started", "item.updated", "item.completed"]
    done = cmd[-1]["item"]
    assert done["status"] == STILL_RUNNING_STATUS == "in_progress"
    assert done["exit_code"] is None
    assert evs.index(cmd[-1]) < [e["type"] for e in evs].index("turn.completed")


def test_an_interrupted_command_is_completed_before_turn_failed(h: Harness) -> None:
    marker = h.cwd / "pid.txt"
    h.mock.add(h.calls(("c1", "exec_command", {"cmd": "echo $$ > pid.txt; exec sleep 60",
                                                "yield_time_ms": 30000})))
    p = h.popen("--json", *FULL, "long")
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text().strip()):
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.02)  # polling for the file the command writes, not a sync sleep
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130, err
    evs = json_events(out)
    assert_all_closed(evs)
    assert evs[-1] == {"type": "turn.failed", "error": {"message": "interrupted"}}
    done = [e["item"] for e in evs if e["type"] == "item.completed"]
    assert done[0]["type"] == "command_execution" and done[0]["status"] == "failed"


def test_a_polled_session_still_running_is_one_item_closed_at_the_end(h: Harness) -> None:
    def poll(req: mm.Request) -> mm.Reply:
        text = h.outputs(len(h.mock.requests) - 1)["c1"]
        sid = int(text.split("session ID ")[1].split()[0])
        return h.calls(("c2", "write_stdin", {"session_id": sid, "yield_time_ms": 300}))

    h.mock.add(h.calls(("c1", "exec_command", {"cmd": "echo started; sleep 30",
                                                "yield_time_ms": 250})),
               poll, h.answer("still going"))
    r = h.run("--json", *FULL, "poll it")
    assert r.returncode == 0, r.stderr
    evs = json_events(r.stdout)
    assert_all_closed(evs)
    cmd = [e for e in evs if e.get("item", {}).get("type") == "command_execution"]
    assert {e["item"]["id"] for e in cmd} == {"item_0"}
    assert [e["type"] for e in cmd] == ["item.started", "item.updated", "item.updated",
                                        "item.completed"]
    assert cmd[-1]["item"]["aggregated_output"].startswith("started")


def test_a_failing_turn_closes_its_plan_and_running_command(h: Harness) -> None:
    h.mock.add(h.calls(("c1", "update_plan", {"plan": [{"step": "a", "status": "pending"}]}),
                       ("c2", "exec_command", {"cmd": "sleep 30", "yield_time_ms": 250})),
               mm.http_error(400, "bad request from the model"))
    r = h.run("--json", *FULL, "fail later")
    assert r.returncode == 1
    evs = json_events(r.stdout)
    assert_all_closed(evs)
    assert evs[-1]["type"] == "turn.failed"
    kinds = {e["item"]["type"] for e in evs if e["type"] == "item.completed"}
    assert {"todo_list", "command_execution"} <= kinds


def test_the_renderer_closes_what_the_events_left_open() -> None:
    """Whatever a session (or a tool added later) forgets, the JSONL closes every item."""
    out = io.StringIO()
    r = JsonlRenderer(out)
    for ev in [P.SessionConfigured("s", "m", "p", "/", "never", "read-only", None),
               P.TurnStarted("t"), P.ExecBegin("c1", "sleep 9", "/", True, turn_id="t"),
               P.McpCallBegin("m1", "srv", "tool", {}, turn_id="t"),
               P.PlanUpdate((P.PlanStep("x", "pending"),), turn_id="t"),
               P.Error("it broke", turn_id="t"), P.TurnComplete("t", None, failed=True)]:
        r(ev)
    r.finish()
    evs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert_all_closed(evs)
    assert evs[-1] == {"type": "turn.failed", "error": {"message": "it broke"}}
    assert [e["item"]["type"] for e in evs if e["type"] == "item.completed"] == [
        "command_execution", "mcp_tool_call", "todo_list"]


def test_an_error_that_does_not_end_the_turn_is_an_error_line() -> None:
    out = io.StringIO()
    r = JsonlRenderer(out)
    for ev in [P.TurnStarted("t"), P.Error("cannot write the session file", turn_id="t"),
               P.AgentMessage("answer", turn_id="t"), P.TurnComplete("t", "answer")]:
        r(ev)
    types = [line.split('"type": "')[1].split('"')[0] for line in out.getvalue().splitlines()]
    assert types == ["turn.started", "error", "item.completed", "turn.completed"]
