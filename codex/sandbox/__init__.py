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

# From a checkout: `-I` (and no `-m`) keeps these from importing a `codex/` package the command
# may have written into its cwd, or anything on PYTHONPATH; that code would run before the
# sandbox is in place. The helper needs only the standard library and this package, so it also
# skips site-packages (`-S`: .pth processing of an editable install alone costs ~20 ms) and
# codex.cli (argparse): every sandboxed command pays for this start-up.
_CLI_BOOT = ("import sys; sys.path.insert(0, {path!r}); from codex.cli import main; "
             "sys.exit(main())")
# (Appended, not prepended: the standard library stays ahead of whatever sits beside codex.)
_HELPER_BOOT = ("import sys; sys.path.append({path!r}); from codex.sandbox._helper import "
                "main; sys.exit(main(sys.argv[1:]))")


def _frozen() -> bool:
    return bool(getattr(sys, "frozen", False)) or "__compiled__" in globals()


def _frozen_executable() -> str:
    # The program really running, whatever the freezer says sys.executable is (and past any
    # launcher that unpacked it): re-executing it skips the launcher's work.
    if sys.platform.startswith("linux"):
        try:
            exe = os.readlink("/proc/self/exe")
        except OSError:
            exe = ""
        if exe and os.path.isfile(exe):
            return exe
    return sys.executable


def _package_parent() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def self_command() -> list[str]:
    """The argv prefix that runs this very codex (the packaged binary when frozen)."""
    if _frozen():
        return [_frozen_executable()]
    return [sys.executable, "-I", "-c", _CLI_BOOT.format(path=_package_parent())]


def _helper_prefix() -> list[str]:
    if _frozen():
        return [_frozen_executable(), "sandbox"]
    return [sys.executable, "-I", "-S", "-c", _HELPER_BOOT.format(path=_package_parent())]


def wrap_argv(policy: Mapping[str, object] | SandboxPolicy, argv: Sequence[str],
              cwd: str | None, *, arg0: str | None = None) -> list[str]:
    """The argv that runs `argv` in `cwd` under `policy` (a `to_wire()` dict or a policy).

    danger-full-access returns `argv` unchanged. On Linux the result re-executes codex as
    `codex sandbox --policy-json ... -- argv`, which restricts itself and then execs `argv`; on
    macOS it is `/usr/bin/sandbox-exec -p PROFILE ...`. Raises SandboxUnavailable when this
    machine cannot enforce the policy (never returns an unsandboxed argv for it).

    `arg0`, when given, is the argv[0] the command sees (e.g. `-bash` for a login shell); the
    Linux helper carries it, macOS's sandbox-exec cannot (there it is dropped)."""
    p = SandboxPolicy.from_wire(policy)
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("wrap_argv: empty command")
    if p.mode == DANGER_FULL_ACCESS:
        return argv
    if sys.platform.startswith("linux"):
        from codex.sandbox import linux

        linux.check_available(p)
        extra: dict[str, str] = {"cwd": os.path.abspath(cwd) if cwd else os.getcwd()}
        if arg0 is not None:
            extra["arg0"] = arg0
        spec = json.dumps({**p.to_wire(), **extra}, separators=(",", ":"))
        return [*_helper_prefix(), "--policy-json", spec, "--", *argv]
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
                      policy: Mapping[str, object] | SandboxPolicy | None = None) -> bool:
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
