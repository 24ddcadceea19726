"""Sandbox contexts as read/write rules (codex/exec_server/sandbox_context.py)."""

from __future__ import annotations

import pytest

from codex.exec_server.path_uri import from_path
from codex.exec_server.sandbox_context import (
    InvalidSandbox,
    command_policy,
    context_from_policy,
    rules_from_wire,
)


def entry(path, access):
    where = {"type": "special", "value": {"kind": "root"}} if path == "ROOT" else \
        {"type": "path", "path": from_path(path)}
    return {"path": where, "access": access}


def ctx(tmp_path, *entries, network="restricted"):
    return {"permissions": {"type": "managed", "file_system": {"type": "restricted",
                                                                "entries": list(entries)},
                            "network": network},
            "cwd": from_path(tmp_path), "windowsSandboxLevel": "disabled"}


def test_most_specific_entry_wins_and_deny_beats_write(tmp_path):
    (tmp_path / "w" / "d").mkdir(parents=True)
    rules = rules_from_wire(ctx(tmp_path, entry("ROOT", "read"), entry(tmp_path / "w", "write"),
                                entry(tmp_path / "w" / "d", "deny")))
    real = str(tmp_path.resolve())
    assert rules.can_read("/etc/passwd") and not rules.can_write("/etc/passwd")
    assert rules.can_write(f"{real}/w/x") and not rules.can_read(f"{real}/w/d/x")
    assert not rules.can_write_tree(f"{real}/w")  # it holds a denied directory


def test_git_stays_read_only_unless_granted(tmp_path):
    (tmp_path / ".git").mkdir()
    real = str(tmp_path.resolve())
    rules = rules_from_wire(ctx(tmp_path, entry("ROOT", "read"), entry(tmp_path, "write")))
    assert not rules.can_write(f"{real}/.git/config") and rules.can_read(f"{real}/.git/x")
    granted = rules_from_wire(ctx(tmp_path, entry("ROOT", "read"), entry(tmp_path, "write"),
                                  entry(tmp_path / ".git", "write")))
    assert granted.can_write(f"{real}/.git/config")


def test_our_policy_form_and_translations(tmp_path):
    rules = rules_from_wire({"type": "workspace-write", "exclude_slash_tmp": True,
                             "exclude_tmpdir_env_var": True}, cwd=str(tmp_path), env={})
    assert rules.write_roots() == [str(tmp_path.resolve())]
    assert rules_from_wire({"type": "read-only"}).write_roots() == []
    assert rules_from_wire({"type": "danger-full-access"}).unrestricted
    assert rules_from_wire(None).unrestricted
    codex = context_from_policy({"type": "workspace-write", "network_access": True},
                                str(tmp_path), env={})
    assert codex["permissions"]["network"] == "enabled"
    back = command_policy(codex, str(tmp_path))
    assert back["type"] == "workspace-write" and back["network_access"] is True
    assert command_policy(ctx(tmp_path, entry("ROOT", "read")), str(tmp_path)) == \
        {"type": "read-only"}


@pytest.mark.parametrize("bad", [
    {"permissions": {"type": "alien"}},
    {"permissions": {"type": "managed", "file_system": {"type": "odd"}}},
    {"permissions": {"type": "managed", "file_system": {"type": "restricted",
                                                        "entries": [{"access": "read"}]}}},
    {"permissions": {"type": "managed", "file_system": {"type": "restricted", "entries": [
        {"path": {"type": "path", "path": "/native"}, "access": "write"}]}}},
    {"permissions": {"type": "managed", "file_system": {"type": "restricted", "entries": [
        {"path": {"type": "special", "value": {"kind": "root"}}, "access": "all"}]}}},
    {"nothing": 1},
])
def test_malformed_contexts_are_errors(bad):
    with pytest.raises(InvalidSandbox):
        rules_from_wire(bad)
