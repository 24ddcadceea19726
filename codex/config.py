"""Configuration: `$CODEX_HOME/config.toml`, profiles, `-c key=value` overrides, flags.

Precedence, lowest first, for every command and every key: built-in defaults (a command may
have its own, e.g. `codex sandbox` defaults to workspace-write) < config.toml < a trusted
project's `.codex/config.toml` files (project root first; `codex.project_trust`) < the selected
profile < `-c` overrides < dedicated flags. A profile is chosen by `-p NAME`, else
`-c profile=NAME`, else `profile = "NAME"` in config.toml; it is the `[profiles.NAME]` table of
config.toml and, layered over that, the file `$CODEX_HOME/NAME.config.toml` when it exists
(Codex's newer form); either alone is enough. A real Codex `config.toml` must load: keys we do
not know are kept (so nothing is lost when we write) and reported once, never fatal.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex.errors import CodexError, UsageError

log = logging.getLogger(__name__)

CONFIG_FILE = "config.toml"

# Sources, in precedence order (doctor prints them).
SRC_DEFAULT = "default"
SRC_FILE = "config.toml"
SRC_OVERRIDE = "-c"
SRC_FLAG = "flag"


def _profile_source(name: str) -> str:
    return f"profile:{name}"


def profile_file_name(name: str) -> str | None:
    """`NAME.config.toml` for a profile name that can be a file name in CODEX_HOME, else None
    (a name with a path separator, or `.`-led, only ever names a `[profiles.NAME]` table)."""
    if not _PROFILE_FILE_NAME.fullmatch(name) or name.startswith("."):
        return None
    return f"{name}{_PROFILE_FILE_SUFFIX}"


_PROFILE_FILE_NAME = re.compile(r"[A-Za-z0-9_.@+-]+")
_PROFILE_FILE_SUFFIX = ".config.toml"


BUILTIN_PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": {
        "name": "OpenAI",
        "base_url": "https://api.openai.com/v1",
        "env_key": "OPENAI_API_KEY",
        "wire_api": "responses",
        "request_max_retries": 4,
        "stream_max_retries": 5,
        "stream_idle_timeout_ms": 300_000,
    },
    "ollama": {
        "name": "Ollama",
        "base_url": "http://localhost:11434/v1",
        "wire_api": "chat",
        "request_max_retries": 4,
        "stream_max_retries": 5,
        "stream_idle_timeout_ms": 300_000,
    },
    "lmstudio": {
        "name": "LM Studio",
        "base_url": "http://localhost:1234/v1",
        "wire_api": "chat",
        "request_max_retries": 4,
        "stream_max_retries": 5,
        "stream_idle_timeout_ms": 300_000,
    },
}

DEFAULTS: dict[str, Any] = {
    "model": "gpt-5-codex",
    "model_provider": "openai",
    "model_providers": BUILTIN_PROVIDERS,
    "approval_policy": "on-request",
    "sandbox_mode": "read-only",
    "sandbox_workspace_write": {
        "writable_roots": [],
        "network_access": False,
        "exclude_tmpdir_env_var": False,
        "exclude_slash_tmp": False,
    },
    "model_reasoning_effort": "medium",
    "model_reasoning_summary": "auto",
    "project_doc_max_bytes": 32 * 1024,
    "project_doc_fallback_filenames": [],
    "tool_output_token_limit": 10_000,
    "shell_environment_policy": {"inherit": "all", "ignore_default_excludes": True},
}

# Keys we understand but that have no default (absent unless set).
OPTIONAL_KEYS = frozenset(
    {
        "profile",
        "profiles",
        "model_verbosity",
        "exec_server_url",
        "exec_server_token_file",
        "oss_provider",
        "projects",  # per-folder trust, written by the interactive UI's trust prompt
        "show_raw_agent_reasoning",
        "notify",
        "model_context_window",
        "model_auto_compact_token_limit",
        "mcp_servers",
    }
)
KNOWN_KEYS = frozenset(DEFAULTS) | OPTIONAL_KEYS
_RETRY_KEYS = ("request_max_retries", "stream_max_retries", "stream_idle_timeout_ms")

APPROVAL_POLICIES = ("untrusted", "on-request", "on-failure", "never")
SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")


class ConfigError(CodexError):
    """The configuration cannot be used (exit 1)."""


def codex_home() -> Path:
    """`$CODEX_HOME`, else `~/.codex` (the same place Codex uses)."""
    env = os.environ.get("CODEX_HOME")
    return Path(env).expanduser() if env else Path.home() / ".codex"


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one `-c dotted.key=value`: the value as TOML, else as a literal string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"invalid -c override {text!r}: expected KEY=VALUE")
    parts = [p.strip() for p in key.split(".")]
    if any(not p for p in parts):
        raise UsageError(f"invalid -c override {text!r}: empty key segment")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return parts, value


_TOML_POS = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def read_toml_file(path: Path) -> dict[str, Any]:
    """Read a TOML file; a syntax error becomes a ConfigError naming file, line and column."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        m = _TOML_POS.match(str(e))
        if m:
            raise ConfigError(
                f"{path}:{m['line']}:{m['col']}: invalid TOML: {m['msg']}"
            ) from None
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def _merge(dst: dict[str, Any], src: Mapping[str, Any], source: str,
           sources: dict[str, str], prefix: str = "") -> None:
    """Deep-merge `src` into `dst`, recording the source of every leaf that changes."""
    for k, v in src.items():
        dotted = f"{prefix}{k}"
        if isinstance(v, Mapping) and isinstance(dst.get(k), dict):
            _merge(dst[k], v, source, sources, dotted + ".")
        else:
            dst[k] = copy.deepcopy(v) if isinstance(v, dict | list) else v
            _mark(v, dotted, source, sources)


def _mark(v: Any, dotted: str, source: str, sources: dict[str, str]) -> None:
    # Drop stale entries under this key (a table replaced by a scalar or a new table).
    for stale in [s for s in sources if s.startswith(dotted + ".")]:
        del sources[stale]
    if isinstance(v, Mapping) and v:
        for k, sub in v.items():
            _mark(sub, f"{dotted}.{k}", source, sources)
    else:
        sources[dotted] = source


def _set_dotted(d: dict[str, Any], parts: list[str], value: Any) -> dict[str, Any]:
    """Build `{a: {b: value}}` for parts [a, b]."""
    out: dict[str, Any] = {}
    cur = out
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return out


@dataclass
class Config:
    """The effective configuration and where each value came from."""

    values: dict[str, Any]
    sources: dict[str, str]
    codex_home: Path
    profile: str | None = None
    unknown_keys: list[str] = field(default_factory=list)
    project_files: list[Path] = field(default_factory=list)  # trusted .codex/config.toml layers

    def get(self, dotted: str, default: Any = None) -> Any:
        cur: Any = self.values
        for part in dotted.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                return default
            cur = cur[part]
        return cur

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def mcp_servers(self) -> dict[str, Any]:
        """The `[mcp_servers.*]` tables, validated: name -> `codex.mcp.config.McpServerConfig`
        (file order). Raises McpConfigError (a ConfigError, exit 1) naming the key."""
        from codex.mcp.config import parse_servers

        return parse_servers(self.values.get("mcp_servers"))

    @property
    def config_path(self) -> Path:
        return self.codex_home / CONFIG_FILE

    def provider(self, provider_id: str | None = None) -> dict[str, Any]:
        """The provider table for `provider_id` (default: `model_provider`), with its id."""
        pid = provider_id or self.values["model_provider"]
        providers = self.values.get("model_providers") or {}
        if pid not in providers:
            known = ", ".join(sorted(providers))
            raise ConfigError(f"unknown model_provider {pid!r} (known: {known})")
        # User-defined providers inherit the retry/timeout defaults, nothing else.
        merged: dict[str, Any] = {k: BUILTIN_PROVIDERS["openai"][k] for k in _RETRY_KEYS}
        merged["wire_api"] = "responses"
        merged.update(providers[pid])
        merged["id"] = pid
        if pid == "openai" and os.environ.get("OPENAI_BASE_URL") and \
                self.sources.get("model_providers.openai.base_url") == SRC_DEFAULT:
            merged["base_url"] = os.environ["OPENAI_BASE_URL"]
        return merged


def load_config(
    *,
    home: Path | None = None,
    profile: str | None = None,
    overrides: Iterable[str] = (),
    flags: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    warn_unknown: bool = True,
    cwd: Path | None = None,
) -> Config:
    """Build the effective Config (precedence in the module docstring).

    `flags` are dotted keys set by a command's dedicated flags (None values are not set);
    `defaults` are dotted keys a command defaults differently from `DEFAULTS`. With `cwd`, a
    trusted project's `.codex/config.toml` files there are layered over config.toml. Raises
    `ConfigError` for an unreadable or invalid file, an unknown profile or a bad value and
    `UsageError` for a malformed `-c`.
    """
    home = home if home is not None else codex_home()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    _merge(values, DEFAULTS, SRC_DEFAULT, sources)
    for dotted, value in (defaults or {}).items():
        _merge(values, _set_dotted({}, dotted.split("."), value), SRC_DEFAULT, sources)

    file_values = read_toml_file(home / CONFIG_FILE)
    parsed_overrides = [parse_override(o) for o in overrides]
    _merge(values, file_values, SRC_FILE, sources)
    project_files: list[Path] = []
    if cwd is not None:
        # Trust is the user's word: config.toml and -c (as the UI's trust check reads it).
        trust_view = {"projects": copy.deepcopy(values.get("projects"))}
        for parts, value in parsed_overrides:
            if parts[0] == "projects":
                _merge(trust_view, _set_dotted({}, parts, value), SRC_OVERRIDE, {})
        project_files = _merge_project_layers(values, sources, home, cwd, trust_view)

    # The profile may itself be chosen by -c profile=... or -p.
    selected = profile
    if selected is None:
        for parts, value in parsed_overrides:
            if parts == ["profile"]:
                selected = str(value)
    if selected is None and values.get("profile") is not None:
        selected = str(values["profile"])  # config.toml's, or a trusted project's
    if selected is not None:
        _merge_profile(values, sources, home, selected)

    for parts, value in parsed_overrides:
        _merge(values, _set_dotted({}, parts, value), SRC_OVERRIDE, sources)
    for dotted, value in (flags or {}).items():
        if value is not None:
            _merge(values, _set_dotted({}, dotted.split("."), value), SRC_FLAG, sources)

    unknown = sorted(k for k in values if k not in KNOWN_KEYS)
    if unknown and warn_unknown:
        log.warning("ignoring config keys codex does not use: %s", ", ".join(unknown))
    cfg = Config(values, sources, home, selected, unknown, project_files)
    _validate(cfg)
    return cfg


# Keys a project's own file may not set: trust is the user's word about folders, and the
# profiles are the user's (a project's `[profiles.NAME]` would override the user's own table of
# that name, above the project's rank). `profile = "NAME"` choosing one of them is allowed.
_USER_ONLY_KEYS = ("projects", "profiles")


def _merge_project_layers(values: dict[str, Any], sources: dict[str, str], home: Path,
                          cwd: Path, trust_view: dict[str, Any]) -> list[Path]:
    """Merge the trusted project's files (`codex.project_trust`); an error a file brings in
    (`mcp_servers = 5`, `approval_policy = 5`) names that file."""
    _check_tables(trust_view)  # `projects` must be a table before trust is read from it
    if not trust_view.get("projects"):
        return []  # nothing is trusted: no import, no walk up the file system
    from codex.project_trust import project_config_files

    files = project_config_files(trust_view, cwd, home)
    if not files:
        return files
    valid_before = _is_valid(values, sources, home)
    for path in files:
        layer = read_toml_file(path)
        for key in _USER_ONLY_KEYS:
            if layer.pop(key, None) is not None:
                log.warning("ignoring [%s] in %s: only the user's config.toml may set it",
                            key, path)
        try:
            _check_tables(layer)
        except ConfigError as e:
            raise ConfigError(f"{e.message} (in {path})") from None
        _merge(values, layer, str(path), sources)
        if valid_before:
            try:
                _validate(Config(values, sources, home), warn=False)
            except ConfigError as e:
                raise ConfigError(f"{e.message} (in {path})") from None
    return files


def _is_valid(values: dict[str, Any], sources: dict[str, str], home: Path) -> bool:
    try:
        _validate(Config(values, sources, home), warn=False)  # reads only
    except ConfigError:
        return False  # the user's own file or -c is at fault: the final check says so
    return True


def _merge_profile(values: dict[str, Any], sources: dict[str, str], home: Path,
                   name: str) -> None:
    """Layer profile `name`: its `[profiles.NAME]` table, then `NAME.config.toml`."""
    profiles = values.get("profiles") or {}
    if not isinstance(profiles, Mapping):
        raise ConfigError(f"invalid profiles {profiles!r} in {home / CONFIG_FILE}: expected a "
                          "table ([profiles.NAME])")
    table = profiles.get(name)
    if table is not None and not isinstance(table, Mapping):
        raise ConfigError(f"[profiles.{name}] in {home / CONFIG_FILE} must be a table")
    file_name = profile_file_name(name)
    file_path = home / file_name if file_name else None
    file_values = read_toml_file(file_path) if file_path and file_path.is_file() else None
    if table is None and file_values is None:
        where = f"no [profiles.{name}] in {home / CONFIG_FILE}"
        if file_path is not None:
            where += f" and no {file_path}"
        raise ConfigError(f"config profile {name!r} not found: {where}")
    if table is not None:
        _merge(values, table, _profile_source(name), sources)
    if file_values is not None and file_name is not None:
        _merge(values, file_values, file_name, sources)


# Tables of named tables: `[model_providers.NAME]`, `[mcp_servers.NAME]`, ... A scalar in their
# place (`-c model_providers=5`, `mcp_servers = 5`) would otherwise fail deep in the code
# that iterates them.
_TABLES_OF_TABLES = ("model_providers", "mcp_servers", "profiles", "projects")


def _check_tables(values: Mapping[str, Any]) -> None:
    for key in _TABLES_OF_TABLES:
        table = values.get(key)
        if table is None:
            continue
        if not isinstance(table, Mapping):
            raise ConfigError(f"invalid {key} {table!r}: expected a table ([{key}.NAME])")
        for name, entry in table.items():
            if not isinstance(entry, Mapping):
                raise ConfigError(f"invalid {key}.{name} {entry!r}: expected a table "
                                  f"([{key}.{name}])")


def _validate(cfg: Config, *, warn: bool = True) -> None:
    _check_tables(cfg.values)
    for pid, provider in cfg.values.get("model_providers", {}).items():
        for key in _RETRY_KEYS:
            v = provider.get(key)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ConfigError(f"invalid model_providers.{pid}.{key} {v!r}: expected a "
                                  "non-negative integer")
    ap = cfg.values.get("approval_policy")
    if ap not in APPROVAL_POLICIES:
        raise ConfigError(
            f"invalid approval_policy {ap!r} (expected one of: {', '.join(APPROVAL_POLICIES)})"
        )
    sm = cfg.values.get("sandbox_mode")
    if sm not in SANDBOX_MODES:
        raise ConfigError(
            f"invalid sandbox_mode {sm!r} (expected one of: {', '.join(SANDBOX_MODES)})"
        )
    ww = cfg.values.get("sandbox_workspace_write")
    if isinstance(ww, Mapping):
        # A non-boolean here would be truthy (`"false"`, or `-c ...=False`, which is not
        # TOML and so arrives as a string) and silently open the network.
        for key in ("network_access", "exclude_tmpdir_env_var", "exclude_slash_tmp"):
            v = ww.get(key, False)
            if not isinstance(v, bool):
                raise ConfigError(f"invalid sandbox_workspace_write.{key} {v!r}: "
                                  "expected true or false")
    sep = cfg.values.get("shell_environment_policy")
    if isinstance(sep, Mapping):
        v = sep.get("ignore_default_excludes", True)
        if not isinstance(v, bool):
            raise ConfigError(f"invalid shell_environment_policy.ignore_default_excludes {v!r}: "
                              "expected true or false")
        for key in ("exclude", "include_only"):
            # A bare string would be matched character by character (`"*"` matches all).
            v = sep.get(key, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ConfigError(f"invalid shell_environment_policy.{key} {v!r}: "
                                  "expected a list of patterns")
    notify = cfg.values.get("notify")
    if notify is not None and (not isinstance(notify, list) or not notify
                               or not all(isinstance(x, str) and x for x in notify)):
        raise ConfigError(f"invalid notify {notify!r}: expected a list of strings, the program "
                          'and its arguments (notify = ["notify-send", "codex"])')
    for key in ("model_context_window", "model_auto_compact_token_limit"):
        v = cfg.values.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
            raise ConfigError(f"invalid {key} {v!r}: expected a positive number of tokens")
    names = cfg.values.get("project_doc_fallback_filenames")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        # A bare string would be tried character by character.
        raise ConfigError(f"invalid project_doc_fallback_filenames {names!r}: expected a list "
                          'of file names, e.g. ["CLAUDE.md"]')
    for name in names:
        if os.path.isabs(name):
            raise ConfigError(f"invalid project_doc_fallback_filenames entry {name!r}: a file "
                              "name looked up in each directory, not an absolute path")
    for server in cfg.mcp_servers().values():
        if server.unknown_keys and warn:
            log.warning("mcp_servers.%s: ignoring keys codex does not use: %s", server.name,
                        ", ".join(server.unknown_keys))
    for key in ("project_doc_max_bytes", "tool_output_token_limit"):
        v = cfg.values.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ConfigError(f"invalid {key} {v!r}: expected a non-negative integer")


def load_from_args(args: Any, flags: Mapping[str, Any] | None = None,
                   defaults: Mapping[str, Any] | None = None) -> Config:
    """Load the Config for a parsed command line: its global `-c` / `-p` options, plus the
    command's dedicated `flags` and own `defaults` (see `load_config`). Every subcommand that
    reads a setting goes through here, so each resolves it with the same precedence (the current
directory, after `-C`, chooses the project layers)."""
    return load_config(
        profile=getattr(args, "profile", None),
        overrides=getattr(args, "config_overrides", None) or (),
        flags=flags,
        defaults=defaults,
        cwd=_cwd_or_none(),
    )


def _cwd_or_none() -> Path | None:
    try:
        return Path.cwd()
    except OSError:  # deleted under us: no project layers; the command says what it needs
        return None


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{a: {b: 1}}` -> `{"a.b": 1}` (empty tables kept as leaves)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        dotted = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, dotted + "."))
        else:
            out[dotted] = v
    return out
