"""The table of stored sessions: ids, the 64-session cap and which one to prune."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

MAX_SESSIONS = 64
WARNING_SESSIONS = 60
PROTECTED_RECENT_SESSIONS = 8
SESSION_ID_MIN = 1000
SESSION_ID_MAX = 100_000  # exclusive


class _Session(Protocol):
    @property
    def exited(self) -> bool: ...


S = TypeVar("S", bound=_Session)


class SessionTable(Generic[S]):
    """Stored sessions by id, with a use order (least recently used first)."""

    def __init__(self, *, deterministic_ids: bool = False, rng: random.Random | None = None):
        self._sessions: dict[int, S] = {}
        self._order: list[int] = []  # least recently used first
        self._reserved: set[int] = set()
        self._counter = itertools.count(SESSION_ID_MIN) if deterministic_ids else None
        self._rng = rng or random.SystemRandom()

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: int) -> bool:
        return session_id in self._sessions

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._order))

    def values(self) -> list[S]:
        return [self._sessions[i] for i in self._order]

    def get(self, session_id: int) -> S | None:
        return self._sessions.get(session_id)

    def reserve_id(self) -> int:
        """A fresh id, unused by any stored or reserved session."""
        while True:
            if self._counter is not None:
                sid = next(self._counter)
            else:
                sid = self._rng.randrange(SESSION_ID_MIN, SESSION_ID_MAX)
            if sid not in self._sessions and sid not in self._reserved:
                self._reserved.add(sid)
                return sid

    def release_id(self, session_id: int) -> None:
        self._reserved.discard(session_id)

    def pick_prune_victim(self) -> int | None:
        """The session to drop to make room, or None if there is room.

        The most recently used sessions are spared; among the rest the least recently used
        exited one goes first, else the least recently used one."""
        if len(self._sessions) < MAX_SESSIONS:
            return None
        candidates = self._order[: max(0, len(self._order) - PROTECTED_RECENT_SESSIONS)]
        for sid in candidates:
            if self._sessions[sid].exited:
                return sid
        return candidates[0] if candidates else self._order[0]

    def store(self, session_id: int, session: S) -> None:
        self._reserved.discard(session_id)
        self._sessions[session_id] = session
        self.touch(session_id)

    def touch(self, session_id: int) -> None:
        """Mark as most recently used."""
        if session_id in self._order:
            self._order.remove(session_id)
        self._order.append(session_id)

    def remove(self, session_id: int) -> S | None:
        self._reserved.discard(session_id)
        if session_id in self._order:
            self._order.remove(session_id)
        return self._sessions.pop(session_id, None)

    def warning(self) -> str | None:
        """Advice for the model once many sessions are open."""
        n = len(self._sessions)
        if n < WARNING_SESSIONS:
            return None
        return (
            f"{n} command sessions are open (at most {MAX_SESSIONS} are kept; beyond that the "
            "least recently used are killed). Reuse an open session with write_stdin, or end "
            "sessions you no longer need (e.g. send exit or Ctrl-C), before starting new ones."
        )
