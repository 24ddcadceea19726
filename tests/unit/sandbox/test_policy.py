"""SandboxPolicy: built from config and flags, on the wire, resolved to paths, described."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex.config import load_config
from codex.sandbox import InvalidSandboxPolicy, SandboxPolicy, is_sandbox_denial
from codex.sandbox.policy import protected_paths


def _config(home: Path, text: str = ""):
    (home / "config.toml").write_text(text)
    return load_config(home=home)


def test_default_config_is_read_only(codex_home: Path) -> None:
    p = SandboxPolicy.from_config(_config(codex_home))
    assert p == SandboxPolicy.read_only()
    assert not p.full_network and not p.full_disk_write


def test_config_workspace_write_table(codex_home: Path) -> None:
    cfg = _config(codex_home, """
sandbox_mode = "workspace-write"
[sandbox_workspace_write]
writable_roots = ["/data", "~/cache"]
network_access = true
exclude_slash_tmp = true
""")
    p = SandboxPolicy.from_config(cfg)
    assert p.mode == "workspace-write"
    assert p.writable_roots == ("/data", os.path.expanduser("~/cache"))
    assert p.network_access and p.full_network
    assert p.exclude_slash_tmp and not p.exclude_tmpdir_env_var


def test_flags_override_config(codex_home: Path, tmp_path: Path) -> None:
    cfg = _config(codex_home, 'sandbox_mode = "read-only"\n')
    assert SandboxPolicy.from_config(cfg, sandbox_mode="danger-full-access").mode == \
        "danger-full-access"
    auto = SandboxPolicy.from_config(cfg, full_auto=True, add_dirs=[str(tmp_path), "rel"])
    assert auto.mode == "workspace-write"
    assert auto.writable_roots == (str(tmp_path), os.path.abspath("rel"))
    assert not auto.network_access
    # -s wins over --full-auto; the bypass flag wins over everything.
    assert SandboxPolicy.from_config(cfg, sandbox_mode="read-only", full_auto=True).mode == \
        "read-only"
    assert SandboxPolicy.from_config(cfg, sandbox_mode="read-only", bypass=True) == \
        SandboxPolicy.danger_full_access()
    assert SandboxPolicy.from_config(None, full_auto=True, network_access=True).full_network


def test_bad_writable_roots_in_config(codex_home: Path) -> None:
    cfg = _config(codex_home, '[sandbox_workspace_write]\nwritable_roots = "/one"\n')
    with pytest.raises(InvalidSandboxPolicy, match="list of paths"):
        SandboxPolicy.from_config(cfg)


@pytest.mark.parametrize("policy", [
    SandboxPolicy.read_only(),
    SandboxPolicy.danger_full_access(),
    SandboxPolicy.workspace_write(["/a", "/b"], network_access=True),
    SandboxPolicy("workspace-write", (), False, True, True),
])
def test_wire_round_trip(policy: SandboxPolicy) -> None:
    wire = policy.to_wire()
    assert wire["type"] == policy.mode
    assert SandboxPolicy.from_wire(wire) == policy


def test_wire_shapes() -> None:
    assert SandboxPolicy.read_only().to_wire() == {"type": "read-only"}
    assert SandboxPolicy.workspace_write(["/w"]).to_wire() == {
        "type": "workspace-write", "writable_roots": ["/w"], "network_access": False,
        "exclude_tmpdir_env_var": False, "exclude_slash_tmp": False,
    }
    assert SandboxPolicy.from_wire({"mode": "read-only"}) == SandboxPolicy.read_only()


@pytest.mark.parametrize("bad, match", [
    ({"type": "yolo"}, "invalid sandbox mode"),
    ({}, "needs a string `type`"),
    ({"type": "workspace-write", "writable_roots": "/x"}, "list of strings"),
    ({"type": "workspace-write", "network_access": "yes"}, "must be a boolean"),
    (["read-only"], "must be an object"),
])
def test_wire_errors(bad: object, match: str) -> None:
    with pytest.raises(InvalidSandboxPolicy, match=match):
        SandboxPolicy.from_wire(bad)  # type: ignore[arg-type]


def test_effective_writable_roots(tmp_path: Path) -> None:
    cwd, extra, tmpdir = tmp_path / "ws", tmp_path / "extra", tmp_path / "t"
    for d in (cwd, extra, tmpdir):
        d.mkdir()
    (tmp_path / "link").symlink_to(extra)
    p = SandboxPolicy.workspace_write([str(tmp_path / "link"), "missing", str(cwd)])
    env = {"TMPDIR": str(tmpdir)}
    # cwd first, symlinks resolved, duplicates and missing directories dropped
    assert p.effective_writable_roots(str(cwd), env) == [
        str(cwd), os.path.realpath("/tmp"), str(tmpdir), str(extra)]
    narrow = SandboxPolicy("workspace-write", (), False, True, True)
    assert narrow.effective_writable_roots(str(cwd), env) == [str(cwd)]
    assert SandboxPolicy.read_only().effective_writable_roots(str(cwd), env) == []


def test_protected_paths_git_dir_and_gitdir_file(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert protected_paths(str(repo), [str(repo)]) == [str(repo / ".git")]

    wt = tmp_path / "wt"
    wt.mkdir()
    gitdir = repo / ".git" / "worktrees" / "wt"
    gitdir.mkdir(parents=True)
    (gitdir / "commondir").write_text("../..\n")
    (wt / ".git").write_text(f"gitdir: {gitdir}\n")
    # The git dir and its common dir are protected when they are inside some writable root...
    assert protected_paths(str(wt), [str(wt), str(repo)]) == [
        str(wt / ".git"), str(gitdir), str(repo / ".git")]
    # ...and need no carve-out when they are outside all of them (read-only anyway).
    assert protected_paths(str(wt), [str(wt)]) == [str(wt / ".git")]
    assert protected_paths(str(tmp_path), [str(tmp_path)]) == []


def test_describe_names_roots_and_network(tmp_path: Path) -> None:
    text = SandboxPolicy.workspace_write().describe(str(tmp_path), {})
    assert str(tmp_path) in text and ".git" in text and "Network access is disabled" in text
    assert "read-only sandbox" in SandboxPolicy.read_only().describe(str(tmp_path))
    assert "without a sandbox" in SandboxPolicy.danger_full_access().describe(str(tmp_path))
    net = SandboxPolicy.workspace_write(network_access=True).describe(str(tmp_path), {})
    assert "Network access is allowed" in net


@pytest.mark.parametrize("code, output, policy, expected", [
    (1, "touch: cannot touch '/x': Permission denied", None, True),
    (2, "sh: 1: cannot create .git/config: Read-only file system", None, True),
    (1, "ln: failed to create hard link: Invalid cross-device link", None, True),
    (7, "curl: (7) Couldn't connect: Network is unreachable", None, True),
    (7, "Network is unreachable", {"type": "workspace-write", "network_access": True}, False),
    (1, "Permission denied", {"type": "danger-full-access"}, False),
    (0, "Permission denied", None, False),
    (None, "Permission denied", None, False),
    (1, "SyntaxError: invalid syntax", None, False),
    (125, "codex: error: sandbox unavailable: ... Permission denied", None, False),
])
def test_is_sandbox_denial(code: int | None, output: str, policy: dict | None,
                           expected: bool) -> None:
    assert is_sandbox_denial(code, output, policy=policy) is expected


def test_allows_write_follows_the_same_rule_as_commands(tmp_path: Path) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    (ws / ".git").mkdir(parents=True)
    outside.mkdir()
    (ws / "out").symlink_to(outside)
    env = {"TMPDIR": str(ws)}
    ww = SandboxPolicy("workspace-write", (), False, True, True)
    assert ww.allows_write("new.txt", str(ws), env)
    assert ww.allows_write(str(ws / "a" / "b.txt"), str(ws), env)
    assert not ww.allows_write(".git/config", str(ws), env)
    assert not ww.allows_write(".git", str(ws), env)
    assert not ww.allows_write("out/x", str(ws), env)  # symlink leading outside
    assert not ww.allows_write(str(outside / "x"), str(ws), env)
    assert not SandboxPolicy.read_only().allows_write("new.txt", str(ws), env)
    assert SandboxPolicy.danger_full_access().allows_write(str(outside / "x"), str(ws), env)
