"""Recognising a patch sent as a shell heredoc: `apply_patch <<'EOF' … EOF`.

Models trained on Codex often run the patch tool through the shell instead of calling it. We
take the heredoc body literally (no `$VAR` or backslash expansion even for an unquoted `<<EOF`):
the model means the text it wrote, and a shell would mangle `$` in code.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# A program name accepted in front of the heredoc (both spellings Codex accepts).
PROGRAMS = ("apply_patch", "applypatch")

_DELIM = r"""(?P<delim>'[^'\n]+'|"[^"\n]+"|[A-Za-z_][A-Za-z0-9_.-]*)"""
_OPEN = rf"<<(?P<dash>-)?[ \t]*{_DELIM}"
# `cd DIR &&` in front is common when the model wants another directory; DIR may be quoted.
_CD = r"""cd[ \t]+(?P<dir>'[^'\n]*'|"(?:[^"\\\n]|\\.)*"|[^\s;&|'"<>]+)[ \t]*&&[ \t]*"""
_COMMAND_LINE = re.compile(rf"^(?:{_CD})?(?P<prog>{'|'.join(PROGRAMS)})[ \t]*{_OPEN}[ \t]*$")
# Inside the patch tool's own input the program name is optional: `<<'EOF'` alone is a wrapper.
_WRAPPER_LINE = re.compile(rf"^(?:(?:{'|'.join(PROGRAMS)})[ \t]*)?{_OPEN}[ \t]*$")


@dataclass(frozen=True)
class HeredocCommand:
    """A shell command that only applies a patch: its text and the directory it runs in."""

    patch: str
    # The DIR of a leading `cd DIR &&`, unquoted, as written (relative paths are relative to the
    # command's cwd); None when the command applies the patch where it stands.
    workdir: str | None = None


def parse_heredoc_command(cmd: str) -> HeredocCommand | None:
    """The patch (and `cd` directory) of `[cd DIR &&] apply_patch <<'EOF'\\n…\\nEOF`, else None.

    Anything else in the command (a second command after the terminator, a pipe, a missing
    terminator) makes it an ordinary shell command: None.
    """
    first, sep, rest = cmd.strip().partition("\n")
    match = _COMMAND_LINE.match(first.strip())
    if not match or not sep:
        return None
    body = _heredoc_body(rest, match)
    if body is None:
        return None
    workdir = match.group("dir")
    if workdir is not None:
        try:
            (workdir,) = shlex.split(workdir)
        except ValueError:
            return None
        if not workdir:
            return None
    return HeredocCommand(patch=body, workdir=workdir)


def extract_heredoc(cmd: str) -> str | None:
    """The patch text of `apply_patch <<'EOF' … EOF` (or `applypatch`), else None.

    A command that first changes directory (`cd DIR && apply_patch <<'EOF'`) gives None here,
    so a caller that does not know about the directory never applies a patch in the wrong
    place; use `parse_heredoc_command` to get both the patch and the directory.
    """
    parsed = parse_heredoc_command(cmd)
    if parsed is None or parsed.workdir is not None:
        return None
    return parsed.patch


def unwrap_heredoc(text: str) -> str | None:
    """The body of a patch the model wrapped in `<<'EOF'` … `EOF` (program name optional)."""
    first, sep, rest = text.strip().partition("\n")
    match = _WRAPPER_LINE.match(first.strip())
    if not match or not sep:
        return None
    return _heredoc_body(rest, match)


def _heredoc_body(rest: str, match: re.Match[str]) -> str | None:
    delim = match.group("delim")
    if delim[0] in "'\"":
        delim = delim[1:-1]
    strip_tabs = match.group("dash") is not None
    lines = [line.removesuffix("\r") for line in rest.split("\n")]
    for index, line in enumerate(lines):
        candidate = line.lstrip("\t") if strip_tabs else line
        if candidate.rstrip() != delim:
            continue
        if any(extra.strip() for extra in lines[index + 1:]):
            return None  # more shell after the heredoc: not ours to run
        body = lines[:index]
        if strip_tabs:
            body = [b.lstrip("\t") for b in body]
        return "\n".join(body)
    return None
