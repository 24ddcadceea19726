"""The sandbox helper: restrict this process to a policy, then become the command.

`wrap_argv` points spawners here (`python -I -c BOOT --policy-json JSON -- CMD...`, or
`codex sandbox --policy-json ...` from the packaged binary). Every sandboxed command pays for
this start-up, so it imports only the policy and the platform module: no argparse, config,
dataclasses or typing.
"""

from __future__ import annotations

import json
import os
import sys

from codex.errors import CodexError
from codex.sandbox.errors import EXIT_SANDBOX_FAILED, InvalidSandboxPolicy, SandboxUnavailable
from codex.sandbox.policy import DANGER_FULL_ACCESS, SandboxPolicy

EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
USAGE = "usage: codex sandbox --policy-json JSON -- CMD [ARGS...]"


def main(argv: list[str]) -> int:
    """Entry point of the fast path: `--policy-json JSON -- CMD [ARGS...]`."""
    if len(argv) < 4 or argv[0] != "--policy-json" or argv[2] != "--":
        sys.stderr.write(f"codex: error: bad sandbox helper arguments\n{USAGE}\n")
        return 2
    try:
        policy, cwd, arg0 = parse_spec(argv[1])
        return exec_under(policy, argv[3:], cwd, arg0=arg0)
    except CodexError as e:
        sys.stderr.write(f"codex: error: {e.message}\n")
        return e.exit_code


def parse_spec(text: str) -> tuple[SandboxPolicy, str, str | None]:
    """Policy, cwd and arg0 from `--policy-json` (a `to_wire()` dict plus `cwd`, `arg0`)."""
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise InvalidSandboxPolicy(f"--policy-json is not JSON: {e}") from None
    if not isinstance(spec, dict):
        raise InvalidSandboxPolicy("--policy-json must be a JSON object")
    cwd = spec.pop("cwd", None)
    if not isinstance(cwd, str) or not cwd:
        cwd = os.getcwd()
    arg0 = spec.pop("arg0", None)
    if arg0 is not None and not isinstance(arg0, str):
        raise InvalidSandboxPolicy("--policy-json `arg0` must be a string")
    return SandboxPolicy.from_wire(spec), cwd, arg0


def exec_under(policy: SandboxPolicy, argv: list[str], cwd: str, *,
               arg0: str | None = None) -> int:
    """Apply `policy` to this process and exec `argv` (shown as `arg0` when given); returns
    only on failure."""
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
    _restore_signals()
    try:
        os.execvpe(argv[0], [argv[0] if arg0 is None else arg0, *argv[1:]],
                   _command_environ())
    except FileNotFoundError:
        sys.stderr.write(f"codex sandbox: {argv[0]}: command not found\n")
        return EXIT_NOT_FOUND
    except OSError as e:
        sys.stderr.write(f"codex sandbox: {argv[0]}: {e.strerror}\n")
        return EXIT_NOT_EXECUTABLE
    return EXIT_SANDBOX_FAILED  # not reached: exec replaced us


def _restore_signals() -> None:
    # Python ignores SIGPIPE and SIGXFSZ at start-up, and ignored signals stay ignored across
    # exec: without this, `yes | head -1` in the sandbox would print "Broken pipe" errors.
    import _signal  # the C module; `signal` would pull in enum

    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(_signal, name, None)
        if sig is not None:
            _signal.signal(sig, _signal.SIG_DFL)


def _command_environ() -> dict[str, str]:
    env = _initial_environ()
    # A frozen codex may have added its own library paths to our environment; the command
    # must see the user's. The unified-exec helper owns that knowledge (codex.child_env).
    if getattr(sys, "frozen", False) or "__compiled__" in globals():
        try:
            from codex import child_env as ce
        except ImportError:
            pass
        else:
            # Run by codex's own command runner (the frozen program exec'd directly, no
            # launcher or bootloader in between), the environment is already the user's:
            # stripping LD_LIBRARY_PATH there would take away the user's own value.
            marked = any(
                n.startswith((ce.ORIG_PREFIX, *ce.FREEZER_PREFIXES)) or n in ce.FREEZER_NAMES
                for n in env
            ) or any(v + ce.PYI_ORIG_SUFFIX in env for v in ce.FREEZER_PATH_VARS)
            return ce.user_environ(env) if marked else env
    return env


def _initial_environ() -> dict[str, str]:
    # The environment we were started with, not os.environ: Python's start-up may add to that
    # (LC_CTYPE=C.UTF-8 under the C locale, PEP 538), and the command must get exactly what
    # its spawner gave. Linux keeps the exec-time copy in /proc/self/environ.
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return dict(os.environ)
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key:
            env[os.fsdecode(key)] = os.fsdecode(value)
    return env
