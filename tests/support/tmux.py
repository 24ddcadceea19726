"""Drive a real terminal: a private tmux server running a shell, `send-keys` to type,
`capture-pane` to read. Every wait polls the screen for content (no sleeps)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

PROMPT = "SHELL-READY$ "
POLL_S = 0.03


class Tmux:
    def __init__(self, tmp: Path, *, width: int = 100, height: int = 30,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.socket = f"codex-test-{uuid.uuid4().hex[:10]}"
        self.width, self.height = width, height
        self.env = dict(os.environ if env is None else env)
        self.env.update({"PS1": PROMPT, "TERM": "xterm-256color", "HISTFILE": "/dev/null"})
        self.env.pop("TMUX", None)
        self.env.pop("NO_COLOR", None)
        self.cwd = cwd or tmp
        rc = Path(tmp) / "tmux-bashrc"
        rc.write_text(f"PS1='{PROMPT}'\n")
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "main",
                   f"bash --noprofile --rcfile {shlex.quote(str(rc))} -i")
        self._tmux("set-option", "-g", "history-limit", "100000")
        self.wait_for(PROMPT.strip())

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, env=self.env, cwd=self.cwd,
                              check=check, timeout=30)

    # -- typing ------------------------------------------------------------------------
    def run(self, argv: Sequence[str]) -> None:
        """Type a command line into the shell and press Enter."""
        self.type(shlex.join(argv))
        self.keys("Enter")

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "main", "-l", text)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "main", *keys)

    def resize(self, width: int, height: int) -> None:
        """Resize the window, as a user dragging the terminal's edge (the program gets
        SIGWINCH)."""
        self._tmux("resize-window", "-t", "main", "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    def paste(self, text: str) -> None:
        """A bracketed paste, as a terminal sends it."""
        buf = f"b{uuid.uuid4().hex[:6]}"
        path = Path(self.cwd) / f".{buf}.paste"
        path.write_text(text)
        self._tmux("load-buffer", "-b", buf, str(path))
        path.unlink()
        self._tmux("paste-buffer", "-p", "-d", "-b", buf, "-t", "main")

    # -- reading -----------------------------------------------------------------------
    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-t", "main").stdout

    def scrollback(self) -> str:
        """Everything the terminal holds: the scrollback and the screen (lines the terminal
        wrapped are joined, so a check does not depend on the width)."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "main").stdout

    def wait_for(self, what: str | re.Pattern[str] | Callable[[str], bool], *,
                 timeout: float = 30, whole: bool = False) -> str:
        """Wait until the screen (or the whole scrollback) shows `what`; return the text."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.scrollback() if whole else self.screen()
            if isinstance(what, str):
                ok = what in text
            elif isinstance(what, re.Pattern):
                ok = what.search(text) is not None
            else:
                ok = what(text)
            if ok:
                return text
            time.sleep(POLL_S)
        raise AssertionError(f"timed out waiting for {what!r}; screen:\n{text}")

    def wait_gone(self, what: str, *, timeout: float = 30) -> str:
        return self.wait_for(lambda t: what not in t, timeout=timeout)

    def shell_pid(self) -> int:
        return int(self._tmux("display-message", "-p", "-t", "main", "#{pane_pid}").stdout)

    def children(self) -> list[int]:
        """Processes whose parent is the pane's shell (the command being run)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.shell_pid())],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def close(self) -> None:
        self._tmux("kill-server", check=False)
