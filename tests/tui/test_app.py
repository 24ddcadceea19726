"""The UI's event handling and keys, on a headless `TuiApp` (no terminal, no session): what a
sequence of session events prints into the scrollback, and what the composer does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codex.core import protocol as P
from codex.tui.app import TuiApp, TuiOptions
from codex.tui.render import visible


class FakeSession:
    def __init__(self) -> None:
        self.ops: list[Any] = []

    def submit(self, op: Any) -> None:
        self.ops.append(op)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A current (not running) loop: handlers start tasks (the spinner), which never run."""
    lp = asyncio.new_event_loop()
    asyncio.set_event_loop(lp)
    yield lp
    tasks = asyncio.all_tasks(lp)
    for t in tasks:
        t.cancel()
    lp.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    asyncio.set_event_loop(None)
    lp.close()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loop: Any) -> TuiApp:
    return make_app(tmp_path, monkeypatch)


def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TuiApp:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(home))
    a = TuiApp(TuiOptions(config={}, cwd=tmp_path, home=home, version="test"), None)  # type: ignore[arg-type]
    a._schedule_frame = lambda **_kw: None  # type: ignore[method-assign]  # frames: printed()
    a.session = FakeSession()
    return a


def printed(app: TuiApp) -> list[str]:
    """Everything the scrollback would show now, as plain text."""
    return [visible(ln).rstrip() for ln in app.output.frame(80, None)]


def feed(app: TuiApp, *events: Any) -> None:
    handlers = app._handlers()
    for ev in events:
        handlers[type(ev)](ev)


# -- bug: a streamed answer printed twice around its reasoning ------------------------------
def test_reasoning_in_wire_order_prints_before_the_answer_once(app: TuiApp) -> None:
    feed(app, P.TurnStarted("t1"), P.ReasoningDelta("**Checking** the files"),
         P.Reasoning("**Checking** the files"), P.AgentMessageDelta("The answer "),
         P.AgentMessageDelta("is 42."), P.AgentMessage("The answer is 42."),
         P.TurnComplete("t1", "The answer is 42."))
    out = [ln for ln in printed(app) if ln]
    assert out == ["• Checking the files", "• The answer is 42."]


def test_reasoning_after_a_streamed_answer_does_not_reprint_it(app: TuiApp) -> None:
    # An engine (or a wire) that reports the reasoning only once the answer was streamed.
    feed(app, P.TurnStarted("t1"), P.AgentMessageDelta("The answer is 42."),
         P.Reasoning("thinking"), P.AgentMessage("The answer is 42."),
         P.TurnComplete("t1", "The answer is 42."))
    out = [ln for ln in printed(app) if ln]
    assert sum("The answer is 42." in ln for ln in out) == 1, out


def test_a_message_that_was_not_streamed_is_printed(app: TuiApp) -> None:
    feed(app, P.TurnStarted("t1"), P.AgentMessageDelta("cut off by an interrupt"),
         P.TurnAborted("t1"), P.TurnStarted("t2"), P.AgentMessage("whole, not streamed"),
         P.TurnComplete("t2", None))
    out = [ln for ln in printed(app) if ln]
    assert "• whole, not streamed" in out


# -- bug: the reasoning headline kept half of its bold markers ------------------------------
@pytest.mark.parametrize("summary, shown", [
    ("**Thinking** about it", "• Thinking about it"),
    ("**Planning the fix**\n\nDetails follow.", "• Planning the fix"),
    ("plain first line\nsecond", "• plain first line"),
    ("a **bold** middle and __another__", "• a bold middle and another"),
    ("**unclosed bold", "• **unclosed bold"),
])
def test_reasoning_headline_parses_bold(summary: str, shown: str) -> None:
    from codex.tui import cells
    from codex.tui.render import Renderer

    assert [visible(x).rstrip() for x in cells.reasoning(Renderer(color_system=None), summary,
                                                          80, False)] == [shown]


# -- bug: choosing a custom prompt in the popup sent it with no arguments -----------------
@pytest.fixture
def prompts_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loop: Any) -> TuiApp:
    home = tmp_path / "home"
    (home / "prompts").mkdir(parents=True)
    (home / "prompts" / "fix.md").write_text("Fix $1 in $2\n")
    (home / "prompts" / "hello.md").write_text("Say hello\n")
    (home / "prompts" / "rev.md").write_text("Review $FILE\n")
    monkeypatch.setenv("CODEX_HOME", str(home))
    a = TuiApp(TuiOptions(config={}, cwd=tmp_path, home=home, version="test"), None)  # type: ignore[arg-type]
    a._schedule_frame = lambda **_kw: None  # type: ignore[method-assign]
    a.session = FakeSession()
    return a


def sent_texts(app: TuiApp) -> list[str]:
    return [op.items[0]["text"] for op in app.session.ops if isinstance(op, P.UserTurn)]


@pytest.mark.parametrize("name, complete", [
    ("prompts:fix", True), ("prompts:fix", False), ("prompts:rev", False),
    ("prompts:hello", True)])
def test_a_prompt_with_placeholders_completes_in_the_composer(
        prompts_app: TuiApp, name: str, complete: bool) -> None:
    app = prompts_app
    app.buffer.insert_text("/" + name)
    assert app._popup is not None and app._popup.items[0].value == name
    app._accept_popup(complete=complete)
    assert app.buffer.text == f"/{name} " and app._popup is None
    assert sent_texts(app) == []


def test_a_prompt_without_placeholders_sends_on_enter(prompts_app: TuiApp) -> None:
    app = prompts_app
    app.buffer.insert_text("/prompts:hel")
    app._accept_popup()
    assert sent_texts(app) == ["Say hello\n"] and app.buffer.text == ""


def test_prompt_arguments_are_expanded_on_enter(prompts_app: TuiApp) -> None:
    app = prompts_app
    app.buffer.insert_text('/prompts:fix the-bug "src/a b.py"')
    app._submit_composer()
    assert sent_texts(app) == ["Fix the-bug in src/a b.py\n"]


def test_missing_named_argument_keeps_the_text_and_says_why(prompts_app: TuiApp) -> None:
    app = prompts_app
    app.buffer.insert_text("/prompts:rev notes.txt")
    app._submit_composer()
    assert sent_texts(app) == [] and app.buffer.text == "/prompts:rev notes.txt"
    out = " ".join(printed(app))
    assert "/prompts:rev" in out and "KEY=value" in out and "FILE=" in out
    app.buffer.text = "/prompts:rev FILE=notes.txt"
    app._submit_composer()
    assert sent_texts(app) == ["Review notes.txt\n"]


# -- bug: the transcript cut long lines with an ellipsis ----------------------------------
def test_transcript_forms_are_whole_and_wrap_at_any_width() -> None:
    from rich.cells import cell_len

    from codex.core.protocol import FileChange
    from codex.tui import cells
    from codex.tui.render import Renderer

    r = Renderer(color_system=None)
    cmd = "python -c 'print(1)' && " + " ".join(f"arg{i}" for i in range(30)) + "\necho two"
    ran = cells.exec_cell(r, cmd, 3, 1.5, "out\n", "failed", 40)
    long_line = "x = " + "+".join(f"v{i}" for i in range(40))
    patch = cells.patch_cell(r, [FileChange("/w/big.py", "add", "+" + long_line + "\n")],
                             True, 40, cwd="/w")
    assert any("…" in visible(x) for x in ran.lines + patch.lines)  # the scrollback form cuts
    for width in (40, 100):
        shown = r.wrap((ran.full or []) + (patch.full or []), width)
        assert all(cell_len(visible(x)) <= width for x in shown)
        flat = "".join(visible(x).strip() for x in shown).replace(" ", "")
        assert "…" not in flat
        assert cmd.replace(" ", "").replace("\n", "") in flat
        assert long_line.replace(" ", "") in flat and "exit3" in flat


# -- bug: a resumed session replayed every command as a success -------------------------
def test_replay_reads_how_each_command_ended_and_shows_plans() -> None:
    import json

    from codex.core.turn import ABORTED_OUTPUT
    from codex.tui.render import Renderer
    from codex.tui.replay import replay_cells
    from codex.unified_exec.buffer import Collected
    from codex.unified_exec.output import format_result

    def call(cmd: str, cid: str) -> dict[str, Any]:
        return {"type": "function_call", "name": "exec_command", "call_id": cid,
                "arguments": json.dumps({"cmd": cmd})}

    def result(cid: str, code: int | None, text: str, session: int | None = None) -> dict:
        data = text.encode()
        out = format_result(wall_time=1.25, exit_code=code, session_id=session,
                            out=Collected(data, b"", len(data), text.count("\n")),
                            budget_tokens=1000)
        return {"type": "function_call_output", "call_id": cid, "output": out}

    items = [
        call("true", "c1"), result("c1", 0, "fine\n"),
        call("exit 3", "c2"), result("c2", 3, "broke\n"),
        call("rm -rf build", "c3"),
        {"type": "function_call_output", "call_id": "c3",
         "output": "exec_command declined: the user did not allow `rm -rf build` to run."},
        call("sleep 100", "c4"),
        {"type": "function_call_output", "call_id": "c4", "output": ABORTED_OUTPUT},
        {"type": "function_call", "name": "update_plan", "call_id": "p1", "arguments":
         json.dumps({"plan": [{"step": "read the code", "status": "completed"},
                              {"step": "fix it", "status": "in_progress"}]})},
        {"type": "function_call_output", "call_id": "p1", "output": "Plan updated"},
    ]
    shown = ["\n".join(visible(x).rstrip() for x in c)
             for c in replay_cells(Renderer(color_system=None), items, 80)]
    assert len(shown) == 5, shown
    assert shown[0].startswith("✓ Ran true") and "1.2s" in shown[0] and "fine" in shown[0]
    assert shown[1].startswith("✗ Ran exit 3") and "exit 3 · 1.2s" in shown[1]
    assert "broke" in shown[1] and "Output:" not in shown[1]
    assert shown[2].startswith("✗ Declined rm -rf build")
    assert shown[3].startswith("✗ Interrupted sleep 100")
    assert "Updated Plan" in shown[4] and "read the code" in shown[4] and "fix it" in shown[4]


# -- bug: the @ file list was read once, on the UI thread --------------------------------
@pytest.mark.asyncio
async def test_at_lists_files_off_the_ui_thread_and_sees_new_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import threading

    from codex.tui import file_search

    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "first_file.py").write_text("")
    threads: list[threading.Thread] = []
    real = file_search.list_files

    def lister(root: Path) -> list[str]:
        threads.append(threading.current_thread())
        return real(root)

    monkeypatch.setattr(file_search, "list_files", lister)
    app = TuiApp(TuiOptions(config={}, cwd=tmp_path, home=home, version="test"), None)  # type: ignore[arg-type]
    app._file_index = file_search.FileIndex(tmp_path, lister=lister)
    app.session = FakeSession()

    async def settle() -> None:
        while app._file_index.loading:
            await asyncio.sleep(0.01)

    app.buffer.insert_text("see @")
    assert app._popup is not None
    await settle()
    assert threads and all(t is not threading.main_thread() for t in threads)
    app.buffer.insert_text("first")
    assert [i.value for i in app._popup.items] == ["first_file.py"]
    app._accept_popup()
    assert app.buffer.text == "see first_file.py "
    (tmp_path / "created_later.py").write_text("")
    app.buffer.insert_text("and @")  # a new @ token lists again
    await settle()
    app.buffer.insert_text("crelat")
    assert [i.value for i in app._popup.items] == ["created_later.py"]


# -- bug: the patch approval showed edits as done and miscounted the hidden lines ---------
def test_patch_approval_shows_proposed_edits_and_counts_the_diff(app: TuiApp) -> None:
    diff = "".join(f"+line {i}\n" for i in range(120))
    feed(app, P.TurnStarted("t1"), P.PatchApprovalRequest(
        "p1", (P.FileChange(str(app.opts.cwd / "big.txt"), "add", diff),), None))
    shown = [visible(x).rstrip() for x in app._approval_text().value.split("\n")]
    assert not any("✓" in ln or "Added" in ln for ln in shown), shown
    assert any(ln.startswith("• Add big.txt (+120 -0)") for ln in shown), shown
    # The rows left by the 4 options, the title and the 4 rows around the modal.
    room = max(1, app._rows() - 4 - 1 - 4)
    # The diff's lines: one header + 120 added; `room` of them are shown.
    assert f"… +{121 - room} lines (ctrl+t to read all)" in "\n".join(shown), shown


# -- bug: the resume picker never showed a branch, and listed sessions with no message ------
def test_previews_show_the_branch_and_leave_out_sessions_without_a_message(
        tmp_path: Path) -> None:
    from codex.core.rollout import RolloutWriter
    from codex.tui.sessions import label, previews

    home = tmp_path / "home"
    cwd = tmp_path / "repo"
    cwd.mkdir()

    def user(text: str) -> dict[str, Any]:
        return {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": text}]}

    w = RolloutWriter.create(home, "s-empty", {"cwd": str(cwd)})
    w.item(user("<environment_context>cwd</environment_context>"))
    w.close()
    w = RolloutWriter.create(home, "s-real", {"cwd": str(cwd), "git": {
        "commit_hash": "abc", "branch": "feature-x", "repository_url": "u"}})
    w.item(user("<environment_context>cwd</environment_context>"))
    w.item(user("fix the flaky test\nplease"))
    w.close()
    found = previews(home, cwd)
    assert [(p.entry.id, label(p), p.branch) for p in found] == [
        ("s-real", "fix the flaky test", "feature-x")]
    every = previews(home, cwd, include_empty=True)
    assert sorted(label(p) for p in every) == ["(no message)", "fix the flaky test"]


# -- bug: a command's reply waited behind a streaming answer -------------------------------
def test_a_command_reply_shows_at_once_and_keeps_the_scrollback_order(app: TuiApp) -> None:
    feed(app, P.TurnStarted("t1"), P.AgentMessageDelta("first line of the answer\nstill "))
    assert [ln for ln in printed(app) if ln] == ["• first line of the answer"]
    app.buffer.insert_text("/new")
    app._popup = None
    app._submit_composer()
    live = visible(app._live_text().value)
    assert "/new cannot run while a turn is running" in live
    assert printed(app) == []  # not in the scrollback yet: the answer comes first
    app.emit(["an ordinary cell"])  # not a reply: waits without being shown
    assert "an ordinary cell" not in visible(app._live_text().value)
    feed(app, P.AgentMessageDelta("streaming"), P.AgentMessage("x"),
         P.TurnComplete("t1", None))
    out = [ln for ln in printed(app) if ln]
    assert out[0] == "  still streaming", out
    assert "/new cannot run while a turn is running" in out[1] and out[-1] == "an ordinary cell"
    assert app.output.notices == [] and "/new" not in visible(app._live_text().value)


# -- bug: retries were silent ---------------------------------------------------------------
class ScriptedSession(FakeSession):
    """Hands the pump its events one by one; `seen` records the status line after each."""

    def __init__(self, app: TuiApp, events: list[Any]) -> None:
        super().__init__()
        self.app, self.events, self.seen = app, list(events), []

    async def next_event(self) -> Any:
        if self.events is not None and len(self.seen) < 100:
            self.seen.append("".join(t for _s, t in self.app._status_text()))
        return self.events.pop(0)


@pytest.mark.asyncio
async def test_retries_show_in_the_status_line_until_the_model_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(tmp_path, monkeypatch)
    events = [P.TurnStarted("t1")]
    events += [P.StreamError(f"Reconnecting... {n}/4 (connection error)", attempt=n,
                             max_attempts=4) for n in (1, 2)]
    events += [P.AgentMessageDelta("back"), P.AgentMessage("back"),
               P.TurnComplete("t1", "back"), P.ShutdownComplete()]
    session = ScriptedSession(app, events)
    app._tick_task = None
    await app._pump(session)
    # The status line as each event arrived: after the retries, then back to Working.
    after = session.seen[1:]
    assert "Working" in after[0]
    assert "Reconnecting… 1/4" in after[1] and "Reconnecting… 2/4" in after[2]
    assert "Working" in after[3] and "Reconnecting" not in after[3]
    out = [ln for ln in printed(app) if ln]
    assert out == ["• back"]  # no scrollback line per retry


# -- polish ---------------------------------------------------------------------------------
def test_ordered_lists_keep_their_dots() -> None:
    from codex.tui.render import Renderer

    r = Renderer(color_system=None)
    assert r.markdown("1. one\n2. two\n", 40) == [" 1. one", " 2. two"]
    assert r.markdown("9. nine\n10. ten\n", 40) == ["  9. nine", " 10. ten"]


def test_a_long_command_title_is_cut_before_its_outcome() -> None:
    from codex.tui import cells
    from codex.tui.render import Renderer

    r = Renderer(color_system=None)
    cmd = "pytest " + " ".join(f"tests/test_{i}.py" for i in range(20))
    head = visible(cells.exec_cell(r, cmd, 3, 12.5, "", "failed", 60).lines[0]).rstrip()
    assert head.startswith("✗ Ran pytest tests/test_0.py") and "…" in head
    assert head.endswith("exit 3 · 12.5s") and len(head) <= 60


def test_a_declined_patch_is_recorded_once(app: TuiApp) -> None:
    change = P.FileChange(str(app.opts.cwd / "notes.txt"), "add", "+hi\n")
    feed(app, P.TurnStarted("t1"), P.PatchApprovalRequest("p1", (change,), None))
    app._decide(P.ReviewDecision.DENIED)
    feed(app, P.PatchEnd("p1", False, (change,), "apply_patch declined: the user did not "
                         "approve this patch; nothing was changed."))
    out = [ln for ln in printed(app) if ln]
    assert len(out) == 1 and out[0].startswith("✗ declined: ") and "notes.txt" in out[0], out


def test_the_reasoning_headline_is_the_status_while_the_model_thinks(app: TuiApp) -> None:
    def status() -> str:
        return "".join(t for _s, t in app._status_text())

    feed(app, P.TurnStarted("t1"), P.ReasoningDelta("**Reading the"))
    assert "Working" in status()  # not a headline until its bold closes
    feed(app, P.ReasoningDelta(" tests**\n\nI will look at"))
    assert "Reading the tests" in status() and "**" not in status()
    feed(app, P.Reasoning("**Reading the tests**\n\nI will look at"),
         P.AgentMessageDelta("Here"))
    assert "Working" in status()


def test_the_transcript_draws_answers_again_at_the_current_width() -> None:
    from rich.cells import cell_len

    from codex.tui.output import HistoryQueue
    from codex.tui.render import Renderer

    q = HistoryQueue(Renderer(color_system=None))
    q.cell(["› question"])
    words = " ".join(f"word{i}" for i in range(40))
    q.delta(f"# Title\n\n{words}\n\n- item one\n- item two\n")
    q.finish_answer()
    q.frame(100, None)
    assert q.transcript_at(100) == q.transcript
    narrow = [visible(x).rstrip() for x in q.transcript_at(40)]
    assert all(cell_len(x) <= 40 for x in narrow)
    # Re-flowed by words, not folded mid-word: every word whole on some line.
    assert all(any(f"word{i}" in ln.split() for ln in narrow) for i in range(40))
    assert narrow[0] == "› question" and any(ln.endswith("• item two") for ln in narrow)
