"""The interactive UI: `codex [PROMPT]` and `codex resume` (spec tui.md).

This module is what `codex` imports first, so it stays light: it checks the terminal, loads
the configuration, paints the header, and only then imports prompt_toolkit and rich (most of
the start-up time) to run the application in `codex.tui.app`.
"""

from __future__ import annotations

# Only what is loaded already (codex.cli) or cheap: the top of the header is painted before
# anything else is imported (dataclasses and typing alone are ~15 ms).
import argparse
import os
import signal
import sys
from collections import namedtuple
from pathlib import Path

from codex import __version__
from codex.errors import UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import logging

    from codex.config import Config
    from codex.tui.early import EarlyComposer

NOT_A_TERMINAL = ("codex: the interactive UI needs a terminal, and {what} is not one.\n"
                  "For a non-interactive run use `codex exec`, e.g.  "
                  "echo 'explain this repo' | codex exec -\n")


# `codex resume`: --last (bool), --all (bool), the session id (str | None).
ResumeRequest = namedtuple("ResumeRequest", "last all_folders session_id")


def run(args: argparse.Namespace) -> int:
    """`codex [OPTIONS] [PROMPT]`."""
    return _main(args, None, getattr(args, "prompt", None))


def run_resume(args: argparse.Namespace) -> int:
    """`codex resume [--last | --all | ID] [PROMPT]`."""
    session_id, prompt = args.session_id, args.prompt
    if args.last and session_id is not None:
        if prompt is not None:
            raise UsageError("resume --last takes no session id")
        session_id, prompt = None, session_id
    return _main(args, ResumeRequest(args.last, args.all, session_id), prompt)


def _flags(args: argparse.Namespace) -> dict[str, object]:
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


def _main(args: argparse.Namespace, resume: ResumeRequest | None, prompt: str | None) -> int:
    bad = _check_terminal()
    if bad is not None:
        sys.stderr.write(NOT_A_TERMINAL.format(what=bad))
        return 1
    from codex.tui import banner

    # A TERM or HUP before the UI's own handlers (during the trust question, the resume
    # picker) unwinds through the `finally`s that restore the terminal instead of killing us
    # with it raw; the early composer installs its own (`install_exit_handlers`).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    # The header's top first (no configuration needed), its model row once it is read.
    columns = os.get_terminal_size(sys.stdout.fileno()).columns
    banner.paint(banner.header_top(__version__, columns))
    held = _hold_logs()
    try:
        from codex.config import load_from_args

        cfg = load_from_args(args, _flags(args))
    except BaseException:
        banner.paint([banner.header_end(columns)])  # the error is printed below a closed box
        raise
    cwd = Path.cwd()
    banner.paint(banner.header_bottom(str(cfg.get("model")), cfg.get("model_reasoning_effort"),
                                      cwd, columns))
    early = _start_early_composer(cfg, cwd, resume)
    try:
        # Inside the `try`: a TERM while the log file opens must still restore the terminal.
        _log_to_file(held)
        from codex.tui.startup import start

        return start(args, cfg, cwd, resume, prompt, early)
    except KeyboardInterrupt:
        return 130
    finally:
        if early is not None:
            early.close()


def _start_early_composer(cfg: Config, cwd: Path,
                          resume: ResumeRequest | None) -> EarlyComposer | None:
    """Echo keys while the UI loads (`codex.tui.early`), unless a question comes first
    (the trust prompt, the resume picker). None when not started."""
    import termios

    from codex.tui import trust

    if resume is not None and not (resume.last or resume.session_id):
        return None
    if trust.needs_question(cfg.values, cfg.sources, cwd):
        return None
    from codex.tui import banner
    from codex.tui.early import EarlyComposer, footer_text, install_exit_handlers

    early = EarlyComposer(sys.stdin.fileno(), sys.stdout.fileno(), footer_text(
        str(cfg.get("model", "")), cfg.get("model_reasoning_effort"), banner.short_path(cwd)))
    # Before `start()`, so no moment is uncovered until the UI installs its own handlers.
    install_exit_handlers(early)
    try:
        early.start()
    except (OSError, termios.error):
        early.close()
        return None
    except BaseException:
        early.close()
        raise
    return early


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


class _HeldLogs:
    """Log records kept in memory until the log file is open: the file's directory comes
    from platformdirs, imported only once the header is painted, and a record must never
    reach stderr (it would tear the live area)."""

    def __init__(self) -> None:
        import logging

        self.records: list[logging.LogRecord] = []
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
