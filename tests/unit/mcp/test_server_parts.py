"""`codex mcp-server` pieces without a session: answers to elicitations, progress lines."""

from __future__ import annotations

import pytest

from codex.core import protocol as P
from codex.mcp.server import TOOLS, _ElicitAnswer, decision_of, progress_text


@pytest.mark.parametrize(("answer", "decision"), [
    ({"action": "accept", "content": {"decision": "approved"}}, P.ReviewDecision.APPROVED),
    ({"action": "accept", "content": {"decision": "approved_for_session"}},
     P.ReviewDecision.APPROVED_FOR_SESSION),
    ({"action": "accept", "content": {"decision": "abort"}}, P.ReviewDecision.ABORT),
    ({"action": "accept", "content": {"decision": "maybe"}}, P.ReviewDecision.DENIED),
    ({"action": "accept", "content": {}}, P.ReviewDecision.DENIED),
    ({"action": "decline"}, P.ReviewDecision.DENIED),
    ({"action": "cancel"}, P.ReviewDecision.DENIED),
    ({"decision": "approved"}, P.ReviewDecision.APPROVED),  # Codex's own clients
])
def test_elicitation_answers(answer: dict, decision: P.ReviewDecision) -> None:
    assert decision_of(_ElicitAnswer.model_validate(answer)) is decision


def test_progress_lines() -> None:
    assert progress_text(P.ExecBegin("c1", "ls -la", "/w", True)) == "exec: ls -la"
    end = P.ExecEnd("c1", "ls", 0, 0.1, "", P.ExecStatus.COMPLETED)
    assert progress_text(end) == "exec ls: completed (0)"
    assert progress_text(P.AgentMessage("All done")) == "codex: All done"
    assert progress_text(P.McpCallBegin("c2", "time", "now", {})) == "mcp: time.now"
    assert progress_text(P.AgentMessageDelta("x")) is None


def test_tool_schemas() -> None:
    codex, reply = TOOLS
    assert codex.name == "codex" and reply.name == "codex-reply"
    assert codex.inputSchema["required"] == ["prompt"]
    assert set(codex.inputSchema["properties"]) == {
        "prompt", "model", "profile", "cwd", "approval-policy", "sandbox", "config",
        "base-instructions", "developer-instructions"}
    assert set(reply.inputSchema["properties"]) == {"threadId", "conversationId", "prompt"}
    assert codex.outputSchema["required"] == ["threadId", "content"]
