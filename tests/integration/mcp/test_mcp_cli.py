"""`codex mcp list|get|add|remove` as a user runs them (the real command, a real config)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.conftest import run_codex
from tests.support import mcp_servers as ms

USER_CONFIG = """\
# ~/.codex/config.toml -- mine, with comments I want to keep
model = "o3"                 # default model
model_reasoning_effort = "high"

[profiles.quick]             # for small things
model = "gpt-5-mini"

# ---- MCP ----------------------------------------------------------------
[mcp_servers.docs]
command = "npx"              # runs the docs server
args = ["-y", "@acme/docs-mcp@1.2.3"]
env = { DOCS_TOKEN = "tok-123" }

# keep history on disk
[history]
persistence = "save-all"     # trailing comment
"""


def test_add_remove_round_trip_is_byte_for_byte(codex_home: Path) -> None:
    path = codex_home / "config.toml"
    path.write_text(USER_CONFIG)
    path.chmod(0o640)
    r = run_codex(["mcp", "add", "time", "--env", "TZ=UTC", "--", "uvx", "mcp-server-time",
                   "--local-timezone", "UTC"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Added global MCP server 'time' in {path}.\n"
    text = path.read_text()
    assert tomllib.loads(text)["mcp_servers"]["time"] == {
        "command": "uvx", "args": ["mcp-server-time", "--local-timezone", "UTC"],
        "env": {"TZ": "UTC"}}
    # the user's text is intact around the new table
    head, tail = USER_CONFIG.split("\n# keep history on disk\n")
    assert text.startswith(head) and text.endswith("\n# keep history on disk\n" + tail)
    assert path.stat().st_mode & 0o777 == 0o640

    r = run_codex(["mcp", "add", "notes", "--url", "http://127.0.0.1:8000/mcp",
                   "--bearer-token-env-var", "NOTES_TOKEN"])
    assert r.returncode == 0, r.stderr
    assert run_codex(["mcp", "remove", "notes"]).returncode == 0
    r = run_codex(["mcp", "remove", "time"])
    assert r.returncode == 0 and r.stdout == f"Removed global MCP server 'time' from {path}.\n"
    assert path.read_text() == USER_CONFIG

    r = run_codex(["mcp", "remove", "time"])
    assert r.returncode == 1 and "No MCP server named 'time'" in r.stderr
    assert path.read_text() == USER_CONFIG


def test_add_usage_errors(codex_home: Path) -> None:
    for argv, msg in [
        (["mcp", "add", "bad name", "--", "x"], "invalid server name 'bad name'"),
        (["mcp", "add", "s"], "missing the server"),
        (["mcp", "add", "s", "--url", "http://h", "--", "x"], "not both"),
        (["mcp", "add", "s", "--env", "NOVALUE", "--", "x"], "--env 'NOVALUE': expected"),
        (["mcp", "add", "s", "--bearer-token-env-var", "T", "--", "x"], "goes with --url"),
        (["mcp", "add", "s", "--url", "ftp://h"], "url: expected an http:// or https:// URL"),
        (["mcp"], "missing subcommand"),
    ]:
        r = run_codex(argv)
        assert r.returncode in (1, 2) and msg in r.stderr, (argv, r.stderr)
    assert not (codex_home / "config.toml").exists()


def test_list_and_get(codex_home: Path, tmp_path: Path) -> None:
    r = run_codex(["mcp", "list"])
    assert r.returncode == 0
    assert r.stdout == "No MCP servers configured yet. Try `codex mcp add my-tool -- " \
                       "my-command`.\n"
    assert json.loads(run_codex(["mcp", "list", "--json"]).stdout) == []
    (codex_home / "config.toml").write_text(USER_CONFIG + """
[mcp_servers.remote]
url = "https://mcp.example.com/mcp"
bearer_token_env_var = "REMOTE_TOKEN"
http_headers = { "X-Secret" = "hunter2" }
enabled = false
""")
    r = run_codex(["mcp", "list"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["Name", "Transport", "Command", "/", "URL", "Enabled"]
    assert lines[1].split() == ["docs", "stdio", "npx", "-y", "@acme/docs-mcp@1.2.3", "yes"]
    assert lines[2].split() == ["remote", "streamable_http", "https://mcp.example.com/mcp", "no"]
    data = json.loads(run_codex(["mcp", "list", "--json"]).stdout)
    assert [d["name"] for d in data] == ["docs", "remote"]
    assert data[0]["transport"]["env"] == {"DOCS_TOKEN": "tok-123"}

    r = run_codex(["mcp", "get", "docs"])
    assert r.returncode == 0
    assert "  env: DOCS_TOKEN=*****" in r.stdout and "tok-123" not in r.stdout
    r = run_codex(["mcp", "get", "remote"])
    assert "hunter2" not in r.stdout and "  bearer_token_env_var: REMOTE_TOKEN" in r.stdout
    r = run_codex(["mcp", "get", "nope"])
    assert r.returncode == 1 and "no MCP server named 'nope' (configured: docs, remote)" \
        in r.stderr
    # -c overrides apply to what is shown, as for every other key
    r = run_codex(["-c", "mcp_servers.docs.enabled=false", "mcp", "get", "docs", "--json"])
    assert json.loads(r.stdout)["enabled"] is False


def test_list_probe_starts_each_server(codex_home: Path, servers_venv: str, mark: str) -> None:
    (codex_home / "config.toml").write_text(f"""
[mcp_servers.time]
command = "{ms.server_bin('mcp-server-time')}"
env = {{ {ms.MARK_VAR} = "{mark}" }}

[mcp_servers.broken]
command = "codex-test-no-such-server"
""")
    r = run_codex(["mcp", "list", "--probe"])
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:]}
    assert rows["time"].endswith("ready (2 tools)")
    assert rows["broken"].endswith("failed: command not found: codex-test-no-such-server")
    data = {d["name"]: d for d in json.loads(run_codex(["mcp", "list", "--probe",
                                                          "--json"]).stdout)}
    assert data["time"]["status"] == {"state": "ready", "reason": None,
                                      "tools": ["get_current_time", "convert_time"]}
    assert ms.marked_processes(mark) == []


def test_bad_server_config_is_a_clear_error(codex_home: Path) -> None:
    (codex_home / "config.toml").write_text('[mcp_servers.x]\nurl = "http://h"\ncwd = "/"\n')
    r = run_codex(["mcp", "list"])
    assert r.returncode == 1
    assert r.stderr == "codex: error: mcp_servers.x: cwd is not supported for streamable_http\n"
