"""Slash commands (spec tui.md "Slash commands"): a table of name -> SlashCommand.

Each command is a small method of `Commands`, which holds the UI it acts on; `during_turn`
says whether it may run while a turn is in progress (those that may not say so instead).
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codex.core import protocol as P
from codex.tui import cells

if TYPE_CHECKING:
    from codex.tui.app import TuiApp

MODELS = ("gpt-5-codex", "gpt-5", "gpt-5-mini", "o4-mini", "o3")
EFFORTS = ("minimal", "low", "medium", "high")
# /approvals presets: name -> (approval_policy, sandbox_mode, description)
PRESETS: dict[str, tuple[str, str, str]] = {
    "read-only": ("untrusted", "read-only",
                  "asks before anything that is not read-only; commands cannot write"),
    "auto": ("on-request", "workspace-write",
             "works in this folder; asks to go outside it or use the network"),
    "full access": ("never", "danger-full-access",
                    "no sandbox, never asks (only on an isolated machine)"),
}
INIT_PROMPT = (
    "Create an AGENTS.md file in the repository root for coding agents: how the project is "
    "laid out, how to build it, run its tests and lint it, its coding conventions, and "
    "anything a new contributor must know. Keep it short and specific to this repository.")
REVIEW_PROMPT = (
    "Review the uncommitted changes in this repository (`git status`, `git diff`, and the new "
    "untracked files). Do not modify anything. Report bugs, risky changes and missing tests, "
    "most important first, each with the file and line.")


@dataclass(frozen=True, slots=True)
class SlashCommand:
    name: str
    description: str
    run: Callable[[str], None]
    during_turn: bool = False


def builtin_commands(ui: TuiApp) -> dict[str, SlashCommand]:
    c = Commands(ui)
    table = [
        SlashCommand("model", "choose the model and reasoning effort", c.model),
        SlashCommand("approvals", "choose what Codex may do without asking", c.approvals),
        SlashCommand("permissions", "same as /approvals", c.approvals),
        SlashCommand("status", "session, model, policies and token usage", c.status, True),
        SlashCommand("diff", "show the git diff (untracked files too)", c.diff, True),
        SlashCommand("compact", "summarise the conversation to free context", c.compact),
        SlashCommand("new", "start a new conversation in this folder", c.new),
        SlashCommand("resume", "resume a recorded session", c.resume),
        SlashCommand("init", "create an AGENTS.md with instructions for Codex", c.init),
        SlashCommand("review", "review the uncommitted changes (read-only)", c.review),
        SlashCommand("undo", "restore the files the last turn's edits changed", c.undo),
        SlashCommand("mention", "mention a file", c.mention, True),
        SlashCommand("mcp", "list the configured MCP servers and their tools", c.mcp, True),
        SlashCommand("copy", "copy the last answer to the clipboard", c.copy, True),
        SlashCommand("quit", "exit Codex", c.quit, True),
        SlashCommand("exit", "exit Codex", c.quit, True),
    ]
    return {cmd.name: cmd for cmd in table}


class Commands:
    def __init__(self, ui: TuiApp) -> None:
        self.ui = ui

    def _info(self, text: str, style: str = "dim") -> None:
        self.ui.emit(cells.info(self.ui.renderer, text, self.ui._cols(), style=style))

    def model(self, args: str) -> None:
        from codex.tui.app import PopupItem

        ui = self.ui
        if args.strip():
            model, _, effort = args.strip().partition(" ")
            self._set_model(model, effort or None)
            return
        names = list(dict.fromkeys([ui.model, *MODELS]))
        items = [PopupItem(m, "current" if m == ui.model else "", m) for m in names]

        def pick_effort(item: PopupItem) -> None:
            model = str(item.value)
            efforts = [PopupItem(e, "current" if e == ui.effort else "", e) for e in EFFORTS]
            sel = EFFORTS.index(ui.effort) if ui.effort in EFFORTS else 2
            ui.open_picker(f"reasoning effort for {model}", efforts,
                           lambda it: self._set_model(model, str(it.value)), selected=sel)

        ui.open_picker("select a model", items, pick_effort, filterable=True)

    def _set_model(self, model: str, effort: str | None) -> None:
        ui = self.ui
        ui.submit(P.OverrideContext(model=model, effort=effort))
        ui.model = model
        ui.effort = effort or ui.effort
        self._info(f"model set to {model}" + (f" ({effort})" if effort else ""), "green")

    def approvals(self, args: str) -> None:
        from codex.tui.app import PopupItem

        ui = self.ui
        items = [PopupItem(name, desc, name) for name, (_a, _s, desc) in PRESETS.items()]

        def accept(item: PopupItem) -> None:
            approval, sandbox, _ = PRESETS[str(item.value)]
            ui.submit(P.OverrideContext(approval_policy=approval, sandbox_mode=sandbox))
            ui.approval_policy, ui.sandbox_mode = approval, sandbox
            self._info(f"permissions: {item.value} (approval {approval}, sandbox {sandbox})",
                       "green")

        ui.open_picker("what Codex may do without asking", items, accept)

    def status(self, args: str) -> None:
        ui = self.ui
        r = ui.renderer
        cfg = ui.configured
        view = getattr(ui.session, "status", None)
        st = view() if callable(view) else None  # the session's read-only status view
        rows: list[tuple[str, str]] = [
            ("session", ui.session_id or "(starting)"),
            ("model", ui.model + (f" ({ui.effort})" if ui.effort else "")),
            ("provider", st.provider if st else cfg.provider if cfg
             else str(ui.opts.config.get("model_provider"))),
            ("directory", st.cwd if st else str(ui.opts.cwd)),
            ("approval", st.approval_policy if st else ui.approval_policy),
            ("sandbox", st.sandbox_mode if st else ui.sandbox_mode),
        ]
        agents = st.agents_files if st else (cfg.agents_files if cfg else ())
        rows.append(("AGENTS.md", ", ".join(agents) if agents else "none"))
        tot = st.total_usage if st else ui.token_total
        if tot is not None:
            rows.append(("tokens", f"{tot.input_tokens:,} in · {tot.output_tokens:,} out"))
        left = st.percent_left if st else ui.percent_left
        if left is not None:
            est = " (estimated)" if st and st.estimated else ""
            rows.append(("context", f"{left}% left{est}"))
        width = max(len(k) for k, _ in rows)
        lines = [r.style("Status", "bold")]
        for k, v in rows:
            # Wrapped, not cut: a session id or a path is copied from here.
            wrapped = r.text(v, max(10, ui._cols() - width - 4)) or [""]
            lines.append("  " + r.style(f"{k:<{width}}", "dim") + "  " + wrapped[0])
            lines.extend(" " * (width + 4) + ln for ln in wrapped[1:])
        ui.emit(lines)

    def diff(self, args: str) -> None:
        ui = self.ui
        text = git_diff(ui.opts.cwd)
        if text is None:
            self._info("not inside a git repository: nothing to diff", "yellow")
            return
        if not text.strip():
            self._info("no changes")
            return
        lines = []
        for ln in text.splitlines():
            style = "green" if ln.startswith("+") else "red" if ln.startswith("-") else \
                "cyan" if ln.startswith("@@") else "bold" if ln.startswith("diff ") else ""
            lines.append(ui.renderer.style(ln, style) if style else ln)
        ui.open_pager(lines)

    def compact(self, args: str) -> None:
        self.ui.submit(P.Compact())
        self._info("compacting the conversation…")

    def new(self, args: str) -> None:
        self._info("new conversation")
        asyncio.ensure_future(self.ui.new_session(None))

    def resume(self, args: str) -> None:
        from codex.tui.app import PopupItem
        from codex.tui.sessions import label, previews

        ui = self.ui
        found = [s for s in previews(ui.opts.home, ui.opts.cwd)
                 if s.entry.id != ui.session_id]
        if not found:
            self._info("no other recorded sessions in this folder")
            return
        items = [PopupItem(label(s), " · ".join(x for x in (_ago(s.entry.updated_at),
                                                             s.branch) if x), s)
                 for s in found]
        ui.open_picker("resume a session", items,
                       lambda it: asyncio.ensure_future(ui.new_session(it.value.path)),
                       filterable=True)

    def init(self, args: str) -> None:
        if (self.ui.opts.cwd / "AGENTS.md").exists():
            self._info("AGENTS.md already exists here; not overwriting it", "yellow")
            return
        self.ui.send_user_text(INIT_PROMPT, record="/init")

    def review(self, args: str) -> None:
        ui = self.ui
        prompt = REVIEW_PROMPT + (f"\n\nFocus: {args.strip()}" if args.strip() else "")
        ui.send_user_text(prompt, record="/review", sandbox_mode="read-only")
        # The override lasts past this turn: put the user's sandbox back for the next one.
        ui.submit(P.OverrideContext(sandbox_mode=ui.sandbox_mode))

    def undo(self, args: str) -> None:
        self.ui.submit(P.Undo())

    def mention(self, args: str) -> None:
        self.ui.buffer.insert_text("@")

    def mcp(self, args: str) -> None:
        ui = self.ui
        servers = mcp_servers(ui)
        if not servers:
            self._info("no MCP servers configured (add [mcp_servers.NAME] to config.toml)")
            return
        r = ui.renderer
        lines = [r.style("MCP servers", "bold")]
        for name, state, tools in servers:
            lines.append(f"  {r.style(name, 'cyan')}  {state}")
            if tools:
                lines.append("    " + cells.truncate(", ".join(tools), ui._cols() - 4))
        ui.emit(lines)

    def copy(self, args: str) -> None:
        ui = self.ui
        text = ui.last_agent_message
        if not text:
            self._info("nothing to copy yet")
            return
        osc52_copy(ui.app.output, text)
        self._info(f"copied the last answer ({len(text):,} characters) to the clipboard")

    def quit(self, args: str) -> None:
        from codex.tui.app import QuitReason

        self.ui.request_quit(QuitReason.USER)


def osc52_copy(output: Any, text: str) -> None:
    """Set the system clipboard through the terminal (OSC 52); inside tmux the sequence is
    wrapped in tmux's passthrough so it reaches the outer terminal too."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    seq = f"\x1b]52;c;{payload}\x07"
    if os.environ.get("TMUX"):
        seq += "\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    output.write_raw(seq)
    output.flush()


def git_diff(cwd: Any) -> str | None:
    """The worktree's diff against HEAD plus every untracked file as an addition; None when
    `cwd` is not in a git checkout."""
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              errors="replace", timeout=30, stdin=subprocess.DEVNULL)

    try:
        if git("rev-parse", "--is-inside-work-tree").returncode != 0:
            return None
        head = git("rev-parse", "--verify", "HEAD").returncode == 0
        out = git("diff", "HEAD" if head else "--cached", "--color=never").stdout
        if not head:
            out += git("diff", "--color=never").stdout
        untracked = git("ls-files", "--others", "--exclude-standard", "-z").stdout
        for name in [n for n in untracked.split("\0") if n]:
            out += git("diff", "--no-index", "--color=never", "--", os.devnull, name).stdout
        return out
    except (OSError, subprocess.SubprocessError):
        return None


def mcp_servers(ui: TuiApp) -> list[tuple[str, str, list[str]]]:
    """(name, state, tools) of each configured MCP server. Until the MCP client exposes its
    read-only view this lists the configured servers only."""
    servers = ui.opts.config.get("mcp_servers") or {}
    if not isinstance(servers, dict):
        return []
    state = getattr(ui, "mcp_state", {})
    return [(name, state.get(name, ("configured", []))[0], state.get(name, ("", []))[1])
            for name in sorted(servers)]


def _ago(ts: float) -> str:
    import time

    secs = max(0, int(time.time() - ts))
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= n:
            return f"{secs // n}{unit} ago"
    return f"{secs}s ago"
