"""From a parsed command line to a running UI: trust prompt, session choice, terminal guard.

Imported after the header is painted (it pulls in prompt_toolkit and rich).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
from pathlib import Path
from typing import Any

from codex.config import SRC_DEFAULT, Config
from codex.errors import CodexError
from codex.tui import trust
from codex.tui.app import TuiApp, TuiOptions
from codex.tui.early import EarlyComposer, read_typed
from codex.tui.picker import Choice, pick
from codex.tui.render import Renderer

TRUST_SOURCE = "trust"
RESET_MODES = "\x1b[?2004l\x1b[?1l\x1b[?25h\x1b[0m"  # bracketed paste off, cursor keys, cursor on


def start(args: Any, cfg: Config, cwd: Path, resume: Any, prompt: str | None,
          early: EarlyComposer | None = None) -> int:
    """Settle trust and the session to resume, then run the UI (`early`: the composer that
    took keys while this loaded; its keys become the UI's type-ahead)."""
    # Orphans of the commands the session runs come to us, not init (codex.reaper).
    from codex.reaper import want_subreaper

    want_subreaper()
    # Keys typed before a question is drawn are the user's first message, not its answer
    # (a "1" in "fix issue 1" would trust the folder): set aside, given to the composer.
    held = bytearray()
    # Which session to resume first: a missing one is an error before any question is asked.
    resume_path = _resume_path(cfg, cwd, resume, held) if resume is not None else None
    if resume is not None and resume_path is None:
        return 0  # picker cancelled
    if _apply_trust(cfg, cwd, held):
        # Trusted just now: the project's own .codex/config.toml files apply from this start
        # on (codex.project_trust), so read the configuration again with them.
        from codex.config import load_from_args
        from codex.tui import _flags

        painted = (cfg.get("model"), cfg.get("model_reasoning_effort"))
        cfg = load_from_args(args, _flags(args))
        _apply_trust(cfg, cwd)
        model, effort = cfg.get("model"), cfg.get("model_reasoning_effort")
        if (model, effort) != painted:  # the header above shows the old ones
            where = ", ".join(dict.fromkeys(
                cfg.sources.get(k, "") for k in ("model", "model_reasoning_effort")
                if cfg.sources.get(k) in {str(p) for p in cfg.project_files}))
            _raw_write(Renderer().style(f"model: {model} {effort or ''}".rstrip()
                                        + (f"  (from {where})" if where else ""), "dim")
                       + "\r\n")
    if getattr(args, "oss", False):
        from codex.exec_cmd import OSS_DEFAULT_MODEL, pick_oss_provider

        cfg.values["model_provider"] = pick_oss_provider(cfg)
        if args.model is None and cfg.sources.get("model") == SRC_DEFAULT:
            cfg.values["model"] = OSS_DEFAULT_MODEL
    from codex.exec.inputs import image_part

    images = [image_part(p) for p in getattr(args, "image", None) or []]
    opts = TuiOptions(config=cfg, cwd=cwd, home=cfg.codex_home, version=_version(),
                      resume_path=resume_path, first_prompt=prompt, images=images,
                      add_dirs=tuple(getattr(args, "add_dir", None) or ()),
                      exec_server_url=getattr(args, "exec_server", None))
    return run_app(opts, open_session, early, bytes(held))


def _version() -> str:
    from codex import __version__

    return __version__


async def open_session(opts: TuiOptions, resume_path: Path | None) -> Any:
    """The real session engine (`codex.core.session`)."""
    import importlib

    # The engine's imports (HTTP stack, tools, sandbox) take a few hundred ms: done on a worker
    # thread, the composer is drawn and takes keys meanwhile.
    mod = await asyncio.to_thread(importlib.import_module, "codex.core.session")
    Session, SessionOptions = mod.Session, mod.SessionOptions  # noqa: N806 - classes

    return await Session.start(SessionOptions(
        opts.config, opts.cwd, resume_path=resume_path, ephemeral=opts.ephemeral,
        originator="codex_tui", interactive=True, add_dirs=opts.add_dirs,
        exec_server_url=opts.exec_server_url))


def run_app(opts: TuiOptions, session_factory: Any, early: EarlyComposer | None = None,
            typeahead: bytes = b"") -> int:
    """Run the UI until the user quits; the terminal is restored on every way out
    (`typeahead`: keys typed before a question, fed to the composer first)."""
    fd = sys.stdin.fileno()
    try:
        saved = early.saved_attrs if early is not None else termios.tcgetattr(fd)
    except termios.error:
        saved = None
    ui: TuiApp | None = None
    try:
        ui = TuiApp(opts, session_factory, early, typeahead)
        code = asyncio.run(ui.run())
    finally:
        if saved is not None:
            try:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            except termios.error:
                pass
        alt = ui is not None and ui.app.renderer._in_alternate_screen
        _raw_write(("\x1b[?1049l" if alt else "") + RESET_MODES)
    _goodbye(ui)
    return code


def _goodbye(ui: TuiApp) -> None:
    lines = []
    tot = ui.token_total
    if tot is not None:
        lines.append(f"Token usage: total={tot.input_tokens + tot.output_tokens:,} "
                     f"input={tot.input_tokens:,} output={tot.output_tokens:,}")
    if ui.session_id and ui.rollout_path:
        lines.append(f"To continue this session, run codex resume {ui.session_id}")
    if lines:
        _raw_write("\r\n".join(lines) + "\r\n")


def _raw_write(text: str) -> None:
    try:
        os.write(sys.stdout.fileno(), text.encode("utf-8", "replace"))
    except OSError:
        pass


# -- trust -------------------------------------------------------------------------------------
def _set_aside_typeahead(held: bytearray | None) -> None:
    """Move what was typed so far out of the terminal's input into `held`, so a question
    drawn next reads only keys pressed after it appears. The line discipline holds an
    unfinished line back until canonical mode is left, so leave it for the read (as the early
    composer does, with the same `read_typed`)."""
    if held is None:
        return
    fd = sys.stdin.fileno()
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        return
    raw = termios.tcgetattr(fd)
    raw[3] &= ~(termios.ICANON | termios.ECHO)
    raw[6][termios.VMIN], raw[6][termios.VTIME] = 0, 0
    try:
        termios.tcsetattr(fd, termios.TCSANOW, raw)
        held += read_typed(fd)
    except (OSError, termios.error):
        pass
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)


def _apply_trust(cfg: Config, cwd: Path, held: bytearray | None = None) -> bool:
    """Ask whether to trust the folder when nothing says yet, and let the answer choose the
    approval policy and sandbox the user did not set themselves (spec tui.md "Starting").
    True when the folder was trusted by this answer (its project config is not in `cfg`)."""
    level, root = trust.level_for(cfg.values, cwd)  # the same rule as the config layers
    chosen = any(cfg.sources.get(k) != SRC_DEFAULT for k in ("approval_policy", "sandbox_mode"))
    if level is None and chosen:
        return False
    asked = level is None
    if level is None:
        _set_aside_typeahead(held)
        level = _ask_trust(root)
        if level is None:
            raise CodexError("no answer to the trust question; nothing was changed",
                             exit_code=130)
        path = trust.record(cfg.codex_home, root, level)
        r = Renderer()
        word = "Trusted" if level is trust.TrustLevel.TRUSTED else "Not trusted"
        _raw_write(r.style(f"✔ {word}: {root}", "green" if level is trust.TrustLevel.TRUSTED
                           else "yellow") + r.style(f"  (saved in {path})", "dim") + "\r\n")
    for key, value in trust.DEFAULTS[level].items():
        if cfg.sources.get(key) == SRC_DEFAULT:
            cfg.values[key] = value
            cfg.sources[key] = TRUST_SOURCE
    return asked and level is trust.TrustLevel.TRUSTED


def _ask_trust(root: Path) -> trust.TrustLevel | None:
    title = [("", ""), ("bold", f"You are running Codex in {root}"), ("", ""),
             ("", "Do you trust the contents of this folder? If you trust it, Codex may edit "
                  "files and run commands here without asking (in the workspace sandbox). If "
                  "not, it asks before every command and edit."), ("", "")]
    choice = pick(title, [Choice("1. Yes, trust this folder", key="1"),
                          Choice("2. No, ask me to approve edits and commands", key="2")],
                  hint="press 1 or 2, or ↑/↓ and enter · esc to quit")
    if choice is None:
        return None
    return trust.TrustLevel.TRUSTED if choice == 0 else trust.TrustLevel.UNTRUSTED


# -- resume ------------------------------------------------------------------------------------
def _resume_path(cfg: Config, cwd: Path, resume: Any,
                 held: bytearray | None = None) -> Path | None:
    """The rollout to resume: by id, the newest of this directory (`--last`; any directory
    with `--all`), or the one picked from the list; None when the picker is cancelled."""
    from codex.core.rollout import find_rollout

    home = cfg.codex_home
    scope = None if resume.all_folders else cwd
    if resume.session_id or resume.last:
        return find_rollout(home, resume.session_id, cwd=scope)  # RolloutError: exit 1
    from codex.tui.commands import _ago
    from codex.tui.sessions import label, previews

    found = previews(home, scope)
    if not found:
        where = "" if resume.all_folders else f" started in {cwd} (--all lists every folder)"
        raise CodexError(f"no recorded sessions to resume{where}")
    choices = [Choice(label(s),
                      " · ".join(x for x in (_ago(s.entry.updated_at), s.branch or "",
                                             (s.entry.cwd or "") if resume.all_folders else "")
                                 if x))
               for s in found]
    _set_aside_typeahead(held)
    idx = pick([("bold", "Resume a previous session (type to filter)")], choices,
               filterable=True)
    return None if idx is None else found[idx].path
