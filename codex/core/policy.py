"""Approval policy and sandbox mode: what the agent may run, and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex.config import APPROVAL_POLICIES, SANDBOX_MODES, ConfigError

READ_ONLY = "read-only"
WORKSPACE_WRITE = "workspace-write"
DANGER_FULL_ACCESS = "danger-full-access"


@dataclass(frozen=True)
class Policy:
    approval: str
    sandbox_mode: str
    extra_roots: tuple[str, ...] = field(default_factory=tuple)
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False

    def __post_init__(self) -> None:
        if self.approval not in APPROVAL_POLICIES:
            raise ConfigError(f"invalid approval_policy {self.approval!r}")
        if self.sandbox_mode not in SANDBOX_MODES:
            raise ConfigError(f"invalid sandbox_mode {self.sandbox_mode!r}")

    @classmethod
    def from_config(cls, values: dict[str, Any], extra_dirs: list[str] = ()) -> Policy:
        ww = values.get("sandbox_workspace_write") or {}
        roots = [str(r) for r in ww.get("writable_roots") or []] + [str(d) for d in extra_dirs]
        return cls(approval=values["approval_policy"], sandbox_mode=values["sandbox_mode"],
                   extra_roots=tuple(roots), network_access=bool(ww.get("network_access")),
                   exclude_tmpdir_env_var=bool(ww.get("exclude_tmpdir_env_var")),
                   exclude_slash_tmp=bool(ww.get("exclude_slash_tmp")))

    @property
    def network_allowed(self) -> bool:
        return self.sandbox_mode == DANGER_FULL_ACCESS or (
            self.sandbox_mode == WORKSPACE_WRITE and self.network_access)

    def writable_roots(self, cwd: Path) -> list[str]:
        """Where commands may write (workspace-write), exactly as the sandbox computes it."""
        return self.sandbox_policy(cwd).effective_writable_roots(str(cwd))

    def sandbox_policy(self, cwd: Path) -> Any:
        from codex.sandbox import SandboxPolicy

        return SandboxPolicy.from_wire(self.to_wire(cwd))

    def to_wire(self, cwd: Path) -> dict[str, Any]:
        """The policy as a plain dict (the shape SandboxPolicy.from_wire takes)."""
        if self.sandbox_mode == WORKSPACE_WRITE:
            return {"type": WORKSPACE_WRITE,
                    "writable_roots": [str((cwd / r).resolve()) for r in self.extra_roots],
                    "network_access": self.network_access,
                    "exclude_tmpdir_env_var": self.exclude_tmpdir_env_var,
                    "exclude_slash_tmp": self.exclude_slash_tmp}
        return {"type": self.sandbox_mode}

    def may_write(self, path: Path, cwd: Path) -> bool:
        """Whether a file write by the agent itself (apply_patch) is inside the policy: the
        same rule the sandbox applies to commands."""
        return self.sandbox_policy(cwd).allows_write(str(path), str(cwd))
