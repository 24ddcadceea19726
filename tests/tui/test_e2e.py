"""The interactive UI end to end (issue 12's acceptance list): the real `codex` in tmux at
100x30 and 40x12, the mock model over real HTTP + SSE, keys typed with send-keys, the screen
read with capture-pane."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support import mock_model as mm
from tests.tui.conftest import Tui, answer

MD_ANSWER = ("# Result heading\n\nThe **answer** has `code` and a list:\n\n- first point\n"
             "- second point\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nAll done.\n")


def user_texts(req: mm.Request) -> list[str]:
    return ["".join(p.get("text", "") for p in it.get("content") or [])
            for it in req.body.get("input", [])
            if it.get("type") == "message" and it.get("role") == "user"]


def outputs(req: mm.Request) -> dict[str, str]:
    return {it["call_id"]: it["output"] for it in req.body.get("input", [])
            if it.get("type") in ("function_call_output", "custom_tool_call_output")}


def exec_call(cmd: str, call_id: str, **extra: Any) -> mm.Reply:
    return mm.sse(mm.function_call("exec_command", {"cmd": cmd, **extra}, call_id))


def send(tui: Tui, text: str) -> None:
    tui.term.type(text)
    tui.term.keys("Enter")


def one_turn_then_quit(tui: Tui, question: str, reply: str) -> None:
    """Start codex, ask `question`, wait for `reply` and the end of the turn, quit."""
    tui.mock.add(answer(reply))
    tui.start()
    send(tui, question)
    tui.term.wait_for(reply, whole=True)
    idle(tui)
    tui.quit()


def idle(tui: Tui) -> str:
    """Wait until no turn runs (the status line is gone, the footer is back)."""
    return tui.term.wait_for(lambda s: "esc to interrupt" not in s and "? for shortcuts" in s)


# -- answers, commands, patches ------------------------------------------------------------
PARAGRAPHS = [f"Paragraph {i} of the answer." for i in range(1, 7)]


def _cut_stream(full: mm.Reply, upto: str) -> tuple[mm.Reply, threading.Event]:
    """The first events of `full`, up to the delta that completes `upto`; the stream then
    stalls until the event is set and ends without response.completed (a broken stream)."""
    text, events = "", []
    for ev in full.events:
        events.append(ev)
        text += ev.get("delta", "") if isinstance(ev, dict) else ""
        if upto in text:
            break
    release = threading.Event()
    return mm.Reply(events=events, hold=release), release


def test_an_answer_cut_by_a_broken_stream_is_not_shown_twice(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    full = answer("\n\n".join(PARAGRAPHS))
    partial, release = _cut_stream(full, "Paragraph 3 of")  # 1-2 whole, 3 begun
    tui.mock.add(partial, full)
    tui.start()
    send(tui, "a long answer please")
    tui.term.wait_for("Paragraph 1 of the answer.", whole=True)
    tui.term.wait_for("Paragraph 2 of the answer.")
    release.set()  # the stream ends without response.completed: the request is retried
    tui.term.wait_for("Paragraph 6 of the answer.", whole=True)
    idle(tui)
    text = tui.term.scrollback()
    marker = "connection lost; the answer starts again"
    assert text.count(marker) == 1, text
    before, after = text.split(marker)
    for p in PARAGRAPHS:
        assert after.count(p) == 1, (p, text)
    assert "Paragraph 3" not in before  # the begun paragraph was never printed, and is not
    assert before.count("Paragraph 1 of the answer.") == 1
    tui.quit()


def test_a_stream_broken_before_anything_was_printed_leaves_no_trace(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    full = answer("\n\n".join(PARAGRAPHS))
    partial, release = _cut_stream(full, "Paragraph 1 of")  # nothing complete yet
    release.set()
    tui.mock.add(partial, full)
    tui.start()
    send(tui, "a long answer please")
    tui.term.wait_for("Paragraph 6 of the answer.", whole=True)
    idle(tui)
    text = tui.term.scrollback()
    assert "connection lost" not in text
    for p in PARAGRAPHS:
        assert text.count(p) == 1, (p, text)
    assert text.count("Paragraph 1") == 1, text  # not the broken stream's start, glued on
    assert len(tui.mock.requests) == 2
    tui.quit()


def test_streamed_markdown_answer(tui: Tui) -> None:
    tui.trust()
    tui.mock.add(answer(MD_ANSWER))
    tui.start()
    send(tui, "explain please")
    tui.term.wait_for("All done.", whole=True)
    idle(tui)
    text = tui.term.scrollback()
    order = ["explain please", "Result heading", "answer has code and a list", "first point",
             "second point", "def add(a, b):", "return a + b", "All done."]
    pos = [text.find(s) for s in order]
    assert -1 not in pos and pos == sorted(pos), text
    assert "```" not in text and "**" not in text  # rendered, not raw Markdown
    assert user_texts(tui.mock.requests[0])[-1] == "explain please"
    tui.quit()


def test_reasoning_then_answer_prints_each_once_in_order(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    reply = answer("The answer is forty-two.")
    # A reasoning item (summary streamed, then done) before the message, as the wire sends it.
    rs = mm.reasoning_item("**Thinking** about it")
    reply.events[1:1] = [
        {"type": "response.output_item.added", "output_index": 0, "item": rs},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1",
         "summary_index": 0, "delta": "**Thinking** about it"},
        {"type": "response.output_item.done", "output_index": 0, "item": rs}]
    tui.mock.add(reply)
    tui.start()
    send(tui, "what is it")
    tui.term.wait_for("forty-two", whole=True)
    idle(tui)
    text = tui.term.scrollback()
    assert text.count("The answer is forty-two.") == 1, text
    assert "Thinking about it" in text and "**" not in text, text
    assert text.find("Thinking about it") < text.find("The answer is forty-two."), text
    tui.quit()


def test_command_cell_with_output(tui: Tui) -> None:
    tui.trust()
    tui.mock.add(exec_call("echo first-out; echo second-out", "c1"), answer("ran it"))
    tui.start()
    send(tui, "run something")
    tui.term.wait_for("ran it", whole=True)
    text = tui.term.scrollback()
    assert "echo first-out" in text and "first-out\n" in text.replace(" ", "").replace(
        "└", "") or "first-out" in text
    assert text.index("echo first-out") < text.index("ran it")
    assert "second-out" in outputs(tui.mock.requests[1])["c1"]
    tui.quit()


def test_transcript_shows_long_command_and_diff_lines_whole(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    long_cmd = "echo " + " ".join(f"word{i:02d}" for i in range(30)) + " END-OF-COMMAND"
    long_add = "+" + "-".join(f"piece{i:02d}" for i in range(25)) + "-END-OF-DIFF-LINE"
    patch = f"*** Begin Patch\n*** Add File: wide.txt\n{long_add}\n*** End Patch\n"
    tui.mock.add(exec_call(long_cmd, "c1"), mm.sse(mm.custom_call("apply_patch", patch, "p1")),
                 answer("all done"))
    tui.start()
    send(tui, "go")
    tui.term.wait_for("all done", whole=True)
    idle(tui)
    assert "END-OF-COMMAND" not in tui.term.scrollback()  # the scrollback cell cuts it
    tui.term.keys("C-t")
    screen = tui.term.wait_for("q or esc close")
    assert "END-OF-COMMAND" in screen and "END-OF-DIFF-LINE" in screen, screen
    tui.term.resize(60, 30)
    screen = tui.term.wait_for(lambda s: "END-OF-DIFF-LINE" in s and "q or esc" in s)
    assert all(len(ln.rstrip()) <= 60 for ln in screen.splitlines())
    tui.term.keys("q")
    tui.quit()


def test_hostile_command_output_is_sanitised(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    cmd = r"printf 'safe-a\033]0;PWNED\007\033[2J\033[Hsafe-b\n'"
    tui.mock.add(exec_call(cmd, "c1"), answer("after the output"))
    tui.start()
    send(tui, "go")
    tui.term.wait_for("after the output", whole=True)
    text = tui.term.scrollback()
    assert "safe-asafe-b" in text
    title = tui.term._tmux("display-message", "-p", "-t", "main", "#{pane_title}").stdout
    assert "PWNED" not in title
    tui.quit()


PATCH = "*** Begin Patch\n*** Add File: notes.txt\n+hello patch\n+second line\n*** End Patch\n"


def test_patch_cell_with_diff(tui: Tui) -> None:
    tui.trust()
    tui.mock.add(mm.sse(mm.custom_call("apply_patch", PATCH, "p1")), answer("patched"))
    tui.start()
    send(tui, "write notes")
    tui.term.wait_for("patched", whole=True)
    text = tui.term.scrollback()
    assert "notes.txt" in text and "+2" in text and "+hello patch" in text
    assert (tui.repo / "notes.txt").read_text() == "hello patch\nsecond line\n"
    tui.quit()


def test_a_small_terminal_always_shows_the_selected_approval_option(tui: Tui) -> None:
    """A two-file patch with a long reason at 40x12 (and 100x30): the diff gives way, the
    options never do, so the one Enter would choose is on screen."""
    files = "".join(f"*** Add File: file{i}.txt\n" + "".join(f"+line {j}\n" for j in range(8))
                    for i in range(2))
    patch = f"*** Begin Patch\n{files}*** End Patch\n"
    tui.mock.add(mm.sse(mm.custom_call("apply_patch", patch, "p1")), answer("declined then"))
    tui.start("-a", "untrusted", "-s", "read-only")
    send(tui, "write two files")
    tui.term.wait_for("Apply these edits?")
    for _ in range(4):  # to the last option, whatever their number
        tui.term.keys("Down")
    screen = tui.term.wait_for(lambda s: "› No" in s)
    assert "(esc)" in screen or "(n)" in screen, screen
    tui.term.keys("Escape")
    idle(tui)
    assert not (tui.repo / "file0.txt").exists()
    tui.quit()


def test_scrollback_keeps_every_line_in_order(tui: Tui) -> None:
    tui.trust()
    body = "".join(f"answer-line-{i:03d}\n" for i in range(100))
    body2 = "".join(f"answer-line-{i:03d}\n" for i in range(100, 200))
    tui.mock.add(answer(body, chunk=13), answer(body2, chunk=5))
    tui.start()
    send(tui, "first half")
    tui.term.wait_for("answer-line-099", whole=True)
    idle(tui)
    send(tui, "second half")
    tui.term.wait_for("answer-line-199", whole=True)
    idle(tui)
    text = tui.term.scrollback()
    pos = [text.find(f"answer-line-{i:03d}") for i in range(200)]
    assert -1 not in pos, [i for i, p in enumerate(pos) if p < 0]
    assert pos == sorted(pos)
    assert all(text.count(f"answer-line-{i:03d}") == 1 for i in range(200))
    tui.quit()


# -- approvals -------------------------------------------------------------------------------
def test_the_approval_says_when_the_command_stays_read_only(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.mock.add(exec_call(f"touch {tui.repo / 'x'}", "c1"))  # Esc stops the turn there
    tui.start("-a", "untrusted", "-s", "read-only")
    send(tui, "make x")
    screen = tui.term.wait_for("Run this command?")
    assert "runs in the read-only sandbox: it may read, not write" in screen
    tui.term.keys("Escape")
    idle(tui)
    tui.quit()
    tui.start("-a", "untrusted", "-s", "workspace-write")
    tui.mock.add(exec_call(f"touch {tui.repo / 'y'}", "c2"), answer("made"))
    send(tui, "make y")
    screen = tui.term.wait_for("Run this command?")
    assert "read-only sandbox" not in screen
    tui.term.keys("y")
    tui.term.wait_for("made", whole=True)
    assert (tui.repo / "y").exists()
    tui.quit()


@pytest.mark.parametrize("key, ran, aborted", [("y", True, False), ("n", False, False),
                                               ("Escape", False, True)])
def test_untrusted_approval_options(tui_wide: Tui, key: str, ran: bool, aborted: bool) -> None:
    tui = tui_wide
    marker = tui.repo / "made-by-command"
    tui.mock.add(exec_call(f"touch {marker}", "c1"), answer("after approval"))
    tui.start("-a", "untrusted", "-s", "workspace-write")
    send(tui, "make the file")
    tui.term.wait_for("Run this command?")
    tui.term.keys(key)
    if aborted:
        tui.term.wait_for("stopped the turn", whole=True)
        idle(tui)
        assert len(tui.mock.requests) == 1
    else:
        tui.term.wait_for("after approval", whole=True)
        out = outputs(tui.mock.requests[1])["c1"]
        assert ("declined" in out.lower() or "denied" in out.lower()) != ran
    assert marker.exists() == ran
    text = tui.term.scrollback()
    assert ("✔ approved" in text) == ran
    if key == "n":  # one line says it was declined, not two
        assert text.count(f"touch {marker}") == 1 and "✗ Declined" in text, text
    tui.quit()


def test_untrusted_approve_for_session_is_not_asked_again(tui_wide: Tui) -> None:
    tui = tui_wide
    cmd = f"touch {tui.repo / 'again'}"
    tui.mock.add(exec_call(cmd, "c1"), exec_call(cmd, "c2"), answer("both ran"))
    tui.start("-a", "untrusted", "-s", "workspace-write")
    send(tui, "twice")
    tui.term.wait_for("Run this command?")
    tui.term.keys("a")
    tui.term.wait_for("both ran", whole=True)
    assert tui.term.scrollback().count("Run this command?") <= 1
    assert "c2" in outputs(tui.mock.requests[2])
    tui.quit()


def test_on_request_escalation_shows_the_reason(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(exec_call("echo escalated-run", "c1", sandbox_permissions="require_escalated",
                           justification="needs the network to fetch deps"),
                 answer("escalation done"))
    tui.start()
    send(tui, "fetch")
    screen = tui.term.wait_for("needs the network to fetch deps")
    assert "outside the sandbox" in screen
    tui.term.keys("y")
    tui.term.wait_for("escalation done", whole=True)
    assert "escalated-run" in outputs(tui.mock.requests[1])["c1"]
    tui.quit()


# -- interrupting and quitting ---------------------------------------------------------------
def _pids_running(pattern: str) -> list[str]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return out.split()


def test_esc_interrupts_a_long_command(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(exec_call("sleep 47.25", "c1", yield_time_ms=30000))
    tui.start()
    send(tui, "wait a while")
    tui.term.wait_for("Running sleep 47.25")
    deadline = time.monotonic() + 30
    while not _pids_running("sleep 47.25") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pids_running("sleep 47.25")
    tui.term.keys("Escape")
    tui.term.wait_for("interrupted", whole=True)
    idle(tui)
    deadline = time.monotonic() + 10
    while _pids_running("sleep 47.25") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pids_running("sleep 47.25")
    # The composer takes input again.
    tui.term.type("still here")
    tui.term.wait_for("› still here")
    tui.quit()


def test_ctrl_c_twice_quits_with_the_resume_hint(tui: Tui) -> None:
    tui.trust()
    hold = __import__("threading").Event()
    tui.mock.add(mm.Reply(events=mm.responses_events([])[:1], hold=hold))
    tui.start()
    send(tui, "a long turn")
    tui.term.wait_for("esc to interrupt")
    tui.term.keys("C-c")
    tui.term.keys("C-c")
    text = tui.term.wait_for("To continue this session, run codex resume", whole=True)
    hold.set()
    assert tui.term.wait_for(lambda s: s.rstrip().endswith("$"))
    assert "codex resume " in text


def test_resume_last_replays_the_history(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    one_turn_then_quit(tui, "first question", "the first answer")
    tui.mock.add(answer("second session answer"))
    tui.term.keys("clear", "Enter")
    tui.term._tmux("clear-history", "-t", "main")
    tui.start("resume", "--last")
    screen = tui.term.wait_for("the first answer", whole=True)
    assert "first question" in screen
    send(tui, "next question")
    tui.term.wait_for("second session answer", whole=True)
    assert "first question" in user_texts(tui.mock.requests[1])
    tui.quit()


def test_sigterm_restores_the_terminal(tui: Tui) -> None:
    tui.trust()
    tui.start()
    tui.term.type("half typed")
    pids = tui.codex_pids()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    tui.term.wait_for(lambda s: s.rstrip().endswith("$"))
    tui.term.type("echo rc=$? restored-$((40+2))")
    tui.term.wait_for("echo rc=$? restored-$((40+2))")  # the shell echoes what is typed
    tui.term.keys("Enter")
    screen = tui.term.wait_for("restored-42\n")
    assert "rc=143 restored-42" in screen  # 128 + SIGTERM, as if the signal had ended it


def test_sigterm_during_a_turn_ends_it_quietly(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    marker = f"sleep-{os.getpid()}-{time.monotonic_ns()}"
    tui.mock.add(exec_call(f"sh -c 'sleep 60; echo {marker}'", "c1"), answer("never"))
    tui.start()
    send(tui, "wait a minute")
    tui.term.wait_for("Running")
    for pid in tui.codex_pids():
        os.kill(pid, signal.SIGTERM)
    screen = tui.term.wait_for(lambda s: s.rstrip().endswith("$"))
    assert "Turn interrupted" not in screen  # nobody is left to tell the model anything
    assert "To continue this session, run codex resume" in screen
    tui.term.type("echo rc=$?")
    tui.term.keys("Enter")
    tui.term.wait_for("\nrc=143\n")
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert out.strip() == ""  # the command's process group ended with the session


@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.15, 0.3, 0.6, 0.9, 1.2, 1.5])
def test_sigterm_at_any_moment_of_start_up_restores_the_terminal(tui_wide: Tui,
                                                                  delay_s: float) -> None:
    """A TERM while the header paints, the log file opens or the UI imports (keys typed
    meanwhile) must never leave the early composer drawn or the shell's prompt beside it."""
    tui = tui_wide
    tui.trust()
    tui.start(ready=None)
    tui.term.type("typed early")
    deadline = time.monotonic() + 10
    pids: list[int] = []
    while not pids and time.monotonic() < deadline:
        pids = tui.codex_pids()
    assert pids, "codex never started"
    time.sleep(delay_s)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def shell_prompt_on_its_own_line(screen: str) -> bool:
        # Keys codex had not read yet may stand on the shell's line: only its start counts.
        return screen.rstrip().splitlines()[-1].startswith("SHELL-READY$")

    screen = tui.term.wait_for(shell_prompt_on_its_own_line)
    assert "for shortcuts" not in screen, screen
    tui.term.keys("C-u")
    tui.term.type("echo restored-$((40+2))")
    tui.term.keys("Enter")
    tui.term.wait_for("restored-42\n")


# -- composer ----------------------------------------------------------------------------------
def test_ctrl_z_suspends_and_fg_redraws(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(answer("after resuming"))
    tui.start()
    tui.term.type("half typed")
    tui.term.wait_for("› half typed")
    tui.term.keys("C-z")
    tui.term.wait_for(lambda s: "Stopped" in s or "suspended" in s)  # the shell's job report
    tui.term.run(["stty", "-a"])  # the terminal was handed back in its normal modes
    modes = tui.term.wait_for("icanon")
    assert "-icanon" not in modes and "-echo " not in modes
    tui.term.keys("clear", "Enter")
    tui.term.run(["fg"])
    tui.term.wait_for("› half typed")
    tui.term.keys("Enter")
    tui.term.wait_for("after resuming", whole=True)
    assert user_texts(tui.mock.requests[0])[-1] == "half typed"
    tui.quit()


def test_ctrl_j_makes_a_two_line_message(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(answer("got two lines"))
    tui.start()
    tui.term.type("line one")
    tui.term.keys("C-j")
    tui.term.type("line two")
    tui.term.keys("Enter")
    tui.term.wait_for("got two lines", whole=True)
    assert user_texts(tui.mock.requests[0])[-1] == "line one\nline two"
    tui.quit()


def test_large_paste_is_sent_whole(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(answer("paste received"))
    tui.start()
    pasted = "".join(f"pasted line {i}\n" for i in range(2000))  # ends with a newline
    tui.term.paste(pasted)
    tui.term.wait_for("[Pasted 2,000 lines]")
    tui.term.keys("Enter")
    tui.term.wait_for("paste received", whole=True)
    assert user_texts(tui.mock.requests[0])[-1] == pasted
    # The scrollback shows the message's first lines, not all 2,000 of them.
    text = tui.term.scrollback()
    assert "pasted line 0" in text and "pasted line 1999" not in text
    assert "… +1,988 lines" in text, text
    tui.quit()


def test_at_completes_a_file_name(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    (tui.repo / "src").mkdir()
    (tui.repo / "src" / "widget_factory.py").write_text("")
    (tui.repo / "README.md").write_text("")
    tui.start()
    tui.term.type("look at @widfac")
    tui.term.wait_for("src/widget_factory.py")
    tui.term.keys("Tab")
    tui.term.wait_for("› look at src/widget_factory.py")
    tui.quit()


def test_tab_on_a_custom_prompt_completes_it_for_arguments(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    (tui.home / "prompts").mkdir()
    (tui.home / "prompts" / "fixit.md").write_text("Fix $1 carefully\n")
    tui.mock.add(answer("fixing it"))
    tui.start()
    tui.term.type("/prompts:fi")
    tui.term.wait_for("/prompts:fixit")
    tui.term.keys("Tab")
    tui.term.wait_for(lambda s: "› /prompts:fixit" in s and "Fix $1" not in s)
    assert tui.mock.requests == []  # completed, not sent
    send(tui, "bug.py")
    tui.term.wait_for("fixing it", whole=True)
    assert user_texts(tui.mock.requests[0])[-1] == "Fix bug.py carefully\n"
    tui.quit()


def test_history_up_recalls_the_last_prompt_across_restarts(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    one_turn_then_quit(tui, "remember this prompt", "noted")
    tui.start()
    tui.term.keys("Up")
    tui.term.wait_for("› remember this prompt")
    tui.quit()


# -- slash commands ---------------------------------------------------------------------------
def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                   check=True, capture_output=True)


def test_status_command(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.start()
    send(tui, "/status")
    text = tui.term.wait_for("workspace-write", whole=True)
    assert "mock-model" in text and str(tui.repo) in text and "on-request" in text
    tui.quit()


def test_diff_command_shows_untracked_files_in_the_pager(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    (tui.repo / ".git").rmdir()
    git(tui.repo, "init", "-q")
    (tui.repo / "tracked.txt").write_text("old\n")
    git(tui.repo, "add", ".")
    git(tui.repo, "commit", "-qm", "init")
    (tui.repo / "tracked.txt").write_text("new\n")
    (tui.repo / "brand-new.txt").write_text("fresh\n")
    tui.start()
    send(tui, "/diff")
    screen = tui.term.wait_for("brand-new.txt")
    assert "+new" in screen and "-old" in screen and "+fresh" in screen
    tui.term.keys("q")
    tui.term.wait_for("? for shortcuts")
    tui.quit()


def test_model_command_changes_the_next_request(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(answer("with the new model"))
    tui.start()
    send(tui, "/model")
    tui.term.wait_for("select a model")
    tui.term.type("o3")
    tui.term.keys("Enter")
    tui.term.wait_for("reasoning effort for o3")
    tui.term.keys("Enter")
    tui.term.wait_for("model set to o3", whole=True)
    send(tui, "hi")
    tui.term.wait_for("with the new model", whole=True)
    assert tui.mock.requests[0].body["model"] == "o3"
    tui.quit()


def test_compact_command(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(answer("first"), answer("SUMMARY OF WORK"), answer("after compaction"))
    tui.start()
    send(tui, "do work")
    tui.term.wait_for("first", whole=True)
    idle(tui)
    send(tui, "/compact")
    tui.term.wait_for("Context compacted", whole=True)
    idle(tui)
    send(tui, "continue")
    tui.term.wait_for("after compaction", whole=True)
    last = tui.mock.requests[-1]
    assert any("SUMMARY OF WORK" in t for t in user_texts(last))
    tui.quit()


def test_undo_restores_files_byte_for_byte(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    original = b"line one\r\nline two\n\xe2\x9c\x93 keep\n"
    (tui.repo / "doc.txt").write_bytes(original)
    patch = ("*** Begin Patch\n*** Update File: doc.txt\n@@\n-line two\n+line 2 changed\n"
             "*** Add File: extra.txt\n+created\n*** End Patch\n")
    tui.mock.add(mm.sse(mm.custom_call("apply_patch", patch, "p1")), answer("edited"))
    tui.start()
    send(tui, "edit it")
    tui.term.wait_for("edited", whole=True)
    idle(tui)
    assert (tui.repo / "doc.txt").read_bytes() != original
    send(tui, "/undo")
    text = tui.term.wait_for("Undo: restored", whole=True)
    assert "Undo: restored doc.txt; removed extra.txt · nothing more to undo" in text, text
    assert (tui.repo / "doc.txt").read_bytes() == original
    assert not (tui.repo / "extra.txt").exists()
    send(tui, "/undo")
    tui.term.wait_for("undone already", whole=True)
    tui.quit()


def test_new_command_starts_a_fresh_conversation(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(answer("old answer"), answer("fresh answer"))
    tui.start()
    send(tui, "old question")
    tui.term.wait_for("old answer", whole=True)
    idle(tui)
    send(tui, "/new")
    tui.term.wait_for("new conversation", whole=True)
    send(tui, "new question")
    tui.term.wait_for("fresh answer", whole=True)
    texts = user_texts(tui.mock.requests[1])
    assert "new question" in texts and "old question" not in texts
    tui.quit()


# -- start-up, terminal size -------------------------------------------------------------------
def test_keys_typed_while_the_ui_loads_are_kept(tui: Tui) -> None:
    # Typed straight after the command, without waiting for anything: the early composer
    # (or, if it already took over, the UI) keeps every key, Enter included.
    tui.trust()
    tui.mock.add(answer("got the early message"))
    tui.term.run(tui.argv())
    tui.term.type("typed before the UI was up")
    tui.term.keys("Enter")
    tui.term.wait_for("got the early message", whole=True)
    assert user_texts(tui.mock.requests[0])[-1] == "typed before the UI was up"
    tui.quit()


def test_resize_relays_the_live_area_and_keeps_the_scrollback(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.mock.add(answer("".join(f"first-answer-{i} " + "word " * 14 + "\n" for i in range(6))),
                 answer("narrow " * 20 + "\n"))
    tui.start()
    send(tui, "first question")
    tui.term.wait_for("first-answer-5", whole=True)
    idle(tui)
    tui.term.type("draft text")
    tui.term.resize(50, 20)

    def footers(s: str) -> list[str]:
        return [ln for ln in s.splitlines() if "? for shortcuts" in ln]

    # Until the UI has handled SIGWINCH, tmux shows its reflow of the old 100-column frame:
    # wait for the UI's own frame at 50 columns (a timeout here is the failure).
    screen = tui.term.wait_for(lambda s: "› draft text" in s and len(footers(s)) == 1
                               and len(footers(s)[0]) <= 50)
    assert len(footers(screen)) == 1, screen
    tui.term.keys("C-u")
    send(tui, "second question")
    tui.term.wait_for("narrow narrow", whole=True)
    idle(tui)
    tui.term.resize(100, 30)
    idle(tui)
    text = tui.term.scrollback()
    # Every finished line once, in order; the live area (prompt, footer) only once: nothing
    # of an earlier frame of it was left behind in the scrollback.
    pos = [text.find(f"first-answer-{i}") for i in range(6)]
    assert -1 not in pos and pos == sorted(pos)
    assert text.count("? for shortcuts") == 1, text
    assert text.count("› draft text") == 0 and text.count("› second question") == 1
    rows = tui.term._tmux("capture-pane", "-p", "-S", "-", "-t", "main").stdout.splitlines()
    narrow = [r for r in rows if "narrow" in r]
    assert narrow and all(len(r) <= 50 for r in narrow)  # drawn at the width of the time
    tui.quit()


def test_trust_in_a_git_checkout_records_the_repository_root(tui_wide: Tui) -> None:
    tui = tui_wide
    (tui.repo / ".git").rmdir()
    git(tui.repo, "init", "-q")
    sub = tui.repo / "pkg" / "inner"
    sub.mkdir(parents=True)
    tui.term.run(["cd", str(sub)])
    tui.start(ready="Do you trust")
    assert str(tui.repo.resolve()) in tui.term.screen()
    tui.term.keys("1")
    tui.term.wait_for("? for shortcuts")
    data = tomllib.loads((tui.home / "config.toml").read_text())
    assert list(data["projects"]) == [str(tui.repo.resolve())]
    tui.quit()
    # Another folder of the same checkout is trusted already.
    tui.term.run(["cd", str(tui.repo / "pkg")])
    tui.start()
    assert "Do you trust" not in tui.term.scrollback()
    tui.quit()


def test_keys_typed_before_the_trust_question_are_the_first_message(tui_wide: Tui) -> None:
    """Typed while codex starts in a new folder: "fix issue 1 now" holds a 1, which must not
    answer the question drawn after it; the text waits in the composer instead."""
    tui = tui_wide
    tui.mock.add(answer("on it"))
    tui.start(ready=None)
    tui.term.type("fix issue 1 now")
    tui.term.wait_for("Do you trust")
    time.sleep(0.3)  # a question answered by the typed "1" would be gone by now
    assert "Do you trust" in tui.term.screen()
    assert not (tui.home / "config.toml").exists()
    tui.term.keys("2")
    tui.term.wait_for("› fix issue 1 now")
    tui.term.keys("Enter")
    tui.term.wait_for("on it", whole=True)
    assert user_texts(tui.mock.requests[0])[-1] == "fix issue 1 now"
    data = tomllib.loads((tui.home / "config.toml").read_text())
    assert data["projects"][str(tui.repo.resolve())]["trust_level"] == "untrusted"
    tui.quit()


def test_resume_last_with_nothing_to_resume_fails_before_asking_anything(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.start("resume", "--last", ready="no recorded session")
    screen = tui.term.wait_for(lambda s: s.rstrip().endswith("$"))
    assert "Do you trust" not in screen
    assert not (tui.home / "config.toml").exists()  # no trust recorded for a failed start


def test_sigterm_during_the_trust_question_restores_the_terminal(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.start(ready="Do you trust")
    for pid in tui.codex_pids():
        os.kill(pid, signal.SIGTERM)
    screen = tui.term.wait_for(lambda s: s.rstrip().endswith("$"))
    assert "press 1 or 2" not in screen  # the question is erased, not left under the prompt
    tui.term.type("echo rc=$?")
    tui.term.keys("Enter")
    tui.term.wait_for("\nrc=143\n")
    assert not (tui.home / "config.toml").exists()  # no answer, nothing recorded


def test_the_project_config_applies_once_the_folder_is_trusted(tui_wide: Tui) -> None:
    """A repository's own .codex/config.toml is ignored until the user answers "trust": then
    it applies at once, in the session that asked (spec mcp.md "Config")."""
    tui = tui_wide
    (tui.repo / ".codex").mkdir()
    (tui.repo / ".codex" / "config.toml").write_text('model_reasoning_effort = "high"\n')
    tui.start(ready="Do you trust")
    tui.term.keys("1")
    tui.term.wait_for("? for shortcuts · mock-model high")
    tui.quit()


def test_resume_last_is_scoped_to_the_folder(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    one_turn_then_quit(tui, "asked in the repo", "answer in the repo")
    other = tui.repo.parent / "elsewhere"
    other.mkdir()
    tui.term.run(["cd", str(other)])
    tui.start("resume", "--last", "-s", "read-only", ready="to resume")
    assert "--all" in tui.term.screen()
    tui.start("resume", "--last", "--all", "-s", "read-only")
    tui.term.wait_for("asked in the repo", whole=True)
    tui.quit()
