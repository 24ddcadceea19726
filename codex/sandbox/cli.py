"""`codex sandbox [-s MODE] [--allow-network] [--writable-root DIR]... -- CMD [ARGS...]`.

Runs one command under a sandbox policy; the command's exit status is ours (we exec it). The
policy resolves like every other setting (`codex.config`): workspace-write by default for this
command, then `sandbox_mode` and `[sandbox_workspace_write]` from config.toml, the profile and
`-c`, then the flags (`-s`, `--allow-network`; `--writable-root` adds to `writable_roots`).
The hidden `--policy-json` form is the helper behind `wrap_argv` from the packaged binary, so
what a user checks by hand is exactly what the agent's commands get.
"""

from __future__ import annotations

import argparse
import os

from codex.errors import UsageError
from codex.sandbox._helper import exec_under, parse_spec
from codex.sandbox.policy import WORKSPACE_WRITE, SandboxPolicy

# What `codex sandbox` checks when nothing is configured: the mode the agent's commands
# usually run in (the config-wide default, read-only, would make most checks trivial).
COMMAND_DEFAULTS = {"sandbox_mode": WORKSPACE_WRITE}


def run(args: argparse.Namespace) -> int:
    argv = list(args.sandboxed_argv or [])
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise UsageError("no command given: codex sandbox [OPTIONS] -- CMD [ARGS...]")
    arg0 = None
    if args.policy_json is not None:
        policy, cwd, arg0 = parse_spec(args.policy_json)
    else:
        from codex.config import load_from_args

        config = load_from_args(
            args,
            flags={"sandbox_mode": args.sandbox,
                   "sandbox_workspace_write.network_access": True if args.allow_network
                   else None},
            defaults=COMMAND_DEFAULTS,
        )
        policy = SandboxPolicy.from_config(config, add_dirs=args.writable_root)
        cwd = os.getcwd()
    return exec_under(policy, argv, cwd, arg0=arg0)
