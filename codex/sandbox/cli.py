"""`codex sandbox [-s MODE] [--allow-network] [--writable-root DIR]... -- CMD [ARGS...]`.

Runs one command under a sandbox policy; the command's exit status is ours (we exec it). The
hidden `--policy-json` form is the helper behind `wrap_argv` from the packaged binary, so what a
user checks by hand is exactly what the agent's commands get.
"""

from __future__ import annotations

import argparse
import os

from codex.errors import UsageError
from codex.sandbox._helper import exec_under, parse_spec
from codex.sandbox.policy import SandboxPolicy


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

        policy = SandboxPolicy.from_config(
            load_from_args(args),
            sandbox_mode=args.sandbox,
            add_dirs=args.writable_root,
            network_access=True if args.allow_network else None,
        )
        cwd = os.getcwd()
    return exec_under(policy, argv, cwd, arg0=arg0)
