"""Rollouts, policy, AGENTS.md discovery, auth storage, start-up imports."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from codex.core.auth import AuthError, read_stored_key, resolve_api_key, write_stored_key
from codex.core.context import agents_instructions, environment_context
from codex.core.policy import Policy
from codex.core.rollout import (
    RolloutWriter,
    close_dangling_calls,
    find_rollout,
    new_session_id,
    read_rollout,
)


def test_rollout_roundtrip_and_torn_line(tmp_path: Path) -> None:
    sid = new_session_id()
    w = RolloutWriter.create(tmp_path, sid, {"cwd": "/x"})
    w.item({"type": "message", "role": "user", "content": []})
    w.item({"type": "function_call", "name": "f", "arguments": "{}", "call_id": "c"})
    w.close()
    path = find_rollout(tmp_path, None)
    assert path.parent.parent.parent.parent == tmp_path / "sessions"
    with path.open("a") as f:
        f.write('{"type": "response_item", "payl')  # torn by a crash
    s = read_rollout(path)
    assert s.id == sid
    # the dangling call gets an output so the history is valid for the API
    assert [i["type"] for i in s.items] == ["message", "function_call", "function_call_output"]
    w = RolloutWriter(path)
    w.item({"type": "message", "role": "user", "content": [{"type": "input_text",
                                                            "text": "more"}]})
    w.close()
    assert read_rollout(path).items[-1]["content"][0]["text"] == "more"
    assert find_rollout(tmp_path, sid) == path


def test_close_dangling_calls_keeps_answered_ones() -> None:
    items = [{"type": "custom_tool_call", "call_id": "a"},
             {"type": "custom_tool_call_output", "call_id": "a", "output": "ok"}]
    assert close_dangling_calls(items) == items


def test_session_ids_are_unique_and_time_ordered() -> None:
    ids = [new_session_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert ids[0][:8] <= ids[-1][:8]


def test_policy_writes(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    ww = Policy("never", "workspace-write", exclude_slash_tmp=True,
                exclude_tmpdir_env_var=True)
    assert ww.may_write(tmp_path / "a" / "b.txt", tmp_path)
    assert not ww.may_write(tmp_path / ".git" / "config", tmp_path)
    assert not ww.may_write(tmp_path.parent / "x", tmp_path)
    assert not Policy("never", "read-only").may_write(tmp_path / "a", tmp_path)
    assert Policy("never", "danger-full-access").may_write(Path("/etc/x"), tmp_path)
    wire = Policy("never", "workspace-write", extra_roots=("sub",)).to_wire(tmp_path)
    assert wire["type"] == "workspace-write"
    assert wire["writable_roots"] == [str(tmp_path / "sub")]


def test_environment_context_shows_policy(tmp_path: Path) -> None:
    text = environment_context(tmp_path, Policy("never", "workspace-write",
                                                network_access=True))
    assert "<approval_policy>never</approval_policy>" in text
    assert "<network_access>enabled</network_access>" in text
    assert f"<root>{tmp_path}</root>" in text
    assert "<current_date>" in text and "<timezone>" in text


def test_agents_md_chain_and_cap(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("root")
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    (repo / "a" / "AGENTS.md").write_text("middle")
    (deep / "AGENTS.md").write_text("deep")
    (tmp_path / "AGENTS.md").write_text("outside the repo")
    text = agents_instructions(home, deep, 1000)
    assert text is not None
    body = text.split("<INSTRUCTIONS>")[1]
    assert body.index("root") < body.index("middle") < body.index("deep")
    assert "outside the repo" not in text
    assert "deep" not in (agents_instructions(home, deep, 9) or "")
    assert agents_instructions(home, deep, 0) is None


def test_auth_file_mode_and_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("CODEX_API_KEY", raising=False)
    openai = {"id": "openai", "env_key": "OPENAI_API_KEY"}
    with pytest.raises(AuthError):
        resolve_api_key(openai, tmp_path, exec_mode=True)
    path = write_stored_key(tmp_path, "sk-file")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["OPENAI_API_KEY"] == "sk-file"
    assert read_stored_key(tmp_path) == "sk-file"
    assert resolve_api_key(openai, tmp_path, exec_mode=True) == "sk-file"
    monkeypatch.setenv("CODEX_API_KEY", "sk-codex")
    assert resolve_api_key(openai, tmp_path, exec_mode=True) == "sk-codex"
    assert resolve_api_key(openai, tmp_path, exec_mode=False) == "sk-file"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert resolve_api_key(openai, tmp_path, exec_mode=True) == "sk-env"
    assert resolve_api_key({"id": "ollama"}, tmp_path, exec_mode=True) is None
    with pytest.raises(AuthError, match="MY_KEY"):
        resolve_api_key({"id": "x", "env_key": "MY_KEY"}, tmp_path, exec_mode=True)


@pytest.mark.parametrize("argv", [["--version"], ["exec-server", "--help"]])
def test_startup_paths_do_not_import_the_agent(argv: list[str]) -> None:
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "codex", *argv],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
                if line.startswith("import time:")}
    assert not {m for m in imported if m.startswith(("codex.core", "requests", "urllib3"))}
    assert "codex.exec_cmd" not in imported


def test_resume_last_skips_a_rollout_without_meta(tmp_path: Path) -> None:
    import os

    good = RolloutWriter.create(tmp_path, new_session_id(), {})
    good.close()
    bad = good.path.with_name("rollout-2099-01-01T00-00-00-broken.jsonl")
    bad.write_text('{"type": "sess')
    os.utime(good.path, (1, 1))  # the broken file is newer
    assert find_rollout(tmp_path, None) == good.path
