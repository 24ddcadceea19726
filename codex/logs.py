"""Logging: `CODEX_LOG=debug|info|warning` and a log file in the user log dir.

stdout is reserved for the program's real output; log records go to the file and, from
warning up (or the CODEX_LOG level when set), to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "warn": logging.WARNING, "error": logging.ERROR}
LOG_FILE = "codex.log"


def log_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir("codex", appauthor=False))


def setup_logging(component: str = "codex", *, to_file: bool = True) -> None:
    """Configure the root logger once for this process (called by subcommands, not imports)."""
    root = logging.getLogger()
    if getattr(root, "_codex_configured", False):
        return
    env = os.environ.get("CODEX_LOG", "").strip().lower()
    level = LEVELS.get(env, logging.INFO)
    root.setLevel(min(level, logging.INFO) if to_file else level)
    fmt = logging.Formatter(f"%(asctime)s %(levelname)s {component}[%(process)d] %(name)s: "
                            "%(message)s")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(level if env in LEVELS else logging.WARNING)
    stderr.setFormatter(logging.Formatter("codex: %(levelname)s: %(message)s"))
    root.addHandler(stderr)
    if to_file:
        try:
            d = log_dir()
            d.mkdir(parents=True, exist_ok=True)
            fh = logging.FileHandler(d / LOG_FILE, encoding="utf-8")
        except OSError:
            fh = None  # an unwritable log dir must not stop the program
        if fh is not None:
            fh.setLevel(level)
            fh.setFormatter(fmt)
            root.addHandler(fh)
    root._codex_configured = True  # type: ignore[attr-defined]
