"""The interactive UI: `codex [PROMPT]` and `codex resume` (spec tui.md).

This module is what `codex` imports first, so it stays light: it checks the terminal, loads
the configuration, paints the header, and only then imports prompt_toolkit and rich (most of
the start-up time) to run the application in `codex.tui.app`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex import __version__
from codex.errors import CodexError, UsageError

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

    _log_to_file()
    cfg = load_from_args(args, _flags(args))
    cwd = Path.cwd()
    columns = os.get_terminal_size(sys.stdout.fileno()).columns
    banner.paint(banner.header(__version__, str(cfg.get("model")),
                               cfg.get("model_reasoning_effort"), cwd, columns))
    from codex.tui.startup import start

    try:
        return start(args, cfg, cwd, resume, prompt)
    except CodexError:
        raise
    except KeyboardInterrupt:
        return 130


def _log_to_file() -> None:
    """Log records go to the log file only: a line on stderr would tear the live area."""
    import logging

    root = logging.getLogger()
    if getattr(root, "_codex_configured", False):
        return
    root.setLevel(logging.INFO)
    try:
        from codex.logs import LOG_FILE, log_dir

        d = log_dir()
        d.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(d / LOG_FILE, encoding="utf-8")
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s tui[%(process)d] %(name)s: %(message)s"))
    except OSError:
        handler = logging.NullHandler()
    root.addHandler(handler)
    root._codex_configured = True  # type: ignore[attr-defined]
