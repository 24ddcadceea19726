"""`codex sandbox [-s MODE] [--allow-network] [--writable-root DIR]... -- CMD [ARGS...]`.

Runs one command under a sandbox policy; the command's exit status is ours (we exec it). The
same code path is the internal helper behind `wrap_argv` (hidden `--policy-json`), so what a
user checks by hand is exactly what the agent's commands get. Kept light: no config, HTTP or
agent imports on the helper path, which every sandboxed command pays for.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from codex.errors import UsageError
from codex.sandbox.errors import EXIT_SANDBOX_FAILED, InvalidSandboxPolicy, SandboxUnavailable
from codex.sandbox.policy import DANGER_FULL_ACCESS, SandboxPolicy

EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


def run(args: Any) -> int:
    argv = list(args.sandboxed_argv or [])
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise UsageError("no command given: codex sandbox [OPTIONS] -- CMD [ARGS...]")
    if args.policy_json is not None:
        try:
            spec = json.loads(args.policy_json)
        except ValueError as e:
            raise InvalidSandboxPolicy(f"--policy-json is not JSON: {e}") from None
        if not isinstance(spec, dict):
            raise InvalidSandboxPolicy("--policy-json must be a JSON object")
        cwd = spec.pop("cwd", None) or os.getcwd()
        policy = SandboxPolicy.from_wire(spec)
    else:
        from codex.config import load_from_args

        policy = SandboxPolicy.from_config(
            load_from_args(args),
            sandbox_mode=args.sandbox,
            add_dirs=args.writable_root,
            network_access=True if args.allow_network else None,
        )
        cwd = os.getcwd()
    return _exec(policy, argv, cwd)


def _exec(policy: SandboxPolicy, argv: list[str], cwd: str) -> int:
    if policy.mode != DANGER_FULL_ACCESS:
        if sys.platform.startswith("linux"):
            from codex.sandbox import linux

            linux.apply_to_self(policy, cwd)
        elif sys.platform == "darwin":
            from codex.sandbox import macos

            argv = macos.wrap_argv(policy, argv, cwd)
        else:
            raise SandboxUnavailable(
                f"sandbox unavailable: codex has no {policy.mode} sandbox for {sys.platform}"
            )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], argv, _command_environ())
    except FileNotFoundError:
        sys.stderr.write(f"codex sandbox: {argv[0]}: command not found\n")
        return EXIT_NOT_FOUND
    except OSError as e:
        sys.stderr.write(f"codex sandbox: {argv[0]}: {e.strerror}\n")
        return EXIT_NOT_EXECUTABLE
    return EXIT_SANDBOX_FAILED  # not reached: exec replaced us


def _command_environ() -> dict[str, str]:
    # A frozen codex may have added its own library paths to our environment; the command
    # must see the user's. The unified-exec helper owns that knowledge (codex.child_env).
    if getattr(sys, "frozen", False) or "__compiled__" in globals():
        try:
            from codex.child_env import user_environ
        except ImportError:
            pass
        else:
            return user_environ()
    return dict(os.environ)
