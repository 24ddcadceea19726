"""Tool calls through the real `codex exec`: exec_command, write_stdin, apply_patch,
update_plan, and every kind of bad call, on both wires."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import mock_model as mm
from tests.support.exec_harness import Harness, json_events

FULL = ("-s", "danger-full-access")


def exec_output(text: str, code: int, output: str) -> re.Pattern[str]:
    tokens = -(-len(output.encode()) // 4)
    return re.compile(
        r"Chunk ID: [0-9a-f]{6}\nWall time: \d+\.\d{4} seconds\n"
        f"Process exited with code {code}\nOriginal token count: {tokens}\nOutput:\n"
        + re.escape(output))


def test_exec_command_then_answer(h: Harness) -> None:
    h.mock.add(h.calls(("c1", "exec_command", {"cmd": "echo hello-agent"})),
               h.answer("It printed hello-agent."))
    r = h.run("--json", *FULL, "run echo")
    assert r.returncode == 0, r.stderr
    out = h.outputs(1)["c1"]
    assert exec_output(out, 0, "hello-agent\n").fullmatch(out), out
    evs = json_events(r.stdout)
    started = [e["item"] for e in evs if e["type"] == "item.started"]
    done = [e["item"] for e in evs if e["type"] == "item.completed"]
    assert started[0]["type"] == "command_execution" and started[0]["status"] == "in_progress"
    assert started[0]["id"] == "item_0"
    cmd = done[0]
    assert cmd["id"] == "item_0" and cmd["exit_code"] == 0 and cmd["status"] == "completed"
    assert cmd["aggregated_output"] == "hello-agent\n"
    assert done[1] == {"id": "item_1", "type": "agent_message", "text": "It printed hello-agent."}


def test_failed_command_still_completes_turn(hr: Harness) -> None:
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "echo oops >&2; exit 3"})),
                hr.answer("it failed"))
    r = hr.run(*FULL, "run it")
    assert r.returncode == 0, r.stderr
    assert exec_output("", 3, "oops\n").fullmatch(hr.outputs(1)["c1"])
    assert "exited 3" in r.stderr and r.stdout == "it failed\n"


def test_write_stdin_continues_a_running_session(hr: Harness) -> None:
    def poll(req: mm.Request) -> mm.Reply:
        out = [it for it in req.body["input"] if it.get("type") == "function_call_output"]
        sid = int(re.search(r"session ID (\d+)", out[-1]["output"]).group(1))
        return mm.sse(mm.function_call("write_stdin", {"session_id": sid,
                                                       "yield_time_ms": 20000}, "c2"))

    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "sleep 1; echo later",
                                                  "yield_time_ms": 250})),
                poll, hr.answer("done"))
    r = hr.run("--json", *FULL, "wait for it")
    assert r.returncode == 0, r.stderr
    assert "Process running with session ID" in hr.outputs(1)["c1"]
    second = hr.outputs(2)["c2"]
    assert "Process exited with code 0" in second and second.endswith("later\n")
    evs = json_events(r.stdout)
    cmd_events = [(e["type"], e["item"]["status"]) for e in evs
                  if e.get("item", {}).get("type") == "command_execution"]
    assert cmd_events == [("item.started", "in_progress"), ("item.updated", "in_progress"),
                          ("item.completed", "completed")]


def test_two_calls_answered_in_call_order(h: Harness) -> None:
    h.mock.add(h.calls(("c_slow", "exec_command", {"cmd": "sleep 0.6; echo first"}),
                       ("c_fast", "exec_command", {"cmd": "echo second"})),
               h.answer("both ran"))
    r = h.run(*FULL, "two things")
    assert r.returncode == 0, r.stderr
    assert h.output_order(1) == ["c_slow", "c_fast"]
    outs = h.outputs(1)
    assert outs["c_slow"].endswith("first\n") and outs["c_fast"].endswith("second\n")
    if h.wire == "responses":
        kinds = [it.get("type") for it in h.mock.requests[1].body["input"][-4:]]
        assert kinds == ["function_call", "function_call", "function_call_output",
                         "function_call_output"]
    else:
        msgs = h.mock.requests[1].body["messages"]
        assert [c["id"] for c in msgs[-3]["tool_calls"]] == ["c_slow", "c_fast"]


def test_unknown_tool_and_bad_json(h: Harness) -> None:
    h.mock.add(h.calls(("c1", "frobnicate", {"x": 1}), ("c2", "exec_command", "{not json")),
               h.answer("sorry"))
    r = h.run(*FULL, "go")
    assert r.returncode == 0, r.stderr
    outs = h.outputs(1)
    assert outs["c1"] == "unsupported call: frobnicate"
    assert outs["c2"].startswith("failed to parse function arguments: ")
    assert len(outs["c2"]) > len("failed to parse function arguments: ")


def test_exec_command_without_cmd_or_with_bad_workdir_shows_no_null(hr: Harness) -> None:
    hr.mock.add(hr.calls(("c1", "exec_command", {"foo": 1}),
                         ("c2", "exec_command", {"cmd": "ls", "workdir": "/nonexistent-dir"})),
                hr.answer("sorry"))
    r = hr.run(*FULL, "go")
    assert r.returncode == 0, r.stderr
    outs = hr.outputs(1)
    assert outs["c1"] == "exec_command failed: `cmd` must be a non-empty string"
    assert outs["c2"].startswith("exec_command failed for `ls`: ")
    assert "null" not in r.stderr and "None" not in r.stderr, r.stderr
    assert "exec ls\n  failed" in r.stderr, r.stderr
    hr.mock.add(hr.calls(("c1", "exec_command", {"foo": 1})), hr.answer("sorry"))
    r = hr.run("--json", *FULL, "go")
    assert r.returncode == 0, r.stderr
    items = [e["item"] for e in json_events(r.stdout) if e["type"].startswith("item.")]
    assert [i["type"] for i in items] == ["agent_message"], items


def test_unknown_custom_tool(hr: Harness) -> None:
    hr.mock.add(mm.sse(mm.custom_call("mystery", "data", "c1")), hr.answer("ok"))
    r = hr.run("go")
    assert r.returncode == 0, r.stderr
    item = [it for it in hr.mock.requests[1].body["input"]
            if it.get("type") == "custom_tool_call_output"]
    assert item == [{"type": "custom_tool_call_output", "call_id": "c1",
                     "output": "unsupported call: mystery"}]


PATCH_ALL = """*** Begin Patch
*** Add File: new/added.txt
+brand new
*** Update File: edit.py
@@ def f():
-    return 1
+    return 2
*** Update File: old_name.txt
*** Move to: moved/new_name.txt
@@
-keep me{trailing}
+kept
*** Delete File: gone.txt
*** End Patch""".format(trailing="   ")


def _tree(root: Path) -> None:
    (root / "edit.py").write_text("def f():\n    return 1\n")
    (root / "old_name.txt").write_text("keep me\n")  # the patch line has trailing spaces
    (root / "gone.txt").write_text("bye\n")


def test_apply_patch_add_update_move_delete(h: Harness) -> None:
    _tree(h.cwd)
    h.mock.add(h.patch_call("p1", PATCH_ALL), h.answer("patched"))
    r = h.run("--json", "-s", "workspace-write", "edit files")
    assert r.returncode == 0, r.stderr
    out = h.outputs(1)["p1"]
    assert out.startswith("Success. Updated the following files:\n"), out
    for line in ("A new/added.txt", "M edit.py", "M moved/new_name.txt", "D gone.txt"):
        assert line in out.splitlines(), out
    assert (h.cwd / "new/added.txt").read_text() == "brand new\n"
    assert (h.cwd / "edit.py").read_text() == "def f():\n    return 2\n"
    assert (h.cwd / "moved/new_name.txt").read_text() == "kept\n"
    assert not (h.cwd / "old_name.txt").exists() and not (h.cwd / "gone.txt").exists()
    fc = [e["item"] for e in json_events(r.stdout)
          if e.get("item", {}).get("type") == "file_change"]
    assert fc[0]["status"] == "completed"
    assert {(Path(c["path"]).name, c["kind"]) for c in fc[0]["changes"]} == {
        ("added.txt", "add"), ("edit.py", "update"), ("new_name.txt", "update"),
        ("gone.txt", "delete")}


def test_apply_patch_fuzzy_unicode_pass(hr: Harness) -> None:
    (hr.cwd / "q.txt").write_text("say \u201chello\u201d \u2014 now\nend\n")
    patch = ('*** Begin Patch\n*** Update File: q.txt\n-say "hello" - now\n+say hi\n'
             ' end\n*** End Patch')
    hr.mock.add(hr.patch_call("p1", patch), hr.answer("ok"))
    r = hr.run("-s", "workspace-write", "fix quote")
    assert r.returncode == 0, r.stderr
    assert hr.outputs(1)["p1"].startswith("Success.")
    assert (hr.cwd / "q.txt").read_text() == "say hi\nend\n"


def test_apply_patch_failing_hunk_leaves_every_file_untouched(h: Harness) -> None:
    _tree(h.cwd)
    before = {p.name: p.read_text() for p in h.cwd.iterdir() if p.is_file()}
    bad = PATCH_ALL.replace("-    return 1", "-    return 999")
    h.mock.add(h.patch_call("p1", bad), h.answer("failed"))
    r = h.run("--json", "-s", "workspace-write", "edit files")
    assert r.returncode == 0, r.stderr
    out = h.outputs(1)["p1"]
    assert out.startswith("apply_patch verification failed: "), out
    assert {p.name: p.read_text() for p in h.cwd.iterdir() if p.is_file()} == before
    assert not (h.cwd / "new").exists() and not (h.cwd / "moved").exists()
    fc = [e["item"] for e in json_events(r.stdout)
          if e.get("item", {}).get("type") == "file_change"]
    assert fc[0]["status"] == "failed"


def test_apply_patch_through_exec_command_heredoc(hr: Harness) -> None:
    (hr.cwd / "a.txt").write_text("one\n")
    cmd = ("apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: a.txt\n-one\n+two\n"
           "*** End Patch\nEOF")
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": cmd})), hr.answer("ok"))
    r = hr.run("-s", "workspace-write", "patch via shell")
    assert r.returncode == 0, r.stderr
    assert "Success. Updated the following files:\nM a.txt" in hr.outputs(1)["c1"]
    assert (hr.cwd / "a.txt").read_text() == "two\n"


def test_read_only_declines_patch_and_sandbox_denies_writes(hr: Harness) -> None:
    (hr.cwd / "a.txt").write_text("one\n")
    patch = "*** Begin Patch\n*** Update File: a.txt\n-one\n+two\n*** End Patch"
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "echo x > b.txt"})),
                hr.patch_call("p1", patch), hr.answer("could not"))
    r = hr.run("go")  # exec default: read-only sandbox, approval never
    assert r.returncode == 0, r.stderr
    denied = hr.outputs(1)["c1"]
    assert "Process exited with code" in denied and "sandbox denied" in denied, denied
    assert not (hr.cwd / "b.txt").exists()
    assert hr.outputs(2)["p1"].startswith("apply_patch declined:")
    assert (hr.cwd / "a.txt").read_text() == "one\n"


def test_workspace_write_patch_outside_roots_is_declined(hr: Harness, tmp_path: Path) -> None:
    patch = "*** Begin Patch\n*** Add File: ../escape.txt\n+x\n*** End Patch"
    hr.mock.add(hr.patch_call("p1", patch), hr.answer("no"))
    r = hr.run("-s", "workspace-write", "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
               "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true", "go")
    assert r.returncode == 0, r.stderr
    assert hr.outputs(1)["p1"].startswith("apply_patch declined:")
    assert not (tmp_path / "escape.txt").exists()


def test_escalation_is_declined_under_approval_never(hr: Harness) -> None:
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "touch esc.txt",
                                                  "sandbox_permissions": "require_escalated",
                                                  "justification": "need it"})),
                hr.answer("ok"))
    r = hr.run("--json", "--full-auto", "go")
    assert r.returncode == 0, r.stderr
    assert hr.outputs(1)["c1"].startswith("command declined:")
    assert not (hr.cwd / "esc.txt").exists()
    items = [e["item"] for e in json_events(r.stdout) if "item" in e]
    assert items[0]["type"] == "command_execution" and items[0]["status"] == "declined"
    env_ctx = hr.user_texts(0)[-2]
    assert "<sandbox_mode>workspace-write</sandbox_mode>" in env_ctx
    assert "<approval_policy>never</approval_policy>" in env_ctx


def test_running_session_is_kept_during_turn_and_killed_at_exit(hr: Harness) -> None:
    import os

    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "echo $$ > pid.txt; exec sleep 60",
                                                  "yield_time_ms": 300})),
                hr.calls(("c2", "exec_command", {"cmd": "kill -0 $(cat pid.txt) && echo alive"})),
                hr.answer("bye"))
    r = hr.run(*FULL, "background")
    assert r.returncode == 0, r.stderr
    assert "Process running with session ID" in hr.outputs(1)["c1"]
    assert hr.outputs(2)["c2"].endswith("alive\n")  # still running later in the turn
    pid = int((hr.cwd / "pid.txt").read_text())
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "the session's process outlived codex exec"


def test_commands_see_thread_id_and_shell_environment_policy(hr: Harness) -> None:
    hr.mock.add(hr.calls(("c1", "exec_command",
                          {"cmd": 'echo "tid=$CODEX_THREAD_ID x=$MY_SET y=${SECRETISH:-unset}"'})),
                hr.answer("ok"))
    env = hr.env(SECRETISH="leak")
    r = hr.run("--json", *FULL, "-c", 'shell_environment_policy.set={MY_SET="yes"}',
               "-c", 'shell_environment_policy.exclude=["SECRET*"]', "env", env=env)
    assert r.returncode == 0, r.stderr
    thread = json_events(r.stdout)[0]["thread_id"]
    assert hr.outputs(1)["c1"].endswith(f"tid={thread} x=yes y=unset\n")


def test_commands_through_a_stdio_exec_server(hr: Harness) -> None:
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "echo remote-$((40+2))"})),
                hr.answer("ok"))
    r = hr.run("--exec-server", "stdio", *FULL, "remote run")
    assert r.returncode == 0, r.stderr
    out = hr.outputs(1)["c1"]
    assert exec_output(out, 0, "remote-42\n").fullmatch(out), out


def test_bypass_flag_runs_unsandboxed(hr: Harness, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": f"echo free > {outside}"})),
                hr.answer("ok"))
    r = hr.run("--dangerously-bypass-approvals-and-sandbox", "write outside")
    assert r.returncode == 0, r.stderr
    assert outside.read_text() == "free\n"
    env_ctx = hr.user_texts(0)[-2]
    assert "<sandbox_mode>danger-full-access</sandbox_mode>" in env_ctx
    assert "<network_access>enabled</network_access>" in env_ctx


def test_workspace_write_sandbox_blocks_writes_outside(hr: Harness, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": f"echo in > inside.txt; "
                                                        f"echo out > {outside}"})),
                hr.answer("ok"))
    r = hr.run("--full-auto", "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
               "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true", "write both")
    assert r.returncode == 0, r.stderr
    assert (hr.cwd / "inside.txt").read_text() == "in\n"
    assert not outside.exists()
    assert "sandbox denied" in hr.outputs(1)["c1"]


def test_a_command_that_cannot_start_says_why_to_the_user(hr: Harness) -> None:
    # An unreachable --exec-server: the model reads the reason, and so must the user (human
    # stderr and the JSONL item), not only a bare "failed".
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"ws://127.0.0.1:{port}"
    for json_mode in (False, True):
        hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "echo via-remote"})),
                    hr.answer("no server"))
        r = hr.run(*FULL, "--exec-server", url, *(["--json"] if json_mode else []), "run it")
        assert r.returncode == 0, r.stderr
        reason = f"cannot connect to exec-server at {url}"
        if json_mode:
            item = [e["item"] for e in json_events(r.stdout) if e["type"] == "item.completed"
                    and e["item"]["type"] == "command_execution"][0]
            assert item["status"] == "failed"
            assert item["aggregated_output"].startswith("could not start: " + reason)
        else:
            assert reason in r.stderr, r.stderr
