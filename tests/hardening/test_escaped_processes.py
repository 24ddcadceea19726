"""Issue 15 item 5: nothing a command starts outlives codex or a dropped client.

Process groups and sessions cannot reach a background grandchild whose shell already finished
(`sh -c '(sleep 300 &)'`) once the shell is reaped, nor anything that detached with `setsid`.
Each case here starts such an escapee through the real product (`codex exec` with the mock
model, `codex exec-server` over stdio and websocket), ends codex or the client the way the
case says (kill -9, a clean exit, a signal, a disconnect), and waits for the escapee's pid to
be gone. The escapees write their own pid to a file, so the test watches exactly them; any
left over are killed at the end so a failure leaves nothing behind. The cases also run with
`CODEX_SIMULATE_NO_CGROUP=1`: the fallback where no cgroup can be made (subreaper, sessions,
sweeps; see codex/reaper.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_codex
from tests.support import mock_model as mm
from tests.support.exec_harness import Harness, harness_for
from tests.support.exec_server import WsServer, make_client, run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the escapes (setsid, subreaper, /proc) are Linux's")

# How long an escapee may take to be gone after its end was decided: generous, the machine is
# shared; the wait ends as soon as the process is gone.
GONE_WITHIN_S = 30.0
NO_CGROUP = {"CODEX_SIMULATE_NO_CGROUP": "1"}

# The escapes. Each writes the escapee's pid to PIDFILE and then returns at once.
ORPHAN_OF_FINISHED = "(sleep 300 & echo $! > PIDFILE)"  # the issue's `sh -c '(sleep 300 &)'`
SETSID_DETACHED = "setsid sh -c 'echo $$ > PIDFILE; exec sleep 301' > /dev/null 2>&1 &"
DOUBLE_FORK_SETSID = "(setsid sh -c 'echo $$ > PIDFILE; exec sleep 302' &) > /dev/null 2>&1"
ESCAPES = {"orphan": ORPHAN_OF_FINISHED, "setsid": SETSID_DETACHED,
           "double-fork-setsid": DOUBLE_FORK_SETSID}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path: Path, timeout: float = 60.0) -> int:
    """The pid the escapee wrote, once it is there (waiting for the command, not sleeping)."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text().strip() if path.exists() else ""
        if text.isdigit() and alive(int(text)):
            return int(text)
        assert time.monotonic() < deadline, f"the escapee never wrote {path}"
        time.sleep(0.02)


def assert_gone(pid: int, what: str) -> None:
    deadline = time.monotonic() + GONE_WITHIN_S
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)  # leave nothing behind, even failing
        pytest.fail(f"{what}: pid {pid} outlived it")


def escape(kind: str, pidfile: Path) -> str:
    return ESCAPES[kind].replace("PIDFILE", str(pidfile))


# --- codex exec ------------------------------------------------------------------------------

@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")


@pytest.fixture(params=["cgroup", "no-cgroup"])
def containment_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for codex: as it is (a cgroup where this machine allows one), or with
    cgroups turned off (the fallback)."""
    return NO_CGROUP if request.param == "no-cgroup" else {}


def _popen(h: Harness, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(h.argv(*args), cwd=h.cwd, env=h.env(**env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _escape_then_signal(h: Harness, env: dict[str, str], kind: str, sig: int,
                       *flags: str) -> int:
    """Run `codex exec` whose model starts escape `kind` and then stalls mid-answer; once the
    command has finished, send `sig` to codex and wait for it. Returns the escapee's pid."""
    pidfile = h.cwd / "escapee.pid"
    hold = threading.Event()
    h.mock.add(h.calls(("c1", "exec_command", {"cmd": escape(kind, pidfile),
                                               "yield_time_ms": 10000})),
               mm.Reply(events=[{"type": "response.created", "response": {"id": "r2"}}],
                        hold=hold))
    p = _popen(h, env, *flags, "start it")
    try:
        h.mock.wait_for_requests(2)  # the command has finished and its output was sent
        escapee = read_pid(pidfile)
        os.kill(p.pid, sig)
        p.wait(60)
    finally:
        hold.set()
        if p.poll() is None:
            p.kill()
        p.communicate()
    return escapee


@pytest.mark.parametrize("kind", list(ESCAPES))
def test_kill_9_of_exec_after_the_command_finished(hr: Harness, containment_env: dict[str, str],
                                                   kind: str) -> None:
    escapee = _escape_then_signal(hr, containment_env, kind, signal.SIGKILL,
                                  "-s", "danger-full-access")
    assert_gone(escapee, f"kill -9 of codex exec ({kind})")


@pytest.mark.parametrize("kind", ["orphan", "setsid"])
def test_clean_exit_of_exec(hr: Harness, containment_env: dict[str, str], kind: str) -> None:
    pidfile = hr.cwd / "escapee.pid"
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": escape(kind, pidfile),
                                                 "yield_time_ms": 10000})),
                hr.answer("done"))
    p = _popen(hr, containment_env, "-s", "danger-full-access", "start it")
    _out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    text = pidfile.read_text().strip() if pidfile.exists() else ""
    assert text.isdigit(), "the escapee never started"
    assert_gone(int(text), f"the clean exit of codex exec ({kind})")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signalled_exec(hr: Harness, containment_env: dict[str, str],
                        sig: signal.Signals) -> None:
    escapee = _escape_then_signal(hr, containment_env, "setsid", sig,
                                  "-s", "danger-full-access")
    assert_gone(escapee, f"{sig.name} to codex exec")


def test_sandboxed_command_escapees_too(hr: Harness, containment_env: dict[str, str]) -> None:
    # The model's usual case: workspace-write, the command under the sandbox helper.
    escapee = _escape_then_signal(hr, containment_env, "double-fork-setsid", signal.SIGKILL,
                                  "--full-auto")
    assert_gone(escapee, "kill -9 of codex exec (sandboxed command)")


# --- codex exec-server -------------------------------------------------------------------------

async def _server_scenario(kind: str, how: str, escape_kind: str, tmp: Path) -> None:
    # Grace 0: a dropped websocket client's session is not kept for a resume.
    server = WsServer("--session-grace-ms=0").__enter__() if kind == "ws" else None
    c = make_client(kind, server.url if server else None)
    pidfile = tmp / f"{uuid.uuid4().hex}.pid"
    try:
        await c.open()
        await c.handshake()
        await c.start("p1", ["sh", "-c", escape(escape_kind, pidfile)])
        escapee = await asyncio.to_thread(read_pid, pidfile)
        await c.wait_closed_read("p1")  # the command itself has finished
        server_proc = c.proc if kind == "stdio" else server.proc  # type: ignore[union-attr]
        if how == "drop":
            await c.drop()
        elif how == "sigkill":
            server_proc.kill()
        else:
            server_proc.terminate()
        await asyncio.to_thread(assert_gone, escapee, f"{how} of a {kind} exec-server")
    finally:
        await c.aclose()
        if server is not None:
            server.__exit__(None, None, None)


@pytest.mark.parametrize("mode", ["cgroup", "no-cgroup"])
@pytest.mark.parametrize("how", ["drop", "sigkill", "sigterm"])
@pytest.mark.parametrize("kind", ["stdio", "ws"])
@run
async def test_exec_server_setsid_escapee(kind: str, how: str, mode: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "no-cgroup":
        monkeypatch.setenv("CODEX_SIMULATE_NO_CGROUP", "1")  # the server children inherit it
    await _server_scenario(kind, how, "setsid", tmp_path)


@pytest.mark.parametrize("mode", ["cgroup", "no-cgroup"])
@pytest.mark.parametrize("how", ["drop", "sigkill"])
@pytest.mark.parametrize("escape_kind", ["orphan", "double-fork-setsid"])
@run
async def test_exec_server_other_escapes(escape_kind: str, how: str, mode: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "no-cgroup":
        monkeypatch.setenv("CODEX_SIMULATE_NO_CGROUP", "1")
    await _server_scenario("ws", how, escape_kind, tmp_path)


@pytest.mark.parametrize("mode", ["cgroup", "no-cgroup"])
@run
async def test_exec_server_leaves_no_zombie_of_what_it_adopted(
        mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As the subreaper the server adopts a finished command's background job; when that job
    # ends on its own, long after its command, the server must reap it (spec: no zombies).
    if mode == "no-cgroup":
        monkeypatch.setenv("CODEX_SIMULATE_NO_CGROUP", "1")
    release, pidfile = tmp_path / "release", tmp_path / "job.pid"
    job = (f"(sh -c 'echo $$ > {pidfile}; while [ ! -e {release} ]; do sleep 0.05; done' &)"
           " > /dev/null 2>&1")
    with WsServer("--session-grace-ms=0") as server:
        c = make_client("ws", server.url)
        try:
            await c.open()
            await c.handshake()
            await c.start("p1", ["sh", "-c", job])
            orphan = await asyncio.to_thread(read_pid, pidfile)
            await c.wait_closed_read("p1")
            assert server.proc is not None
            release.touch()

            def reaped() -> bool:
                # Alive or a zombie, the pid is in /proc; reaped, it is not.
                return not os.path.exists(f"/proc/{orphan}")

            deadline = time.monotonic() + GONE_WITHIN_S
            while not reaped() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert reaped(), f"pid {orphan} is still there (a zombie nobody reaped?)"
        finally:
            await c.aclose()


# --- where the kernel allows what: said plainly -------------------------------------------

def test_doctor_says_how_processes_are_contained(tmp_path: Path) -> None:
    env = {"CODEX_HOME": str(tmp_path)}
    r = run_codex(["doctor", "--json"], env=env)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)["process_containment"]
    assert info["mode"] in ("cgroup", "sweep", "sessions")
    assert info["detail"]
    r = run_codex(["doctor", "--json"], env={**env, **NO_CGROUP})
    fallback = json.loads(r.stdout)["process_containment"]
    assert fallback["mode"] == "sweep" and "CODEX_SIMULATE_NO_CGROUP" in fallback["detail"]


def test_no_cgroup_is_left_behind(tmp_path: Path) -> None:
    # A codex that made its cgroup directory removes it when it exits (its watchdog does).
    r = run_codex(["doctor", "--json"], env={"CODEX_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)["process_containment"]
    if info["mode"] != "cgroup":
        pytest.skip(f"no cgroup can be made here, the fallback applies: {info['detail']}")
    made = Path(info["cgroup"])
    deadline = time.monotonic() + GONE_WITHIN_S
    while made.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not made.exists(), f"{made} was left behind"
