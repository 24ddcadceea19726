"""`notify` from config: a program told about every finished turn.

`notify = ["program", "arg", ...]`: after each completed turn the program runs with one more
argument, a JSON object:

    {"type": "agent-turn-complete", "thread-id": ..., "turn-id": ..., "cwd": ...,
     "input-messages": [the user's texts of the turn], "last-assistant-message": ... | null}

It runs in its own session, stdin/stdout/stderr on /dev/null, and the turn does not wait
for it. A program that cannot start or exits non-zero is logged (never fatal, never shown as
a turn error). At shutdown the session waits a little for running notifiers, then leaves them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

NOTIFY_TYPE = "agent-turn-complete"
SHUTDOWN_WAIT_S = 2.0


class Notifier:
    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = [str(a) for a in argv]
        self._running: list[threading.Thread] = []

    def turn_complete(self, *, thread_id: str, turn_id: str, cwd: str,
                      input_messages: list[str], last_assistant_message: str | None) -> None:
        payload = json.dumps({"type": NOTIFY_TYPE, "thread-id": thread_id, "turn-id": turn_id,
                              "cwd": cwd, "input-messages": input_messages,
                              "last-assistant-message": last_assistant_message},
                             ensure_ascii=False)
        argv = [*self.argv, payload]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            log.warning("notify: cannot run %s: %s", argv[0], e.strerror or e)
            return
        # Reaped by a thread, not the event loop: a notifier may outlive the session.
        t = threading.Thread(target=_reap, args=(proc,), name="codex-notify", daemon=True)
        t.start()
        self._running = [x for x in self._running if x.is_alive()] + [t]

    async def close(self) -> None:
        """Give running notifiers a moment (the process may be about to exit)."""
        running = [t for t in self._running if t.is_alive()]
        if running:
            await asyncio.to_thread(_join_all, running, SHUTDOWN_WAIT_S)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    code = proc.wait()
    if code != 0:
        log.warning("notify: %s exited with %s", proc.args[0], code)


def _join_all(threads: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
