"""A project's own `.codex/config.toml` adds MCP servers (and settings) only once the user
trusts the folder (spec mcp.md "Config"): the real `codex exec` and `codex doctor`, a real
reference server, the mock model."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import run_codex
from tests.support import mcp_servers as ms
from tests.support.exec_harness import Harness


def project_server(h: Harness, mark: str) -> None:
    (h.cwd / ".codex").mkdir(exist_ok=True)
    (h.cwd / ".codex" / "config.toml").write_text(f"""
model = "model-from-project"

[mcp_servers.clock]
command = "{ms.server_bin('mcp-server-time')}"
env = {{ {ms.MARK_VAR} = "{mark}" }}
required = true
""")


def trust(h: Harness, level: str) -> None:
    (h.home / "config.toml").write_text(f'[projects."{h.cwd.resolve()}"]\n'
                                        f'trust_level = "{level}"\n')


def trusted_project(h: Harness, mark: str) -> Harness:
    """The project's file declares the server and the model; the user trusts the folder."""
    h.model = None  # no -c model=...: the project's file chooses it
    project_server(h, mark)
    trust(h, "trusted")
    return h


def offered(h: Harness, request_index: int) -> set[str]:
    return {t.get("name", "") for t in h.mock.requests[request_index].body.get("tools") or []}


def test_an_untrusted_project_starts_none_of_its_servers(hr: Harness, servers_venv: str,
                                                         mark: str) -> None:
    h = hr
    h.model = None  # no -c model=...: the project's file chooses it
    project_server(h, mark)
    for level in (None, "untrusted"):
        if level:
            trust(h, level)
        h.mock.add(h.answer("ok"))
        r = h.run("hello")
        assert r.returncode == 0, r.stderr
        assert not any(n.startswith("mcp__") for n in offered(h, len(h.mock.requests) - 1))
        assert "clock" not in r.stderr
        assert h.mock.requests[-1].body["model"] == "gpt-5-codex"  # the built-in default
    assert ms.marked_processes(mark) == []
    doctor = run_codex(["doctor"], env=h.env(), cwd=h.cwd)
    assert doctor.returncode == 0, doctor.stderr
    assert (f"project config   {h.cwd.resolve() / '.codex' / 'config.toml'} "
            "(ignored: not in a trusted folder)") in doctor.stdout


def test_a_trusted_project_adds_its_servers_and_settings(hr: Harness, servers_venv: str,
                                                         mark: str) -> None:
    h = trusted_project(hr, mark)
    h.mock.add(h.calls(("c1", "mcp__clock__get_current_time", {"timezone": "UTC"})),
               h.answer("it is now"))
    r = h.run("what time is it?")
    assert r.returncode == 0, r.stderr
    assert "mcp__clock__get_current_time" in offered(h, 0)
    assert h.mock.requests[0].body["model"] == "model-from-project"
    assert '"timezone": "UTC"' in h.outputs(1)["c1"]
    assert "mcp: clock ready" in r.stderr
    assert ms.marked_processes(mark) == []
    project_file = h.cwd.resolve() / ".codex" / "config.toml"
    doctor = run_codex(["doctor"], env=h.env(), cwd=h.cwd)
    assert f"project config   {project_file}\n" in doctor.stdout
    assert re.search(rf'^  model +  = "model-from-project"  \[{re.escape(str(project_file))}\]$',
                     doctor.stdout, re.M), doctor.stdout
    listing = run_codex(["mcp", "list"], env=h.env(), cwd=h.cwd)
    assert "clock" in listing.stdout, listing
    got = run_codex(["mcp", "get", "clock"], env=h.env(), cwd=h.cwd)
    assert f"defined in: {project_file} (this project's config)" in got.stdout
    removed = run_codex(["mcp", "remove", "clock"], env=h.env(), cwd=h.cwd)
    assert removed.returncode == 1
    assert f"defined in {project_file}" in removed.stderr and "edit that file" in removed.stderr


def test_from_a_subfolder_of_the_trusted_project_too(hr: Harness, servers_venv: str,
                                                     mark: str) -> None:
    h = trusted_project(hr, mark)
    sub = h.cwd / "src" / "deep"
    sub.mkdir(parents=True)
    h.mock.add(h.answer("ok"))
    r = subprocess.run(h.argv("hello"), cwd=sub, env=h.env(), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=90)
    assert r.returncode == 0, r.stderr
    assert "mcp__clock__get_current_time" in offered(h, 0)
    assert ms.marked_processes(mark) == []


def test_a_forged_worktree_link_borrows_no_trust(hr: Harness, servers_venv: str,
                                                 mark: str) -> None:
    """An unpacked archive next to a trusted checkout, whose `.git` file names that checkout's
    worktrees folder: git would not take it for a worktree, and neither do we."""
    h = hr
    h.model = None
    trust(h, "trusted")
    evil = h.cwd.parent / "unpacked"
    (evil / ".codex").mkdir(parents=True)
    (evil / ".git").write_text(f"gitdir: ../{h.cwd.name}/.git/worktrees/anything\n")
    (evil / ".codex" / "config.toml").write_text(f"""
model = "model-from-project"
[mcp_servers.clock]
command = "{ms.server_bin('mcp-server-time')}"
env = {{ {ms.MARK_VAR} = "{mark}" }}
required = true
""")
    h.mock.add(h.answer("ok"))
    r = subprocess.run(h.argv("--skip-git-repo-check", "hello"), cwd=evil, env=h.env(),
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=90)
    assert r.returncode == 0, r.stderr
    assert h.mock.requests[0].body["model"] == "gpt-5-codex"
    assert not any(n.startswith("mcp__") for n in offered(h, 0))
    assert "clock" not in r.stderr


def test_doctor_in_the_folder_holding_codex_home_ignores_nothing(hr: Harness) -> None:
    home = hr.cwd / ".codex"
    home.mkdir()
    (home / "config.toml").write_text('model = "mine"\n')
    doctor = run_codex(["doctor"], env=hr.env(CODEX_HOME=str(home)), cwd=hr.cwd)
    assert doctor.returncode == 0, doctor.stderr
    assert "project config" not in doctor.stdout
