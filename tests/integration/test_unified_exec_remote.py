"""The remote backend's own failure paths: launch failures, tokens, channels per process."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from codex.errors import UsageError
from codex.exec_server.backend import Closed, Exited, Output, StartParams
from codex.exec_server.remote import ExecServerUnavailable, RemoteBackend
from codex.unified_exec import UnifiedExecManager
from codex.unified_exec.backend_select import backend_from_config
from tests.conftest import codex_cmd
from tests.support.unified_exec import WsServer

STDIO = [*codex_cmd(), "exec-server", "--listen", "stdio"]


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def exec_once(backend: RemoteBackend, cmd: str = "true"):
    async def body(m: UnifiedExecManager):
        return await m.exec_command({"cmd": cmd, "login": False}), backend.live_process_ids

    async def main():
        m = UnifiedExecManager(backend, cwd=os.getcwd())
        try:
            return await body(m)
        finally:
            await m.shutdown()

    return run(main())


def test_server_program_missing(tmp_path: Path) -> None:
    r, routes = exec_once(RemoteBackend.stdio([str(tmp_path / "no-codex"), "exec-server"]))
    assert r.text.startswith("exec_command failed for `true`: cannot start exec-server (")
    assert "No such file or directory" in r.text and routes == []


def test_server_exits_at_once_names_its_last_words() -> None:
    r, routes = exec_once(RemoteBackend.stdio([*codex_cmd(), "exec-server", "--listen", "bogus"]))
    assert "did not complete the handshake" in r.text
    assert "exited with status 2" in r.text and "invalid --listen value" in r.text
    assert routes == []


def test_nothing_listening() -> None:
    async def main():
        with pytest.raises(ExecServerUnavailable, match="cannot connect to exec-server at "
                                                        "ws://127.0.0.1:9/"):
            await RemoteBackend.websocket("ws://127.0.0.1:9/").connect()

    run(main())


def test_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    server = WsServer(tmp_path / "server.log", "--ws-token-file", str(token))
    try:
        ok, _ = exec_once(RemoteBackend.websocket(server.url, token_file=str(token)), "echo hi")
        assert ok.output == "hi\n"
        for backend in (RemoteBackend.websocket(server.url, token_file=str(wrong)),
                        RemoteBackend.websocket(server.url)):
            bad, routes = exec_once(backend)
            assert "cannot connect to exec-server at ws://" in bad.text and "401" in bad.text
            assert routes == []
        missing, _ = exec_once(RemoteBackend.websocket(server.url,
                                                       token_file=str(tmp_path / "none")))
        assert "cannot read exec-server token file" in missing.text
    finally:
        server.stop()


def test_channels_route_by_process_and_are_dropped_after_closed() -> None:
    async def main():
        backend = RemoteBackend.stdio(STDIO)
        try:
            await backend.connect()
            env = {"PATH": os.environ["PATH"]}
            started = [await backend.start(StartParams(f"p{i}", ["/bin/sh", "-c", f"echo {i}"],
                                                       os.getcwd(), env)) for i in range(3)]
            # A notification for an id nobody registered is dropped, not a crash.
            backend._on_notification("process/output", {"processId": "ghost", "seq": 1,
                                                        "stream": "stdout", "chunk": "eA=="})
            seen = []
            for _proc, events in started:
                evs = [ev async for ev in events]
                seen.append(evs)
            assert backend.live_process_ids == []
            return seen
        finally:
            await backend.close()

    seen = run(main())
    for i, evs in enumerate(seen):
        assert b"".join(e.chunk for e in evs if isinstance(e, Output)) == f"{i}\n".encode()
        assert isinstance(evs[-1], Closed)
        assert [type(e) for e in evs if not isinstance(e, Output)] == [Exited, Closed]
        seqs = [e.seq for e in evs]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_backend_from_config() -> None:
    from codex.exec_server.local import LocalBackend

    assert isinstance(backend_from_config({}), LocalBackend)
    b = backend_from_config({"exec_server_url": "ws://127.0.0.1:5", "exec_server_token_file":
                             "/t"})
    assert isinstance(b, RemoteBackend) and b.url == "ws://127.0.0.1:5"
    assert b._token_file == "/t"
    flag = backend_from_config({"exec_server_url": "ws://127.0.0.1:5"}, "ws://127.0.0.1:6")
    assert flag.url == "ws://127.0.0.1:6"
    assert isinstance(backend_from_config({}, "stdio"), RemoteBackend)
    with pytest.raises(UsageError, match="not ws://HOST:PORT"):
        backend_from_config({"exec_server_url": "http://x"})


@pytest.mark.parametrize("kind", ["remote-ws", "remote-stdio"])
@pytest.mark.parametrize("chars", ["typed\n", "\u0003"])
def test_input_after_the_server_died_reports_the_failure(kind: str, chars: str,
                                                         tmp_path: Path) -> None:
    import contextlib
    import signal

    server = WsServer(tmp_path / "server.log") if kind == "remote-ws" else None
    backend = RemoteBackend.websocket(server.url) if server else RemoteBackend.stdio(STDIO)
    pids: list[int] = []

    async def main():
        await backend.connect()
        m = UnifiedExecManager(backend, cwd=os.getcwd())
        try:
            first = await m.exec_command({"cmd": "echo PID=$$; exec sleep 60", "login": False,
                                          "tty": chars != "\u0003", "yield_time_ms": 1000})
            pids.append(int(first.output.split("PID=")[1].split()[0]))
            os.kill(server.proc.pid if server else backend.server_pid, signal.SIGKILL)
            typed = await m.write_stdin({"session_id": first.session_id, "chars": chars,
                                         "yield_time_ms": 20_000})
            return typed, m.session_ids
        finally:
            await m.shutdown()

    try:
        typed, left = run(main())
    finally:
        for pid in pids:  # the killed server could not end it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if server:
            server.stop()
    assert typed.text.startswith("write_stdin failed: exec-server transport disconnected")
    assert typed.failure and typed.session_id is None and left == []
