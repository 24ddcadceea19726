"""Custom prompts: `$CODEX_HOME/prompts/NAME.md` is offered as `/prompts:NAME` (spec tui.md
"Slash commands"). The file's text is sent with `$1`..`$9` replaced by the words typed after
the command and `$ARGUMENTS` by all of them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

PREFIX = "prompts:"
_PLACEHOLDER = re.compile(r"\$(ARGUMENTS|[1-9])")


@dataclass(frozen=True, slots=True)
class CustomPrompt:
    name: str  # the command without the slash, e.g. "prompts:fix"
    path: Path
    description: str


def discover(home: Path) -> list[CustomPrompt]:
    folder = home / "prompts"
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix == ".md" and p.is_file())
    except OSError:
        return []
    out = []
    for p in files:
        try:
            first = p.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            continue
        desc = first[0][:60] if first else ""
        out.append(CustomPrompt(PREFIX + p.stem, p, desc))
    return out


def expand(template: str, arguments: str) -> str:
    """`template` with `$1`..`$9` and `$ARGUMENTS` substituted (missing positions: empty)."""
    try:
        words = shlex.split(arguments)
    except ValueError:
        words = arguments.split()

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key == "ARGUMENTS":
            return arguments.strip()
        i = int(key) - 1
        return words[i] if i < len(words) else ""

    return _PLACEHOLDER.sub(sub, template)
