"""The apply_patch engine: parse a patch, verify it against the disk, apply it all-or-nothing.

Pure Python with no I/O besides the files it patches. The agent calls `apply_patch(text, cwd)`
and sends `PatchResult.summary_text()` to the model, or on `PatchError` the text
`apply_patch verification failed: <message>`. `verify_patch` + `PatchPlan.apply` split the two
steps for callers that check a policy or ask for approval in between (`PatchPlan.written_paths`
lists every path the apply will touch). `parse_heredoc_command` / `extract_heredoc` recognise
`[cd DIR &&] apply_patch <<'EOF'` sent as a shell command. `tool.py` holds the tool definitions
offered to the model and the format explanation for the system prompt.

Where we differ from Codex on purpose (ours):
- Atomic: a patch that fails at any point, even while writing, leaves every file as it was.
- Bytes outside the changed lines stay as they were: each line's own ending (`\r\n`, `\r`,
  `\n`, mixed in one file), the final line break or its absence (Codex always adds one), a
  UTF-8 or UTF-16 byte-order mark, bytes that are not UTF-8, the permission bits. Context
  lines keep the file's own text (the model's copy of them may differ in whitespace).
- A pure insertion chunk under `@@ <line>` goes right after that line (Codex: end of file).
- `*** End of File` prefers the end but still finds the lines elsewhere if they are not there.
- Pass 4 also equates composed and decomposed accents (NFC).
- A Markdown code fence around the patch, blank lines between hunks and a unified-diff
  `@@ -1,2 +1,3 @@` header are tolerated; an update with only `*** Move to:` is a rename.
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
