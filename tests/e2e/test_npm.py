"""The npm channel end to end: publish to a local registry, `npm install -g`, run the shim."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from codex import release_settings
from tests.e2e.conftest import HOST, VERSION_LINE, npm_install, shim_env

pytestmark = pytest.mark.e2e
NAME = release_settings.NPM_PACKAGE
ALIAS = f"{NAME}-{HOST.npm_suffix}"
TIMEOUT = 120


@pytest.fixture
def installed(registry, tmp_path: Path):
    prefix = tmp_path / "prefix"
    shim = npm_install(registry, prefix, NAME)
    return shim, prefix, shim_env(registry, tmp_path)


def platform_dir(prefix: Path) -> Path:
    return prefix / "lib" / "node_modules" / NAME / "node_modules" / ALIAS


def test_npm_install_runs_the_platform_binary(installed) -> None:
    shim, prefix, env = installed
    binary = platform_dir(prefix) / "vendor" / HOST.triple / "bin" / "codex"
    assert binary.is_file() and os.access(binary, os.X_OK)
    r = subprocess.run([str(shim), "--version"], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT)
    assert (r.returncode, r.stdout.strip()) == (0, VERSION_LINE), r.stderr
    # The shim tells the binary how it was installed: doctor and update read it.
    r = subprocess.run([str(shim), "doctor", "--json"], capture_output=True, text=True,
                       env=env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["install_channel"] == "npm"
    r = subprocess.run([str(shim), "update"], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT)
    assert f"npm install -g {NAME}@latest" in r.stdout


def test_exit_status_is_mirrored(installed) -> None:
    shim, _, env = installed
    r = subprocess.run([str(shim), "completion", "no-such-shell"], capture_output=True,
                       text=True, env=env, timeout=TIMEOUT)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def _reader(stream) -> queue.Queue:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in iter(stream.readline, b"")]
                     or lines.put(None), daemon=True).start()
    return lines


def _start_exec_server(shim: Path, env: dict[str, str]):
    proc = subprocess.Popen([str(shim), "exec-server", "--listen", "stdio"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    lines = _reader(proc.stdout)
    proc.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"initialize",'
                     b'"params":{"clientName":"npm-e2e"}}\n')
    proc.stdin.flush()
    reply = lines.get(timeout=TIMEOUT)
    assert reply is not None, proc.stderr.read().decode()
    return proc, lines, json.loads(reply)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_exec_server_stdio_session_through_the_shim(installed) -> None:
    shim, _, env = installed
    proc, lines, reply = _start_exec_server(shim, env)
    try:
        assert reply["id"] == 1 and "result" in reply
        proc.stdin.write(b'{"jsonrpc":"2.0","method":"initialized","params":{}}\n'
                         b'{"jsonrpc":"2.0","id":2,"method":"process/start","params":'
                         b'{"processId":"p1","argv":["true"],"cwd":"/","env":{},"tty":false}}\n')
        proc.stdin.flush()
        started = json.loads(lines.get(timeout=TIMEOUT))
        assert started == {"jsonrpc": "2.0", "id": 2, "result": {"processId": "p1"}}
        proc.stdin.close()  # end of the session: the server and the shim exit cleanly
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the child via /proc")
def test_sigint_reaches_the_binary_and_shim_exits_130(installed) -> None:
    # `codex sandbox` execs the command, so the binary's own Ctrl-C status is the command's:
    # killed by SIGINT. The shim must end the same way, which a shell reports as 130.
    shim, _, env = installed
    proc = subprocess.Popen(
        [str(shim), "sandbox", "-s", "danger-full-access", "--", "sh", "-c",
         "echo ready; exec sleep 60"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _reader(proc.stdout)
        assert lines.get(timeout=TIMEOUT) == b"ready\n", proc.stderr.read().decode()
        children = _children(proc.pid)
        assert len(children) == 1, children  # the native binary (Node 20 has no execve)
        proc.send_signal(signal.SIGINT)  # to the shim only, not its process group
        assert proc.wait(timeout=TIMEOUT) == -signal.SIGINT
        assert not Path(f"/proc/{children[0]}").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_missing_platform_package_is_fetched_from_the_registry(installed) -> None:
    shim, prefix, env = installed
    shutil.rmtree(platform_dir(prefix))
    r = subprocess.run([str(shim), "--version"], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT)
    assert (r.returncode, r.stdout.strip()) == (0, VERSION_LINE), r.stderr
    assert f"{ALIAS} is not installed; fetching" in r.stderr
    assert (platform_dir(prefix) / "vendor" / HOST.triple / "bin" / "codex").is_file()
    # Restored in place: the next run finds it without fetching.
    r = subprocess.run([str(shim), "--version"], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT)
    assert (r.returncode, r.stderr) == (0, "")


def test_corrupted_platform_tarball_is_refused(installed, registry) -> None:
    shim, prefix, env = installed
    shutil.rmtree(platform_dir(prefix))
    stored = next((registry.storage / NAME).glob(f"*-{HOST.npm_suffix}.tgz"))
    original = stored.read_bytes()
    try:
        stored.write_bytes(original[:-64] + bytes(64))
        r = subprocess.run([str(shim), "--version"], capture_output=True, text=True, env=env,
                           timeout=TIMEOUT)
    finally:
        stored.write_bytes(original)
    assert r.returncode == 1 and r.stdout == ""
    assert "refusing" in r.stderr and "sha512" in r.stderr, r.stderr
    assert f"npm install -g {NAME}@" in r.stderr and "--include=optional" in r.stderr
    parent = platform_dir(prefix).parent
    assert not parent.exists() or not any(parent.iterdir())  # nothing half-unpacked
    assert not (Path(env["XDG_CACHE_HOME"]) / "codex-npm").exists()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the child via /proc")
def test_sigterm_is_forwarded_and_the_exit_code_mirrored(installed) -> None:
    shim, _, env = installed
    proc, _, _ = _start_exec_server(shim, env)
    try:
        (child,) = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0  # exec-server stops cleanly on SIGTERM
        assert not Path(f"/proc/{child}").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the child via /proc")
def test_a_binary_killed_by_a_signal_takes_the_shim_with_it(installed) -> None:
    shim, _, env = installed
    proc, _, _ = _start_exec_server(shim, env)
    try:
        (child,) = _children(proc.pid)
        os.kill(child, signal.SIGKILL)
        assert proc.wait(timeout=TIMEOUT) == -signal.SIGKILL  # re-raised, not exit 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _preload(tmp_path: Path, env: dict[str, str], source: str) -> dict[str, str]:
    script = tmp_path / "preload.js"
    script.write_text(source)
    return {**env, "NODE_OPTIONS": f"--require {script}"}


def test_execve_is_used_when_node_has_it(installed, tmp_path: Path) -> None:
    # Node 20 has no process.execve; give it one that records its call, then runs the target
    # the way a real execve would (same argv, same environment) and exits with its status.
    shim, prefix, env = installed
    record = tmp_path / "execve.json"
    env = _preload(tmp_path, env, f"""
        process.execve = (file, args, environ) => {{
          require("fs").writeFileSync({json.dumps(str(record))},
            JSON.stringify({{file, args, npm: environ.CODEX_MANAGED_BY_NPM}}));
          const r = require("child_process").spawnSync(file, args.slice(1),
            {{stdio: "inherit", env: environ}});
          process.exit(r.status);
        }};
    """)
    r = subprocess.run([str(shim), "--version"], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT)
    assert (r.returncode, r.stdout.strip()) == (0, VERSION_LINE), r.stderr
    call = json.loads(record.read_text())
    binary = str(platform_dir(prefix) / "vendor" / HOST.triple / "bin" / "codex")
    assert call == {"file": binary, "args": [binary, "--version"], "npm": "1"}


def test_unsupported_platform_is_named(installed, tmp_path: Path) -> None:
    shim, _, env = installed
    env = _preload(tmp_path, env, 'Object.defineProperty(process, "platform", {value: "aix"});')
    r = subprocess.run([str(shim), "--version"], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT)
    assert r.returncode == 1
    assert f"no native build of {NAME} for aix-" in r.stderr and HOST.npm_suffix in r.stderr


def test_unreachable_registry_prints_the_fix(installed) -> None:
    shim, prefix, env = installed
    shutil.rmtree(platform_dir(prefix))
    env = {**env, "npm_config_registry": "http://127.0.0.1:9/"}
    r = subprocess.run([str(shim), "--version"], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT)
    assert r.returncode == 1
    assert f"missing optional dependency {ALIAS}" in r.stderr
    assert f"npm install -g {NAME}@" in r.stderr and "--include=optional" in r.stderr


def test_a_scoped_registry_setting_wins(installed, registry, tmp_path: Path) -> None:
    if not NAME.startswith("@"):
        pytest.skip(f"{NAME} (codex/release_settings.py) is not a scoped package name")
    shim, prefix, env = installed
    shutil.rmtree(platform_dir(prefix))
    npmrc = tmp_path / "scoped.npmrc"
    scope = NAME.split("/")[0]
    npmrc.write_text(f"registry=http://127.0.0.1:9/\n{scope}:registry={registry.url}\n")
    r = subprocess.run([str(shim), "--version"], capture_output=True, text=True,
                       env={**env, "npm_config_userconfig": str(npmrc)}, timeout=TIMEOUT)
    assert (r.returncode, r.stdout.strip()) == (0, VERSION_LINE), r.stderr
    assert registry.url in r.stderr


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the child via /proc")
def test_death_by_a_signal_is_passed_on(installed) -> None:
    shim, _, env = installed
    proc, _, _ = _start_exec_server(shim, env)
    try:
        (child,) = _children(proc.pid)
        os.kill(child, signal.SIGUSR2)  # the binary does not handle it: it dies of it
        assert proc.wait(timeout=TIMEOUT) == -signal.SIGUSR2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
