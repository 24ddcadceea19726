"""The interactive UI: renders a session's events and submits the user's ops (spec tui.md).

One asyncio loop runs the prompt_toolkit application (the live area: streaming cell, running
commands, status line, composer or modal, footer) and a pump that reads session events.
Finished cells go into the terminal's scrollback through `ScrollbackWriter`; nothing printed
there is ever redrawn. Rendering is paced by frames (`FRAME_S`): a delta only appends to the
stream, and a frame commits the complete lines, so a fast model cannot starve the keyboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import ANSI, FormattedText
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input.typeahead import store_typeahead
from prompt_toolkit.input.vt100_parser import Vt100Parser
from prompt_toolkit.key_binding import KeyBindings, KeyPress, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import (
    ConditionalContainer,
    DynamicContainer,
    HSplit,
    Layout,
    Window,
)
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.dimension import Dimension
from prompt_toolkit.output.color_depth import ColorDepth
from rich.text import Text

from codex.core import protocol as P
from codex.tui import cells, history
from codex.tui.banner import fit, short_path
from codex.tui.commands import SlashCommand, builtin_commands
from codex.tui.custom_prompts import CustomPrompt, PromptArgsError, discover, expand, load
from codex.tui.early import EarlyComposer, footer_text
from codex.tui.live import ScrollbackWriter, inline_output
from codex.tui.output import HistoryQueue
from codex.tui.render import Renderer
from codex.tui.sanitize import sanitize

FRAME_S = 0.05  # at most 20 frames a second of committed output (each redraws the live area)
FRAME_BUDGET_S = 0.008  # rendering per frame; a backlog continues in the next loop iteration
PUMP_SLICE_S = 0.004  # the event pump yields to the loop at least this often
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
DOUBLE_PRESS_S = 1.0  # a second Ctrl-C / Esc within this quits / backtracks
PASTE_PLACEHOLDER_LINES = 5  # a paste with more lines is shown as "[Pasted N lines]"
PASTE_PLACEHOLDER_CHARS = 1000
LIVE_TAIL_MAX = 6  # lines of the streaming cell kept in the live area
SHUTDOWN_TIMEOUT_S = 5.0


class TurnState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"


class View(enum.Enum):
    """What occupies the composer's place in the live area."""

    COMPOSER = "composer"
    APPROVAL = "approval"
    PICKER = "picker"
    PAGER = "pager"


class QuitReason(enum.Enum):
    USER = "user"
    SIGNAL = "signal"
    SESSION_ENDED = "session_ended"


@dataclass
class RunningCommand:
    call_id: str
    command: str
    started: float
    source: P.ExecSource
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=2))
    partial: str = ""

    def feed(self, chunk: bytes) -> None:
        text = self.partial + sanitize(chunk.decode("utf-8", "replace"))
        *done, self.partial = text.split("\n")
        for ln in done:
            if ln.strip():
                self.tail.append(ln)


@dataclass
class PopupItem:
    label: str
    detail: str = ""
    value: Any = None


@dataclass
class Popup:
    """A list to pick from: completions under the composer, or a picker in its place."""

    title: str
    items: list[PopupItem]
    on_accept: Callable[[PopupItem], None]
    is_picker: bool = False
    query: str = ""
    all_items: list[PopupItem] = field(default_factory=list)
    selected: int = 0
    filterable: bool = False
    on_cancel: Callable[[], None] | None = None
    # Tab: complete the item into the composer instead of accepting it (None: accept).
    on_complete: Callable[[PopupItem], None] | None = None

    def refilter(self) -> None:
        q = self.query.lower()
        self.items = [it for it in self.all_items
                      if q in (it.label + " " + it.detail).lower()] if q else list(self.all_items)
        self.selected = min(self.selected, max(0, len(self.items) - 1))


@dataclass
class PendingApproval:
    request: P.ExecApprovalRequest | P.PatchApprovalRequest
    selected: int = 0
    diff_lines: list[str] = field(default_factory=list)  # a patch's whole diff, drawn
    diff_width: int = 0  # the width diff_lines were drawn at (0: not yet)


@dataclass
class TuiOptions:
    config: Any  # codex.config.Config
    cwd: Path
    home: Path
    version: str
    resume_path: Path | None = None
    first_prompt: str | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    add_dirs: tuple[str, ...] = ()
    exec_server_url: str | None = None
    ephemeral: bool = False


SessionFactory = Callable[[TuiOptions, Path | None], Any]  # -> awaitable Session


# Approval options: decision, one-key shortcut, label (exec / patch).
_APPROVAL_OPTIONS: list[tuple[P.ReviewDecision, str, str, str]] = [
    (P.ReviewDecision.APPROVED, "y", "Yes, run it", "Yes, apply these edits"),
    (P.ReviewDecision.APPROVED_FOR_SESSION, "a", "Yes, and don't ask again for this command",
     "Yes, and don't ask again for these files"),
    (P.ReviewDecision.DENIED, "n", "No, tell Codex to do something else",
     "No, tell Codex to do something else"),
    (P.ReviewDecision.ABORT, "esc", "No, and stop the turn", "No, and stop the turn"),
]


class TuiApp:
    def __init__(self, opts: TuiOptions, session_factory: SessionFactory,
                 early: EarlyComposer | None = None, typeahead: bytes = b"") -> None:
        self.opts = opts
        self._early = early
        self._typeahead = typeahead  # keys typed before a start-up question was drawn
        self.session_factory = session_factory
        self.session: Any = None
        self.renderer = Renderer()
        self.writer = ScrollbackWriter()
        self.turn = TurnState.IDLE
        self.view = View.COMPOSER
        self.turn_started = 0.0
        self.session_id: str | None = None
        self.rollout_path: str | None = None
        self.configured: P.SessionConfigured | None = None
        self.model = str(opts.config.get("model", ""))
        self.effort = opts.config.get("model_reasoning_effort")
        self.approval_policy = str(opts.config.get("approval_policy", ""))
        self.sandbox_mode = str(opts.config.get("sandbox_mode", ""))
        self.percent_left: int | None = None
        self.token_total: Any = None
        self.show_raw_reasoning = bool(opts.config.get("show_raw_agent_reasoning", False))
        self.output = HistoryQueue(self.renderer)
        self._live_cache: tuple[str, Any] = ("", ANSI(""))
        self._running: dict[str, RunningCommand] = {}
        self._approvals: deque[PendingApproval] = deque()
        self._queued: list[str] = []
        self._pastes: dict[str, str] = {}
        self._popup: Popup | None = None
        self._pager_source: list[str] = []  # what the pager shows, as given
        self._pager_draw: Callable[[int], list[str]] | None = None  # draws it at a width
        self._pager_lines: list[str] = []  # the same, wrapped at `_pager_width`
        self._pager_width = 0
        self._pager_top = 0
        self._last_ctrl_c = 0.0
        self._last_esc = 0.0
        self._frame_handle: asyncio.Handle | None = None
        self._last_frame = 0.0
        self._quit_reason: QuitReason | None = None
        self._shutdown_done = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self.last_agent_message: str | None = None
        self._turn_patch_count = 0
        self._history = history.load(opts.home)
        self._custom_prompts: list[CustomPrompt] = discover(opts.home)
        self.commands: dict[str, SlashCommand] = builtin_commands(self)
        from codex.tui.file_search import FileIndex

        self._file_index = FileIndex(opts.cwd)
        self.exit_code = 0
        self._sent_this_session: list[str] = []
        self.mcp_state: dict[str, tuple[str, list[str]]] = {}
        self._early_ops: list[Any] = []
        self._replying = 0  # > 0 while handling a user's command (see `replying`)
        self._reconnecting: str | None = None  # the status line's label while retrying
        self._declined_patches: set[str] = set()  # call ids the user declined (see _decide)
        self._reasoning_buf = ""  # the reasoning summary streaming now
        self._attempt_shown = False  # a reasoning cell came from the response now streaming
        self._thinking: str | None = None  # its bold headline, the status line's label
        self.buffer = Buffer(multiline=True, history=InMemoryHistory(self._history),
                             on_text_changed=lambda _b: self._on_text_changed())
        self.app = self._build_app()
        self.writer.attach(self.app)

    # ------------------------------------------------------------------ layout
    def _build_app(self) -> Application[int]:
        def composer_prefix(lineno: int, wrap: int) -> FormattedText:
            if lineno == 0 and wrap == 0:
                return FormattedText([("bold fg:ansicyan", "› ")])
            return FormattedText([("", "  ")])

        composer = Window(
            BufferControl(self.buffer),
            height=lambda: Dimension(min=1, max=max(1, min(10, self._rows() // 3))),
            wrap_lines=True, get_line_prefix=composer_prefix, dont_extend_height=True)
        body = HSplit([
            # No row at all when there is nothing live (an empty window would still take one).
            ConditionalContainer(Window(FormattedTextControl(self._live_text),
                                        dont_extend_height=True, wrap_lines=False),
                                 Condition(lambda: bool(self.output.tail_lines
                                                        or self._running
                                                        or self.output.notices))),
            ConditionalContainer(Window(FormattedTextControl(self._status_text), height=1),
                                 Condition(lambda: self.turn is TurnState.RUNNING)),
            ConditionalContainer(Window(FormattedTextControl(self._queued_text),
                                        dont_extend_height=True),
                                 Condition(lambda: bool(self._queued))),
            Window(height=1, char=" "),
            DynamicContainer(lambda: self._modal_or_composer(composer)),
            ConditionalContainer(Window(FormattedTextControl(self._popup_text),
                                        dont_extend_height=True),
                                 Condition(lambda: self._popup is not None)),
            ConditionalContainer(Window(FormattedTextControl(self._footer_text), height=1),
                                 Condition(lambda: self._popup is None)),
        ])
        pager = Window(FormattedTextControl(self._pager_text), wrap_lines=False)
        root = DynamicContainer(lambda: pager if self.view is View.PAGER else body)
        app: Application[int] = Application(
            layout=Layout(root, focused_element=composer), key_bindings=self._bindings(),
            full_screen=False, mouse_support=False, erase_when_done=True, output=inline_output(),
            color_depth=ColorDepth.DEPTH_24_BIT if os.environ.get("COLORTERM") in (
                "truecolor", "24bit") else ColorDepth.DEPTH_8_BIT)
        # Redraw for a key at once: by default a redraw waits (up to 10 ms) for an idle loop,
        # which a streaming answer rarely leaves.
        app.max_render_postpone_time = None
        # A lone Esc is a key of ours (interrupt): decide quickly that no sequence follows.
        app.ttimeoutlen = 0.03
        app.timeoutlen = 0.3
        self._composer_window = composer
        return app

    def _rows(self) -> int:
        try:
            return self.app.output.get_size().rows
        except Exception:  # noqa: BLE001 - before the app has an output
            return 24

    def _cols(self) -> int:
        try:
            return max(20, self.app.output.get_size().columns)
        except Exception:  # noqa: BLE001
            return 80

    def _modal_or_composer(self, composer: Window) -> Any:
        if self.view is View.APPROVAL:
            return Window(FormattedTextControl(self._approval_text), dont_extend_height=True)
        if self.view is View.PICKER:
            return Window(FormattedTextControl(self._picker_header), dont_extend_height=True)
        return composer

    # ------------------------------------------------------------------ live area text
    def _live_text(self) -> Any:
        parts: list[str] = []
        budget = max(1, self._rows() - 8)
        tail = self.output.tail_lines
        if tail:
            parts.extend(tail[-min(LIVE_TAIL_MAX, budget):])
        width = self._cols()
        spin = SPINNER[int(time.monotonic() * 10) % len(SPINNER)]
        for rc in self._running.values():
            secs = int(time.monotonic() - rc.started)
            head = f"{spin} Running {cells.command_title(rc.command)}"
            parts.append(self.renderer.style(cells.truncate(head, width - 8), "bold")
                         + self.renderer.style(f" ({secs}s)", "dim"))
            for ln in rc.tail:
                parts.append(self.renderer.style(cells.truncate("    " + ln, width), "dim"))
        notices = self.output.notices
        if notices:
            # A command's reply, shown now; it goes into the scrollback after the answer.
            room = max(2, budget - min(len(parts), LIVE_TAIL_MAX))
            parts.append("")
            parts.extend(notices[:room])
            if len(notices) > room:
                parts.append(self.renderer.style(f"  … +{len(notices) - room} lines", "dim"))
        text = "\n".join(parts)
        if text != self._live_cache[0]:
            # Parsing ANSI is per character: done once per change, not once per redraw.
            self._live_cache = (text, ANSI(text))
        return self._live_cache[1]

    def _status_text(self) -> Any:
        secs = int(time.monotonic() - self.turn_started)
        spin = SPINNER[int(time.monotonic() * 10) % len(SPINNER)]
        label = "Waiting for approval" if self._approvals else (self._thinking or "Working")
        if self._reconnecting is not None:
            label = self._reconnecting
        head = f"{spin} {label} "
        hint = f"({secs}s • esc to interrupt)"
        if len(head) + len(hint) >= self._cols():
            hint = f"({secs}s • esc)"  # a narrow terminal keeps the key, drops the words
        return FormattedText([("bold", head), ("fg:ansibrightblack", hint)])

    def _queued_text(self) -> Any:
        width = self._cols()
        return FormattedText([("fg:ansibrightblack",
                               "\n".join(cells.truncate(f"  ↳ queued: {q.splitlines()[0]}",
                                                        width) for q in self._queued))])

    def _footer_text(self) -> Any:
        # Most useful first: a narrow terminal cuts the end (the folder). The same text as
        # the early composer's footer (`early.footer_text`) until the session reports.
        where = short_path(self.opts.cwd)
        if self.percent_left is not None:
            where = f"{self.percent_left}% context left · {where}"
        return FormattedText([("fg:ansibrightblack", fit(
            footer_text(self.model, self.effort, where), self._cols() - 1))])

    def _popup_text(self) -> Any:
        p = self._popup
        if p is None:
            return ""
        width = self._cols()
        out: list[tuple[str, str]] = []
        limit = max(3, min(8, self._rows() - 6))
        start = max(0, p.selected - limit + 1)
        if not p.items:
            loading = p.title == "files" and self._file_index.files is None
            out.append(("fg:ansibrightblack", "  listing files…" if loading else "  no matches"))
        shown = p.items[start:start + limit]
        # Details start in one column: the longest label shown (at most half the width).
        column = min(max(8, width // 2), max((cells.cell_len(it.label) for it in shown),
                                              default=0))
        for i, it in enumerate(shown, start):
            sel = i == p.selected
            label = cells.truncate(it.label, column)
            label += " " * (column - cells.cell_len(label))
            out.append(("bold fg:ansicyan" if sel else "", ("› " if sel else "  ") + label))
            room = width - column - 5
            if it.detail and room > 8:
                out.append(("fg:ansibrightblack", "  " + cells.truncate(it.detail, room)))
            out.append(("", "\n"))
        if out and out[-1] == ("", "\n"):
            out.pop()
        return FormattedText(out)

    def _picker_header(self) -> Any:
        p = self._popup
        if p is None:
            return ""
        text = [("bold", p.title)]
        if p.filterable:
            text.append(("fg:ansibrightblack", "  type to filter: "))
            text.append(("", p.query))
        text.append(("fg:ansibrightblack", "\n  ↑/↓ select · enter confirm · esc cancel"))
        return FormattedText(text)

    def _approval_text(self) -> Any:
        if not self._approvals:
            return ""
        pa = self._approvals[0]
        req = pa.request
        width = self._cols()
        r = self.renderer
        lines: list[str] = []
        is_exec = isinstance(req, P.ExecApprovalRequest)
        title = "Run this command?" if is_exec else "Apply these edits?"
        if is_exec and req.escalated:
            title = "Run this command outside the sandbox?"
        # The options come first in the budget: a cut modal must never hide the choice that
        # Enter would make. Around the modal: the status line, a blank line, the footer, and
        # the "… +N lines" line of a body that does not fit.
        options = []
        for i, (_d, key, exec_label, patch_label) in enumerate(self._approval_options(req)):
            label = exec_label if is_exec else patch_label
            sel = i == pa.selected
            # The label gives way at a narrow width, the key never does.
            text = f"{'›' if sel else ' '} " + cells.truncate(label, width - len(key) - 5) \
                + f" ({key})"
            options.append(r.style(text, "bold cyan" if sel else ""))
        free = self._rows() - len(options) - len(self._queued) - 4
        lines.append(r.style(title, "bold yellow"))
        if is_exec and not req.escalated and str(self.sandbox_mode) == "read-only":
            # Approval lets it run, the sandbox still applies (spec session.md): say so before
            # the user approves a write that will be refused.
            lines.append(r.style(cells.truncate("  runs in the read-only sandbox: it may read, "
                                                "not write", width), "dim"))
        if req.reason:
            reason = r.text(sanitize(req.reason), width - 2, style="italic")
            keep = max(1, free - len(lines) - 1)  # at least one line of what is asked
            lines.extend("  " + ln for ln in reason[:keep])
        room = max(1, free - len(lines))
        if is_exec:
            # Wrapped, never cut: the person approving must see the whole command.
            cmd = [ln for part in sanitize(req.command).splitlines() or [""]
                   for ln in r.text(part, width - 4, style="bold") or [""]]
            for i, ln in enumerate(cmd[:room]):
                lines.append(("  $ " if i == 0 else "    ") + ln)
            if len(cmd) > room:
                lines.append(r.style(f"    … +{len(cmd) - room} lines (ctrl+t to read all)",
                                     "dim italic"))
        else:
            # Cut from every line of the diff (not from the scrollback's shortened cell), so
            # the count of hidden lines is the diff's.
            if pa.diff_width != width:  # drawn once per width, not on every redraw
                cell = cells.patch_cell(r, req.changes, True, width, cwd=self.opts.cwd,
                                        proposed=True)
                pa.diff_lines, pa.diff_width = cell.full or [], width
            body = pa.diff_lines
            lines.extend(cells.truncate_ansi(r, Text.from_ansi(ln), width)
                         for ln in body[:room])
            if len(body) > room:
                lines.append(r.style(f"  … +{len(body) - room} lines (ctrl+t to read all)",
                                     "dim italic"))
        return ANSI("\n".join(lines + options))

    @staticmethod
    def _approval_options(req: Any) -> list[tuple[P.ReviewDecision, str, str, str]]:
        allowed = set(req.available_decisions)
        return [o for o in _APPROVAL_OPTIONS if o[0] in allowed]

    def _pager_text(self) -> Any:
        rows = self._rows() - 1
        if self._cols() != self._pager_width:
            self._rewrap_pager()
        lines = self._pager_lines[self._pager_top:self._pager_top + rows]
        footer = self.renderer.style(
            f" {min(self._pager_top + rows, len(self._pager_lines))}/{len(self._pager_lines)}"
            "  ↑/↓ pgup/pgdn scroll · q or esc close", "reverse")
        pad = [""] * max(0, rows - len(lines))
        return ANSI("\n".join([*lines, *pad, footer]))

    # ------------------------------------------------------------------ key bindings
    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()
        approval = Condition(lambda: self.view is View.APPROVAL)
        pager = Condition(lambda: self.view is View.PAGER)
        picker = Condition(lambda: self.view is View.PICKER)
        composing = Condition(lambda: self.view is View.COMPOSER)
        popup = Condition(lambda: self._popup is not None)

        @kb.add("enter", filter=composing & popup)
        @kb.add("enter", filter=picker)
        def _accept(e: KeyPressEvent) -> None:
            self._accept_popup()

        @kb.add("tab", filter=composing & popup)
        def _complete(e: KeyPressEvent) -> None:
            self._accept_popup(complete=True)

        @kb.add("up", filter=popup)
        @kb.add("c-p", filter=popup)
        def _up(e: KeyPressEvent) -> None:
            assert self._popup is not None
            self._popup.selected = max(0, self._popup.selected - 1)

        @kb.add("down", filter=popup)
        @kb.add("c-n", filter=popup)
        def _down(e: KeyPressEvent) -> None:
            assert self._popup is not None
            self._popup.selected = min(len(self._popup.items) - 1, self._popup.selected + 1)

        @kb.add("escape", filter=popup, eager=True)
        def _close_popup(e: KeyPressEvent) -> None:
            self._close_popup(cancelled=True)

        @kb.add("<any>", filter=picker)
        def _picker_type(e: KeyPressEvent) -> None:
            p = self._popup
            if p is not None and p.filterable and e.data and e.data.isprintable():
                p.query += e.data
                p.refilter()

        @kb.add("backspace", filter=picker)
        def _picker_backspace(e: KeyPressEvent) -> None:
            p = self._popup
            if p is not None and p.query:
                p.query = p.query[:-1]
                p.refilter()

        @kb.add("enter", filter=composing & ~popup)
        def _submit(e: KeyPressEvent) -> None:
            self._submit_composer()

        @kb.add("tab", filter=composing & ~popup)
        def _tab(e: KeyPressEvent) -> None:
            if self.turn is TurnState.RUNNING and self.buffer.text.strip():
                self._submit_composer()  # queued for the next turn
            else:
                self.buffer.insert_text("    ")

        @kb.add("c-j", filter=composing)
        @kb.add("escape", "enter", filter=composing)
        def _newline(e: KeyPressEvent) -> None:
            self.buffer.insert_text("\n")

        @kb.add(Keys.BracketedPaste, filter=composing)
        def _paste(e: KeyPressEvent) -> None:
            self._paste(e.data)

        @kb.add("escape", filter=composing & ~popup, eager=True)
        def _esc(e: KeyPressEvent) -> None:
            self._on_escape()

        @kb.add("c-c")
        def _ctrl_c(e: KeyPressEvent) -> None:
            self._on_ctrl_c()

        @kb.add("c-d", filter=composing)
        def _ctrl_d(e: KeyPressEvent) -> None:
            if not self.buffer.text:
                self.request_quit(QuitReason.USER)
            else:
                self.buffer.delete()

        @kb.add("c-t", filter=~pager)
        def _transcript(e: KeyPressEvent) -> None:
            self._flush_output()
            self.open_pager(self._transcript_lines)

        @kb.add("c-z", filter=~pager)
        def _suspend(e: KeyPressEvent) -> None:
            # Job control, as in any terminal program: the live area is erased and the
            # terminal restored before SIGTSTP stops the process group; `fg` redraws it.
            if hasattr(signal, "SIGTSTP"):
                self.app.suspend_to_background()

        @kb.add("c-l")
        def _redraw(e: KeyPressEvent) -> None:
            self.writer.erase_live()
            self.app.invalidate()

        @kb.add("c-g", filter=composing)
        def _editor(e: KeyPressEvent) -> None:
            self.buffer.open_in_editor()

        @kb.add("c-r", filter=composing)
        def _history_search(e: KeyPressEvent) -> None:
            self._open_history_search()

        @kb.add("?", filter=composing & ~popup)
        def _help(e: KeyPressEvent) -> None:
            if self.buffer.text:
                self.buffer.insert_text("?")
            else:
                with self.replying():
                    self.emit(self._shortcuts_cell())

        # -- approval modal
        for decision, key, _l1, _l2 in _APPROVAL_OPTIONS:
            keys = ("escape",) if key == "esc" else (key,)
            kb.add(*keys, filter=approval, eager=True)(
                lambda e, d=decision: self._decide(d))

        @kb.add("up", filter=approval)
        def _appr_up(e: KeyPressEvent) -> None:
            if self._approvals:
                self._approvals[0].selected = max(0, self._approvals[0].selected - 1)

        @kb.add("down", filter=approval)
        def _appr_down(e: KeyPressEvent) -> None:
            if self._approvals:
                pa = self._approvals[0]
                pa.selected = min(len(self._approval_options(pa.request)) - 1, pa.selected + 1)

        @kb.add("enter", filter=approval)
        def _appr_enter(e: KeyPressEvent) -> None:
            if self._approvals:
                pa = self._approvals[0]
                opts = self._approval_options(pa.request)
                if opts:
                    self._decide(opts[pa.selected][0])

        @kb.add("<any>", filter=approval)
        def _appr_swallow(e: KeyPressEvent) -> None:
            pass  # other keys do nothing while the question is open

        # -- pager
        @kb.add("q", filter=pager)
        @kb.add("escape", filter=pager, eager=True)
        def _pager_close(e: KeyPressEvent) -> None:
            self.close_pager()

        def scroll(delta: int) -> None:
            rows = self._rows() - 1
            self._pager_top = max(0, min(max(0, len(self._pager_lines) - rows),
                                         self._pager_top + delta))

        kb.add("up", filter=pager)(lambda e: scroll(-1))
        kb.add("k", filter=pager)(lambda e: scroll(-1))
        kb.add("down", filter=pager)(lambda e: scroll(1))
        kb.add("j", filter=pager)(lambda e: scroll(1))
        kb.add("pageup", filter=pager)(lambda e: scroll(-(self._rows() - 2)))
        kb.add("pagedown", filter=pager)(lambda e: scroll(self._rows() - 2))
        kb.add(" ", filter=pager)(lambda e: scroll(self._rows() - 2))
        kb.add("home", filter=pager)(lambda e: scroll(-len(self._pager_lines)))
        kb.add("g", filter=pager)(lambda e: scroll(-len(self._pager_lines)))
        kb.add("end", filter=pager)(lambda e: scroll(len(self._pager_lines)))
        kb.add("G", filter=pager)(lambda e: scroll(len(self._pager_lines)))

        @kb.add("<any>", filter=pager)
        def _pager_swallow(e: KeyPressEvent) -> None:
            pass

        return kb

    # ------------------------------------------------------------------ output
    @property
    def transcript(self) -> list[str]:
        return self.output.transcript

    def emit(self, lines: list[str], full: list[str] | None = None, *,
             gap: bool = True) -> None:
        """Queue a finished cell for the scrollback (one blank line before it). While a
        slash command runs (`_replying`), the cell is its reply: shown at once."""
        if lines:
            self.output.cell(lines, full, gap=gap, notice=self._replying > 0)
            self._schedule_frame()
            if self._replying:
                self.app.invalidate()

    @contextlib.contextmanager
    def replying(self) -> Iterator[None]:
        """Cells emitted inside are replies to what the user just did (slash command,
        picker choice, `?`): shown at once even behind a streaming answer."""
        self._replying += 1
        try:
            yield
        finally:
            self._replying -= 1

    def _schedule_frame(self, *, soon: bool = False) -> None:
        if self._frame_handle is not None:
            return
        loop = asyncio.get_event_loop()
        delay = 0.0 if soon else max(0.0, self._last_frame + FRAME_S - time.monotonic())
        self._frame_handle = loop.call_later(delay, self._frame)

    def _frame(self) -> None:
        self._frame_handle = None
        self._last_frame = time.monotonic()
        if self.view is View.PAGER:
            self.app.invalidate()  # the scrollback waits until the pager closes
            return
        tail = self.output.tail_lines
        lines = self.output.frame(self._cols(), FRAME_BUDGET_S)
        if lines:
            self.writer.write(lines)  # redraws the live area too
        elif self.output.tail_lines is not tail:
            self.app.invalidate()
        if self.output.backlog:
            # More is ready: render it in the next loop iteration, after the keys that came
            # in meanwhile (a frame is short, so typing stays responsive while catching up).
            self._schedule_frame(soon=True)

    def _flush_output(self) -> None:
        """Print everything ready now, whatever it costs (before the pager or the exit)."""
        if self._frame_handle is not None:
            self._frame_handle.cancel()
            self._frame_handle = None
        lines = self.output.frame(self._cols(), None)
        if lines:
            self.writer.write(lines)

    # ------------------------------------------------------------------ session events
    async def _pump(self, session: Any) -> None:
        handlers = self._handlers()
        slice_end = time.monotonic() + PUMP_SLICE_S
        while True:
            if time.monotonic() > slice_end:
                # A queue with events ready never suspends `await get()`: give the keyboard
                # and the frame timer their turn.
                await asyncio.sleep(0)
                slice_end = time.monotonic() + PUMP_SLICE_S
            ev = await session.next_event()
            handler = handlers.get(type(ev))
            if self._reconnecting is not None and not isinstance(ev, P.StreamError | P.TokenCount):
                self._reconnecting = None  # the model answers again (or the turn ended)
            if handler is not None:
                handler(ev)
            if isinstance(ev, P.ShutdownComplete):
                self._shutdown_done.set()
                return
            # Redraws are paced by frames: a redraw per event would let a fast stream of
            # deltas starve the keyboard.
            self._schedule_frame()

    def _handlers(self) -> dict[type, Callable[[Any], None]]:
        return {
            P.SessionConfigured: self._on_configured,
            P.TurnStarted: self._on_turn_started,
            P.UserMessage: self._on_user_message,
            P.AgentMessageDelta: self._on_agent_delta,
            P.AgentMessage: self._on_agent_message,
            P.ReasoningDelta: self._on_reasoning_delta,
            P.Reasoning: self._on_reasoning,
            P.ExecBegin: self._on_exec_begin,
            P.ExecOutputDelta: self._on_exec_output,
            P.ExecEnd: self._on_exec_end,
            P.ExecApprovalRequest: self._on_approval_request,
            P.PatchApprovalRequest: self._on_approval_request,
            P.PatchBegin: lambda ev: None,
            P.PatchEnd: self._on_patch_end,
            P.PlanUpdate: self._on_plan,
            P.McpStartupUpdate: self._on_mcp_startup,
            P.McpCallBegin: lambda ev: None,
            P.McpCallEnd: self._on_mcp_end,
            P.TokenCount: self._on_token_count,
            P.ContextCompacted: self._on_compacted,
            P.UndoComplete: self._on_undo,
            P.Warning: lambda ev: self.emit(cells.warning(self.renderer, ev.message,
                                                          self._cols())),
            P.StreamError: self._on_stream_error,
            P.Error: lambda ev: self.emit(cells.error(self.renderer, ev.message, self._cols())),
            P.TurnComplete: self._on_turn_end,
            P.TurnAborted: self._on_turn_end,
            P.ShutdownComplete: lambda ev: None,
        }

    def _on_stream_error(self, ev: P.StreamError) -> None:
        """A retry: shown in the status line only (`Reconnecting… 2/4`); if they all fail,
        the turn's Error says why and what to check."""
        if ev.attempt is not None and ev.max_attempts is not None:
            self._reconnecting = f"Reconnecting… {ev.attempt}/{ev.max_attempts}"
        else:
            self._reconnecting = ev.message
        # The retried request streams its answer from the start: what the broken stream had
        # not printed yet is dropped, and an answer already partly printed is marked as cut.
        self._reasoning_buf, self._thinking = "", None
        cut = self.output.abandon_answer() or self._attempt_shown
        self._attempt_shown = False
        if cut:
            self.emit(cells.info(self.renderer, "connection lost; the answer starts again",
                                 self._cols()))
        if self.turn is not TurnState.RUNNING:
            self.emit(cells.warning(self.renderer, ev.message, self._cols()))

    def _on_configured(self, ev: P.SessionConfigured) -> None:
        self.configured = ev
        self.session_id = ev.session_id
        self.rollout_path = ev.rollout_path
        self.model = ev.model
        self.effort = ev.reasoning_effort or self.effort
        self.approval_policy = ev.approval_policy
        self.sandbox_mode = ev.sandbox_mode
        if ev.history:
            from codex.tui.replay import replay_cells

            for lines in replay_cells(self.renderer, ev.history, self._cols()):
                self.emit(lines)
            self.emit(cells.info(self.renderer, "resumed session " + ev.session_id,
                                 self._cols()))

    def _on_turn_started(self, ev: P.TurnStarted) -> None:
        self.turn = TurnState.RUNNING
        self.turn_started = time.monotonic()
        self.output.new_turn()
        self._thinking, self._reasoning_buf = None, ""
        self._attempt_shown = False
        self._turn_patch_count = 0
        if self._tick_task is None or self._tick_task.done():
            self._tick_task = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        # Spinner and elapsed seconds while a turn runs.
        while self.turn is TurnState.RUNNING or self._running:
            await asyncio.sleep(0.1)
            self.app.invalidate()

    def _on_user_message(self, ev: P.UserMessage) -> None:
        self.output.finish_answer()
        if self._queued and self._queued[0] == ev.text:
            self._queued.pop(0)
        text = ev.text + (f"\n[{ev.images} image(s)]" if ev.images else "")
        self.emit(cells.user_message(self.renderer, text, self._cols(), cells.USER_LINES_SHOWN),
                  cells.user_message(self.renderer, text, self._cols()))

    def _on_agent_delta(self, ev: P.AgentMessageDelta) -> None:
        self._thinking = None
        self.output.delta(ev.delta)  # the pump schedules the frame

    def _on_agent_message(self, ev: P.AgentMessage) -> None:
        self.output.message(ev.text)
        self.last_agent_message = ev.text
        self._schedule_frame()

    def _on_reasoning_delta(self, ev: P.ReasoningDelta) -> None:
        # The model's headline (`**Checking the tests**`) names what it is doing: the status
        # line shows it while it thinks.
        self._reasoning_buf += ev.delta
        heads = cells.bold_spans(self._reasoning_buf)
        if heads:
            self._thinking = cells.truncate(heads[-1], 60)

    def _on_reasoning(self, ev: P.Reasoning) -> None:
        self._reasoning_buf = ""
        self._attempt_shown = True  # a retry of this response would show it again
        self.output.finish_answer()
        self.emit(cells.reasoning(self.renderer, ev.text, self._cols(), self.show_raw_reasoning))

    def _on_exec_begin(self, ev: P.ExecBegin) -> None:
        self.output.finish_answer()
        self._running[ev.call_id] = RunningCommand(ev.call_id, ev.command, time.monotonic(),
                                                   ev.source)
        if self._tick_task is None or self._tick_task.done():
            self._tick_task = asyncio.ensure_future(self._tick())

    def _on_exec_output(self, ev: P.ExecOutputDelta) -> None:
        rc = self._running.get(ev.call_id)
        if rc is not None:
            rc.feed(ev.chunk)

    def _on_exec_end(self, ev: P.ExecEnd) -> None:
        rc = self._running.pop(ev.call_id, None)
        user_shell = rc is not None and rc.source is P.ExecSource.USER_SHELL
        cell = cells.exec_cell(self.renderer, ev.command, ev.exit_code, ev.duration_s,
                               ev.aggregated_output, str(ev.status), self._cols(),
                               user_shell=user_shell)
        self.emit(cell.lines, cell.full)

    def _on_patch_end(self, ev: P.PatchEnd) -> None:
        self.output.finish_answer()
        if ev.call_id in self._declined_patches:
            self._declined_patches.discard(ev.call_id)
            return  # `✗ declined: …` said it already
        self._turn_patch_count += 1
        cell = cells.patch_cell(self.renderer, ev.changes, ev.success, self._cols(),
                                cwd=self.opts.cwd)
        lines = cell.lines
        if not ev.success and ev.output:
            lines = lines + cells.error(self.renderer, ev.output, self._cols())
        self.emit(lines, cell.full)

    def _on_plan(self, ev: P.PlanUpdate) -> None:
        self.output.finish_answer()
        self.emit(cells.plan_cell(self.renderer, ev.plan, ev.explanation, self._cols()))

    def _on_mcp_startup(self, ev: P.McpStartupUpdate) -> None:
        self.mcp_state[ev.server] = (ev.status, list(ev.tools))
        if ev.status == "failed":
            self.emit(cells.warning(self.renderer, f"MCP server {ev.server} failed to start: "
                                    f"{ev.reason or 'unknown error'}", self._cols()))

    def _on_mcp_end(self, ev: P.McpCallEnd) -> None:
        self.output.finish_answer()
        cell = cells.mcp_cell(self.renderer, ev.server, ev.tool, ev.arguments, ev.result,
                              ev.error, ev.duration_s, self._cols())
        self.emit(cell.lines, cell.full)

    def _on_token_count(self, ev: P.TokenCount) -> None:
        self._attempt_shown = False  # sent after each complete response: none is retried now
        self.percent_left = ev.percent_left
        self.token_total = ev.total

    def _on_compacted(self, ev: P.ContextCompacted) -> None:
        if ev.percent_left is not None:
            self.percent_left = ev.percent_left
        left = f" ({ev.percent_left}% context left)" if ev.percent_left is not None else ""
        self.emit(cells.info(self.renderer, f"Context compacted{left}", self._cols()))

    def _on_undo(self, ev: P.UndoComplete) -> None:
        def names(paths: Any) -> str:
            return ", ".join(cells.display_path(p, self.opts.cwd) for p in paths)

        if ev.success:
            removed = set(ev.removed)
            parts = [f"restored {names(p for p in ev.restored if p not in removed)}"
                     if len(removed) < len(ev.restored) else "",
                     f"removed {names(ev.removed)}" if removed else ""]
            text = "Undo: " + ("; ".join(p for p in parts if p) or "nothing to restore")
            if ev.remaining == 0:
                text += " · nothing more to undo"
            elif ev.remaining:
                text += (f" · /undo again undoes the turn before ({ev.remaining} more "
                         f"turn{'s' if ev.remaining > 1 else ''} can be undone)")
            self.emit(cells.info(self.renderer, text, self._cols(), style="green"))
        elif ev.remaining == 0 and not ev.restored:
            self.emit(cells.info(self.renderer, "Undo: " + ev.message, self._cols()))
        else:
            self.emit(cells.error(self.renderer, f"Undo failed: {ev.message}", self._cols()))

    def _on_approval_request(self, ev: Any) -> None:
        self.output.finish_answer()
        self._approvals.append(PendingApproval(ev))
        self._close_popup(cancelled=True)
        if self.view is View.COMPOSER:
            self.view = View.APPROVAL

    def _on_turn_end(self, ev: Any) -> None:
        self.output.finish_answer()
        self.output.new_turn()
        self.turn = TurnState.IDLE
        self._approvals.clear()
        if self.view is View.APPROVAL:
            self.view = View.COMPOSER
        for rc in list(self._running.values()):
            if isinstance(ev, P.TurnAborted):
                self._running.pop(rc.call_id, None)
        if isinstance(ev, P.TurnAborted) and self._quit_reason is None:
            # (Not when quitting: nobody is left to tell the model anything.)
            self.emit(cells.error(self.renderer,
                                  f"Turn {ev.reason}: tell the model what to do differently",
                                  self._cols()))
        self._schedule_frame()

    # ------------------------------------------------------------------ approvals
    def _decide(self, decision: P.ReviewDecision) -> None:
        if not self._approvals:
            return
        pa = self._approvals[0]
        req = pa.request
        if decision not in req.available_decisions:
            return
        self._approvals.popleft()
        if isinstance(req, P.ExecApprovalRequest):
            self.submit(P.ExecApproval(req.call_id, decision))
            subject = req.command
        else:
            self.submit(P.PatchApproval(req.call_id, decision))
            subject = ", ".join(cells.display_path(c.path, self.opts.cwd) for c in req.changes)
        approved = decision in (P.ReviewDecision.APPROVED, P.ReviewDecision.APPROVED_FOR_SESSION)
        note = "for this session" if decision is P.ReviewDecision.APPROVED_FOR_SESSION else (
            "and stopped the turn" if decision is P.ReviewDecision.ABORT else "")
        # One line per decline: a declined command's own cell (ExecEnd, `✗ Declined …`) is
        # its record; a declined patch's record stands for its PatchEnd.
        if decision is not P.ReviewDecision.DENIED or not isinstance(req, P.ExecApprovalRequest):
            self.emit(cells.approval_record(self.renderer, approved, subject, self._cols(),
                                            note))
        if decision is P.ReviewDecision.DENIED and isinstance(req, P.PatchApprovalRequest):
            self._declined_patches.add(req.call_id)
        if not self._approvals:
            self.view = View.COMPOSER

    # ------------------------------------------------------------------ composer
    def _on_text_changed(self) -> None:
        text = self.buffer.text
        doc = self.buffer.document
        if self.view is not View.COMPOSER:
            return
        if text.startswith("/") and "\n" not in text and " " not in text:
            self._open_slash_popup(text[1:])
            return
        word = doc.get_word_before_cursor(WORD=True)
        if word.startswith("@"):
            self._open_file_popup(word[1:])
            return
        if self._popup is not None and not self._popup.is_picker:
            self._popup = None

    def _open_slash_popup(self, query: str) -> None:
        items = [PopupItem("/" + c.name, c.description, c.name)
                 for c in self.commands.values() if c.name.startswith(query)]
        items += [PopupItem("/" + p.name, " ".join(filter(None, (p.argument_hint,
                                                                  p.description))), p.name)
                  for p in self._custom_prompts if p.name.startswith(query)]
        if not items:
            self._popup = None
            return
        self._popup = Popup("commands", items, self._accept_slash,
                            on_complete=self._complete_slash)

    def _custom_prompt(self, name: str) -> CustomPrompt | None:
        return next((p for p in self._custom_prompts if p.name == name), None)

    def _complete_slash(self, item: PopupItem) -> None:
        """Tab: `/NAME ` in the composer, for arguments to be typed after it."""
        text = f"/{item.value} "
        self.buffer.document = Document(text, len(text))
        self._popup = None

    def _accept_slash(self, item: PopupItem) -> None:
        """Enter: run the command, except a custom prompt that takes arguments, which is
        completed like Tab (sending it with its placeholders empty helps no one)."""
        prompt = self._custom_prompt(str(item.value))
        if prompt is not None and prompt.takes_arguments:
            self._complete_slash(item)
            return
        self.buffer.reset()
        self._run_slash(str(item.value), "")

    def _open_file_popup(self, query: str) -> None:
        """The `@` finder's popup for `query`. The file list is read (again) off the UI
        thread on a new `@` token or when stale; the popup re-ranks when it arrives."""
        index = self._file_index
        if not query or index.stale():
            index.refresh(self._on_files_listed)
        self._rank_files(query)

    def _rank_files(self, query: str) -> None:
        from codex.tui import file_search

        found = file_search.rank(query, self._file_index.files or [])
        self._popup = Popup("files", [PopupItem(f, "", f) for f in found], self._accept_file)

    def _on_files_listed(self) -> None:
        p = self._popup
        if p is not None and p.title == "files":
            word = self.buffer.document.get_word_before_cursor(WORD=True)
            if word.startswith("@"):
                self._rank_files(word[1:])
                self.app.invalidate()

    def _accept_file(self, item: PopupItem) -> None:
        doc = self.buffer.document
        word = doc.get_word_before_cursor(WORD=True)
        self.buffer.delete_before_cursor(len(word))
        self.buffer.insert_text(str(item.value) + " ")
        self._popup = None

    def _accept_popup(self, *, complete: bool = False) -> None:
        p = self._popup
        if p is None:
            return
        if not p.items:
            if not p.is_picker and not complete:
                self._popup = None
                self._submit_composer()
            return
        item = p.items[p.selected]
        self._close_popup(cancelled=False)
        with self.replying():
            (p.on_complete if complete and p.on_complete is not None else p.on_accept)(item)

    def _close_popup(self, cancelled: bool) -> None:
        p = self._popup
        self._popup = None
        if p is not None and p.is_picker:
            self.view = View.APPROVAL if self._approvals else View.COMPOSER
            if cancelled and p.on_cancel is not None:
                p.on_cancel()

    def open_picker(self, title: str, items: list[PopupItem],
                    on_accept: Callable[[PopupItem], None], *, filterable: bool = False,
                    selected: int = 0) -> None:
        self._popup = Popup(title, list(items), on_accept, is_picker=True, all_items=list(items),
                            filterable=filterable, selected=selected)
        self.view = View.PICKER

    def _paste(self, data: str) -> None:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
        n = len(data.splitlines())  # a final newline ends the last line, it adds none
        if n > PASTE_PLACEHOLDER_LINES or len(data) > PASTE_PLACEHOLDER_CHARS:
            label = f"[Pasted {n:,} lines]" if n > 1 else f"[Pasted {len(data):,} chars]"
            while label in self._pastes:
                label = label[:-1] + "·]"
            self._pastes[label] = data
            self.buffer.insert_text(label)
        else:
            self.buffer.insert_text(data)

    def _expand_pastes(self, text: str) -> str:
        for label, data in self._pastes.items():
            text = text.replace(label, data)
        return text

    def _submit_composer(self) -> None:
        raw = self.buffer.text
        if not raw.strip():
            return
        if raw.startswith("/") and "\n" not in raw.split(" ", 1)[0]:
            name, _, rest = raw[1:].partition(" ")
            prompt = self._custom_prompt(name)
            if prompt is not None:
                with self.replying():
                    text = self._expand_prompt(prompt, self._expand_pastes(rest))
                if text is not None:  # else: the error is shown, the text stays to be fixed
                    self._pastes.clear()
                    self.buffer.reset(append_to_history=True)
                    self.send_user_text(text, record=raw.strip())
                return
            if name in self.commands:
                self.buffer.reset(append_to_history=True)
                self._run_slash(name, rest)
                return
        if raw.startswith("!") and len(raw) > 1:
            self.buffer.reset(append_to_history=True)
            self.submit(P.RunUserShellCommand(raw[1:].strip()))
            return
        text = self._expand_pastes(raw)
        self._pastes.clear()
        self.buffer.reset(append_to_history=True)
        self.send_user_text(text, record=raw)

    def send_user_text(self, text: str, *, record: str | None = None,
                       sandbox_mode: str | None = None) -> None:
        """Submit a user turn (queued by the session when one is running)."""
        history.append(self.opts.home, self.session_id or "", record if record is not None
                       else text)
        if self.turn is TurnState.RUNNING:
            self._queued.append(text)
        self._sent_this_session.append(text)
        items: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
        self.submit(P.UserTurn(tuple(items), sandbox_mode=sandbox_mode))

    def _run_slash(self, name: str, args: str) -> None:
        with self.replying():
            self._run_slash_now(name, args)

    def _run_slash_now(self, name: str, args: str) -> None:
        cmd = self.commands.get(name)
        if cmd is None:
            prompt = self._custom_prompt(name)
            if prompt is not None:
                text = self._expand_prompt(prompt, args)
                if text is not None:
                    self.send_user_text(text, record=f"/{name} {args}".strip())
            return
        if self.turn is TurnState.RUNNING and not cmd.during_turn:
            self.emit(cells.warning(self.renderer, f"/{name} cannot run while a turn is running"
                                    " (press esc to interrupt it first)", self._cols()))
            return
        cmd.run(args)

    def _expand_prompt(self, prompt: CustomPrompt, args: str) -> str | None:
        """The custom prompt's text with `args` filled in, or None after showing why not."""
        try:
            return expand(load(prompt), args)
        except OSError as e:
            self.emit(cells.error(self.renderer, f"{prompt.path}: {e.strerror}", self._cols()))
        except PromptArgsError as e:
            usage = prompt.argument_hint or " ".join(n + "=…" for n in prompt.named)
            hint = f" (usage: /{prompt.name} {usage})" if usage else ""
            self.emit(cells.error(self.renderer, f"/{prompt.name}: {e}{hint}", self._cols()))
        return None

    def _open_history_search(self) -> None:
        entries = list(reversed(self._history + [h for h in self._session_history()]))
        items = [PopupItem(e.splitlines()[0], "", e) for e in dict.fromkeys(entries)]

        def accept(item: PopupItem) -> None:
            self.buffer.document = Document(str(item.value), len(str(item.value)))

        self.open_picker("reverse history search", items, accept, filterable=True)

    def _session_history(self) -> list[str]:
        hist = self.buffer.history
        return list(hist.get_strings()) if hist is not None else []

    def _on_escape(self) -> None:
        now = time.monotonic()
        if self.turn is TurnState.RUNNING:
            self.submit(P.Interrupt())
            return
        if not self.buffer.text and now - self._last_esc < DOUBLE_PRESS_S:
            self._last_esc = 0.0
            self._open_backtrack()
            return
        self._last_esc = now

    def _open_backtrack(self) -> None:
        msgs = [ln for ln in self._user_messages()]
        if not msgs:
            return
        items = [PopupItem(m.splitlines()[0], "", (len(msgs) - i, m))
                 for i, m in enumerate(msgs)]

        def accept(item: PopupItem) -> None:
            n, text = item.value
            self.submit(P.Rollback(user_turns=n))
            self.emit(cells.info(self.renderer, f"Forked the conversation before: "
                                 f"{text.splitlines()[0]}", self._cols()))
            self.buffer.document = Document(text, len(text))

        self.open_picker("edit an earlier message (the conversation forks from there)",
                         list(reversed(items)), accept)

    def _user_messages(self) -> list[str]:
        return list(self._sent_this_session)

    def _on_ctrl_c(self) -> None:
        now = time.monotonic()
        if self.view is View.PAGER:
            self.close_pager()
            return
        if self._popup is not None:
            self._close_popup(cancelled=True)
            return
        if now - self._last_ctrl_c < DOUBLE_PRESS_S:
            self.request_quit(QuitReason.USER)
            return
        self._last_ctrl_c = now
        if self.turn is TurnState.RUNNING:
            if self.view is View.APPROVAL:
                self._decide(P.ReviewDecision.ABORT)
            self.submit(P.Interrupt())
        elif self.buffer.text:
            self.buffer.reset()
        else:
            self.request_quit(QuitReason.USER)

    # ------------------------------------------------------------------ pager
    def _transcript_lines(self, width: int | None = None) -> list[str]:
        """Everything so far for the pager, answers drawn `width` wide (default: now)."""
        lines = self.output.transcript_at(width or self._cols())
        if self._approvals:
            req = self._approvals[0].request
            lines.append("")
            if isinstance(req, P.PatchApprovalRequest):
                lines += cells.patch_cell(self.renderer, req.changes, True, self._cols(),
                                          cwd=self.opts.cwd, proposed=True).full or []
            else:
                lines.append("$ " + sanitize(req.command))
        if self.output.answering:
            lines += self.output.tail_lines
        return lines

    def open_pager(self, lines: list[str] | Callable[[int], list[str]]) -> None:
        """Show `lines` full screen; a function of the width is asked again on a resize."""
        if self.view is View.PAGER:
            return
        self._pager_restore = self.view
        self._pager_draw = lines if callable(lines) else None
        self._pager_source = [] if callable(lines) else lines
        self._rewrap_pager()
        self._pager_top = max(0, len(self._pager_lines) - (self._rows() - 1))
        self.writer.erase_live()
        self.app.renderer.full_screen = True
        self.view = View.PAGER
        self.app.invalidate()

    def _rewrap_pager(self) -> None:
        """Every line whole, folded at the terminal's width now (again after a resize,
        keeping the top line's place)."""
        old = len(self._pager_lines)
        self._pager_width = self._cols()
        if self._pager_draw is not None:
            self._pager_source = self._pager_draw(self._pager_width)
        self._pager_lines = self.renderer.wrap(self._pager_source, self._pager_width)
        if old:
            self._pager_top = self._pager_top * len(self._pager_lines) // old

    def close_pager(self) -> None:
        r = self.app.renderer
        r.reset(leave_alternate_screen=True)
        r.full_screen = False
        self.view = getattr(self, "_pager_restore", View.COMPOSER)
        if self.view is View.PAGER:
            self.view = View.COMPOSER
        self._schedule_frame()

    # ------------------------------------------------------------------ lifecycle
    def _quit_on_signal(self, signum: int) -> None:
        """TERM or HUP: shut down as on /quit, then exit 128+N like a process the signal ended."""
        if self._quit_reason is None:
            self.exit_code = 128 + signum
        self.request_quit(QuitReason.SIGNAL)

    def request_quit(self, reason: QuitReason) -> None:
        if self._quit_reason is not None:
            return
        self._quit_reason = reason
        asyncio.ensure_future(self._shutdown_and_exit())

    async def _shutdown_and_exit(self) -> None:
        if self.session is not None and not self._shutdown_done.is_set():
            try:
                self.submit(P.Shutdown())
                await asyncio.wait_for(self._shutdown_done.wait(), SHUTDOWN_TIMEOUT_S)
            except (TimeoutError, RuntimeError):
                pass
        self.output.finish_answer()
        if self.view is View.PAGER:
            self.close_pager()
        self._flush_output()
        self.writer.erase_live()
        if self.app.is_running:
            self.app.exit(result=self.exit_code)

    def submit(self, op: Any) -> None:
        """Send an op to the session; ops before the session is up wait for it."""
        if self.session is None:
            self._early_ops.append(op)
        else:
            self.session.submit(op)

    async def _start_session(self, resume_path: Path | None) -> None:
        session = await self.session_factory(self.opts, resume_path)
        self.session = session
        self._shutdown_done = asyncio.Event()
        self._pump_task = asyncio.ensure_future(self._pump(session))
        early, self._early_ops = self._early_ops, []
        for op in early:
            session.submit(op)

    async def _boot(self) -> None:
        """Start the session while the composer already takes input."""
        from codex.errors import CodexError

        try:
            await self._start_session(self.opts.resume_path)
        except CodexError as e:
            self._boot_failed(e.message, e.exit_code)
            return
        except Exception as e:  # noqa: BLE001 - shown and logged, then the UI ends cleanly
            import logging

            logging.getLogger(__name__).exception("session start failed")
            self._boot_failed(f"the session could not start: {type(e).__name__}: {e}", 1)
            return
        if self.opts.first_prompt or self.opts.images:
            items: list[dict[str, Any]] = []
            if self.opts.first_prompt:
                items.append({"type": "input_text", "text": self.opts.first_prompt})
                history.append(self.opts.home, self.session_id or "", self.opts.first_prompt)
                self._sent_this_session.append(self.opts.first_prompt)
            items.extend(self.opts.images)
            self.submit(P.UserTurn(tuple(items)))

    def _boot_failed(self, message: str, exit_code: int) -> None:
        self.emit(cells.error(self.renderer, message, self._cols()))
        self.exit_code = exit_code
        self._shutdown_done.set()
        self.request_quit(QuitReason.SESSION_ENDED)

    async def new_session(self, resume_path: Path | None = None) -> None:
        """`/new` and `/resume`: end this session and start another in the same cwd."""
        old = self.session
        # From here on ops (a message typed right after /new) wait for the new session: the
        # old one ignores everything after Shutdown.
        self.session = None
        self._sent_this_session.clear()
        if old is not None:
            old.submit(P.Shutdown())
            try:
                await asyncio.wait_for(self._shutdown_done.wait(), SHUTDOWN_TIMEOUT_S)
            except TimeoutError:
                pass
        self.percent_left = None
        from codex.errors import CodexError

        try:
            await self._start_session(resume_path)
        except CodexError as e:
            self.emit(cells.error(self.renderer, e.message, self._cols()))
        except Exception as e:  # noqa: BLE001 - shown and logged; the UI stays up
            import logging

            logging.getLogger(__name__).exception("session restart failed")
            self.emit(cells.error(self.renderer, f"the new session could not start: "
                                  f"{type(e).__name__}: {e}", self._cols()))

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self._quit_on_signal, sig)
            except (NotImplementedError, RuntimeError):
                pass
        boot = asyncio.ensure_future(self._boot())
        # The keys typed while the UI loaded (or before a start-up question) come first, as if
        # typed into it.
        typed = self._typeahead + (self._early.stop() if self._early is not None else b"")
        if typed:
            store_typeahead(self.app.input, parse_keys(typed))
        try:
            result = await self.app.run_async()
        finally:
            for sig in (signal.SIGTERM, signal.SIGHUP):
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError):
                    pass
            for task in (boot, self._pump_task, self._tick_task):
                if task is not None and not task.done():
                    task.cancel()
        return int(result or 0)

    def _shortcuts_cell(self) -> list[str]:
        rows = [("enter", "send (queued while a turn runs)"), ("ctrl+j", "newline"),
                ("esc", "interrupt the turn · esc esc: edit an earlier message"),
                ("↑/↓", "prompt history"), ("ctrl+r", "search history"),
                ("ctrl+t", "transcript"), ("ctrl+g", "edit in $EDITOR"),
                ("@", "insert a file path"), ("/", "commands"), ("!cmd", "run a shell command"),
                ("ctrl+c", "interrupt / clear / quit"), ("ctrl+d", "quit"),
                ("ctrl+z", "suspend (fg resumes)")]
        r = self.renderer
        return [r.style("Shortcuts", "bold")] + [
            "  " + r.style(f"{k:<8}", "cyan") + " " + v for k, v in rows]


def parse_keys(data: bytes) -> list[KeyPress]:
    """Raw terminal input as prompt_toolkit key presses (escape sequences, pastes)."""
    keys: list[KeyPress] = []
    parser = Vt100Parser(keys.append)
    parser.feed(data.decode("utf-8", "replace"))
    parser.flush()
    return keys
