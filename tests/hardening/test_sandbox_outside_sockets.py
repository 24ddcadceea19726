"""Issue 15 item 13: with the network off, no outside daemon's unix socket is reachable.

A real daemon socket listens outside the writable roots (a container engine's or an agent's
socket would be a full escape); the sandboxed command tries every way in: connect to its path,
through a symlink, from a socket under /tmp (a writable root), datagrams, an abstract socket,
the no-user-namespace fallback, read-only mode, the agent's own exec path. Nothing may arrive
at the daemon. The same connection works again where the policy says it should: with
`--allow-network` / `network_access = true`, in danger-full-access, and what the command does
on its own side (socketpairs, its own loopback TCP) keeps working. As root, the main cases
also run as an unprivileged user (nobody), which takes the user-namespace path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import codex_cmd
from tests.support.exec_harness import Harness, harness_for
from tests.support.paths import outside_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

NOBODY = 65534
_SETPRIV = shutil.which("setpriv")
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
NO_USERNS = {"CODEX_SANDBOX_SIMULATE_NO_USERNS": "1"}


@dataclass
class Place:
    ws: Path  # the workspace: cwd of every run
    outside: Path  # a folder outside every writable root
    tmp: Path  # a folder under /tmp (a writable root), like ssh-agent's
    env: dict[str, str]
    prefix: list[str]  # [] or setpriv to nobody
    python: str

    def run(self, script: str, *flags: str, mode: str = "workspace-write",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *codex_cmd(), "sandbox", "-s", mode, *flags, "--",
             self.python, "-c", script],
            cwd=self.ws, env={**self.env, **(env or {})}, capture_output=True, text=True,
            timeout=60)


def _runners() -> list[object]:
    why = ("already unprivileged: the plain run is the unprivileged case" if os.geteuid() != 0
           else "setpriv (util-linux) is not installed")
    return [
        pytest.param([], id="as-is"),
        pytest.param(
            [_SETPRIV or "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"],
            id="unprivileged",
            marks=pytest.mark.skipif(os.geteuid() != 0 or _SETPRIV is None, reason=why)),
    ]


def _make_place(prefix: list[str]) -> Iterator[Place]:
    base = outside_parent() / "codex-socket-tests" / uuid.uuid4().hex[:12]
    tmp_root = Path(tempfile.mkdtemp(prefix="codex-socket-test-", dir="/tmp"))
    ws, outside, home = base / "ws", base / "outside", tmp_root / "home"
    for d in (ws, outside, home):
        d.mkdir(parents=True)
    for d in (base, ws, outside, home, tmp_root):
        d.chmod(0o777)  # so that for nobody only the sandbox stands in the way
    env = dict(os.environ, CODEX_HOME=str(home), TMPDIR=str(tmp_root), LC_ALL="C",
               PATH=_SYSTEM_PATH)
    python = shutil.which("python3", path=_SYSTEM_PATH) if prefix else sys.executable
    yield Place(ws, outside, tmp_root, env, prefix, python or sys.executable)
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(tmp_root, ignore_errors=True)


@pytest.fixture(params=_runners())
def place(request: pytest.FixtureRequest) -> Iterator[Place]:
    yield from _make_place(request.param)


@pytest.fixture
def root_place() -> Iterator[Place]:
    yield from _make_place([])


class Daemon:
    """A listening unix socket (stream or datagram, pathname or abstract) that never answers;
    `arrived()` says whether anything reached it, without waiting."""

    def __init__(self, address: str, kind: int = socket.SOCK_STREAM) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, kind)
        self.sock.bind(address)
        if not address.startswith("\0"):
            os.chmod(address, 0o777)
        if kind == socket.SOCK_STREAM:
            self.sock.listen(8)
        self.sock.setblocking(False)

    def arrived(self) -> bytes | None:
        """What reached the daemon (b"" for a bare connection), or None when nothing did."""
        try:
            if self.sock.type == socket.SOCK_STREAM:
                conn, _ = self.sock.accept()
                with conn:
                    conn.settimeout(10)
                    return conn.recv(64)
            return self.sock.recv(64)
        except BlockingIOError:
            return None

    def close(self) -> None:
        self.sock.close()
        if not self.address.startswith("\0"):
            Path(self.address).unlink(missing_ok=True)


def stream_script(address: str) -> str:
    return ("import socket; s = socket.socket(socket.AF_UNIX); "
            f"s.connect({address!r}); s.sendall(b'escaped'); s.close(); print('connected')")


def blocked(r: subprocess.CompletedProcess[str]) -> bool:
    return (r.returncode != 0 and "connected" not in r.stdout
            and "Permission denied" in r.stderr and "codex: error" not in r.stderr)


@pytest.fixture
def daemon(place: Place) -> Iterator[Daemon]:
    d = Daemon(str(place.outside / "daemon.sock"))
    yield d
    d.close()


# --- the example -----------------------------------------------------------------------

def test_outside_daemon_socket_is_unreachable_with_network_off(place: Place,
                                                               daemon: Daemon) -> None:
    r = place.run(stream_script(daemon.address))
    assert blocked(r), (r.returncode, r.stdout, r.stderr)
    assert daemon.arrived() is None


def test_network_access_restores_it(place: Place, daemon: Daemon) -> None:
    r = place.run(stream_script(daemon.address), "--allow-network")
    assert r.returncode == 0 and r.stdout == "connected\n", r.stderr
    assert daemon.arrived() == b"escaped"
    (Path(place.env["CODEX_HOME"]) / "config.toml").write_text(
        "[sandbox_workspace_write]\nnetwork_access = true\n")
    r = place.run(stream_script(daemon.address))
    assert r.returncode == 0, r.stderr
    assert daemon.arrived() == b"escaped"


# --- siblings ---------------------------------------------------------------------------------

def test_a_daemon_socket_under_a_writable_root_is_unreachable(place: Place) -> None:
    # ssh-agent and many others put their sockets under /tmp, which workspace-write may write.
    agent_dir = place.tmp / f"ssh-{uuid.uuid4().hex[:8]}"
    agent_dir.mkdir()
    agent_dir.chmod(0o777)
    agent = Daemon(str(agent_dir / "agent.1234"))
    try:
        assert blocked(place.run(stream_script(agent.address)))
        assert agent.arrived() is None
    finally:
        agent.close()


def test_a_symlink_in_the_workspace_does_not_help(place: Place, daemon: Daemon) -> None:
    (place.ws / "d.sock").symlink_to(daemon.address)
    assert blocked(place.run(stream_script("d.sock")))
    # ... nor a link the command makes itself, nor a relative path from inside the workspace.
    script = (f"import os; os.symlink({daemon.address!r}, 'mine.sock'); "
              + stream_script("mine.sock"))
    assert blocked(place.run(script))
    assert blocked(place.run(stream_script(os.path.relpath(daemon.address, place.ws))))
    assert daemon.arrived() is None


def test_datagram_daemons_get_nothing(place: Place) -> None:
    # Like /dev/log or journald: a datagram socket, reached by sendto(2) with its path.
    log = Daemon(str(place.outside / "log.sock"), socket.SOCK_DGRAM)
    try:
        direct = ("import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
                  f"s.sendto(b'escaped', {log.address!r}); print('connected')")
        assert blocked(place.run(direct))
        # A datagram socketpair could be pointed anywhere with sendto: refused too.
        pair = ("import socket; a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); "
                f"a.sendto(b'escaped', {log.address!r}); print('connected')")
        assert blocked(place.run(pair))
        assert log.arrived() is None
    finally:
        log.close()


def test_abstract_daemon_socket_is_unreachable(place: Place) -> None:
    name = f"\0codex-test-{uuid.uuid4().hex}"
    abstract = Daemon(name)
    try:
        r = place.run(stream_script(name))
        assert r.returncode != 0 and "connected" not in r.stdout, r.stderr
        assert abstract.arrived() is None
    finally:
        abstract.close()


def test_without_user_namespaces_both_kinds_stay_closed(root_place: Place) -> None:
    # The fallback used to refuse only IP sockets: abstract ones of the host were reachable.
    path = Daemon(str(root_place.outside / "daemon.sock"))
    abstract = Daemon(f"\0codex-test-{uuid.uuid4().hex}")
    try:
        assert blocked(root_place.run(stream_script(path.address), env=NO_USERNS))
        assert blocked(root_place.run(stream_script(abstract.address), env=NO_USERNS))
        assert path.arrived() is None and abstract.arrived() is None
        ok = root_place.run(stream_script(path.address), "--allow-network", env=NO_USERNS)
        assert ok.returncode == 0, ok.stderr
        assert path.arrived() == b"escaped"
    finally:
        path.close()
        abstract.close()


def test_read_only_mode_too_and_danger_full_access_reaches_it(place: Place,
                                                              daemon: Daemon) -> None:
    assert blocked(place.run(stream_script(daemon.address), mode="read-only"))
    assert daemon.arrived() is None
    r = place.run(stream_script(daemon.address), mode="danger-full-access")
    assert r.returncode == 0, r.stderr
    assert daemon.arrived() == b"escaped"


def test_what_stays_inside_keeps_working(place: Place) -> None:
    # socketpairs (subprocess, asyncio), a PTY-less child, and TCP on the sandbox's own
    # loopback between two of its own sockets.
    script = "\n".join([
        "import asyncio, socket",
        "a, b = socket.socketpair(); a.sendall(b'pair'); assert b.recv(4) == b'pair'",
        "async def main():",
        "    p = await asyncio.create_subprocess_exec('echo', 'child',",
        "                                             stdout=asyncio.subprocess.PIPE)",
        "    return (await p.communicate())[0]",
        "assert asyncio.run(main()) == b'child\\n'",
        "srv = socket.create_server(('127.0.0.1', 0))",
        "c = socket.create_connection(srv.getsockname()); s, _ = srv.accept()",
        "c.sendall(b'lo'); assert s.recv(2) == b'lo'",
        "print('inside ok')",
    ])
    r = place.run(script)
    assert r.returncode == 0 and r.stdout == "inside ok\n", r.stderr


# --- through the agent: the model's command under --full-auto ---------------------------------

@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")


def test_the_models_command_cannot_reach_the_daemon(hr: Harness, root_place: Place) -> None:
    d = Daemon(str(root_place.outside / "docker.sock"))
    try:
        cmd = f"{sys.executable} -c \"{stream_script(d.address)}\""
        hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": cmd})), hr.answer("done"))
        r = hr.run("--full-auto", "talk to the daemon")
        assert r.returncode == 0, r.stderr
        out = hr.outputs(1)["c1"]
        assert "Permission denied" in out and "connected" not in out, out
        assert d.arrived() is None
    finally:
        d.close()
