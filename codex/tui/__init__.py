"""The interactive UI: `codex [PROMPT]` and `codex resume` (spec tui.md).

This module is what `codex` imports first, so it stays light: it checks the terminal, loads
the configuration, paints the header, and only then imports prompt_toolkit and rich (most of
the start-up time) to run the application in `codex.tui.app`.
"""

from __future__ import annotations

import os
import signal
import sys
import termios
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex import __version__
from codex.errors import UsageError

NOT_A_TERMINAL = ("codex: the interactive UI needs a terminal, and {what} is not one.\n"
                  "For a non-interactive run use `codex exec`, e.g.  "
                  "echo 'explain this repo' | codex exec -\n")


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    last: bool
    all_folders: bool
    session_id: str | None


def run(args: Any) -> int:
    """`codex [OPTIONS] [PROMPT]`."""
    return _main(args, None, getattr(args, "prompt", None))


def run_resume(args: Any) -> int:
    """`codex resume [--last | --all | ID] [PROMPT]`."""
    session_id, prompt = args.session_id, args.prompt
    if args.last and session_id is not None:
        if prompt is not None:
            raise UsageError("resume --last takes no session id")
        session_id, prompt = None, session_id
    return _main(args, ResumeRequest(args.last, args.all, session_id), prompt)


def _flags(args: Any) -> dict[str, Any]:
    sandbox, approval = args.sandbox, args.approval
    if args.bypass:
        sandbox, approval = "danger-full-access", "never"
    elif args.full_auto:
        sandbox = sandbox or "workspace-write"
        approval = approval or "on-request"
    return {"model": args.model, "sandbox_mode": sandbox, "approval_policy": approval}


def _check_terminal() -> str | None:
    for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout)):
        try:
            if stream is None or not os.isatty(stream.fileno()):
                return name
        except (OSError, ValueError):
            return name
    return None


def _main(args: Any, resume: ResumeRequest | None, prompt: str | None) -> int:
    bad = _check_terminal()
    if bad is not None:
        sys.stderr.write(NOT_A_TERMINAL.format(what=bad))
        return 1
    from codex.config import load_from_args
    from codex.tui import banner

    held = _hold_logs()
    cfg = load_from_args(args, _flags(args))
    cwd = Path.cwd()
    columns = os.get_terminal_size(sys.stdout.fileno()).columns
    banner.paint(banner.header(__version__, str(cfg.get("model")),
                               cfg.get("model_reasoning_effort"), cwd, columns))
    early = _start_early_composer(cfg, cwd, resume)
    _log_to_file(held)
    try:
        from codex.tui.startup import start

        return start(args, cfg, cwd, resume, prompt, early)
    except KeyboardInterrupt:
        return 130
    finally:
        if early is not None:
            early.close()


def _start_early_composer(cfg: Any, cwd: Path, resume: ResumeRequest | None) -> Any:
    """Echo keys while the UI loads (`codex.tui.early`), unless a question comes first
    (the trust prompt, the resume picker). None when not started."""
    from codex.tui import trust

    if resume is not None and not (resume.last or resume.session_id):
        return None
    if trust.needs_question(cfg.values, cfg.sources, cwd):
        return None
    from codex.tui import banner
    from codex.tui.early import EarlyComposer, footer_text

    early = EarlyComposer(sys.stdin.fileno(), sys.stdout.fileno(), footer_text(
        str(cfg.get("model", "")), cfg.get("model_reasoning_effort"), banner.short_path(cwd)))
    try:
        early.start()
    except (OSError, termios.error):
        early.close()
        return None
    # Until the UI installs its own handlers, a TERM or HUP unwinds through the `finally`
    # that restores the terminal (the default action would leave it in raw mode).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    return early


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


class _HeldLogs:
    """Log records kept in memory until the log file is open: the file's directory comes
    from platformdirs, imported only once the header is painted, and a record must never
    reach stderr (it would tear the live area)."""

    def __init__(self) -> None:
        import logging

        self.records: list[Any] = []
        self.handler = logging.Handler()
        self.handler.emit = self.records.append  # type: ignore[method-assign]


def _hold_logs() -> _HeldLogs | None:
    import logging

    root = logging.getLogger()
    if getattr(root, "_codex_configured", False):
        return None
    held = _HeldLogs()
    root.setLevel(logging.INFO)
    root.addHandler(held.handler)
    return held


def _log_to_file(held: _HeldLogs | None) -> None:
    """Log records go to the log file only (those held so far too)."""
    import logging

    if held is None:
        return
    root = logging.getLogger()
    try:
        from codex.logs import LOG_FILE, log_dir

        d = log_dir()
        d.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(d / LOG_FILE, encoding="utf-8")
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s tui[%(process)d] %(name)s: %(message)s"))
    except OSError:
        handler = logging.NullHandler()
    root.removeHandler(held.handler)
    for record in held.records:
        handler.handle(record)
    root.addHandler(handler)
    root._codex_configured = True  # type: ignore[attr-defined]
