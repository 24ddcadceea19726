"""History cells (spec tui.md "Cells"): each function returns the ANSI lines printed into the
scrollback for one thing that happened. Untrusted text (model output, command output, diffs)
is sanitised here, at the edge, before it is drawn.

Every function takes the `Renderer` and the terminal width and returns `list[str]`; a cell
that also has a longer form for the transcript (Ctrl-T) returns a `Cell(lines, full)`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text

from codex.tui.banner import fit
from codex.tui.render import Renderer
from codex.tui.sanitize import sanitize

OUTPUT_HEAD = 3  # command output lines shown before the "… +N lines" marker
OUTPUT_TAIL = 3
USER_LINES_SHOWN = 12  # of a long user message in the scrollback; the transcript has all
DIFF_LINES_SHOWN = 40  # per patch cell in the scrollback; the transcript has all of them
BULLET = "• "
INDENT = "  "


@dataclass(frozen=True, slots=True)
class Cell:
    lines: list[str]
    full: list[str] | None = None  # the transcript's version, when it differs


def truncate(text: str, width: int) -> str:
    """`text` cut to `width` terminal columns (wide characters count 2), with an ellipsis."""
    return fit(text, width, cell_len)


def _styled(r: Renderer, text: str, style: str) -> str:
    return r.style(text, style)


def _prefixed(lines: Sequence[str], first: str, rest: str) -> list[str]:
    # A blank line stays empty: an indent alone would be trailing blanks in the scrollback.
    return [(first if i == 0 else rest) + line if line or i == 0 else ""
            for i, line in enumerate(lines)]


def user_message(r: Renderer, text: str, width: int,
                 max_lines: int | None = None) -> list[str]:
    """The user's message; with `max_lines`, its first lines and `… +N lines` (a long paste
    does not flood the scrollback; the transcript has it whole)."""
    text = sanitize(text).rstrip("\n")
    hidden = 0
    if max_lines is not None:
        src = text.split("\n")
        if len(src) > max_lines + 1:
            hidden = len(src) - max_lines
            text = "\n".join(src[:max_lines])
    body = r.text(Text(text, style="bold"), width - 2)
    if hidden:
        body.append(_styled(r, f"… +{hidden:,} lines (ctrl+t to view)", "dim italic"))
    return _prefixed(body or [""], _styled(r, "› ", "bold cyan"), INDENT)


def agent_lines(r: Renderer, source: str, width: int, first: bool) -> list[str]:
    """One committed chunk of an agent message (Markdown), indented under a bullet."""
    body = r.markdown(source, width - 2)
    return _prefixed(body, BULLET if first else INDENT, INDENT)


_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")


def bold_spans(text: str) -> list[str]:
    """The closed `**bold**` (or `__bold__`) spans of `text`, in order."""
    return [m.group(1) or m.group(2) for m in _BOLD.finditer(text)]


def emphasis_text(line: str) -> Text:
    """One line of Markdown whose `**bold**` (or `__bold__`) spans become bold text, the
    markers dropped: `**Thinking** about it` → "Thinking about it" with "Thinking" bold."""
    t = Text()
    pos = 0
    for m in _BOLD.finditer(line):
        t.append(line[pos:m.start()])
        t.append(m.group(1) or m.group(2), style="bold")
        pos = m.end()
    t.append(line[pos:])
    return t


def reasoning(r: Renderer, text: str, width: int, full: bool) -> list[str]:
    """A reasoning summary: its first line (the model's bold headline, markers removed), or
    every line when `full` (`show_raw_agent_reasoning`)."""
    text = sanitize(text).strip()
    if not text:
        return []
    lines = text.splitlines() if full else text.splitlines()[:1]
    body: list[str] = []
    for ln in lines:
        t = emphasis_text(ln.strip() if not full else ln)
        t.stylize("dim italic")
        body += r.text(t, width - 2) or [""]
    return _prefixed(body, BULLET, INDENT)


def info(r: Renderer, text: str, width: int, style: str = "dim") -> list[str]:
    return _prefixed(r.text(Text(sanitize(text), style=style), width - 2), BULLET, INDENT)


def error(r: Renderer, text: str, width: int) -> list[str]:
    return _prefixed(r.text(Text(sanitize(text), style="red"), width - 2),
                     _styled(r, "■ ", "bold red"), INDENT)


def warning(r: Renderer, text: str, width: int) -> list[str]:
    return _prefixed(r.text(Text(sanitize(text), style="yellow"), width - 2),
                     _styled(r, "⚠ ", "bold yellow"), INDENT)


def command_title(command: str) -> str:
    lines = sanitize(command).strip().splitlines() or [""]
    return lines[0] + (" …" if len(lines) > 1 else "")


def exec_cell(r: Renderer, command: str, exit_code: int | None, duration_s: float,
              output: str, status: str, width: int, *, user_shell: bool = False) -> Cell:
    """A finished command: `• Ran cmd`, its status, and the first/last lines of output."""
    mark = {"completed": ("✓", "green"), "running": ("•", "cyan")}.get(status, ("✗", "red"))
    verb = {"declined": "Declined", "aborted": "Interrupted", "running": "Running"}.get(
        status, "Ran" if not user_shell else "You ran")
    detail = f"{duration_s:.1f}s" if duration_s >= 0.05 else ""
    if exit_code not in (None, 0):
        detail = f"exit {exit_code}" + (f" · {detail}" if detail else "")
    def header(cmd: str) -> Text:
        head = Text()
        head.append(mark[0] + " ", style=f"bold {mark[1]}")
        head.append(verb + " ", style="bold")
        head.append(cmd)
        if detail:
            head.append(f"  {detail}", style="dim")
        return head

    # Cut the command, never its outcome: the mark, verb and `exit N · 1.2s` always show.
    fixed = cell_len(header("").plain)
    lines = [truncate_ansi(r, header(truncate(command_title(command),
                                              max(8, width - fixed))), width)]
    # The transcript's header: the whole command, every line of it (the pager wraps it).
    full_head = r.lines(header(sanitize(command).strip()), 10_000)
    out_lines = sanitize(output).rstrip("\n").splitlines()
    shown: list[str | None] = list(out_lines)
    if len(out_lines) > OUTPUT_HEAD + OUTPUT_TAIL + 1:
        shown = [*out_lines[:OUTPUT_HEAD], None, *out_lines[-OUTPUT_TAIL:]]
    body = []
    for i, ln in enumerate(shown):
        lead = "  └ " if i == 0 else "    "
        if ln is None:
            hidden = len(out_lines) - OUTPUT_HEAD - OUTPUT_TAIL
            body.append(lead + _styled(r, f"… +{hidden} lines (ctrl+t to view)", "dim italic"))
        else:
            body.append(lead + _styled(r, truncate(ln, width - 4), "dim"))
    full = full_head + [("  └ " if i == 0 else "    ") + _styled(r, ln, "dim")
                        for i, ln in enumerate(out_lines)]
    return Cell(lines + body, full)


def truncate_ansi(r: Renderer, text: Text, width: int) -> str:
    t = text.copy()
    t.truncate(width, overflow="ellipsis")
    return r.lines(t, 10_000)[0] if t.plain else ""


def diff_stats(diff: str) -> tuple[int, int]:
    plus = minus = 0
    for ln in diff.splitlines():
        if ln.startswith("+") and not ln.startswith("+++"):
            plus += 1
        elif ln.startswith("-") and not ln.startswith("---"):
            minus += 1
    return plus, minus


def display_path(path: str, cwd: object | None) -> str:
    """`path` relative to `cwd` when it lies inside it (what fits a narrow terminal)."""
    import os

    if cwd is None or not os.path.isabs(path):
        return path
    rel = os.path.relpath(path, str(cwd))
    return path if rel.startswith("..") else rel


def patch_cell(r: Renderer, changes: Sequence[object], success: bool, width: int,
               *, title: str | None = None, cwd: object | None = None,
               proposed: bool = False) -> Cell:
    """Per-file coloured unified diffs with `+N -M` counts. `changes` are FileChange-like
    objects (path, kind, diff, move_path). `proposed`: edits not applied yet (an approval
    question): no outcome mark, verbs in the imperative ("Add", not "✓ Added")."""
    lines: list[str] = []
    full: list[str] = []
    verbs = {"add": "Add", "delete": "Delete", "update": "Edit"} if proposed else {
        "add": "Added", "delete": "Deleted", "update": "Edited"}
    if title:
        lines.append(_styled(r, title, "bold"))
        full.append(lines[-1])
    for ch in changes:
        path = display_path(sanitize(str(getattr(ch, "path", ""))), cwd)
        kind = str(getattr(ch, "kind", "update"))
        move = getattr(ch, "move_path", None)
        diff = sanitize(str(getattr(ch, "diff", "") or ""))
        plus, minus = diff_stats(diff)
        head = Text()
        if proposed:
            head.append("• ", style="bold")
        else:
            head.append(("✓ " if success else "✗ "),
                        style="bold green" if success else "bold red")
        head.append(verbs.get(kind, "Changed") + " ", style="bold")
        head.append(path + (f" → {display_path(sanitize(str(move)), cwd)}" if move else ""))
        head.append(" (", style="dim")
        head.append(f"+{plus}", style="green")
        head.append(" ", style="dim")
        head.append(f"-{minus}", style="red")
        head.append(")", style="dim")
        diff_lines = [ln for ln in diff.splitlines()
                      if not ln.startswith(("---", "+++", "diff --git", "index "))]
        body = [_diff_line(r, ln, width - 4) for ln in diff_lines]
        lines.append(truncate_ansi(r, head, width))
        full.append(r.lines(head, 10_000)[0])
        shown = body[:DIFF_LINES_SHOWN]
        lines.extend("    " + b for b in shown)
        if len(body) > len(shown):
            lines.append("    " + _styled(r, f"… +{len(body) - len(shown)} lines "
                                           "(ctrl+t to view)", "dim italic"))
        full.extend("    " + _diff_line(r, ln, None) for ln in diff_lines)
    return Cell(lines, full)


def _diff_line(r: Renderer, ln: str, width: int | None) -> str:
    """A diff line coloured by its kind, cut to `width` (None: whole, for the transcript)."""
    if width is not None:
        ln = truncate(ln, width)
    if ln.startswith("+"):
        return _styled(r, ln, "green")
    if ln.startswith("-"):
        return _styled(r, ln, "red")
    if ln.startswith("@@"):
        return _styled(r, ln, "cyan dim")
    return _styled(r, ln, "dim")


def plan_cell(r: Renderer, steps: Sequence[object], explanation: str | None,
              width: int) -> list[str]:
    marks = {"completed": ("✔", "green"), "in_progress": ("◐", "yellow"),
             "pending": ("□", "dim")}
    lines = [_styled(r, "• Updated Plan", "bold")]
    if explanation:
        lines += [INDENT + ln for ln in r.text(Text(sanitize(explanation), style="dim italic"),
                                                width - 2)]
    for i, st in enumerate(steps):
        status = str(getattr(st, "status", "pending"))
        mark, style = marks.get(status, ("□", "dim"))
        t = Text()
        t.append(mark + " ", style=style)
        t.append(sanitize(str(getattr(st, "step", ""))),
                 style="strike dim" if status == "completed" else "")
        lead = "  └ " if i == 0 else "    "
        lines += _prefixed(r.text(t, width - 4), lead, "    ")
    return lines


def mcp_cell(r: Renderer, server: str, tool: str, arguments: object, result: object,
             error_text: str | None, duration_s: float, width: int) -> Cell:
    import json

    args = json.dumps(arguments, ensure_ascii=False) if arguments not in (None, {}) else ""
    ok = error_text is None and not (isinstance(result, dict) and result.get("isError"))
    head = Text()
    head.append("✓ " if ok else "✗ ", style="bold green" if ok else "bold red")
    head.append("Called ", style="bold")
    head.append(f"{sanitize(server)}.{sanitize(tool)}({sanitize(args)})")
    head.append(f"  {duration_s:.1f}s", style="dim")
    summary: list[str] = []
    if error_text:
        summary = [error_text]
    elif isinstance(result, dict):
        for part in result.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "text":
                summary += str(part.get("text", "")).splitlines()
            elif isinstance(part, dict):
                summary.append(f"[{part.get('type', 'content')}]")
    summary = [sanitize(s) for s in summary]
    lines = [truncate_ansi(r, head, width)]
    body = [("  └ " if i == 0 else "    ") + _styled(r, truncate(s, width - 4), "dim")
            for i, s in enumerate(summary[:OUTPUT_HEAD + OUTPUT_TAIL])]
    full = r.lines(head, 10_000) + [("  └ " if i == 0 else "    ") + _styled(r, s, "dim")
                    for i, s in enumerate(summary)]
    return Cell(lines + body, full)


def approval_record(r: Renderer, approved: bool, subject: str, width: int,
                    note: str = "") -> list[str]:
    t = Text()
    if approved:
        t.append("✔ ", style="bold green")
        t.append("approved" + (f" {note}" if note else "") + ": ", style="green")
    else:
        t.append("✗ ", style="bold red")
        t.append("declined" + (f" {note}" if note else "") + ": ", style="red")
    t.append(command_title(subject))
    return [truncate_ansi(r, t, width)]
