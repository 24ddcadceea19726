"""Errors meant for people: a message and the exit code the CLI should end with."""

from __future__ import annotations


class CodexError(Exception):
    """An error the CLI reports as one clean line (no traceback) and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(CodexError):
    """Bad command-line input (exit 2, like argparse's own errors)."""

    exit_code = 2
