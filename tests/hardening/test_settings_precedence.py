"""Issue 15 item 6: every command resolves every setting through one precedence.

defaults < config.toml < profile (`[profiles.NAME]`, then `$CODEX_HOME/NAME.config.toml`) <
`-c` < the command's flags. The issue's example is `codex sandbox`, whose `-s` default used to
win over `sandbox_mode` from config.toml, a profile and `-c`; each case here runs the real
command and checks what the sandboxed command could do. Siblings: the sandbox's network
setting, `codex doctor`'s report of every layer, and `codex exec` reading the newer profile
file form.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import codex_cmd
from tests.support.exec_harness import Harness, harness_for


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def codex(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CODEX_HOME=str(home))
    return subprocess.run([*codex_cmd(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def can_write_cwd(home: Path, ws: Path, *options: str) -> bool:
    """Run `codex [options] sandbox ... -- touch ./probe`: could it write the workspace?"""
    probe = ws / "probe"
    probe.unlink(missing_ok=True)
    r = codex(home, ws, *options, "--", "touch", "probe")
    assert r.returncode == 0 or "Permission denied" in r.stderr or "Read-only" in r.stderr, \
        r.stderr
    return probe.exists() and r.returncode == 0


def sandbox(*options: str) -> tuple[str, ...]:
    """Arguments for `codex [global options] sandbox [options]`: global ones go first."""
    return ("sandbox", *options)


# --- the example: `codex sandbox` and sandbox_mode ------------------------------------

def test_sandbox_default_is_workspace_write_when_nothing_is_set(home: Path, ws: Path) -> None:
    assert can_write_cwd(home, ws, *sandbox())


def test_sandbox_mode_from_config_toml(home: Path, ws: Path) -> None:
    (home / "config.toml").write_text('sandbox_mode = "read-only"\n')
    assert not can_write_cwd(home, ws, *sandbox())


def test_sandbox_mode_from_a_profile_table(home: Path, ws: Path) -> None:
    (home / "config.toml").write_text('[profiles.careful]\nsandbox_mode = "read-only"\n')
    assert not can_write_cwd(home, ws, "-p", "careful", *sandbox())
    assert not can_write_cwd(home, ws, *sandbox("-p", "careful"))  # after the subcommand too
    assert can_write_cwd(home, ws, *sandbox())  # not selected: not applied


def test_sandbox_mode_from_c_override(home: Path, ws: Path) -> None:
    assert not can_write_cwd(home, ws, "-c", "sandbox_mode=read-only", *sandbox())
    assert not can_write_cwd(home, ws, *sandbox("-c", 'sandbox_mode="read-only"'))


def test_sandbox_mode_from_a_profile_file(home: Path, ws: Path) -> None:
    (home / "careful.config.toml").write_text('sandbox_mode = "read-only"\n')
    assert not can_write_cwd(home, ws, "-p", "careful", *sandbox())
    # ... also when config.toml selects the profile.
    (home / "config.toml").write_text('profile = "careful"\n')
    assert not can_write_cwd(home, ws, *sandbox())


# --- siblings: each layer beats the one below it -----------------------------------------------

def test_each_layer_beats_the_one_below(home: Path, ws: Path) -> None:
    (home / "config.toml").write_text(
        'sandbox_mode = "read-only"\n[profiles.p]\nsandbox_mode = "workspace-write"\n'
        '[profiles.q]\nsandbox_mode = "workspace-write"\n')
    (home / "q.config.toml").write_text('sandbox_mode = "read-only"\n')
    assert not can_write_cwd(home, ws, *sandbox())                         # config
    assert can_write_cwd(home, ws, "-p", "p", *sandbox())                  # profile > config
    assert not can_write_cwd(home, ws, "-p", "q", *sandbox())              # file > table
    assert can_write_cwd(home, ws, "-p", "q", "-c", "sandbox_mode=workspace-write",
                         *sandbox())                                       # -c > profile
    assert not can_write_cwd(home, ws, "-p", "p", "-c", "sandbox_mode=workspace-write",
                             *sandbox("-s", "read-only"))                  # flag > -c


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that accepts and closes; yields its port."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


def _connects(home: Path, ws: Path, port: int, *options: str) -> bool:
    script = (f"import socket; socket.create_connection(('127.0.0.1', {port}), 5).close(); "
              "print('connected')")
    r = codex(home, ws, *options, "--", sys.executable, "-c", script)
    return r.returncode == 0 and "connected" in r.stdout


def test_network_access_from_config_profile_and_flag(home: Path, ws: Path, listener: int) -> None:
    assert not _connects(home, ws, listener, *sandbox())
    (home / "config.toml").write_text("[sandbox_workspace_write]\nnetwork_access = true\n"
                                      "[profiles.off.sandbox_workspace_write]\n"
                                      "network_access = false\n")
    assert _connects(home, ws, listener, *sandbox())
    assert not _connects(home, ws, listener, "-p", "off", *sandbox())
    assert _connects(home, ws, listener, "-p", "off", *sandbox("--allow-network"))


# --- siblings: doctor shows where each value came from; bad profiles are clear ---------------

def test_doctor_reports_the_winning_layer_for_each_key(home: Path, ws: Path) -> None:
    (home / "config.toml").write_text(
        'model = "from-config"\nmodel_reasoning_effort = "low"\napproval_policy = "never"\n'
        'tool_output_token_limit = 1\n'
        '[profiles.p]\nmodel = "from-table"\nmodel_reasoning_effort = "high"\n'
        'tool_output_token_limit = 2\n')
    (home / "p.config.toml").write_text('model = "from-file"\ntool_output_token_limit = 3\n')
    r = codex(home, ws, "-p", "p", "-c", "tool_output_token_limit=4", "doctor", "--json")
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)["config"]
    assert cfg["sandbox_mode"] == {"value": "read-only", "source": "default"}
    assert cfg["approval_policy"] == {"value": "never", "source": "config.toml"}
    assert cfg["model_reasoning_effort"] == {"value": "high", "source": "profile:p"}
    assert cfg["model"] == {"value": "from-file", "source": "p.config.toml"}
    assert cfg["tool_output_token_limit"] == {"value": 4, "source": "-c"}


def test_unknown_profile_names_both_places(home: Path, ws: Path) -> None:
    r = codex(home, ws, "-p", "nope", "doctor")
    assert r.returncode == 1
    assert "profile 'nope' not found" in r.stderr and "nope.config.toml" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_profile_name_is_never_a_path(home: Path, ws: Path) -> None:
    # `-p ../x` must not read $CODEX_HOME/../x.config.toml.
    (home.parent / "x.config.toml").write_text('sandbox_mode = "read-only"\n')
    r = codex(home, ws, "-p", "../x", "doctor")
    assert r.returncode == 1 and "profile '../x' not found" in r.stderr


def test_a_profile_that_is_not_a_table_is_a_clear_error(home: Path, ws: Path) -> None:
    (home / "config.toml").write_text('[profiles]\np = "oops"\n')
    r = codex(home, ws, "-p", "p", "doctor")
    assert r.returncode == 1 and "[profiles.p]" in r.stderr and "Traceback" not in r.stderr


# --- sibling: `codex exec` reads the profile file form too ------------------------------------

@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")


def test_exec_uses_the_profile_file(hr: Harness) -> None:
    (hr.home / "config.toml").write_text('model = "base-model"\nsandbox_mode = "read-only"\n')
    (hr.home / "fast.config.toml").write_text(
        'model = "profile-model"\nsandbox_mode = "workspace-write"\n')
    hr.model = None  # the harness's own `-c model=` would hide the layers under test
    hr.mock.add(hr.answer("ok"))
    r = hr.run("-p", "fast", "hello")
    assert r.returncode == 0, r.stderr
    body = hr.mock.requests[0].body
    assert body["model"] == "profile-model"
    assert "<sandbox_mode>workspace-write</sandbox_mode>" in json.dumps(body["input"])
