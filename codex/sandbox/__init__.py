"""Sandboxing of model-run commands: the policy, and the argv that enforces it.

Other packages use only these names: `SandboxPolicy`, `wrap_argv`, `SandboxUnavailable`,
`InvalidSandboxPolicy`, `is_sandbox_denial`. Importing this package is cheap (no system calls);
the platform modules load when a command is wrapped.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from codex.sandbox.errors import EXIT_SANDBOX_FAILED, InvalidSandboxPolicy, SandboxUnavailable
from codex.sandbox.policy import DANGER_FULL_ACCESS, SandboxPolicy

__all__ = [
    "EXIT_SANDBOX_FAILED",
    "InvalidSandboxPolicy",
    "SandboxPolicy",
    "SandboxUnavailable",
    "is_sandbox_denial",
    "self_command",
    "wrap_argv",
]

# Runs this checkout's codex without `-m`: `-I` keeps the helper from importing a `codex/`
# package the command may have written into its cwd (that code would run unsandboxed).
_BOOT = "import sys; sys.path.insert(0, {path!r}); from codex.cli import main; sys.exit(main())"


def self_command() -> list[str]:
    """The argv prefix that runs this very codex (the packaged binary when frozen)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    if "__compiled__" in globals():  # Nuitka: argv[0] is the distributed file
        return [os.path.abspath(sys.argv[0])]
    pkg_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return [sys.executable, "-I", "-c", _BOOT.format(path=pkg_parent)]


def wrap_argv(policy: Mapping[str, Any] | SandboxPolicy, argv: Sequence[str],
              cwd: str) -> list[str]:
    """The argv that runs `argv` in `cwd` under `policy` (a `to_wire()` dict or a policy).

    danger-full-access returns `argv` unchanged. On Linux the result re-executes codex as
    `codex sandbox --policy-json ... -- argv`, which restricts itself and then execs `argv`; on
    macOS it is `/usr/bin/sandbox-exec -p PROFILE ...`. Raises SandboxUnavailable when this
    machine cannot enforce the policy (never returns an unsandboxed argv for it)."""
    p = SandboxPolicy.from_wire(policy)
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("wrap_argv: empty command")
    if p.mode == DANGER_FULL_ACCESS:
        return argv
    if sys.platform.startswith("linux"):
        from codex.sandbox import linux

        linux.check_available(p)
        spec = json.dumps({**p.to_wire(), "cwd": cwd}, separators=(",", ":"))
        return [*self_command(), "sandbox", "--policy-json", spec, "--", *argv]
    if sys.platform == "darwin":
        from codex.sandbox import macos

        return macos.wrap_argv(p, argv, cwd)
    raise SandboxUnavailable(
        f"sandbox unavailable: codex has no {p.mode} sandbox for {sys.platform}; the command "
        "was not run (use -s danger-full-access only on an isolated machine)"
    )


# Landlock answers EACCES (or EXDEV for a link/rename that would widen access); the read-only
# `.git` mounts answer EROFS.
_FS_DENIALS = ("permission denied", "operation not permitted", "read-only file system",
               "invalid cross-device link")
_NET_DENIALS = ("network is unreachable", "could not resolve host", "name or service not known",
                "temporary failure in name resolution", "failed to resolve",
                "connection refused", "no address associated with hostname")


def is_sandbox_denial(exit_code: int | None, output: str, *,
                      policy: Mapping[str, Any] | SandboxPolicy | None = None) -> bool:
    """Whether a failed command looks stopped by the sandbox (a heuristic for the model).

    True for a non-zero exit whose output carries the errors Landlock, the read-only mounts
    or the empty network namespace produce. With `policy`, an unrestricted mode never counts
    and network errors count only when the network was off."""
    if not exit_code:
        return False
    net_off = True
    if policy is not None:
        p = SandboxPolicy.from_wire(policy)
        if p.mode == DANGER_FULL_ACCESS:
            return False
        net_off = not p.full_network
    if exit_code == EXIT_SANDBOX_FAILED and "sandbox unavailable" in output:
        return False  # never ran: not a denial, the sandbox itself is missing
    text = output.lower()
    if any(m in text for m in _FS_DENIALS):
        return True
    return net_off and any(m in text for m in _NET_DENIALS)
