"""`[mcp_servers.*]` validation: every key of the spec's table, and every error names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex.config import ConfigError, load_config
from codex.mcp.config import (
    DEFAULT_STARTUP_TIMEOUT_S,
    DEFAULT_TOOL_TIMEOUT_S,
    ApprovalMode,
    HttpTransport,
    McpConfigError,
    StdioTransport,
    TransportKind,
    http_headers,
    parse_server,
    parse_servers,
    stdio_env,
)


def test_stdio_server_every_key() -> None:
    cfg = parse_server("docs", {
        "command": "npx", "args": ["-y", "docs-mcp"], "env": {"TOKEN": "t"},
        "env_vars": ["GITHUB_TOKEN"], "cwd": "/srv", "startup_timeout_sec": 20,
        "tool_timeout_sec": 1.5, "enabled": False, "required": True,
        "enabled_tools": ["search", "open"], "disabled_tools": ["open"],
        "approval_mode": "prompt", "tools": {"search": {"approval_mode": "approve"}},
    })
    assert cfg.transport == StdioTransport("npx", ("-y", "docs-mcp"), {"TOKEN": "t"},
                                           ("GITHUB_TOKEN",), "/srv")
    assert cfg.transport.kind is TransportKind.STDIO
    assert (cfg.enabled, cfg.required) == (False, True)
    assert (cfg.startup_timeout_s, cfg.tool_timeout_s) == (20.0, 1.5)
    # the deny-list applies after the allow-list
    assert cfg.allows_tool("search") and not cfg.allows_tool("open")
    assert not cfg.allows_tool("other")
    assert cfg.approval_for("search") is ApprovalMode.APPROVE
    assert cfg.approval_for("other") is ApprovalMode.PROMPT
    assert cfg.unknown_keys == ()


def test_http_server_and_defaults() -> None:
    cfg = parse_server("figma", {"url": "https://mcp.example.com/mcp",
                                 "bearer_token_env_var": "FIGMA_TOKEN",
                                 "http_headers": {"X-Region": "us"},
                                 "env_http_headers": {"X-Team": "TEAM_ID"}})
    assert isinstance(cfg.transport, HttpTransport)
    assert cfg.transport.kind is TransportKind.STREAMABLE_HTTP
    assert cfg.enabled and not cfg.required
    assert cfg.startup_timeout_s == DEFAULT_STARTUP_TIMEOUT_S == 10
    assert cfg.tool_timeout_s == DEFAULT_TOOL_TIMEOUT_S == 60
    assert cfg.enabled_tools is None and cfg.allows_tool("anything")
    assert cfg.approval_for("x") is ApprovalMode.AUTO


@pytest.mark.parametrize(("raw", "message"), [
    ({}, "mcp_servers.s: no transport: set `command` (stdio) or `url` (streamable HTTP)"),
    ({"command": "a", "url": "http://h"}, "mcp_servers.s: set either `command`"),
    ({"url": "http://h", "env": {"A": "b"}}, "mcp_servers.s: env is not supported for "
                                              "streamable_http"),
    ({"url": "http://h", "args": []}, "args is not supported for streamable_http"),
    ({"url": "http://h", "cwd": "/"}, "cwd is not supported for streamable_http"),
    ({"url": "http://h", "env_vars": []}, "env_vars is not supported for streamable_http"),
    ({"command": "a", "bearer_token_env_var": "T"},
     "mcp_servers.s: bearer_token_env_var is not supported for stdio"),
    ({"command": "a", "http_headers": {}}, "http_headers is not supported for stdio"),
    ({"command": "a", "env_http_headers": {}}, "env_http_headers is not supported for stdio"),
    ({"url": "http://h", "bearer_token": "sk-1"},
     "mcp_servers.s.bearer_token: an inline token is not supported; put it in an environment "
     "variable and set bearer_token_env_var"),
    ({"command": ""}, "mcp_servers.s.command: expected a non-empty string"),
    ({"command": ["npx"]}, "mcp_servers.s.command: expected a non-empty string"),
    ({"command": "a", "args": "x y"}, "mcp_servers.s.args: expected a list of strings"),
    ({"command": "a", "env": {"A": 1}}, "mcp_servers.s.env.A: expected a string, got 1"),
    ({"command": "a", "env": "A=1"}, "mcp_servers.s.env: expected a table of strings"),
    ({"command": "a", "startup_timeout_sec": 0}, "startup_timeout_sec: expected a positive"),
    ({"command": "a", "tool_timeout_sec": "60"}, "tool_timeout_sec: expected a positive"),
    ({"command": "a", "tool_timeout_sec": True}, "tool_timeout_sec: expected a positive"),
    ({"command": "a", "enabled": "false"}, "mcp_servers.s.enabled: expected true or false"),
    ({"command": "a", "required": 1}, "mcp_servers.s.required: expected true or false"),
    ({"command": "a", "enabled_tools": "x"}, "enabled_tools: expected a list of strings"),
    ({"command": "a", "disabled_tools": [1]}, "disabled_tools: expected a list of strings"),
    ({"command": "a", "approval_mode": "always"},
     "mcp_servers.s.approval_mode: expected one of auto, prompt, approve, writes"),
    ({"command": "a", "tools": {"t": {"approval_mode": "x"}}},
     "mcp_servers.s.tools.t.approval_mode: expected one of"),
    ({"url": "ftp://h"}, "mcp_servers.s.url: expected an http:// or https:// URL"),
])
def test_errors_name_server_and_key(raw: dict, message: str) -> None:
    with pytest.raises(McpConfigError) as e:
        parse_server("s", raw)
    assert message in e.value.message
    assert isinstance(e.value, ConfigError)


@pytest.mark.parametrize("name", ["has space", "dot.ted", "ü", ""])
def test_server_name_rule(name: str) -> None:
    with pytest.raises(McpConfigError, match="invalid MCP server name"):
        parse_server(name, {"command": "a"})


def test_unknown_keys_are_kept_not_fatal() -> None:
    cfg = parse_server("s", {"command": "a", "future_option": 1})
    assert cfg.unknown_keys == ("future_option",)


def test_legacy_startup_timeout_ms() -> None:
    assert parse_server("s", {"command": "a", "startup_timeout_ms": 2500}).startup_timeout_s \
        == 2.5


def test_parse_servers_keeps_file_order_and_rejects_non_tables() -> None:
    assert list(parse_servers({"b": {"command": "x"}, "a": {"url": "http://h"}})) == ["b", "a"]
    assert parse_servers(None) == {}
    with pytest.raises(McpConfigError, match="mcp_servers: expected a table"):
        parse_servers(["x"])
    with pytest.raises(McpConfigError, match="mcp_servers.a: expected a table"):
        parse_servers({"a": "npx"})


def test_stdio_env_is_a_small_base_plus_env() -> None:
    t = StdioTransport("a", env={"TOKEN": "t", "PATH": "/custom"}, env_vars=("PASS", "ABSENT"))
    environ = {"PATH": "/usr/bin", "HOME": "/h", "LANG": "C", "LC_ALL": "C", "TERM": "xterm",
               "OPENAI_API_KEY": "sk-secret", "PASS": "through", "AWS_SECRET": "s"}
    env = stdio_env(t, environ)
    assert env == {"PATH": "/custom", "HOME": "/h", "LANG": "C", "LC_ALL": "C",
                   "TERM": "xterm", "PASS": "through", "TOKEN": "t"}


def test_http_headers_from_env() -> None:
    t = HttpTransport("http://h", bearer_token_env_var="TOK", http_headers={"X-A": "1"},
                      env_http_headers={"X-B": "B_VAR", "X-C": "EMPTY", "X-D": "UNSET"})
    headers = http_headers(t, {"TOK": "abc", "B_VAR": "2", "EMPTY": ""})
    assert headers == {"X-A": "1", "X-B": "2", "Authorization": "Bearer abc"}
    with pytest.raises(McpConfigError, match="environment variable TOK"):
        http_headers(t, {})


def test_load_config_validates_mcp_servers(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[mcp_servers.x]\nurl = "http://h"\nenv = {A = "b"}\n')
    with pytest.raises(ConfigError, match="mcp_servers.x: env is not supported for "
                                          "streamable_http"):
        load_config(home=tmp_path)
    (tmp_path / "config.toml").write_text('[mcp_servers.x]\ncommand = "npx"\n')
    cfg = load_config(home=tmp_path, overrides=["mcp_servers.x.args=['-y', 'pkg']"])
    assert cfg.mcp_servers()["x"].transport.args == ("-y", "pkg")
    assert "mcp_servers" not in cfg.unknown_keys


@pytest.mark.parametrize("argv", [["--version"], ["exec-server", "--help"], ["mcp", "list"]])
def test_the_sdk_stays_off_the_start_up_path(argv: list[str], tmp_path: Path) -> None:
    # The SDK costs ~0.7 s to import; only connecting to servers (or `mcp-server`) loads it.
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[mcp_servers.t]\ncommand = "true"\n')
    r = subprocess.run([sys.executable, "-m", "codex", *argv], capture_output=True, text=True,
                       env={"PYTHONPROFILEIMPORTTIME": "1", "PATH": "/usr/bin:/bin",
                            "CODEX_HOME": str(home)})
    assert r.returncode == 0, r.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines()
                if line.startswith("import time:")}
    heavy = {m for m in imported if m.split(".")[0] in
             {"mcp", "pydantic", "pydantic_core", "httpx", "anyio", "starlette", "tomlkit"}
             or m.startswith(("codex.mcp.client", "codex.mcp.manager", "codex.mcp.server"))}
    assert heavy == set(), sorted(heavy)
