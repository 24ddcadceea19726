"""Session ids, the 64-session cap, pruning and the warning (unified-exec spec, "Sessions")."""

from __future__ import annotations

import random
from dataclasses import dataclass

from codex.unified_exec.sessions import (
    MAX_SESSIONS,
    SESSION_ID_MAX,
    SESSION_ID_MIN,
    WARNING_SESSIONS,
    SessionTable,
)


@dataclass
class S:
    exited: bool = False


def filled(n: int, **kw) -> SessionTable[S]:
    t: SessionTable[S] = SessionTable(deterministic_ids=True, **kw)
    for _ in range(n):
        t.store(t.reserve_id(), S())
    return t


def test_deterministic_ids_start_at_1000() -> None:
    t = filled(3)
    assert list(t) == [1000, 1001, 1002]


def test_random_ids_in_range_and_unique() -> None:
    t: SessionTable[S] = SessionTable(rng=random.Random(7))
    ids = [t.reserve_id() for _ in range(500)]
    assert len(set(ids)) == 500
    assert all(SESSION_ID_MIN <= i < SESSION_ID_MAX for i in ids)


def test_no_pruning_below_the_cap() -> None:
    assert filled(MAX_SESSIONS - 1).pick_prune_victim() is None


def test_prunes_least_recently_used_exited_outside_the_recent_eight() -> None:
    t = filled(MAX_SESSIONS)
    ids = list(t)
    t.get(ids[10]).exited = True
    t.get(ids[20]).exited = True
    t.get(ids[-1]).exited = True  # among the 8 most recent: spared
    t.touch(ids[10])  # now the most recently used: spared
    assert t.pick_prune_victim() == ids[20]


def test_prunes_least_recently_used_when_none_exited() -> None:
    t = filled(MAX_SESSIONS)
    ids = list(t)
    t.touch(ids[0])
    assert t.pick_prune_victim() == ids[1]


def test_recent_eight_exited_are_spared() -> None:
    t = filled(MAX_SESSIONS)
    for sid in list(t)[-8:]:
        t.get(sid).exited = True
    assert t.pick_prune_victim() == list(t)[0]


def test_warning_from_sixty() -> None:
    t = filled(WARNING_SESSIONS - 1)
    assert t.warning() is None
    t.store(t.reserve_id(), S())
    assert "60 command sessions are open" in t.warning()


def test_remove_frees_the_id_for_lookup() -> None:
    t = filled(2)
    assert t.remove(1000) is not None
    assert t.get(1000) is None and 1000 not in t and list(t) == [1001]
