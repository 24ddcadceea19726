"""A request's sandbox, as read/write rules on paths: for `fs/*` checks and `process/start`.

Two forms arrive in a `sandbox` param (spec "The newest Codex dialect"):

- Codex's context: `{permissions: {type: "managed", file_system: {type: "restricted",
  entries: [{path, access}]}, network}, cwd, windowsSandboxLevel}`; an entry's `path` is
  `{type: "path", path: PathUri}` or `{type: "special", value: {kind: root | minimal |
  project_roots | current_working_directory | tmpdir | slash_tmp}}`; `access` is read, write
  or deny (`none`). Unknown fields are ignored; unknown special kinds grant nothing.
- Ours: a `SandboxPolicy.to_wire()` dict (`{type: "read-only" | "workspace-write" | ...}`),
  optionally with `cwd`.

Both become one `SandboxRules`: entries (root, access); for a path the most specific entry
wins, and on a tie deny beats write beats read. The rules of `codex.sandbox.policy` hold
(the commands' rules): writable roots are resolved through symlinks, and every `.git` under a
writable root stays read-only (its `protected_paths`) unless an entry grants write on it
explicitly. Paths are checked by their real location, so a symlink cannot lead a write out
of the roots.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codex.exec_server import path_uri


class Access(enum.IntEnum):
    """Ordered by conflict precedence: on equally specific entries the larger wins."""

    NONE = 0  # no entry covers the path
    READ = 1
    WRITE = 2
    DENY = 3


_ACCESS_NAMES = {"read": Access.READ, "write": Access.WRITE, "deny": Access.DENY,
                 "none": Access.DENY}


class InvalidSandbox(ValueError):
    """A `sandbox` param we cannot turn into rules (never silently unrestricted)."""


def _within(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True, slots=True)
class SandboxRules:
    """Read/write rules on real (symlink-resolved) paths; `unrestricted` allows everything."""

    entries: tuple[tuple[str, Access], ...] = ()
    unrestricted: bool = False
    network: bool = False

    def access(self, real_path: str) -> Access:
        best: tuple[int, Access] = (-1, Access.NONE)
        for root, access in self.entries:
            if _within(real_path, root):
                key = (len(root.rstrip("/")), access)
                if key > best:
                    best = key
        return best[1]

    def can_read(self, real_path: str) -> bool:
        return self.unrestricted or self.access(real_path) in (Access.READ, Access.WRITE)

    def can_write(self, real_path: str) -> bool:
        return self.unrestricted or self.access(real_path) is Access.WRITE

    def write_roots(self) -> list[str]:
        return [root for root, access in self.entries if access is Access.WRITE]

    def can_write_tree(self, real_root: str) -> bool:
        """Whether everything under `real_root` (a directory being removed or replaced) is
        writable: the root itself, and no read-only or denied entry inside it."""
        if self.unrestricted:
            return True
        if not self.can_write(real_root):
            return False
        return not any(_within(root, real_root) and access is not Access.WRITE
                       for root, access in self.entries if root != real_root)

    def to_policy_wire(self) -> dict[str, Any] | None:
        """As our SandboxPolicy wire dict, for wrapping a command; None when unrestricted.

        Our command sandbox always lets a workspace-write command write its cwd; the entries
        decide every other root (documented in the spec section on the newest dialect)."""
        if self.unrestricted:
            return None
        roots = self.write_roots()
        if not roots:
            return {"type": "read-only"}
        return {"type": "workspace-write", "writable_roots": roots,
                "network_access": self.network, "exclude_tmpdir_env_var": True,
                "exclude_slash_tmp": True}


def _real(path: str) -> str:
    return os.path.realpath(path)


def _special_roots(value: Any, cwd: str | None, env: Mapping[str, str]) -> list[str]:
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind == "root":
        return ["/"]
    if kind in ("project_roots", "current_working_directory"):
        if cwd is None:
            return []
        sub = value.get("subpath")
        return [os.path.join(cwd, sub) if isinstance(sub, str) and sub else cwd]
    if kind == "tmpdir":
        tmp = env.get("TMPDIR")
        return [tmp] if tmp else []
    if kind == "slash_tmp":
        return ["/tmp"]
    if kind == "minimal":
        # What a program needs to start: the system's libraries, binaries and config.
        return ["/bin", "/sbin", "/usr", "/lib", "/lib64", "/lib32", "/etc", "/dev",
                "/proc", "/System", "/Library", "/opt/homebrew"]
    return []  # unknown kinds grant nothing


def _with_protected(entries: list[tuple[str, Access]]) -> tuple[tuple[str, Access], ...]:
    """Add `.git` (and what a `gitdir:` file points to) under each writable root as
    read-only, as the command sandbox does; an explicit write entry on it still wins."""
    from codex.sandbox.policy import protected_paths

    writable = [root for root, access in entries if access is Access.WRITE]
    extra: list[tuple[str, Access]] = []
    for root in writable:
        for p in protected_paths(root, writable):
            real = _real(p)
            if not any(r == real and a is Access.WRITE for r, a in entries):
                extra.append((real, Access.READ))
    return tuple(dict.fromkeys([*entries, *extra]))


def rules_from_wire(sandbox: Mapping[str, Any] | None, *, cwd: str | None = None,
                    env: Mapping[str, str] | None = None) -> SandboxRules:
    """A `sandbox` param (either form, or None = no sandbox) -> SandboxRules.

    Raises InvalidSandbox for a malformed one. `cwd` is the request's working directory
    (a Codex context carries its own)."""
    if sandbox is None:
        return SandboxRules(unrestricted=True)
    env = os.environ if env is None else env
    if not isinstance(sandbox, Mapping):
        raise InvalidSandbox("`sandbox` must be an object")
    if "permissions" in sandbox:
        return _from_codex_context(sandbox, env)
    if "type" in sandbox or "mode" in sandbox:
        return _from_policy(sandbox, cwd, env)
    raise InvalidSandbox("`sandbox` is neither a sandbox context (`permissions`) nor a "
                         "policy (`type`)")


def _context_cwd(ctx: Mapping[str, Any]) -> str | None:
    raw = ctx.get("cwd")
    if raw is None:
        return None
    try:
        return path_uri.parse(raw)
    except path_uri.InvalidPathUri as e:
        raise InvalidSandbox(f"sandbox `cwd` is not a valid path URI: {e}") from None


def _from_codex_context(ctx: Mapping[str, Any], env: Mapping[str, str]) -> SandboxRules:
    perms = ctx.get("permissions")
    if not isinstance(perms, dict):
        raise InvalidSandbox("sandbox `permissions` must be an object")
    kind = perms.get("type")
    if kind in ("disabled", "external", "danger-full-access"):
        return SandboxRules(unrestricted=True, network=True)
    if kind != "managed":
        raise InvalidSandbox(f"unsupported sandbox permissions type {kind!r}")
    network = perms.get("network") in ("enabled", "unrestricted")
    fs = perms.get("file_system", perms.get("fileSystem"))
    if not isinstance(fs, dict):
        raise InvalidSandbox("sandbox `permissions.file_system` must be an object")
    fs_kind = fs.get("type", fs.get("kind"))
    if fs_kind in ("unrestricted", "external-sandbox", "external_sandbox"):
        return SandboxRules(unrestricted=True, network=network)
    if fs_kind != "restricted":
        raise InvalidSandbox(f"unsupported file_system type {fs_kind!r}")
    cwd = _context_cwd(ctx)
    entries: list[tuple[str, Access]] = []
    raw_entries = fs.get("entries") or []
    if not isinstance(raw_entries, list):
        raise InvalidSandbox("sandbox `entries` must be an array")
    for entry in raw_entries:
        if not isinstance(entry, dict):
            raise InvalidSandbox("a sandbox entry must be an object")
        access = _ACCESS_NAMES.get(entry.get("access"))  # type: ignore[arg-type]
        if access is None:
            raise InvalidSandbox(f"unknown sandbox access {entry.get('access')!r}")
        where = entry.get("path")
        if not isinstance(where, dict):
            raise InvalidSandbox("a sandbox entry needs a `path` object")
        if where.get("type") == "path":
            try:
                roots = [path_uri.parse(where.get("path"))]
            except path_uri.InvalidPathUri as e:
                raise InvalidSandbox(f"sandbox entry path: {e}") from None
        elif where.get("type") == "special":
            roots = _special_roots(where.get("value"), cwd, env)
        else:
            continue  # glob patterns and future forms: grant nothing
        entries.extend((_real(r), access) for r in roots)
    return SandboxRules(_with_protected(entries), network=network)


def _from_policy(data: Mapping[str, Any], cwd: str | None,
                 env: Mapping[str, str]) -> SandboxRules:
    from codex.sandbox.errors import InvalidSandboxPolicy
    from codex.sandbox.policy import SandboxPolicy

    try:
        policy = SandboxPolicy.from_wire(data)
    except InvalidSandboxPolicy as e:
        raise InvalidSandbox(str(e)) from None
    if policy.full_disk_write:
        return SandboxRules(unrestricted=True, network=True)
    if isinstance(data.get("cwd"), str):
        cwd = data["cwd"]
    entries: list[tuple[str, Access]] = [("/", Access.READ)]
    if cwd is not None:
        entries += [(r, Access.WRITE) for r in policy.effective_writable_roots(cwd, env)]
    return SandboxRules(_with_protected(entries), network=policy.full_network)


def command_policy(sandbox: Mapping[str, Any] | None, cwd: str) -> Mapping[str, Any] | None:
    """The policy dict our command sandbox (`codex.sandbox.wrap_argv`) enforces for a
    `process/start` sandbox param: ours passes through, Codex's context is translated."""
    if sandbox is None or "permissions" not in sandbox:
        return sandbox
    return rules_from_wire(sandbox, cwd=cwd).to_policy_wire()


def context_from_policy(policy: Mapping[str, Any], cwd: str,
                        env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Our policy dict as Codex's sandbox context (for a `process/start` to Codex's server):
    read everywhere, write on the effective writable roots, network as the policy says."""
    from codex.sandbox.policy import SandboxPolicy

    pol = SandboxPolicy.from_wire(policy)
    cwd_uri = path_uri.from_path(cwd)
    if pol.full_disk_write:
        return {"permissions": {"type": "disabled"}, "cwd": cwd_uri,
                "windowsSandboxLevel": "disabled"}
    entries: list[dict[str, Any]] = [
        {"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"}]
    for root in pol.effective_writable_roots(cwd, os.environ if env is None else env):
        entries.append({"path": {"type": "path", "path": path_uri.from_path(root)},
                        "access": "write"})
    return {"permissions": {"type": "managed",
                            "file_system": {"type": "restricted", "entries": entries},
                            "network": "enabled" if pol.full_network else "restricted"},
            "cwd": cwd_uri, "windowsSandboxLevel": "disabled"}
