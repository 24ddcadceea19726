"""`environment/info`: what a client should know about the machine the server runs on (shell,
paths as PathUris, OS, capabilities). Spec "The newest Codex dialect"."""

from __future__ import annotations

import os
import sys
from typing import Any

from codex.exec_server import path_uri

# Our answers to the capability flags a Codex client reads; a flag we leave out means "no".
CAPABILITIES = {
    "fileSystem": True,
    "processSignals": True,
    "sessionResume": True,
    "outputAcks": True,  # ours: `process/ack` (see protocol)
}


def _shell() -> dict[str, str]:
    for candidate in (os.environ.get("SHELL"), "/bin/bash", "/bin/sh"):
        if candidate and os.path.isabs(candidate) and os.access(candidate, os.X_OK):
            return {"name": os.path.basename(candidate), "path": candidate}
    return {"name": "sh", "path": "sh"}


def _platform() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "macos"
    if sys.platform == "win32":
        return "windows"
    return sys.platform


def environment_info() -> dict[str, Any]:
    from codex import __version__

    # Not tempfile.gettempdir(): it probes by creating a file, which fails at the fd limit.
    tmp = os.environ.get("TMPDIR") or "/tmp"

    return {
        "shell": _shell(),
        "executorVersion": __version__,
        "cwd": path_uri.from_path(os.getcwd()),
        "userHomeDir": path_uri.from_path(os.path.expanduser("~")),
        "platformOs": _platform(),
        "prependPathDirs": [],
        "temporaryDirectories": [],
        "tempDir": path_uri.from_path(tmp),
        "capabilities": dict(CAPABILITIES),
    }
