"""How the model is offered apply_patch: a freeform tool (Responses API), a JSON function
(Chat Completions), and a short explanation of the patch format for the system prompt."""

from __future__ import annotations

from typing import Any

# A Lark grammar of exactly what `parse_patch` accepts in its canonical form (the parser is more
# forgiving than this). Sampling under it keeps the model inside the format. Only the first
# section of an update may leave out its `@@` line, so there is one way to read every patch;
# several `@@ <line>` in a row narrow the search step by step (class, then method).
APPLY_PATCH_LARK_GRAMMAR = r"""
start: begin operation+ finish

begin: "*** Begin Patch" NL
finish: "*** End Patch" NL?

operation: new_file | removed_file | changed_file

new_file: "*** Add File: " LINE NL file_line*
file_line: "+" LINE? NL

removed_file: "*** Delete File: " LINE NL

changed_file: "*** Update File: " LINE NL move? (opening_section section*)?
move: "*** Move to: " LINE NL
opening_section: anchor* edit_line+ end_of_file?
section: anchor+ edit_line+ end_of_file?
anchor: "@@" NL
      | "@@ " LINE NL
edit_line: unchanged | removed | added
unchanged: " " LINE? NL
removed: "-" LINE? NL
added: "+" LINE? NL
end_of_file: "*** End of File" NL

LINE: /[^\r\n]+/
NL: "\n"
"""

_FREEFORM_DESCRIPTION = (
    "Create, edit, rename or delete files by sending a patch. The whole input is the patch "
    "itself (no JSON, no code fences): it opens with '*** Begin Patch', lists file "
    "operations, and closes with '*** End Patch'. Edits name a few unchanged lines around "
    "each change so they can be located without line numbers. Paths are relative to the "
    "working directory. The patch is checked completely before anything is written and is "
    "applied entirely or not at all."
)

_JSON_DESCRIPTION = (
    "Create, edit, rename or delete files by sending a patch in the `input` argument. The "
    "patch opens with '*** Begin Patch', lists file operations, and closes with "
    "'*** End Patch'. Edits name a few unchanged lines around each change so they can be "
    "located without line numbers. Paths are relative to the working directory. The patch is "
    "checked completely before anything is written and is applied entirely or not at all."
)

APPLY_PATCH_FREEFORM_TOOL: dict[str, Any] = {
    "type": "custom",
    "name": "apply_patch",
    "description": _FREEFORM_DESCRIPTION,
    "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_LARK_GRAMMAR},
}

APPLY_PATCH_JSON_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "apply_patch",
    "description": _JSON_DESCRIPTION,
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "input": {
                "type": "string",
                "description": "The full patch text, from '*** Begin Patch' to '*** End Patch'.",
            }
        },
        "required": ["input"],
        "additionalProperties": False,
    },
}

APPLY_PATCH_INSTRUCTIONS = """\
## Editing files with apply_patch

Change files with the `apply_patch` tool. Its input is a patch in this envelope:

*** Begin Patch
<one or more file operations>
*** End Patch

File operations:
- `*** Add File: <path>` then the new file's lines, each starting with `+`. An existing file
  at that path is replaced.
- `*** Delete File: <path>` with nothing after it.
- `*** Update File: <path>`, optionally followed by `*** Move to: <new path>` to rename it,
  then one or more sections describing the edits.

A section of an update starts with `@@`, optionally followed by one line copied from the file
(such as `@@ def handle_request(self):` or `@@ class Parser:`) that comes before the change; the
section's lines are then looked for after that line. Each following line starts with one
character: a space for a line that stays, `-` for a line to remove, `+` for a line to add.
Show about three unchanged lines before and after each change so the spot is unambiguous; use
an extra `@@` line naming the enclosing class or function when the same lines occur more than
once. Sections of one file must appear in the order their lines occur in the file. If a section
reaches the very end of the file, finish it with `*** End of File`.

Example:

*** Begin Patch
*** Update File: src/app.py
@@ def greet(name):
-    print("hi " + name)
+    print(f"Hello, {name}!")
     return name
*** Add File: docs/NOTES.md
+# Notes
+First entry.
*** Delete File: old/legacy.py
*** End Patch

Paths are relative to the working directory; never use line numbers. The whole patch is checked
before anything is written, and a patch that does not fit the files changes nothing: read the
error, look at the file again, and send a corrected patch.
"""
