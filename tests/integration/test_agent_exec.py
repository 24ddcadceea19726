"""`codex exec` end to end over the mock model: output modes, prompt rules, flags, sessions."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import pytest

from tests.support import mock_model as mm
from tests.support.exec_harness import API_KEY, Harness, json_events


def test_plain_answer_human_mode(h: Harness) -> None:
    h.mock.add(h.answer("All done."))
    r = h.run("say hi")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "All done.\n"  # only the final message on stdout
    assert "All done." in r.stderr and "tokens used" in r.stderr
    req = h.mock.requests[0]
    assert req.headers["authorization"] == f"Bearer {API_KEY}"
    assert req.headers["originator"] == "codex_exec"
    assert "codex" in req.headers["user-agent"]
    users = h.user_texts(0)
    assert users[-1] == "say hi"
    assert any("<environment_context>" in u and f"<cwd>{h.cwd}</cwd>" in u for u in users)
    if h.wire == "responses":
        body = req.body
        assert req.path == "/v1/responses"
        assert body["model"] == "mock-model" and body["stream"] is True
        assert body["store"] is False and body["tool_choice"] == "auto"
        assert body["parallel_tool_calls"] is True
        assert body["prompt_cache_key"] == req.headers["session-id"]
        assert "reasoning" not in body  # mock-model has no reasoning
        names = {t["name"] for t in body["tools"]}
        assert {"apply_patch", "update_plan"} <= names
        assert "coding agent" in body["instructions"]
    else:
        body = req.body
        assert req.path == "/v1/chat/completions"
        assert body["messages"][0]["role"] == "system"
        assert body["stream_options"] == {"include_usage": True}
        tools = {t["function"]["name"]: t for t in body["tools"]}
        assert tools["apply_patch"]["function"]["parameters"]["properties"]["input"]["type"] \
            == "string"


def test_json_event_order_and_ids(h: Harness) -> None:
    h.mock.add(h.calls(("c1", "update_plan", {"plan": [{"step": "look", "status":
                                                          "in_progress"}]})),
               h.answer("Finished."))
    r = h.run("--json", "plan it")
    assert r.returncode == 0, r.stderr
    evs = json_events(r.stdout)
    types = [e["type"] for e in evs]
    assert types == ["thread.started", "turn.started", "item.started", "item.completed",
                     "item.completed", "turn.completed"]
    assert evs[2]["item"] == {"id": "item_0", "type": "todo_list",
                              "items": [{"text": "look", "completed": False}]}
    assert evs[3]["item"]["id"] == "item_1" and evs[3]["item"]["type"] == "agent_message"
    assert evs[3]["item"]["text"] == "Finished."
    assert evs[4]["item"]["id"] == "item_0"  # the plan completes with the turn
    # usage summed over both requests
    assert evs[5]["usage"] == {"input_tokens": 20, "cached_input_tokens": 4,
                               "output_tokens": 10, "reasoning_output_tokens": 2}
    assert h.outputs(1) == {"c1": "Plan updated"}
    assert evs[0]["thread_id"] == h.mock.requests[0].headers["session-id"]


def test_reasoning_items_are_replayed_with_encrypted_content(hr: Harness) -> None:
    hr.mock.add(mm.sse(mm.reasoning_item("Thinking hard"),
                       mm.function_call("update_plan", {"plan": []}, "c1")),
                mm.sse(mm.message_item("ok")))
    r = hr.run("--json", "-m", "gpt-5-codex", "go")
    assert r.returncode == 0, r.stderr
    evs = json_events(r.stdout)
    assert {"id": "item_0", "type": "reasoning", "text": "Thinking hard"} in \
        [e.get("item") for e in evs]
    first = hr.mock.requests[0].body
    assert first["reasoning"]["effort"] == "medium"
    assert first["include"] == ["reasoning.encrypted_content"]
    replay = [it for it in hr.mock.requests[1].body["input"] if it.get("type") == "reasoning"]
    assert replay and replay[0]["encrypted_content"] == "ENC"


def test_output_last_message_file_has_no_trailing_newline(h: Harness, tmp_path: Path) -> None:
    h.mock.add(h.answer("line one\nline two"))
    out = tmp_path / "last.txt"
    r = h.run("-o", str(out), "go")
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "line one\nline two"


def test_output_schema_goes_to_text_format(h: Harness, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}},
              "required": ["ok"], "additionalProperties": False}
    f = tmp_path / "schema.json"
    f.write_text(json.dumps(schema))
    h.mock.add(h.answer('{"ok": true}'))
    r = h.run("--output-schema", str(f), "answer in json")
    assert r.returncode == 0, r.stderr
    assert r.stdout == '{"ok": true}\n'
    body = h.mock.requests[0].body
    if h.wire == "responses":
        assert body["text"]["format"] == {"type": "json_schema", "strict": True,
                                          "name": "codex_output_schema", "schema": schema}
    else:
        assert body["response_format"]["json_schema"]["schema"] == schema


def test_prompt_from_stdin_and_stdin_appended(hr: Harness) -> None:
    hr.mock.add(hr.answer("a"), hr.answer("b"))
    r = hr.run(input="task from stdin\n")
    assert r.returncode == 0, r.stderr
    assert hr.user_texts(0)[-1] == "task from stdin\n"
    r = hr.run("summarise this", input="some log\nlines\n")
    assert r.returncode == 0, r.stderr
    assert hr.user_texts(1)[-1] == "summarise this\n\n<stdin>\nsome log\nlines\n</stdin>"


def test_dash_reads_stdin_and_missing_prompt_is_an_error(hr: Harness) -> None:
    hr.mock.add(hr.answer("x"))
    r = hr.run("-", input="dash prompt")
    assert r.returncode == 0, r.stderr
    assert hr.user_texts(0)[-1] == "dash prompt"
    r = hr.run("-", input="")
    assert r.returncode == 2 and "stdin was empty" in r.stderr
    # an empty argument is no prompt either (and sends nothing), unless stdin gives one
    r = hr.run("  ", input="")
    assert r.returncode == 2 and "the prompt argument is empty" in r.stderr
    assert len(hr.mock.requests) == 1
    hr.mock.add(hr.answer("y"))
    r = hr.run("", input="piped prompt")
    assert r.returncode == 0, r.stderr
    assert hr.user_texts(1)[-1] == "piped prompt"


def test_outside_git_repo_needs_skip_flag(hr: Harness, tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    hr.cwd = outside
    r = hr.run("hi")
    assert r.returncode == 1
    assert "--skip-git-repo-check" in r.stderr
    assert hr.mock.requests == []
    hr.mock.add(hr.answer("fine"))
    r = hr.run("--skip-git-repo-check", "hi")
    assert r.returncode == 0 and r.stdout == "fine\n"


def test_agents_md_from_home_and_repo_chain(hr: Harness) -> None:
    (hr.home / "AGENTS.md").write_text("GLOBAL RULE")
    (hr.cwd / "AGENTS.md").write_text("ROOT RULE")
    sub = hr.cwd / "pkg"
    sub.mkdir()
    (sub / "AGENTS.md").write_text("SUB RULE " + "x" * 100)
    hr.cwd = sub
    hr.mock.add(hr.answer("ok"))
    r = hr.run("-c", "project_doc_max_bytes=20", "hi")
    assert r.returncode == 0, r.stderr
    agents = hr.user_texts(0)[0]
    assert "GLOBAL RULE" in agents and "ROOT RULE" in agents
    assert agents.index("GLOBAL RULE") < agents.index("ROOT RULE")
    assert "SUB RULE" in agents and "x" * 20 not in agents  # capped at 20 bytes in total


def test_image_is_sent_as_data_url(hr: Harness, tmp_path: Path) -> None:
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    hr.mock.add(hr.answer("a picture"))
    r = hr.run("-i", str(png), "describe")
    assert r.returncode == 0, r.stderr
    user = hr.mock.requests[0].body["input"][-1]
    kinds = [p["type"] for p in user["content"]]
    assert kinds == ["input_text", "input_image"]
    assert user["content"][1]["image_url"].startswith("data:image/png;base64,")


def test_session_rollout_and_resume_keeps_id_and_replays(h: Harness) -> None:
    h.mock.add(h.answer("first answer"))
    r = h.run("--json", "first question")
    assert r.returncode == 0, r.stderr
    thread = json_events(r.stdout)[0]["thread_id"]
    files = list((h.home / "sessions").glob("*/*/*/rollout-*.jsonl"))
    assert len(files) == 1 and files[0].name.endswith(f"{thread}.jsonl")

    h.mock.add(h.answer("second answer"))
    r = h.run("--json", "resume", "--last", "second question")
    assert r.returncode == 0, r.stderr
    assert json_events(r.stdout)[0]["thread_id"] == thread
    users = h.user_texts(1)
    assert users[-2:] == ["first question", "second question"]
    assert h.mock.requests[1].headers["session-id"] == thread
    assert len(list((h.home / "sessions").glob("*/*/*/*.jsonl"))) == 1  # same file

    h.mock.add(h.answer("third"))
    r = h.run("resume", thread, "third question")
    assert r.returncode == 0, r.stderr
    assert h.user_texts(2)[-3:] == ["first question", "second question", "third question"]


def test_resume_unknown_id_and_ephemeral(hr: Harness) -> None:
    r = hr.run("resume", "no-such-id", "x")
    assert r.returncode == 1 and "no-such-id" in r.stderr
    hr.mock.add(hr.answer("e"))
    r = hr.run("--ephemeral", "x")
    assert r.returncode == 0
    assert not (hr.home / "sessions").exists()


def test_codex_api_key_and_stored_key(hr: Harness) -> None:
    env = hr.env()
    env.pop("OPENAI_API_KEY")
    r = hr.run("x", env=env)
    assert r.returncode == 1 and "OPENAI_API_KEY" in r.stderr
    hr.mock.add(hr.answer("a"), hr.answer("b"))
    r = hr.run("x", env={**env, "CODEX_API_KEY": "sk-exec"})
    assert r.returncode == 0, r.stderr
    assert hr.mock.requests[0].headers["authorization"] == "Bearer sk-exec"
    from tests.conftest import run_codex

    login = run_codex(["login", "--with-api-key"], input="sk-stored\n", env=env)
    assert login.returncode == 0, login.stderr
    auth = hr.home / "auth.json"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    r = hr.run("x", env=env)
    assert r.returncode == 0, r.stderr
    assert hr.mock.requests[1].headers["authorization"] == "Bearer sk-stored"
    assert run_codex(["logout"], env=env).returncode == 0
    assert not auth.exists()


def test_oss_says_clearly_when_no_local_server(hr: Harness, tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()  # nothing listens there now
    r = hr.run("--oss", "-c", f'model_providers.ollama.base_url="http://127.0.0.1:{dead}/v1"',
               "-c", f'model_providers.lmstudio.base_url="http://127.0.0.1:{dead}/v1"', "hi")
    assert r.returncode == 1
    assert "no local model server is running" in r.stderr


def test_oss_uses_a_running_local_server(hr: Harness) -> None:
    hr.mock.add(mm.chat_text("local hello"))
    hr.model = None  # the --oss default model applies
    r = hr.run("--oss", "-c", f'model_providers.ollama.base_url="{hr.mock.url}"', "hi")
    assert r.returncode == 0, r.stderr
    chat = [q for q in hr.mock.requests if q.path.endswith("/chat/completions")]
    assert chat and chat[0].body["model"] == "gpt-oss:20b"
    assert "authorization" not in chat[0].headers
    assert r.stdout == "local hello\n"


def test_kill_9_mid_turn_then_resume_last_continues(h: Harness) -> None:
    import threading

    hold = threading.Event()
    h.mock.add(h.calls(("c1", "update_plan", {"plan": [{"step": "s", "status": "pending"}]})),
               mm.Reply(events=[{"type": "response.created", "response": {"id": "r2"}}]
                        if h.wire == "responses" else
                        [{"id": "x", "choices": [{"index": 0, "delta": {"content": "par"}}]}],
                        hold=hold))
    p = h.popen("--json", "long task")
    try:
        h.mock.wait_for_requests(2)  # the tool output is recorded; the model is "thinking"
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
    finally:
        hold.set()
        if p.poll() is None:
            p.kill()
        p.communicate()
    h.mock.add(h.answer("resumed fine"))
    r = h.run("resume", "--last", "continue please")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "resumed fine\n"
    assert h.user_texts(2)[-2:] == ["long task", "continue please"]
    assert h.outputs(2) == {"c1": "Plan updated"}


def test_rollout_torn_last_line_is_skipped(h: Harness) -> None:
    h.mock.add(h.answer("one"))
    assert h.run("q1").returncode == 0
    f = next((h.home / "sessions").glob("*/*/*/*.jsonl"))
    with f.open("a") as fh:
        fh.write('{"timestamp": "x", "type": "response_item", "payload": {"type": "mess')
    h.mock.add(h.answer("two"))
    r = h.run("resume", "--last", "q2")
    assert r.returncode == 0, r.stderr
    assert h.user_texts(1)[-2:] == ["q1", "q2"]
    h.mock.add(h.answer("three"))
    r = h.run("resume", "--last", "q3")  # the file is still readable after appending
    assert r.returncode == 0, r.stderr
    assert h.user_texts(2)[-3:] == ["q1", "q2", "q3"]


def test_sigint_ends_turn_with_130_and_writes_rollout(hr: Harness) -> None:
    import threading

    hold = threading.Event()
    hr.mock.add(mm.Reply(events=[{"type": "response.created", "response": {"id": "r"}}],
                         hold=hold))
    p = hr.popen("--json", "wait forever")
    try:
        hr.mock.wait_for_requests(1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        hold.set()
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130, err
    f = next((hr.home / "sessions").glob("*/*/*/*.jsonl"))
    lines = [json.loads(x) for x in f.read_text().splitlines()]
    assert any(x["type"] == "event_msg" and x["payload"]["type"] == "turn_aborted"
               for x in lines)


@pytest.mark.parametrize("args,code,text", [
    (["resume"], 2, "resume needs --last or a session id"),
    (["--last", "x"], 2, "--last only goes with resume"),
    (["-c", "sandbox_mode=wide-open", "x"], 1, "invalid sandbox_mode"),
    (["-c", 'model_providers.openai.wire_api="grpc"', "x"], 1, "invalid wire_api"),
    (["-c", "model_provider=nope", "x"], 1, "unknown model_provider"),
    (["--output-schema", "/nonexistent/schema.json", "x"], 2, "--output-schema"),
    (["-i", "/nonexistent/pic.png", "x"], 2, "--image"),
])
def test_bad_invocations_fail_cleanly(hr: Harness, args: list[str], code: int,
                                      text: str) -> None:
    r = hr.run(*args)
    assert r.returncode == code, r.stderr
    assert text in r.stderr and "Traceback" not in r.stderr
    assert hr.mock.requests == []


def test_output_schema_that_is_not_an_object_is_refused_before_the_turn(hr: Harness) -> None:
    schema = hr.cwd / "schema.json"
    schema.write_text("[1]")
    r = hr.run("--output-schema", str(schema), "x")
    assert r.returncode == 2, r.stderr
    assert "must be a JSON object" in r.stderr and "Traceback" not in r.stderr
    assert hr.mock.requests == []


def test_human_mode_interrupt_exits_130(hr: Harness) -> None:
    import threading

    hold = threading.Event()
    hr.mock.add(mm.Reply(events=[{"type": "response.created", "response": {"id": "r"}}],
                         hold=hold))
    p = hr.popen("wait")
    try:
        hr.mock.wait_for_requests(1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        hold.set()
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130
    assert out == "" and "interrupted" in err


def test_ctrl_c_during_a_command_records_aborted_call_and_cleans_up(h: Harness) -> None:
    import time

    marker = h.cwd / "pid.txt"
    h.mock.add(h.calls(("c1", "exec_command", {"cmd": "echo $$ > pid.txt; exec sleep 60",
                                                "yield_time_ms": 30000})))
    p = h.popen("-s", "danger-full-access", "long command")
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text().strip()):
            assert time.monotonic() < deadline, "the command never started"
            assert p.poll() is None, p.communicate()
            time.sleep(0.02)  # polling for the file the command writes, not a sync sleep
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the session died with codex exec, not before
    h.mock.add(h.answer("resumed"))
    r = h.run("resume", "--last", "what happened?")
    assert r.returncode == 0, r.stderr
    assert h.outputs(1)["c1"].startswith("aborted")


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_hangup_or_terminate_during_a_command_kills_it_and_exits_128_plus_n(
        hr: Harness, sig: signal.Signals) -> None:
    import time

    marker = hr.cwd / "pid.txt"
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "echo $$ > pid.txt; exec sleep 60",
                                                 "yield_time_ms": 30000})))
    p = hr.popen("-s", "danger-full-access", "long command")
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text().strip()):
            assert time.monotonic() < deadline, "the command never started"
            assert p.poll() is None, p.communicate()
            time.sleep(0.02)  # polling for the file the command writes, not a sync sleep
        p.send_signal(sig)
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    pid = int(marker.read_text())
    alive = True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        alive = False
    else:
        os.kill(pid, signal.SIGKILL)  # leave no orphan behind even when the test fails
    assert not alive, "the model's command outlived codex exec"
    assert p.returncode == 128 + sig
    f = next((hr.home / "sessions").glob("*/*/*/*.jsonl"))
    assert '"turn_aborted"' in f.read_text()


def test_resume_with_another_sandbox_sends_a_fresh_environment_context(hr: Harness) -> None:
    hr.mock.add(hr.answer("one"), hr.answer("two"), hr.answer("three"))
    assert hr.run("q1").returncode == 0
    r = hr.run("-s", "workspace-write", "resume", "--last", "q2")
    assert r.returncode == 0, r.stderr
    envs = [u for u in hr.user_texts(1) if u.startswith("<environment_context>")]
    assert len(envs) == 2 and "read-only" in envs[0] and "workspace-write" in envs[1]
    r = hr.run("-s", "workspace-write", "resume", "--last", "q3")
    assert r.returncode == 0, r.stderr
    assert len([u for u in hr.user_texts(2) if u.startswith("<environment_context>")]) == 2


def test_unwritable_codex_home_is_a_clean_error(hr: Harness) -> None:
    (hr.home / "sessions").write_text("")  # even root cannot make directories under a file
    r = hr.run("hi")
    assert r.returncode == 1
    assert "--ephemeral" in r.stderr and "Traceback" not in r.stderr
    assert hr.mock.requests == []


def test_kill_9_during_a_command_leaves_no_orphan(hr: Harness) -> None:
    """SIGKILL gives codex no chance to clean up; its watchdog must end the command's tree."""
    import time

    marker = hr.cwd / "pids.txt"
    hr.mock.add(hr.calls(("c1", "exec_command", {
        "cmd": "sleep 60 & echo $$ $! > pids.txt; wait", "yield_time_ms": 30000})))
    p = hr.popen("-s", "danger-full-access", "long command")
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and len(marker.read_text().split()) == 2):
            assert time.monotonic() < deadline, "the command never started"
            assert p.poll() is None, p.communicate()
            time.sleep(0.02)  # polling for the file the command writes, not a sync sleep
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    pids = [int(x) for x in marker.read_text().split()]

    def alive() -> list[int]:
        out = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        out.append(pid)
            except OSError:
                pass
        return out

    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for the watchdog's kill, bounded
    left = alive()
    for pid in left:
        os.kill(pid, signal.SIGKILL)  # leave no orphan behind even when the test fails
    assert left == [], "the model's command (shell and its background job) outlived kill -9"


def test_refused_connection_retries_are_shown_then_a_clear_error(hr: Harness) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    url = f"http://127.0.0.1:{port}/v1"
    r = hr.run("hello", env=hr.env(OPENAI_BASE_URL=url, CODEX_RETRY_BASE_MS="1"))
    assert r.returncode != 0
    assert [ln.split(" (")[0] for ln in r.stderr.splitlines()
            if ln.startswith("Reconnecting")] == [f"Reconnecting... {n}/4" for n in (1, 2, 3, 4)]
    assert f"cannot reach {url}/responses" in r.stderr and "OPENAI_BASE_URL" in r.stderr
