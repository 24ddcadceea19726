"""The apply_patch engine: parse a patch, verify it against the disk, apply it all-or-nothing.

Pure Python with no I/O besides the files it patches. The agent calls `apply_patch(text, cwd)`
and sends `PatchResult.summary_text()` to the model, or on `PatchError` the text
`apply_patch verification failed: <message>`. `verify_patch` + `PatchPlan.apply` split the two
steps for callers that ask for approval in between. `parse_heredoc_command` / `extract_heredoc`
recognise `apply_patch <<'EOF'` sent as a shell command.
"""

from .apply import FileChange, PatchPlan, PatchResult, apply_patch, verify_patch
from .errors import PatchError
from .heredoc import HeredocCommand, extract_heredoc, parse_heredoc_command
from .parser import AddFile, Chunk, DeleteFile, Patch, UpdateFile, parse_patch

__all__ = [
    "AddFile",
    "Chunk",
    "DeleteFile",
    "FileChange",
    "HeredocCommand",
    "Patch",
    "PatchError",
    "PatchPlan",
    "PatchResult",
    "UpdateFile",
    "apply_patch",
    "extract_heredoc",
    "parse_heredoc_command",
    "parse_patch",
    "verify_patch",
]
