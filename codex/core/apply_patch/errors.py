"""The one error type of the patch engine, with a machine code and a message for people."""

from __future__ import annotations

from codex.errors import CodexError

# Codes say which stage refused the patch; the message is what the model gets to read.
INVALID_PATCH = "invalid_patch"  # the text is not a well-formed patch
VERIFICATION_FAILED = "verification_failed"  # well-formed, but does not fit the files on disk
APPLY_FAILED = "apply_failed"  # writing failed; everything written so far was rolled back


class PatchError(CodexError):
    """A patch that was refused; nothing on disk was changed (see `code` for the stage)."""

    def __init__(self, message: str, *, code: str = VERIFICATION_FAILED) -> None:
        super().__init__(message)
        self.code = code
