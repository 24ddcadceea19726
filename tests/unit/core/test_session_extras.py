"""The login-shell snapshot, notify, Undo, Rollback and the user's own shell commands."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from codex.core import protocol as P
from codex.core.history import USER_SHELL_PREFIX
from codex.core.rollout import read_rollout
from tests.support import scripted_model as sm
from tests.support.session_harness import (
    SessionHarness,
    names,
    of,
    rollout_lines,
    shutdown,
    until,
    user_turn,
)
from tests.support.unified_exec import wait_pids_gone

pytestmark = pytest.mark.asyncio


@pytest.fixture
def profile_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose login profile exports a variable, defines a function and counts its runs."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bash_profile").write_text(
        'echo run >> "$HOME/profile-runs"\n'
        'echo "profile chatter on stdout"\n'
        "export FROM_PROFILE=one\n"
        "greet() { echo \"hello $1\"; }\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/bash")
    return home


def _runs(home: Path) -> int:
    f = home / "profile-runs"
    return len(f.read_text().splitlines()) if f.exists() else 0


async def _run(s, harness: SessionHarness, cmd: str, n: int) -> str:
    harness.model.add(sm.calls((f"c{n}", "exec_command", {"cmd": cmd})), sm.text("ok"))
    s.submit(user_turn(f"run {n}"))
    await until(s, P.TurnComplete)
    return harness.model.outputs(len(harness.model.requests) - 1)[f"c{n}"]


async def test_login_shell_is_snapshotted_once_and_rebuilt_on_change(
        harness: SessionHarness, profile_home: Path) -> None:
    s = await harness.start()
    out1 = await _run(s, harness, 'echo "v=$FROM_PROFILE"; greet world; echo "pwd=$PWD"', 1)
    assert "v=one\nhello world\n" in out1 and f"pwd={harness.cwd}\n" in out1
    assert "profile chatter" not in out1
    out2 = await _run(s, harness, 'echo "v=$FROM_PROFILE"', 2)
    assert out2.endswith("v=one\n")
    assert _runs(profile_home) == 1  # the profile ran once for two commands
    snaps = list((harness.home / "shell_snapshots").iterdir())
    assert len(snaps) == 1 and stat.S_IMODE(snaps[0].stat().st_mode) == 0o600
    profile = profile_home / ".bash_profile"
    profile.write_text(profile.read_text().replace("=one", "=two"))
    os.utime(profile, ns=(profile.stat().st_atime_ns, profile.stat().st_mtime_ns + 10**9))
    out3 = await _run(s, harness, 'echo "v=$FROM_PROFILE"', 3)
    assert out3.endswith("v=two\n") and _runs(profile_home) == 2
    await shutdown(s)
    assert list((harness.home / "shell_snapshots").iterdir()) == []  # deleted at shutdown


async def test_a_shell_that_cannot_be_snapshotted_falls_back_with_one_warning(
        harness: SessionHarness, profile_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    odd = profile_home / "mysh"
    odd.symlink_to("/bin/bash")  # bash under a name we do not know
    monkeypatch.setenv("SHELL", str(odd))
    s = await harness.start()
    harness.model.add(sm.calls(("c1", "exec_command", {"cmd": "echo $FROM_PROFILE"})),
                      sm.calls(("c2", "exec_command", {"cmd": "echo $FROM_PROFILE"})),
                      sm.text("ok"))
    s.submit(user_turn("go"))
    evs = await until(s, P.TurnComplete)
    warnings = of(evs, P.Warning)
    assert len(warnings) == 1 and "-lc" in warnings[0].message
    assert harness.model.outputs(2)["c2"].endswith("one\n")  # -lc still reads the profile
    assert _runs(profile_home) == 2


async def test_an_unwritable_snapshot_dir_falls_back_to_lc(
        harness: SessionHarness, profile_home: Path) -> None:
    (harness.home / "shell_snapshots").write_text("")  # a file where the directory goes
    s = await harness.start()
    harness.model.add(sm.calls(("c1", "exec_command", {"cmd": "echo $FROM_PROFILE"})),
                      sm.text("ok"))
    s.submit(user_turn("go"))
    evs = await until(s, P.TurnComplete)
    assert len(of(evs, P.Warning)) == 1
    assert harness.model.outputs(1)["c1"].endswith("one\n")


async def test_notify_runs_after_each_turn(harness: SessionHarness, tmp_path: Path) -> None:
    out = tmp_path / "notified.json"
    script = tmp_path / "notify.py"
    script.write_text("import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])")
    harness.model.add(sm.text("the answer"))
    s = await harness.start(overrides=[f'notify=["{sys.executable}", "{script}", "{out}"]'])
    s.submit(user_turn("the question"))
    evs = await until(s, P.TurnComplete)
    for _ in range(1000):
        if out.exists() and out.read_text():
            break
        await asyncio.sleep(0.01)  # waiting for the notifier process to write its file
    data = json.loads(out.read_text())
    assert data == {"type": "agent-turn-complete", "thread-id": s.session_id,
                    "turn-id": of(evs, P.TurnStarted)[0].turn_id, "cwd": str(harness.cwd),
                    "input-messages": ["the question"],
                    "last-assistant-message": "the answer"}


async def test_a_failing_notify_is_not_fatal(harness: SessionHarness) -> None:
    harness.model.add(sm.text("a"), sm.text("b"))
    s = await harness.start(overrides=['notify=["/nonexistent/notifier"]'])
    for q in ("one", "two"):
        s.submit(user_turn(q))
        evs = await until(s, P.TurnComplete)
        assert not evs[-1].failed and of(evs, P.Error) == []


async def test_undo_restores_what_the_last_turn_patched(harness: SessionHarness) -> None:
    edited = harness.cwd / "edited.txt"
    edited.write_text("one\n")
    edited.chmod(0o751)
    gone = harness.cwd / "gone.txt"
    gone.write_bytes(b"bytes\x00\xff")
    patch = ("*** Begin Patch\n*** Update File: edited.txt\n-one\n+two\n"
             "*** Add File: new/added.txt\n+fresh\n*** Delete File: gone.txt\n*** End Patch")
    second = "*** Begin Patch\n*** Update File: edited.txt\n-two\n+three\n*** End Patch"
    harness.model.add(sm.patch_call("p1", patch), sm.text("done"),
                      sm.patch_call("p2", second), sm.text("again"))
    s = await harness.start()
    s.submit(user_turn("change things"))
    await until(s, P.TurnComplete)
    s.submit(user_turn("change more"))
    await until(s, P.TurnComplete)
    assert edited.read_text() == "three\n"
    s.submit(P.Undo())
    (done,) = await until(s, P.UndoComplete)
    assert done.success and done.restored == (str(edited),) and done.turn_id is None
    assert edited.read_text() == "two\n"
    s.submit(P.Undo())
    (done,) = await until(s, P.UndoComplete)
    assert done.success and set(done.restored) == {
        str(edited), str(harness.cwd / "new/added.txt"), str(gone)}
    assert edited.read_text() == "one\n" and stat.S_IMODE(edited.stat().st_mode) == 0o751
    assert gone.read_bytes() == b"bytes\x00\xff"
    assert not (harness.cwd / "new/added.txt").exists()
    s.submit(P.Undo())
    (done,) = await until(s, P.UndoComplete)
    assert not done.success and "nothing to undo" in done.message


async def test_rollback_drops_user_turns_and_resume_agrees(harness: SessionHarness) -> None:
    harness.model.add(sm.text("a1"), sm.calls(("c1", "update_plan", {"plan": []})),
                      sm.text("a2"), sm.text("a3"), sm.text("a4"))
    s = await harness.start()
    for q in ("q1", "q2", "q3"):
        s.submit(user_turn(q))
        await until(s, P.TurnComplete)
    s.submit(P.Rollback(2))
    evs = await until(s, P.RolledBack)
    assert evs[-1].user_turns == 2
    texts = [it["content"][0]["text"] for it in evs[-1].history
             if it.get("role") == "user"]
    assert texts[-1] == "q1" and "q2" not in texts
    assert not any(it.get("type") == "function_call" for it in evs[-1].history)
    s.submit(user_turn("q4"))
    await until(s, P.TurnComplete)
    own = [t for t in harness.model.user_texts(4) if not t.startswith(("<", "#"))]
    assert own == ["q1", "q4"]
    sent = harness.model.requests[4].input
    path = s.rollout_path
    await shutdown(s)
    assert any(x["type"] == "event_msg" and x["payload"] == {"type": "rollback",
                                                             "user_turns": 2}
               for x in rollout_lines(path))
    rec = read_rollout(path)  # resume sees the history the model saw after the rollback
    assert rec.items[:len(sent)] == sent
    assert rec.items[len(sent)]["content"][0]["text"] == "a4"


async def test_user_shell_command_runs_in_the_sandbox_and_is_noted_for_the_model(
        harness: SessionHarness) -> None:
    harness.model.add(sm.text("seen it"))
    s = await harness.start(sandbox="read-only")
    s.submit(P.RunUserShellCommand("echo shell-says-hi; touch nope.txt; exit 3"))
    evs = await until(s, P.TurnComplete)
    assert names(evs)[:2] == ["SessionConfigured", "TurnStarted"] and not evs[-1].failed
    begin, end = of(evs, P.ExecBegin)[0], of(evs, P.ExecEnd)[0]
    assert begin.source is P.ExecSource.USER_SHELL and begin.sandboxed
    assert end.exit_code == 3 and end.status is P.ExecStatus.FAILED
    assert "shell-says-hi" in end.aggregated_output
    assert b"shell-says-hi" in b"".join(e.chunk for e in of(evs, P.ExecOutputDelta))
    assert not (harness.cwd / "nope.txt").exists()  # the sandbox applied
    s.submit(user_turn("what happened?"))
    await until(s, P.TurnComplete)
    notes = [t for t in harness.model.user_texts(0) if t.startswith(USER_SHELL_PREFIX)]
    assert len(notes) == 1 and "Exit code: 3" in notes[0] and "shell-says-hi" in notes[0]
    assert "<command>\necho shell-says-hi; touch nope.txt; exit 3\n</command>" in notes[0]


async def test_interrupting_a_user_shell_command_kills_it(harness: SessionHarness) -> None:
    pidfile = harness.cwd / "pid"
    s = await harness.start()
    s.submit(P.RunUserShellCommand(f"echo $$ > {pidfile}; exec sleep 60"))
    await until(s, P.ExecBegin)
    while not (pidfile.exists() and pidfile.read_text().strip()):
        await asyncio.sleep(0.01)  # waiting for the command's own pid file
    s.submit(P.Interrupt())
    evs = await until(s, P.TurnAborted)
    assert of(evs, P.ExecEnd)[0].status is P.ExecStatus.ABORTED
    assert wait_pids_gone([int(pidfile.read_text())]) == []
