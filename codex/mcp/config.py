"""`[mcp_servers.<name>]` tables: the typed model and its validation (pure data, no SDK).

Spec: `shared/specs/mcp.md`, "Config". A server is either stdio (`command`, `args`, `env`,
`env_vars`, `cwd`) or streamable HTTP (`url`, `bearer_token_env_var`, `http_headers`,
`env_http_headers`); `command` xor `url`. Every error names the server and the key, e.g.
`mcp_servers.docs: env is not supported for streamable_http`. Keys we do not know are kept in
`unknown_keys` (a newer Codex's config must still load) and reported as a warning.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from codex.config import ConfigError

SERVER_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
DEFAULT_STARTUP_TIMEOUT_S = 10.0
DEFAULT_TOOL_TIMEOUT_S = 60.0

# The environment a stdio server inherits from ours (spec: "a small inherited base"); `env`
# and `env_vars` add to it. Names ending in `*` are prefixes (the locale's LC_ family).
INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_*", "TERM", "TMPDIR", "SHELL")


class McpConfigError(ConfigError):
    """An `[mcp_servers.*]` table cannot be used (exit 1, like every config error)."""


class TransportKind(enum.StrEnum):
    STDIO = "stdio"
    STREAMABLE_HTTP = "streamable_http"


class ApprovalMode(enum.StrEnum):
    """When a call of this server's tools asks the user first (spec: "Approval").

    AUTO follows the approval policy (`untrusted` asks for every MCP call); PROMPT always asks;
    APPROVE never asks; WRITES asks unless the tool declares itself read-only
    (`annotations.readOnlyHint`)."""

    AUTO = "auto"
    PROMPT = "prompt"
    APPROVE = "approve"
    WRITES = "writes"


@dataclass(frozen=True, slots=True)
class StdioTransport:
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    env_vars: tuple[str, ...] = ()
    cwd: str | None = None

    kind = TransportKind.STDIO


@dataclass(frozen=True, slots=True)
class HttpTransport:
    url: str
    bearer_token_env_var: str | None = None
    http_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    env_http_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    kind = TransportKind.STREAMABLE_HTTP


Transport = StdioTransport | HttpTransport


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One `[mcp_servers.<name>]` table, validated. Timeouts in seconds."""

    name: str
    transport: Transport
    enabled: bool = True
    required: bool = False
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    tool_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    enabled_tools: tuple[str, ...] | None = None  # None: every tool
    disabled_tools: tuple[str, ...] = ()
    approval_mode: ApprovalMode = ApprovalMode.AUTO
    tool_approval_modes: Mapping[str, ApprovalMode] = field(
        default_factory=lambda: MappingProxyType({}))
    unknown_keys: tuple[str, ...] = ()

    def allows_tool(self, tool: str) -> bool:
        """The allow-list, then the deny-list (spec: deny applies after allow)."""
        if self.enabled_tools is not None and tool not in self.enabled_tools:
            return False
        return tool not in self.disabled_tools

    def approval_for(self, tool: str) -> ApprovalMode:
        return self.tool_approval_modes.get(tool, self.approval_mode)


# Keys per transport; the rest of the table's keys apply to both.
_STDIO_KEYS = ("command", "args", "env", "env_vars", "cwd")
_HTTP_KEYS = ("url", "bearer_token_env_var", "http_headers", "env_http_headers")
_COMMON_KEYS = ("enabled", "required", "startup_timeout_sec", "startup_timeout_ms",
                "tool_timeout_sec", "enabled_tools", "disabled_tools", "approval_mode",
                "default_tools_approval_mode", "tools")
KNOWN_KEYS = frozenset(_STDIO_KEYS + _HTTP_KEYS + _COMMON_KEYS)


class _Table:
    """Typed reads of one server table; every error names `mcp_servers.<name>.<key>`."""

    def __init__(self, name: str, raw: Mapping[str, Any]) -> None:
        self.name = name
        self.raw = raw

    def error(self, key: str | None, message: str) -> McpConfigError:
        where = f"mcp_servers.{self.name}" + (f".{key}" if key else "")
        return McpConfigError(f"{where}: {message}")

    def string(self, key: str, *, required: bool = False) -> str | None:
        v = self.raw.get(key)
        if v is None:
            if required:
                raise self.error(key, "missing")
            return None
        if not isinstance(v, str) or not v.strip():
            raise self.error(key, f"expected a non-empty string, got {v!r}")
        return v

    def boolean(self, key: str, default: bool) -> bool:
        v = self.raw.get(key, default)
        if not isinstance(v, bool):
            raise self.error(key, f"expected true or false, got {v!r}")
        return v

    def strings(self, key: str) -> tuple[str, ...] | None:
        v = self.raw.get(key)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.error(key, f"expected a list of strings, got {v!r}")
        return tuple(v)

    def str_table(self, key: str) -> Mapping[str, str]:
        v = self.raw.get(key)
        if v is None:
            return MappingProxyType({})
        if not isinstance(v, Mapping):
            raise self.error(key, f"expected a table of strings, got {v!r}")
        for k, x in v.items():
            if not isinstance(x, str):
                raise self.error(f"{key}.{k}", f"expected a string, got {x!r}")
        return MappingProxyType(dict(v))

    def seconds(self, key: str, default: float) -> float:
        v = self.raw.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or v <= 0:
            raise self.error(key, f"expected a positive number of seconds, got {v!r}")
        return float(v)

    def approval(self, key: str, raw: Any) -> ApprovalMode:
        try:
            return ApprovalMode(raw)
        except ValueError:
            allowed = ", ".join(m.value for m in ApprovalMode)
            raise self.error(key, f"expected one of {allowed}, got {raw!r}") from None


def parse_server(name: str, raw: Any) -> McpServerConfig:
    """Validate one `[mcp_servers.<name>]` table. Raises McpConfigError naming the key."""
    if not SERVER_NAME.match(name):
        raise McpConfigError(f"invalid MCP server name {name!r}: use only letters, digits, "
                             "'-' and '_'")
    if not isinstance(raw, Mapping):
        raise McpConfigError(f"mcp_servers.{name}: expected a table, got {raw!r}")
    t = _Table(name, raw)
    if "bearer_token" in raw:
        raise t.error("bearer_token", "an inline token is not supported; put it in an "
                      "environment variable and set bearer_token_env_var to its name")
    has_command, has_url = "command" in raw, "url" in raw
    if has_command and has_url:
        raise t.error(None, "set either `command` (stdio) or `url` (streamable HTTP), not both")
    if not has_command and not has_url:
        raise t.error(None, "no transport: set `command` (stdio) or `url` (streamable HTTP)")
    kind = TransportKind.STDIO if has_command else TransportKind.STREAMABLE_HTTP
    foreign = _HTTP_KEYS if kind is TransportKind.STDIO else _STDIO_KEYS
    for key in foreign:
        if key in raw:
            raise t.error(None, f"{key} is not supported for {kind.value}")

    transport: Transport
    if kind is TransportKind.STDIO:
        cwd = t.string("cwd")
        transport = StdioTransport(
            command=t.string("command", required=True) or "",
            args=t.strings("args") or (),
            env=t.str_table("env"),
            env_vars=t.strings("env_vars") or (),
            cwd=cwd,
        )
    else:
        url = t.string("url", required=True) or ""
        if not re.match(r"^https?://[^/\s]+", url):
            raise t.error("url", f"expected an http:// or https:// URL, got {url!r}")
        transport = HttpTransport(
            url=url,
            bearer_token_env_var=t.string("bearer_token_env_var"),
            http_headers=t.str_table("http_headers"),
            env_http_headers=t.str_table("env_http_headers"),
        )

    startup = t.seconds("startup_timeout_sec", DEFAULT_STARTUP_TIMEOUT_S)
    if "startup_timeout_ms" in raw and "startup_timeout_sec" not in raw:
        # The older Codex key; kept so an existing config keeps its timeout.
        startup = t.seconds("startup_timeout_ms", DEFAULT_STARTUP_TIMEOUT_S * 1000) / 1000

    mode_key = "approval_mode" if "approval_mode" in raw else "default_tools_approval_mode"
    mode = t.approval(mode_key, raw.get(mode_key, ApprovalMode.AUTO.value))
    tool_modes: dict[str, ApprovalMode] = {}
    tools = raw.get("tools")
    if tools is not None:
        if not isinstance(tools, Mapping):
            raise t.error("tools", f"expected a table of tool tables, got {tools!r}")
        for tool, sub in tools.items():
            if not isinstance(sub, Mapping):
                raise t.error(f"tools.{tool}", f"expected a table, got {sub!r}")
            if "approval_mode" in sub:
                tool_modes[tool] = t.approval(f"tools.{tool}.approval_mode",
                                              sub["approval_mode"])

    return McpServerConfig(
        name=name,
        transport=transport,
        enabled=t.boolean("enabled", True),
        required=t.boolean("required", False),
        startup_timeout_s=startup,
        tool_timeout_s=t.seconds("tool_timeout_sec", DEFAULT_TOOL_TIMEOUT_S),
        enabled_tools=t.strings("enabled_tools"),
        disabled_tools=t.strings("disabled_tools") or (),
        approval_mode=mode,
        tool_approval_modes=MappingProxyType(tool_modes),
        unknown_keys=tuple(sorted(k for k in raw if k not in KNOWN_KEYS)),
    )


def parse_servers(raw: Any) -> dict[str, McpServerConfig]:
    """Validate the whole `mcp_servers` table (absent → no servers), in file order."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise McpConfigError(f"mcp_servers: expected a table of server tables, got {raw!r}")
    return {str(name): parse_server(str(name), sub) for name, sub in raw.items()}


def inherited_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of `environ` every stdio server gets (spec: the small inherited base)."""
    out: dict[str, str] = {}
    for name, value in environ.items():
        for pattern in INHERITED_ENV:
            if name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1])):
                out[name] = value
                break
    return out


def stdio_env(transport: StdioTransport, environ: Mapping[str, str]) -> dict[str, str]:
    """A stdio server's whole environment: the inherited base, the `env_vars` passed through
    from `environ` (absent ones skipped), then `env` on top."""
    env = inherited_env(environ)
    for name in transport.env_vars:
        if name in environ:
            env[name] = environ[name]
    env.update(transport.env)
    return env


def http_headers(transport: HttpTransport, environ: Mapping[str, str]) -> dict[str, str]:
    """The extra headers of every request: `http_headers`, then `env_http_headers` (a header
    whose variable is unset or empty is skipped), then the bearer token. Raises
    McpConfigError when `bearer_token_env_var` names an unset or empty variable (sending no
    token would only earn a 401 with a vaguer reason)."""
    headers = dict(transport.http_headers)
    for header, var in transport.env_http_headers.items():
        value = environ.get(var, "")
        if value:
            headers[header] = value
    var = transport.bearer_token_env_var
    if var:
        token = environ.get(var, "")
        if not token:
            raise McpConfigError(f"environment variable {var} (bearer_token_env_var) is not set")
        headers["Authorization"] = f"Bearer {token}"
    return headers
