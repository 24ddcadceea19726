"""Read a child's output as it comes, from a thread, and wait for a line to appear."""

from __future__ import annotations

import threading
from typing import IO


class LineCollector:
    """Collects the lines of `stream` in the background; `wait_for(text)` blocks until a line
    containing `text` arrived (AssertionError after `timeout`)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: IO[str]) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._done or any(text in line for line in self.lines), timeout)
            found = [line for line in self.lines if text in line]
            if not ok or not found:
                raise AssertionError(f"no line with {text!r} in: {''.join(self.lines)!r}")
            return found[0]

    def join(self, timeout: float = 60) -> str:
        self._thread.join(timeout)
        return self.text
