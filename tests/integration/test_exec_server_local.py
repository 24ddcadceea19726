"""LocalBackend on its own: flow control towards a slow consumer, and close() cleanup."""

from __future__ import annotations

import asyncio
import os
import uuid

from codex.exec_server.backend import Closed, EventStream, Exited, Output, StartParams
from codex.exec_server.local import LocalBackend
from tests.support.exec_server import run, session_pids, wait_until


@run
async def test_slow_consumer_holds_the_child_instead_of_buffering():
    backend = LocalBackend()
    try:
        size = 4 * EventStream.HIGH_WATER
        proc, events = await backend.start(StartParams(
            "big", ["head", "-c", str(size), "/dev/zero"], "/", dict(os.environ)))
        # Nobody consumes: reading stops a little past the high-water mark, the child waits.
        await wait_until(lambda: events.pending_bytes > EventStream.HIGH_WATER, 60,
                         "the stream to fill")
        await asyncio.sleep(0.3)  # give a runaway reader the chance to show itself
        assert events.pending_bytes < EventStream.HIGH_WATER + (2 << 20)
        assert proc.running
        # Consuming lets it finish, with every byte delivered in order.
        total, seqs = 0, []
        async for ev in events:
            seqs.append(ev.seq)
            if isinstance(ev, Output):
                total += len(ev.chunk)
        assert total == size
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        await backend.close()


@run
async def test_close_kills_leftovers_of_a_finished_leader():
    """`sh -c 'sleep X &'` exits at once; its background sleep is still ours to kill."""
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    backend = LocalBackend()
    proc, events = await backend.start(StartParams(
        "bg", ["/bin/sh", "-c", f"sleep {marker} > /dev/null 2>&1 &"], "/",
        dict(os.environ)))
    got = [ev async for ev in events]
    assert isinstance(got[-1], Closed) and Exited(got[-2].seq, 0) == got[-2]
    assert session_pids(marker)
    await backend.close()
    await wait_until(lambda: not session_pids(marker), 2.0, "the background sleep to die")


@run
async def test_output_held_open_by_a_descendant_still_closes():
    """The leader exits but a background child keeps stdout open: Closed comes after the
    grace, with the leader's output."""
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    backend = LocalBackend()
    try:
        proc, events = await backend.start(StartParams(
            "held", ["/bin/sh", "-c", f"echo before; sleep {marker} &"], "/",
            dict(os.environ)))
        got = await asyncio.wait_for(_collect(events), 20)
        assert b"".join(e.chunk for e in got if isinstance(e, Output)) == b"before\n"
        assert isinstance(got[-1], Closed)
    finally:
        await backend.close()
    await wait_until(lambda: not session_pids(marker), 2.0, "the background sleep to die")


async def _collect(events):
    return [ev async for ev in events]
