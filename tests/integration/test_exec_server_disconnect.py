"""The issue's disconnect test, with its exact command: `sh -c 'sleep 1000 & sleep 1000'` is
gone within 2 s after the client drops the connection, and after SIGTERM to the server."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.support.exec_server import (
    WsServer,
    children,
    make_client,
    run,
    session_pids,
    wait_until,
)

COMMAND = ["sh", "-c", "sleep 1000 & sleep 1000"]


def _sid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rfind(b")") + 2:].split()[3])


def tree_of(server_pid: int, before: set[int]) -> list[int]:
    """Live members of the sessions led by children `server_pid` started since `before`."""
    leaders = {pid for pid, state in children(server_pid) if pid not in before and state != "Z"}
    members = {pid for pid in session_pids("sleep") if _sid(pid) in leaders}
    return sorted(members | {pid for pid in leaders if os.path.exists(f"/proc/{pid}")})


async def _scenario(kind: str, how: str) -> None:
    server = WsServer().__enter__() if kind == "ws" else None
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
            members[:] = [p for p in tree_of(server_pid, before)
                          if _cmdline(p) == b"sleep\x001000\x00"]
            return len(members) == 2  # two distinct sleep processes, both in our session

        await wait_until(both_sleeps, 20, "both sleeps of the tree")
        if how == "drop":
            await (c.aclose() if kind == "inproc" else c.drop())
        else:
            (c.proc if kind == "stdio" else server.proc).terminate()
        await wait_until(lambda: not any(os.path.exists(f"/proc/{p}") and _cmdline(p)
                                         for p in members), 2.0, "the tree to be gone")
        if how == "sigterm":
            proc = c.proc if kind == "stdio" else server.proc
            rc = await asyncio.to_thread(proc.wait, 10) if kind == "ws" else \
                await asyncio.wait_for(proc.wait(), 10)
            assert rc == 0
        await c.aclose()
    finally:
        if server is not None:
            server.__exit__(None, None, None)


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


@pytest.mark.parametrize("kind", ["inproc", "stdio", "ws"])
@run
async def test_client_drop_kills_the_tree(kind):
    await _scenario(kind, "drop")


@pytest.mark.parametrize("kind", ["stdio", "ws"])
@run
async def test_server_sigterm_kills_the_tree_and_exits_0(kind):
    await _scenario(kind, "sigterm")
