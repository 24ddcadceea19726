"""Custom prompts: `$CODEX_HOME/prompts/NAME.md` is offered as `/prompts:NAME` (spec tui.md
"Slash commands").

The file's text (after an optional `---` front matter giving `description:` and
`argument-hint:`) is sent with its placeholders filled from what is typed after the command:
- positional: `$1`..`$9` are the shell-style words typed, `$ARGUMENTS` all of them;
- named: `$NAME` (upper case, digits, `_`) is given as `NAME=value` (quote a value with spaces);
  every named placeholder must be given;
- `$$` is a literal `$`.
A prompt with any placeholder takes arguments: choosing it completes `/prompts:NAME ` in the
composer instead of sending it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "prompts:"
# `$$` first, so an escaped dollar is never read as the start of a placeholder.
_TOKEN = re.compile(r"\$\$|\$([1-9])|\$([A-Z][A-Z0-9_]*)")
ARGUMENTS = "ARGUMENTS"


class PromptArgsError(ValueError):
    """The arguments typed do not fit the prompt's placeholders (the message says how)."""


@dataclass(frozen=True, slots=True)
class CustomPrompt:
    name: str  # the command without the slash, e.g. "prompts:fix"
    path: Path
    description: str
    argument_hint: str = ""
    named: tuple[str, ...] = field(default=())  # named placeholders, in order of appearance
    positional: bool = False  # uses $1..$9 or $ARGUMENTS

    @property
    def takes_arguments(self) -> bool:
        return self.positional or bool(self.named)


@dataclass(frozen=True, slots=True)
class Placeholders:
    named: tuple[str, ...]
    positional: bool


def placeholders(body: str) -> Placeholders:
    """The placeholders `body` uses (named ones once each, in order; `$$` is not one)."""
    named: dict[str, None] = {}
    positional = False
    for m in _TOKEN.finditer(body):
        if m.group(1) or m.group(2) == ARGUMENTS:
            positional = True
        elif m.group(2):
            named[m.group(2)] = None
    return Placeholders(tuple(named), positional)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """(`key: value` pairs of a leading `---` block, the body after it)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text
    meta: dict[str, str] = {}
    for i, ln in enumerate(lines[1:], 1):
        if ln.strip() == "---":
            return meta, "".join(lines[i + 1:])
        key, sep, value = ln.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return {}, text  # no closing line: not front matter


def discover(home: Path) -> list[CustomPrompt]:
    folder = home / "prompts"
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix == ".md" and p.is_file())
    except OSError:
        return []
    out = []
    for p in files:
        try:
            meta, body = split_front_matter(p.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        first = body.strip().splitlines()
        desc = meta.get("description") or (first[0][:60] if first else "")
        ph = placeholders(body)
        out.append(CustomPrompt(PREFIX + p.stem, p, desc, meta.get("argument-hint", ""),
                                ph.named, ph.positional))
    return out


def load(prompt: CustomPrompt) -> str:
    """The prompt's body (front matter removed); OSError when the file cannot be read."""
    return split_front_matter(prompt.path.read_text(encoding="utf-8", errors="replace"))[1]


def _words(arguments: str) -> list[str]:
    try:
        return shlex.split(arguments)
    except ValueError:  # an unclosed quote: plain words rather than nothing
        return arguments.split()


def expand(template: str, arguments: str) -> str:
    """`template` with its placeholders filled from `arguments` (see the module docstring).
    Missing positions are empty. PromptArgsError when the template has named placeholders and
    a word is not `KEY=value`, or a named placeholder is not given."""
    ph = placeholders(template)
    words = _words(arguments)
    values: dict[str, str] = {}
    if ph.named:
        for w in words:
            key, sep, value = w.partition("=")
            if not sep or not key:
                raise PromptArgsError(f"expected KEY=value, found {w!r} (quote a value with "
                                      "spaces: KEY=\"two words\")")
            values[key] = value
        missing = [n for n in ph.named if n not in values]
        if missing:
            raise PromptArgsError("missing " + ", ".join(f"{n}=…" for n in missing))

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        if m.group(1):
            i = int(m.group(1)) - 1
            return words[i] if i < len(words) else ""
        name = m.group(2)
        if name == ARGUMENTS:
            return arguments.strip()
        return values.get(name, m.group(0))

    return _TOKEN.sub(sub, template)
