"""Approvals (spec session.md): each policy x each decision, what the model reads next,
approved-for-session memory (also after resume), patches with diffs, interrupt while asking."""

from __future__ import annotations

import pytest

from codex.core import protocol as P
from codex.core.safety import is_known_safe
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

D = P.ReviewDecision
CMD = "touch made.txt"

# policy -> (sandbox mode, exec_command arguments) that make that policy ask about CMD.
TRIGGERS = {
    "untrusted": ("danger-full-access", {"cmd": CMD}),
    "on-request": ("read-only", {"cmd": CMD, "sandbox_permissions": "require_escalated",
                                 "justification": "I need to create made.txt"}),
    "on-failure": ("read-only", {"cmd": CMD}),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("decision", list(D))
@pytest.mark.parametrize("policy", list(TRIGGERS))
async def test_policy_by_decision(harness: SessionHarness, policy: str,
                                  decision: P.ReviewDecision) -> None:
    sandbox, args = TRIGGERS[policy]
    harness.model.add(sm.calls(("c1", "exec_command", args)), sm.text("after"))
    s = await harness.start(approval=policy, sandbox=sandbox)
    s.submit(user_turn("make the file"))
    evs = await until(s, P.ExecApprovalRequest)
    req = evs[-1]
    assert req.call_id == "c1" and req.command == CMD and req.cwd == str(harness.cwd)
    assert set(req.available_decisions) == set(D)
    assert req.escalated is (policy != "untrusted")
    if policy == "on-request":
        assert req.reason == "I need to create made.txt"
    if policy == "on-failure":
        # The sandboxed attempt ran first and failed.
        first_end = of(evs, P.ExecEnd)[0]
        assert first_end.status is P.ExecStatus.FAILED
        assert "sandbox" in (req.reason or "")
    else:
        assert of(evs, P.ExecBegin) == []  # nothing ran before the answer
    s.submit(P.ExecApproval("c1", decision))
    evs = await until(s, (P.TurnComplete, P.TurnAborted))
    made = (harness.cwd / "made.txt").exists()
    if decision is D.ABORT:
        assert isinstance(evs[-1], P.TurnAborted)
        assert len(harness.model.requests) == 1 and not made
        lines = rollout_lines(s.rollout_path)
        outs = [x["payload"] for x in lines if x["type"] == "response_item"
                and x["payload"].get("type") == "function_call_output"]
        assert outs[-1]["output"].startswith("aborted")
        return
    assert isinstance(evs[-1], P.TurnComplete) and not evs[-1].failed
    out = harness.model.outputs(1)["c1"]
    if decision is D.DENIED:
        assert not made
        if policy == "on-failure":
            assert "declined to run it outside the sandbox" in out
        else:
            assert out.startswith("exec_command declined: the user did not allow")
            assert of(evs, P.ExecEnd)[-1].status is P.ExecStatus.DECLINED
        return
    assert made and "Process exited with code 0" in out
    end = of(evs, P.ExecEnd)[-1]
    assert end.status is P.ExecStatus.COMPLETED
    assert of(evs, P.ExecBegin)[-1].sandboxed is False  # escalated, retried, or no sandbox


@pytest.mark.asyncio
@pytest.mark.parametrize("policy", list(TRIGGERS))
async def test_never_does_not_ask(harness: SessionHarness, policy: str) -> None:
    sandbox, args = TRIGGERS[policy]
    harness.model.add(sm.calls(("c1", "exec_command", args)), sm.text("after"))
    s = await harness.start(approval="never", sandbox=sandbox)
    s.submit(user_turn("make the file"))
    evs = await until(s, P.TurnComplete)
    assert of(evs, P.ExecApprovalRequest) == []
    out = harness.model.outputs(1)["c1"]
    if policy == "untrusted":  # a plain command just runs
        assert (harness.cwd / "made.txt").exists()
    elif policy == "on-request":  # an escalation is declined
        assert out.startswith("command declined:") and "`never`" in out
        assert not (harness.cwd / "made.txt").exists()
    else:  # the sandbox's refusal is what the model reads
        assert "sandbox denied" in out and not (harness.cwd / "made.txt").exists()


@pytest.mark.asyncio
async def test_escalation_outside_on_request_is_refused_with_the_reason(
        harness: SessionHarness) -> None:
    harness.model.add(sm.calls(("c1", "exec_command", TRIGGERS["on-request"][1])),
                      sm.text("ok"))
    s = await harness.start(approval="untrusted", sandbox="read-only")
    s.submit(user_turn("go"))
    evs = await until(s, P.TurnComplete)
    assert of(evs, P.ExecApprovalRequest) == []
    assert "only be asked for under approval policy `on-request`" in \
        harness.model.outputs(1)["c1"]


@pytest.mark.asyncio
async def test_known_safe_commands_run_without_asking_under_untrusted(
        harness: SessionHarness) -> None:
    harness.model.add(sm.calls(("c1", "exec_command", {"cmd": "ls -a | wc -l"})),
                      sm.text("ok"))
    s = await harness.start(approval="untrusted")
    s.submit(user_turn("look"))
    evs = await until(s, P.TurnComplete)
    assert of(evs, P.ExecApprovalRequest) == []
    assert of(evs, P.ExecEnd)[0].status is P.ExecStatus.COMPLETED


@pytest.mark.asyncio
async def test_approved_for_session_is_not_asked_twice_and_survives_resume(
        harness: SessionHarness) -> None:
    again = sm.calls(("c2", "exec_command", {"cmd": CMD}))
    harness.model.add(sm.calls(("c1", "exec_command", {"cmd": CMD})), sm.text("one"),
                      again, sm.text("two"))
    s = await harness.start(approval="untrusted")
    s.submit(user_turn("first"))
    await until(s, P.ExecApprovalRequest)
    s.submit(P.ExecApproval("c1", D.APPROVED_FOR_SESSION))
    await until(s, P.TurnComplete)
    s.submit(user_turn("second"))
    evs = await until(s, P.TurnComplete)
    assert of(evs, P.ExecApprovalRequest) == []
    assert "Process exited with code 0" in harness.model.outputs(3)["c2"]
    path = s.rollout_path
    await shutdown(s)
    assert any(x["type"] == "event_msg" and x["payload"]["type"] == "approved_for_session"
               for x in rollout_lines(path))

    resumed_model = sm.ScriptedModel(sm.calls(("c3", "exec_command", {"cmd": CMD})),
                                     sm.text("three"),
                                     sm.calls(("c4", "exec_command", {"cmd": "touch other"})),
                                     sm.text("four"))
    r = await harness.start(approval="untrusted", resume_path=path, model=resumed_model)
    first = await r.next_event()
    assert first.session_id == s.session_id
    r.submit(user_turn("third"))
    evs = await until(r, P.TurnComplete)
    assert of(evs, P.ExecApprovalRequest) == []  # remembered from the rollout
    r.submit(user_turn("fourth"))
    evs = await until(r, P.ExecApprovalRequest)  # another command is still asked about
    assert evs[-1].command == "touch other"
    r.submit(P.ExecApproval("c4", D.APPROVED))
    await until(r, P.TurnComplete)


@pytest.mark.asyncio
async def test_interrupt_cancels_a_pending_approval(harness: SessionHarness) -> None:
    harness.model.add(sm.calls(("c1", "exec_command", {"cmd": CMD})))
    s = await harness.start(approval="untrusted")
    s.submit(user_turn("go"))
    await until(s, P.ExecApprovalRequest)
    assert s.approvals.pending == ["c1"]
    s.submit(P.Interrupt())
    evs = await until(s, P.TurnAborted)
    assert names(evs) == ["TurnAborted"]
    assert s.approvals.pending == []
    assert not (harness.cwd / "made.txt").exists()
    outs = [x["payload"] for x in rollout_lines(s.rollout_path)
            if x["type"] == "response_item" and x["payload"].get("type") ==
            "function_call_output"]
    assert outs[-1]["call_id"] == "c1" and outs[-1]["output"].startswith("aborted")
    # A late answer to the cancelled request is only a warning.
    s.submit(P.ExecApproval("c1", D.APPROVED))
    evs = await until(s, P.Warning)
    assert "c1" in evs[-1].message


PATCH = "*** Begin Patch\n*** Update File: a.txt\n-old line\n+new line\n*** End Patch"


@pytest.mark.asyncio
@pytest.mark.parametrize("decision", list(D))
async def test_patch_approval_carries_a_diff_and_each_decision_applies(
        harness: SessionHarness, decision: P.ReviewDecision) -> None:
    target = harness.cwd / "a.txt"
    target.write_text("keep\nold line\n")
    harness.model.add(sm.patch_call("p1", PATCH), sm.text("done"))
    s = await harness.start(approval="untrusted", sandbox="workspace-write")
    s.submit(user_turn("edit"))
    evs = await until(s, P.PatchApprovalRequest)
    req = evs[-1]
    (change,) = req.changes
    assert change.path == str(target) and change.kind == "update"
    assert "-old line\n" in change.diff and "+new line\n" in change.diff
    assert change.diff.startswith(f"--- {target}\n+++ {target}\n")
    s.submit(P.PatchApproval("p1", decision))
    evs = await until(s, (P.TurnComplete, P.TurnAborted))
    if decision is D.ABORT:
        assert isinstance(evs[-1], P.TurnAborted) and target.read_text() == "keep\nold line\n"
        return
    out = harness.model.outputs(1)["p1"]
    if decision is D.DENIED:
        assert out.startswith("apply_patch declined: the user did not approve")
        assert target.read_text() == "keep\nold line\n"
        assert of(evs, P.PatchBegin) == [] and not of(evs, P.PatchEnd)[0].success
        return
    assert out.startswith("Success.") and target.read_text() == "keep\nnew line\n"
    begin = of(evs, P.PatchBegin)[0]
    assert begin.auto_approved is False and of(evs, P.PatchEnd)[0].success


@pytest.mark.asyncio
async def test_patch_outside_the_writable_roots_asks_under_on_request(
        harness: SessionHarness, tmp_path) -> None:
    outside = harness.cwd.parent / "elsewhere.txt"
    patch = "*** Begin Patch\n*** Add File: ../elsewhere.txt\n+hi\n*** End Patch"
    inside = "*** Begin Patch\n*** Add File: in.txt\n+hi\n*** End Patch"
    harness.model.add(sm.patch_call("p0", inside), sm.patch_call("p1", patch), sm.text("ok"))
    s = await harness.start(approval="on-request", sandbox="workspace-write",
                            overrides=["sandbox_workspace_write.exclude_slash_tmp=true",
                                       "sandbox_workspace_write.exclude_tmpdir_env_var=true"])
    s.submit(user_turn("write"))
    evs = await until(s, P.PatchApprovalRequest)
    assert of(evs, P.PatchBegin)[0].auto_approved  # inside the roots: no question
    req = evs[-1]
    assert req.call_id == "p1" and str(outside) in (req.reason or "")
    s.submit(P.PatchApproval("p1", D.APPROVED_FOR_SESSION))
    await until(s, P.TurnComplete)
    assert outside.read_text() == "hi\n"


@pytest.mark.parametrize("command,safe", [
    ("ls -la", True), ("cat a | wc -l", True), ("git status && git diff", True),
    ("grep -rn foo .", True), ("find . -name '*.py'", True), ("sed -n 1,5p f", True),
    ("echo 'a > b'", True), ("rg foo", True), ("sort x", True),
    ("echo hi > x", False), ("ls $(pwd)", False), ("ls `pwd`", False),
    ("find . -delete", False), ("find . -exec rm {} +", False), ("sed -i s/a/b/ f", False),
    ("rm -rf x", False), ("ls; rm x", False), ("FOO=1 ls", False), ("rg --pre x y", False),
    ("sort -o f x", False), ("(ls)", False), ("ls &", False), ("git -c a=b status", False),
    ("git diff --output=f", False), ("git push", False), ("ls 2>&1", False),
    ("cat <f", False), ("ls\nrm x", False), ("/bin/ls", False), ("", False),
    ("bash -c ls", False), ("ls |", False),
])
def test_known_safe_commands(command: str, safe: bool) -> None:
    assert is_known_safe(command) is safe
