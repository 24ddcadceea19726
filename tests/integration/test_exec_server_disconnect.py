"""The issue's disconnect test, with its exact command: `sh -c 'sleep 1000 & sleep 1000'` is
gone within 2 s after the client drops the connection, after SIGTERM to the server, and after
kill -9 of the server (its orphan watchdog)."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.support.exec_server import (
    WsServer,
    children,
    make_client,
    processes,
    run,
    wait_until,
)

COMMAND = ["sh", "-c", "sleep 1000 & sleep 1000"]


def sleeps_of(server_pid: int, before: set[int]) -> list[int]:
    """Live `sleep 1000`s in the sessions of children `server_pid` started after `before`."""
    table = processes()
    leaders = {p.pid for p in table if p.ppid == server_pid and p.pid not in before
               and p.state != "Z"}
    return [p.pid for p in table if p.sid in leaders and p.state != "Z"
            and p.argv == ("sleep", "1000")]


async def _scenario(kind: str, how: str) -> None:
    server = WsServer("--session-grace-ms=0").__enter__() if kind == "ws" else None
    try:
        c = make_client(kind, server.url if server else None)
        await c.open()
        server_pid = {"ws": lambda: server.proc.pid, "stdio": lambda: c.proc.pid,
                      "inproc": os.getpid}[kind]()
        before = {pid for pid, _ in children(server_pid)}
        await c.handshake()
        await c.start("tree", COMMAND)
        members: list[int] = []

        def both_sleeps() -> bool:
            members[:] = sleeps_of(server_pid, before)
            return len(members) == 2  # two distinct sleep processes, both in our session

        await wait_until(both_sleeps, 20, "both sleeps of the tree")
        if how == "drop":
            await (c.aclose() if kind == "inproc" else c.drop())
        elif how == "sigkill":
            # No chance to clean up: the server's orphan watchdog must end the tree.
            (c.proc if kind == "stdio" else server.proc).kill()
        else:
            (c.proc if kind == "stdio" else server.proc).terminate()
        await wait_until(lambda: not {p.pid for p in processes() if p.state != "Z"}
                         & set(members), 2.0, "the tree to be gone")
        if how == "sigterm":
            proc = c.proc if kind == "stdio" else server.proc
            rc = await asyncio.to_thread(proc.wait, 10) if kind == "ws" else \
                await asyncio.wait_for(proc.wait(), 10)
            assert rc == 0
        await c.aclose()
    finally:
        if server is not None:
            server.__exit__(None, None, None)


@pytest.mark.parametrize("kind", ["inproc", "stdio", "ws"])
@run
async def test_client_drop_kills_the_tree(kind):
    await _scenario(kind, "drop")


@pytest.mark.parametrize("kind", ["stdio", "ws"])
@run
async def test_server_sigterm_kills_the_tree_and_exits_0(kind):
    await _scenario(kind, "sigterm")


@pytest.mark.parametrize("kind", ["stdio", "ws"])
@run
async def test_server_kill_9_leaves_no_orphan(kind):
    await _scenario(kind, "sigkill")
