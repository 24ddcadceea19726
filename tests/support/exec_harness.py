"""Run the real `codex exec` against a MockModel, on either wire (Responses or Chat)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import codex_cmd
from tests.support import mock_model as mm

API_KEY = "sk-test-key"
WIRES = ["responses", "chat"]


@dataclass
class Harness:
    mock: mm.MockModel
    wire: str
    cwd: Path
    home: Path
    model: str | None = "mock-model"

    # -- scripting on either wire --------------------------------------------------------
    def answer(self, text: str) -> mm.Reply:
        return mm.sse(mm.message_item(text)) if self.wire == "responses" else mm.chat_text(text)

    def calls(self, *calls: tuple[str, str, Any]) -> mm.Reply:
        """Function calls (call_id, name, arguments dict or raw JSON text) in one response."""
        if self.wire == "responses":
            return mm.sse(*(mm.function_call(n, a, c) for c, n, a in calls))
        return mm.chat_calls(*calls)

    def patch_call(self, call_id: str, patch: str) -> mm.Reply:
        if self.wire == "responses":
            return mm.sse(mm.custom_call("apply_patch", patch, call_id))
        return mm.chat_calls((call_id, "apply_patch", {"input": patch}))

    # -- reading requests ---------------------------------------------------------------------
    def outputs(self, request_index: int) -> dict[str, str]:
        """call_id -> output text, as sent in request number `request_index`."""
        body = self.mock.requests[request_index].body
        out: dict[str, str] = {}
        if self.wire == "responses":
            for it in body["input"]:
                if it.get("type") in ("function_call_output", "custom_tool_call_output"):
                    out[it["call_id"]] = it["output"]
        else:
            for m in body["messages"]:
                if m.get("role") == "tool":
                    out[m["tool_call_id"]] = m["content"]
        return out

    def output_order(self, request_index: int) -> list[str]:
        return list(self.outputs(request_index))

    def user_texts(self, request_index: int) -> list[str]:
        body = self.mock.requests[request_index].body
        if self.wire == "responses":
            return ["".join(p.get("text", "") for p in it["content"])
                    for it in body["input"]
                    if it.get("type") == "message" and it.get("role") == "user"]
        return [m["content"] if isinstance(m["content"], str) else
                "".join(p.get("text", "") for p in m["content"])
                for m in body["messages"] if m["role"] == "user"]

    # -- running -------------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        for k in ("OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL"):
            env.pop(k, None)
        env.update({"CODEX_HOME": str(self.home), "OPENAI_API_KEY": API_KEY,
                    "CODEX_RETRY_BASE_MS": "1"})
        if self.wire == "responses":
            env["OPENAI_BASE_URL"] = self.mock.url
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        cfg: list[str] = ["-c", f"model={self.model}"] if self.model else []
        if self.wire == "chat":
            cfg += ["-c", "model_provider=mock",
                    "-c", f'model_providers.mock.base_url="{self.mock.url}"',
                    "-c", 'model_providers.mock.wire_api="chat"',
                    "-c", 'model_providers.mock.name="Mock"',
                    "-c", 'model_providers.mock.env_key="OPENAI_API_KEY"']
        return [*codex_cmd(), "exec", *cfg, *args]

    def run(self, *args: str, input: str | None = None, timeout: float = 90,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), cwd=self.cwd, env=env or self.env(),
                              capture_output=True, text=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), cwd=self.cwd, env=self.env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


def json_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / ".git").mkdir()  # enough for the git-repo check; no git binary needed
    return path


def harness_for(tmp_path: Path, wire: str) -> Iterator[Harness]:
    """Body of the `h` fixtures: a mock model, a repo to work in, an isolated CODEX_HOME."""
    home = tmp_path / "codex-home"
    home.mkdir()
    with mm.MockModel() as m:
        yield Harness(m, wire, make_repo(tmp_path / "repo"), home)

