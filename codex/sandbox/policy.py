"""The sandbox policy: what a model-run command may write and whether it may use the network.

Pure data and path arithmetic; no system calls that change anything. The same policy drives the
Linux enforcement (`linux.py`), the macOS profile (`macos.py`), the wire (`to_wire`/`from_wire`,
carried as `StartParams.sandbox` and the exec-server's `process/start` param `sandbox`) and the
sentence the model reads about its environment (`describe`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from codex.sandbox.errors import InvalidSandboxPolicy

READ_ONLY = "read-only"
WORKSPACE_WRITE = "workspace-write"
DANGER_FULL_ACCESS = "danger-full-access"
SANDBOX_MODES = (READ_ONLY, WORKSPACE_WRITE, DANGER_FULL_ACCESS)

# Entries of a writable root that stay read-only: a repository's history is not the model's to
# rewrite (a hook or a rewritten ref would run or persist outside the sandbox later).
PROTECTED_NAMES = (".git",)


class SandboxPolicy:
    """One sandbox mode plus its workspace-write settings (ignored by the other modes).

    Immutable and compared by value. Deliberately not a dataclass: the sandbox helper imports
    this before every sandboxed command, and `dataclasses` pulls in `inspect` (~8 ms)."""

    __slots__ = ("mode", "writable_roots", "network_access", "exclude_tmpdir_env_var",
                 "exclude_slash_tmp")

    mode: str
    writable_roots: tuple[str, ...]
    network_access: bool
    exclude_tmpdir_env_var: bool
    exclude_slash_tmp: bool

    def __init__(self, mode: str = READ_ONLY, writable_roots: Iterable[str] = (),
                 network_access: bool = False, exclude_tmpdir_env_var: bool = False,
                 exclude_slash_tmp: bool = False) -> None:
        if mode not in SANDBOX_MODES:
            raise InvalidSandboxPolicy(
                f"invalid sandbox mode {mode!r} (expected one of: {', '.join(SANDBOX_MODES)})"
            )
        for name, value in (("mode", mode), ("writable_roots", tuple(writable_roots)),
                            ("network_access", bool(network_access)),
                            ("exclude_tmpdir_env_var", bool(exclude_tmpdir_env_var)),
                            ("exclude_slash_tmp", bool(exclude_slash_tmp))):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SandboxPolicy is immutable")

    def _key(self) -> tuple[object, ...]:
        return (self.mode, self.writable_roots, self.network_access,
                self.exclude_tmpdir_env_var, self.exclude_slash_tmp)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SandboxPolicy) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"SandboxPolicy(mode={self.mode!r}, writable_roots={self.writable_roots!r}, "
                f"network_access={self.network_access!r}, "
                f"exclude_tmpdir_env_var={self.exclude_tmpdir_env_var!r}, "
                f"exclude_slash_tmp={self.exclude_slash_tmp!r})")

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def read_only(cls) -> SandboxPolicy:
        return cls(READ_ONLY)

    @classmethod
    def workspace_write(cls, writable_roots: Iterable[str] = (), *,
                        network_access: bool = False) -> SandboxPolicy:
        return cls(WORKSPACE_WRITE, tuple(writable_roots), network_access)

    @classmethod
    def danger_full_access(cls) -> SandboxPolicy:
        return cls(DANGER_FULL_ACCESS)

    @classmethod
    def from_config(
        cls,
        config: object,
        *,
        sandbox_mode: str | None = None,
        full_auto: bool = False,
        add_dirs: Iterable[str] = (),
        bypass: bool = False,
        network_access: bool | None = None,
    ) -> SandboxPolicy:
        """The policy for a command line: config (`sandbox_mode`, `[sandbox_workspace_write]`)
        overridden by flags (`-s`, `--full-auto`, `--add-dir`,
        `--dangerously-bypass-approvals-and-sandbox`). `config` is a `codex.config.Config` or
        any object with `.get(dotted, default)`; None means built-in defaults."""
        get = getattr(config, "get", None) or (lambda _k, d=None: d)
        if bypass:
            return cls.danger_full_access()
        mode = sandbox_mode or (WORKSPACE_WRITE if full_auto else None) \
            or get("sandbox_mode", READ_ONLY)
        ww = get("sandbox_workspace_write", None) or {}
        if not isinstance(ww, Mapping):
            raise InvalidSandboxPolicy("[sandbox_workspace_write] must be a table")
        roots = ww.get("writable_roots") or []
        if isinstance(roots, str) or not all(isinstance(r, str) for r in roots):
            raise InvalidSandboxPolicy(
                "sandbox_workspace_write.writable_roots must be a list of paths"
            )
        net = ww.get("network_access", False) if network_access is None else network_access
        return cls(
            mode,
            tuple(_dedup([*(os.path.expanduser(r) for r in roots),
                          *(os.path.abspath(os.path.expanduser(d)) for d in add_dirs)])),
            bool(net),
            bool(ww.get("exclude_tmpdir_env_var", False)),
            bool(ww.get("exclude_slash_tmp", False)),
        )

    # -- wire -------------------------------------------------------------------------------

    def to_wire(self) -> dict[str, object]:
        """The policy as JSON-ready data (`type` as Codex names it; settings only when used)."""
        if self.mode != WORKSPACE_WRITE:
            return {"type": self.mode}
        return {
            "type": self.mode,
            "writable_roots": list(self.writable_roots),
            "network_access": self.network_access,
            "exclude_tmpdir_env_var": self.exclude_tmpdir_env_var,
            "exclude_slash_tmp": self.exclude_slash_tmp,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, object] | SandboxPolicy) -> SandboxPolicy:
        """Parse `to_wire()` output; `mode` is accepted as an alias of `type`."""
        if isinstance(data, SandboxPolicy):
            return data
        if not isinstance(data, Mapping):
            raise InvalidSandboxPolicy(f"sandbox policy must be an object, not {data!r}")
        mode = data.get("type", data.get("mode"))
        if not isinstance(mode, str):
            raise InvalidSandboxPolicy("sandbox policy needs a string `type`")
        roots = data.get("writable_roots", [])
        if not isinstance(roots, list | tuple) or not all(isinstance(r, str) for r in roots):
            raise InvalidSandboxPolicy("sandbox policy `writable_roots` must be a list of strings")
        flags = {}
        for key in ("network_access", "exclude_tmpdir_env_var", "exclude_slash_tmp"):
            v = data.get(key, False)
            if not isinstance(v, bool):
                raise InvalidSandboxPolicy(f"sandbox policy `{key}` must be a boolean")
            flags[key] = v
        return cls(mode, tuple(roots), **flags)

    # -- questions --------------------------------------------------------------------------

    @property
    def full_disk_write(self) -> bool:
        return self.mode == DANGER_FULL_ACCESS

    @property
    def full_network(self) -> bool:
        return self.mode == DANGER_FULL_ACCESS or (
            self.mode == WORKSPACE_WRITE and self.network_access
        )

    def effective_writable_roots(self, cwd: str,
                                 env: Mapping[str, str] | None = None) -> list[str]:
        """Absolute, symlink-resolved, existing directories the command may write under.

        Empty for read-only (and meaningless for danger-full-access). Resolving symlinks here
        matters: enforcement is by real location, so `/tmp` -> `/private/tmp` on macOS."""
        if self.mode != WORKSPACE_WRITE:
            return []
        env = os.environ if env is None else env
        candidates = [cwd]
        if not self.exclude_slash_tmp:
            candidates.append("/tmp")
        tmpdir = env.get("TMPDIR")
        if tmpdir and not self.exclude_tmpdir_env_var:
            candidates.append(tmpdir)
        candidates.extend(self.writable_roots)
        out = []
        for c in candidates:
            p = os.path.realpath(os.path.join(cwd, os.path.expanduser(c)))
            if os.path.isdir(p):
                out.append(p)
        return _dedup(out)

    def allows_write(self, path: str, cwd: str, env: Mapping[str, str] | None = None) -> bool:
        """Whether the sandbox would let a command write `path` (for writes codex makes itself,
        e.g. apply_patch, so they follow the same rule as the commands)."""
        if self.mode == DANGER_FULL_ACCESS:
            return True
        roots = self.effective_writable_roots(cwd, env)
        # realpath follows a symlink to where the write would land; a missing file is fine.
        real = os.path.realpath(os.path.join(cwd, path))
        if not any(_is_within(real, r) for r in roots):
            return False
        return not any(_is_within(real, os.path.realpath(p))
                       for r in roots for p in protected_paths(r, roots))

    def describe(self, cwd: str, env: Mapping[str, str] | None = None) -> str:
        """One paragraph for the model's environment context."""
        if self.mode == DANGER_FULL_ACCESS:
            return ("Commands run without a sandbox: they can read and write any file the user "
                    "can, and use the network.")
        net = ("Network access is allowed." if self.full_network else
               "Network access is disabled: connections (even to localhost services of the "
               "user) fail, and so do unix-domain sockets (docker, ssh-agent, D-Bus, a local "
               "database).")
        if self.mode == READ_ONLY:
            return ("Commands run in a read-only sandbox: they can read any file but cannot "
                    f"create, change or delete files anywhere. {net} A command that fails with "
                    "'Permission denied', 'Read-only file system' or a network error was "
                    "probably stopped by the sandbox.")
        roots = ", ".join(self.effective_writable_roots(cwd, env)) or cwd
        return ("Commands run in a workspace-write sandbox: they can read any file, but can "
                f"write only under {roots}; `.git` in those directories stays read-only. "
                f"{net} A command that fails with 'Permission denied', 'Operation not "
                "permitted', 'Read-only file system' or a network error was probably stopped "
                "by the sandbox.")


def protected_paths(root: str, writable_roots: Iterable[str]) -> list[str]:
    """Paths inside writable root `root` that must stay read-only: `root/.git` (a directory,
    or a `gitdir:` file — then also the git directory it points to and that directory's
    common dir, when those lie inside some writable root)."""
    roots = list(writable_roots)
    out: list[str] = []
    for name in PROTECTED_NAMES:
        p = os.path.join(root, name)
        if os.path.isdir(p) and not os.path.islink(p):
            out.append(p)
        elif os.path.isfile(p) and not os.path.islink(p):
            out.append(p)
            gitdir = _read_gitdir_file(p)
            if gitdir is None:
                continue
            gitdir = os.path.realpath(os.path.join(root, gitdir))
            targets = [gitdir]
            common = _read_first_line(os.path.join(gitdir, "commondir"))
            if common:
                targets.append(os.path.realpath(os.path.join(gitdir, common)))
            for t in targets:
                if os.path.isdir(t) and any(_is_within(t, r) for r in roots):
                    out.append(t)
    return _dedup(out)


def _read_gitdir_file(path: str) -> str | None:
    line = _read_first_line(path)
    if line and line.startswith("gitdir:"):
        return line[len("gitdir:"):].strip() or None
    return None


def _read_first_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline(4096).strip()
    except OSError:
        return None


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _dedup(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)
