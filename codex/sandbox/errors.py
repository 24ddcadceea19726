"""The sandbox's errors, as types with a message for people."""

from __future__ import annotations

from codex.errors import CodexError

# Exit status of `codex sandbox` when the sandbox itself could not be set up (the command never
# ran). 126/127 keep their shell meanings (found but not runnable / not found), as with `env`.
EXIT_SANDBOX_FAILED = 125


class SandboxUnavailable(CodexError):
    """This machine cannot enforce the requested policy; the command was not run."""

    exit_code = EXIT_SANDBOX_FAILED


class InvalidSandboxPolicy(CodexError, ValueError):
    """A policy dict (from the wire or config) that cannot be understood."""

    exit_code = EXIT_SANDBOX_FAILED
