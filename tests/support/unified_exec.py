"""Fixtures that run unified_exec on each backend: local, and a real `codex exec-server` child
over a websocket and over stdio. Import the fixtures into a conftest to use them."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codex.exec_server.backend import ExecBackend
from codex.unified_exec import UnifiedExecManager
from tests.conftest import codex_cmd

# "codex-ws"/"codex-stdio": Codex's own `codex exec-server` (the pinned npm release) driven
# by our RemoteBackend: the interop half of issue 14.
BACKENDS = ("local", "remote-ws", "remote-stdio", "codex-ws", "codex-stdio")
REMOTE_BACKENDS = ("remote-ws", "remote-stdio", "codex-ws", "codex-stdio")
CODEX_BACKENDS = ("codex-ws", "codex-stdio")
SERVER_START_TIMEOUT_S = 30.0


class WsServer:
    """A `codex exec-server --listen ws://127.0.0.1:0` child and the URL it printed."""

    def __init__(self, log_path: Path, *extra_args: str, program: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*(program or codex_cmd()), "exec-server", "--listen", "ws://127.0.0.1:0",
             *extra_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, env=env,
        )
        self.url = self._read_url(log_path)

    def _read_url(self, log_path: Path) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, remaining))
            if not ready:
                self.stop()
                raise AssertionError(f"exec-server printed no URL: {log_path.read_text()}")
            byte = os.read(self.proc.stdout.fileno(), 1)
            if not byte:
                self.stop()
                raise AssertionError(f"exec-server exited: {log_path.read_text()}")
            line += byte
        url = line.decode().strip()
        assert url.startswith("ws://"), url
        return url

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


@pytest.fixture(scope="session")
def ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WsServer]:
    server = WsServer(tmp_path_factory.mktemp("exec-server") / "server.log")
    try:
        yield server
    finally:
        server.stop()


def codex_program(tmp: Path) -> tuple[list[str], dict[str, str]]:
    """Codex's own CLI (installed from npm on first use) and an environment for it; the test
    fails, naming the reason, when it cannot be installed."""
    from tests.support.codex_cli import CodexCliUnavailable, codex_binary, codex_server_env

    try:
        binary = codex_binary()
    except CodexCliUnavailable as e:
        pytest.fail(f"cannot run the interop tests: {e}")
    return [str(binary)], codex_server_env(tmp / "codex-home")


@pytest.fixture(scope="session")
def codex_ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WsServer]:
    tmp = tmp_path_factory.mktemp("codex-exec-server")
    program, env = codex_program(tmp)
    server = WsServer(tmp / "server.log", program=program, env=env)
    try:
        yield server
    finally:
        server.stop()


def make_backend(kind: str, request: pytest.FixtureRequest) -> ExecBackend:
    if kind == "local":
        from codex.exec_server.local import LocalBackend

        return LocalBackend()
    from codex.exec_server.remote import RemoteBackend

    if kind == "remote-ws":
        return RemoteBackend.websocket(request.getfixturevalue("ws_server").url)
    if kind == "remote-stdio":
        return RemoteBackend.stdio([*codex_cmd(), "exec-server", "--listen", "stdio"])
    if kind == "codex-ws":
        return RemoteBackend.websocket(request.getfixturevalue("codex_ws_server").url)
    if kind == "codex-stdio":
        tmp = request.getfixturevalue("tmp_path")
        program, env = codex_program(tmp)
        return RemoteBackend.stdio([*program, "exec-server", "--listen", "stdio"], env=env)
    raise ValueError(kind)


BackendFactory = Callable[[], ExecBackend]


@pytest.fixture(params=BACKENDS)
def backend_factory(request: pytest.FixtureRequest) -> BackendFactory:
    kind = request.param
    factory = lambda: make_backend(kind, request)  # noqa: E731
    factory.kind = kind  # type: ignore[attr-defined]
    return factory


@pytest.fixture(params=REMOTE_BACKENDS)
def remote_backend_factory(request: pytest.FixtureRequest) -> BackendFactory:
    kind = request.param
    factory = lambda: make_backend(kind, request)  # noqa: E731
    factory.kind = kind  # type: ignore[attr-defined]
    return factory


def run_manager(factory: BackendFactory, body: Callable[[UnifiedExecManager], Awaitable[Any]],
                *, cwd: str | os.PathLike[str] | None = None, timeout: float = 120,
                **kwargs: Any) -> Any:
    """Run `body(manager)` on a fresh manager over a fresh backend; always shut it down."""

    async def main() -> Any:
        kwargs.setdefault("deterministic_ids", True)
        backend = factory()
        connect = getattr(backend, "connect", None)
        if connect is not None:
            await connect()  # a remote server's start-up is not part of any tool call
        mgr = UnifiedExecManager(backend, cwd=str(cwd or os.getcwd()), **kwargs)
        try:
            return await asyncio.wait_for(body(mgr), timeout)
        finally:
            await mgr.shutdown()

    return asyncio.run(main())


def pid_gone(pid: int) -> bool:
    """No such process, not even a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return not stat


def wait_pids_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    """Wait until every pid is gone; returns those still present (with state) on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if not pid_gone(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


async def wait_for(predicate: Callable[[], bool], timeout: float = 15.0,
                   what: str = "condition") -> None:
    """Poll an in-process condition (event-driven state) with a generous timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
