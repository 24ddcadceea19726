"""`codex mcp list|get|add|remove`: the `[mcp_servers.*]` of config.toml (spec "`codex mcp`").

`list`/`get` show the effective configuration (config.toml, profile, `-c` overrides); `--probe`
starts each enabled server once and shows whether it became ready. `add`/`remove` edit
`$CODEX_HOME/config.toml` itself, keeping every byte outside the edited table
(`codex.mcp.edit`). Secrets (env values, header values) are masked in human output.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

from codex.config import load_from_args, read_toml_file
from codex.errors import CodexError, UsageError
from codex.mcp.config import (
    SERVER_NAME,
    HttpTransport,
    McpServerConfig,
    StdioTransport,
    parse_server,
)
from codex.mcp.status import ServerStatus

NO_SERVERS = "No MCP servers configured yet. Try `codex mcp add my-tool -- my-command`."
MASK = "*****"


def run(args: Any) -> int:
    handler = _HANDLERS.get(getattr(args, "mcp_command", None) or "")
    if handler is None:
        raise UsageError("missing subcommand: list, get, add or remove")
    return handler(args)


# -- views ------------------------------------------------------------------------------------
def _as_json(cfg: McpServerConfig, status: ServerStatus | None = None) -> dict[str, Any]:
    t = cfg.transport
    transport: dict[str, Any]
    if isinstance(t, StdioTransport):
        transport = {"type": t.kind.value, "command": t.command, "args": list(t.args),
                     "env": dict(t.env), "env_vars": list(t.env_vars), "cwd": t.cwd}
    else:
        assert isinstance(t, HttpTransport)
        transport = {"type": t.kind.value, "url": t.url,
                     "bearer_token_env_var": t.bearer_token_env_var,
                     "http_headers": dict(t.http_headers),
                     "env_http_headers": dict(t.env_http_headers)}
    out: dict[str, Any] = {
        "name": cfg.name, "enabled": cfg.enabled, "required": cfg.required,
        "transport": transport, "startup_timeout_sec": cfg.startup_timeout_s,
        "tool_timeout_sec": cfg.tool_timeout_s,
        "enabled_tools": list(cfg.enabled_tools) if cfg.enabled_tools is not None else None,
        "disabled_tools": list(cfg.disabled_tools),
    }
    if status is not None:
        out["status"] = {"state": status.state.value, "reason": status.reason,
                         "tools": [t.name for t in status.tools]}
    return out


def _target(cfg: McpServerConfig) -> str:
    t = cfg.transport
    if isinstance(t, StdioTransport):
        return shlex.join([t.command, *t.args])
    assert isinstance(t, HttpTransport)
    return t.url


def _status_text(status: ServerStatus | None) -> str:
    if status is None:
        return ""
    if status.reason:
        return f"{status.state.value}: {status.reason}"
    if status.tools:
        return f"{status.state.value} ({len(status.tools)} tools)"
    return status.state.value


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def _probe(servers: dict[str, McpServerConfig]) -> dict[str, ServerStatus]:
    import asyncio
    import os

    from codex.mcp.manager import McpConnectionManager

    async def go() -> dict[str, ServerStatus]:
        manager = McpConnectionManager(servers, cwd=os.getcwd())
        manager.start()
        try:
            await manager.wait_started()
            return {s.name: s for s in manager.statuses()}
        finally:
            await manager.shutdown()

    return asyncio.run(go())


def _servers(args: Any) -> dict[str, McpServerConfig]:
    return load_from_args(args).mcp_servers()


def list_servers(args: Any) -> int:
    servers = _servers(args)
    statuses = _probe(servers) if args.probe and servers else {}
    if args.json:
        print(json.dumps([_as_json(c, statuses.get(n)) for n, c in servers.items()], indent=2))
        return 0
    if not servers:
        print(NO_SERVERS)
        return 0
    header = ["Name", "Transport", "Command / URL", "Enabled"] + (["Status"] if statuses else [])
    rows = [header]
    for name, cfg in servers.items():
        row = [name, cfg.transport.kind.value, _target(cfg), "yes" if cfg.enabled else "no"]
        if statuses:
            row.append(_status_text(statuses.get(name)))
        rows.append(row)
    print(_table(rows))
    return 0


def _masked(table: Any) -> str:
    return ", ".join(f"{k}={MASK}" for k in table) or "-"


def _project_file_of(config: Any, name: str) -> str | None:
    """The trusted project's .codex/config.toml that defines server `name` (its command or
    url), if one does; a project file that only adjusts a user's server does not count."""
    project = {str(p) for p in config.project_files}
    for key in ("command", "url"):
        source = config.sources.get(f"mcp_servers.{name}.{key}")
        if source in project:
            return source
    return None


def get_server(args: Any) -> int:
    config = load_from_args(args)
    servers = config.mcp_servers()
    cfg = servers.get(args.name)
    if cfg is None:
        known = ", ".join(servers) or "none"
        raise CodexError(f"no MCP server named {args.name!r} (configured: {known})")
    if args.json:
        print(json.dumps(_as_json(cfg), indent=2))
        return 0
    t = cfg.transport
    lines = [cfg.name, f"  enabled: {str(cfg.enabled).lower()}",
             f"  required: {str(cfg.required).lower()}", f"  transport: {t.kind.value}"]
    if isinstance(t, StdioTransport):
        lines += [f"  command: {t.command}", f"  args: {shlex.join(t.args) or '-'}",
                  f"  cwd: {t.cwd or '-'}", f"  env: {_masked(t.env)}",
                  f"  env_vars: {', '.join(t.env_vars) or '-'}"]
    else:
        assert isinstance(t, HttpTransport)
        lines += [f"  url: {t.url}",
                  f"  bearer_token_env_var: {t.bearer_token_env_var or '-'}",
                  f"  http_headers: {_masked(t.http_headers)}",
                  "  env_http_headers: " + (", ".join(
                      f"{h}=${v}" for h, v in t.env_http_headers.items()) or "-")]
    enabled = ", ".join(cfg.enabled_tools) if cfg.enabled_tools is not None else "all"
    lines += [f"  startup_timeout_sec: {cfg.startup_timeout_s:g}",
              f"  tool_timeout_sec: {cfg.tool_timeout_s:g}",
              f"  enabled_tools: {enabled}",
              f"  disabled_tools: {', '.join(cfg.disabled_tools) or '-'}"]
    project_file = _project_file_of(config, cfg.name)
    if project_file is not None:
        lines.append(f"  defined in: {project_file} (this project's config)")
    else:
        lines.append(f"  remove: codex mcp remove {cfg.name}")
    print("\n".join(lines))
    return 0


# -- edits ------------------------------------------------------------------------------------
def _config_text(path: Any) -> str:
    read_toml_file(path)  # a config that does not parse is refused with file:line:col
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _check_name(name: str) -> None:
    if not SERVER_NAME.match(name):
        raise UsageError(f"invalid server name {name!r}: use only letters, digits, '-' and '_'")


def _env_pairs(items: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


def add_server(args: Any) -> int:
    from codex.config import codex_home
    from codex.mcp.edit import add_server as edit_add
    from codex.mcp.edit import write_atomically

    _check_name(args.name)
    argv = list(args.server_argv or [])
    if argv[:1] == ["--"]:
        argv = argv[1:]
    table: dict[str, Any]
    if args.url:
        if argv:
            raise UsageError("give either --url URL or -- COMMAND [ARGS...], not both")
        if args.env:
            raise UsageError("--env is for stdio servers (a command); HTTP servers take "
                             "--bearer-token-env-var")
        table = {"url": args.url}
        if args.bearer_token_env_var:
            table["bearer_token_env_var"] = args.bearer_token_env_var
    else:
        if not argv:
            raise UsageError("missing the server: codex mcp add NAME -- COMMAND [ARGS...] "
                             "or codex mcp add NAME --url URL")
        if args.bearer_token_env_var:
            raise UsageError("--bearer-token-env-var goes with --url")
        table = {"command": argv[0]}
        if argv[1:]:
            table["args"] = argv[1:]
        env = _env_pairs(args.env)
        if env:
            table["env"] = env
    parse_server(args.name, table)  # the same validation as when the config is loaded
    path = codex_home() / "config.toml"
    result = edit_add(_config_text(path), args.name, table)
    write_atomically(path, result.text)
    verb = "Updated" if result.replaced else "Added"
    print(f"{verb} global MCP server '{args.name}' in {path}.")
    return 0


def remove_server(args: Any) -> int:
    from codex.config import codex_home
    from codex.mcp.edit import remove_server as edit_remove
    from codex.mcp.edit import write_atomically

    _check_name(args.name)
    path = codex_home() / "config.toml"
    text = edit_remove(_config_text(path), args.name)
    if text is None:
        project_file = _project_file_of(load_from_args(args), args.name)
        if project_file is not None:
            sys.stderr.write(f"MCP server '{args.name}' is defined in {project_file} (this "
                             f"project's config), not in {path}: edit that file to remove "
                             "it.\n")
        else:
            sys.stderr.write(f"No MCP server named '{args.name}' in {path}.\n")
        return 1
    write_atomically(path, text)
    print(f"Removed global MCP server '{args.name}' from {path}.")
    return 0


_HANDLERS = {"list": list_servers, "get": get_server, "add": add_server,
             "remove": remove_server}
