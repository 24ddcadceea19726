"""Smoke-run a packaged codex file: what `make dist` checks after building.

Checks, each through the packaged file only: first run from an empty cache and warm run of
`--version`; an empty root (only the file, /proc and /tmp; needs root or user namespaces);
an `exec-server --listen stdio` session that starts a PTY process and reads its output; the
child's environment carries no freezer variables; a unified_exec command (through
`codex exec` against a local mock model server). A check whose subcommand is not on this
branch yet is reported as skipped, with the reason.

A file for another CPU (dist/codex-aarch64-unknown-linux-musl on x86_64) runs through
qemu-user: the checks run inside `distbuild.binfmt.registered()`, the same checks.

Usage: python -m distbuild.smoke dist/codex-x86_64-unknown-linux-musl
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # generous: the machine is shared and a first run unpacks the tree

# Variables a freezer or our launcher may add; none of them may reach the user's commands.
# CODEX_LAUNCHER_PATH is ours (set by the launcher for `codex doctor`/`update`).
FREEZER_VARS = ("_MEIPASS", "_MEIPASS2", "_PYI_", "PYINSTALLER_", "NUITKA_", "__NUITKA",
                "LD_LIBRARY_PATH_ORIG", "DYLD_LIBRARY_PATH_ORIG", "CODEX_LAUNCHER_PATH",
                "CODEX_ORIG_", "PYTHONHOME", "PYTHONPATH", "TCL_LIBRARY", "TK_LIBRARY")


def freezer_vars(env: dict[str, str], original: dict[str, str]) -> list[str]:
    """Names in `env` a freezer/launcher added or changed relative to `original`."""
    bad = [k for k in env if k.startswith(FREEZER_VARS) and k not in original]
    for name in ("LD_LIBRARY_PATH", "LD_PRELOAD", "DYLD_LIBRARY_PATH",
                 "DYLD_FRAMEWORK_PATH", "DYLD_INSERT_LIBRARIES", "SSL_CERT_FILE"):
        if env.get(name) != original.get(name):
            bad.append(name)
    return sorted(bad)


def has_subcommand(module: str) -> bool:
    """Whether this checkout holds `module` (a subcommand not yet merged is skipped)."""
    rel = Path(*module.split("."))
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


# ---- running the file ----------------------------------------------------------------------

def run(binary: Path, args: list[str], *, env: dict[str, str] | None = None,
        input: str | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env,
                          input=input, timeout=timeout)


def empty_root_command(root: Path) -> list[str] | None:
    """A command prefix that runs argv inside `root` with a fresh /proc, or None if this
    machine lets us do neither as root nor in a user namespace."""
    unshare, chroot = shutil.which("unshare"), shutil.which("chroot") or "/usr/sbin/chroot"
    if not unshare or not Path(chroot).exists():
        return None
    base = [unshare, "--mount", "--pid", "--fork"]
    if os.geteuid() != 0:
        base = [unshare, "--user", "--map-root-user", "--mount", "--pid", "--fork"]
    probe = subprocess.run([*base, "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    # The shell runs outside the root: mount /proc for it, then chroot with an empty env.
    script = 'mount -t proc proc "$0/proc" && exec env -i "$@"'
    return [*base, "sh", "-c", script, str(root), chroot, str(root)]


@contextmanager
def empty_root(binary: Path) -> Iterator[tuple[Path, list[str] | None]]:
    """A directory holding only /codex (a copy of the file), /proc and /tmp."""
    with tempfile.TemporaryDirectory(prefix="codex-empty-root-") as tmp:
        root = Path(tmp)
        (root / "proc").mkdir()
        (root / "tmp").mkdir(mode=0o1777)
        os.chmod(root / "tmp", 0o1777)
        shutil.copy2(binary, root / "codex")
        yield root, empty_root_command(root)


# ---- exec-server over stdio ----------------------------------------------------------------

class StdioSession:
    """A minimal JSON-RPC client for `codex exec-server --listen stdio`."""

    def __init__(self, binary: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([str(binary), "exec-server", "--listen", "stdio"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, text=True, bufsize=1)
        self.next_id = 0
        self.notifications: list[dict] = []

    def send(self, msg: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **msg}) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"exec-server closed stdout; stderr: {err[-2000:]}")
        return json.loads(line)

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = self.receive()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.notifications.append(msg)

    def run_process(self, argv: list[str], *, tty: bool, env: dict[str, str],
                    deadline: float) -> tuple[bytes, int | None]:
        """Start a process, collect its output from notifications until `closed`."""
        pid = f"smoke-{self.next_id + 1}"
        self.request("process/start", {"processId": pid, "argv": argv, "cwd": "/",
                                       "env": env, "tty": tty, "arg0": None})
        out, code = bytearray(), None
        pending, self.notifications = self.notifications, []
        while time.monotonic() < deadline:
            msg = pending.pop(0) if pending else self.receive()
            params = msg.get("params", {})
            if params.get("processId") != pid:
                continue
            if msg.get("method") == "process/output":
                out += base64.b64decode(params["chunk"])
            elif msg.get("method") == "process/exited":
                code = params["exitCode"]
            elif msg.get("method") == "process/closed":
                return bytes(out), code
        raise TimeoutError(f"process {argv} did not close in time")

    def close(self) -> int:
        if self.proc.stdin:
            self.proc.stdin.close()  # EOF ends the server and its processes
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()


def exec_server_pty_session(binary: Path, env: dict[str, str]) -> tuple[str, int | None]:
    """Start `sh -c 'tty; echo ...'` on a PTY through the frozen exec-server."""
    session = StdioSession(binary, env)
    try:
        session.request("initialize", {"clientName": "codex-smoke"})
        session.send({"method": "initialized", "params": {}})
        out, code = session.run_process(
            ["/bin/sh", "-c", "tty; echo smoke-pty-ok"], tty=True, env=env,
            deadline=time.monotonic() + TIMEOUT)
        return out.decode(errors="replace"), code
    finally:
        session.close()


# ---- unified_exec through `codex exec` and a scripted model --------------------------------

UNIFIED_MARK = "unified-exec-42"  # printed as $((40+2)): not in the command text itself


class ChatModel:
    """A two-turn Chat Completions server on 127.0.0.1: first an `exec_command` call, then a
    final answer. Records each request body (the second one carries the tool output)."""

    def __init__(self, command_args: dict) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        self.bodies: list[dict] = []
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("content-length") or 0)
                model.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                if len(model.bodies) == 1:
                    delta = {"role": "assistant", "tool_calls": [{
                        "index": 0, "id": "call_smoke", "type": "function",
                        "function": {"name": "exec_command",
                                     "arguments": json.dumps(command_args)}}]}
                    finish = "tool_calls"
                else:
                    delta, finish = {"role": "assistant", "content": "done"}, "stop"
                events = [{"id": "c", "choices": [{"index": 0, "delta": delta}]},
                          {"id": "c", "choices": [{"index": 0, "delta": {},
                                                   "finish_reason": finish}]}]
                body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
                data = (body + "data: [DONE]\n\n").encode()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def tool_output(self) -> str | None:
        """The exec_command output the agent sent back in its second request."""
        if len(self.bodies) < 2:
            return None
        for msg in self.bodies[1].get("messages", []):
            if msg.get("role") == "tool":
                content = msg.get("content")
                if isinstance(content, list):
                    content = "".join(p.get("text", "") for p in content)
                return str(content)
        return None


def unified_exec_command(binary: Path, env: dict[str, str], cwd: Path) -> tuple[str, str]:
    """Have `codex exec` run one PTY command through unified_exec; returns (tool output,
    codex's stderr)."""
    model = ChatModel({"cmd": "tty; echo unified-exec-$((40+2)); env", "tty": True, "login": False,
                       "shell": "/bin/sh", "yield_time_ms": 10_000})
    try:
        argv = [str(binary), "exec", "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox", "--ephemeral",
                "-c", "model=smoke-model", "-c", "model_provider=smoke",
                "-c", f'model_providers.smoke.base_url="{model.url}"',
                "-c", 'model_providers.smoke.wire_api="chat"',
                "-c", 'model_providers.smoke.name="Smoke"',
                "-c", 'model_providers.smoke.env_key="OPENAI_API_KEY"',
                "run the smoke command"]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd,
                             env=dict(env, OPENAI_API_KEY="sk-smoke"),
                             stdin=subprocess.DEVNULL)
        return model.tool_output() or "", res.stderr
    finally:
        model.close()


def env_from_output(text: str) -> dict[str, str]:
    """NAME=value lines of `env` output (PTY line endings tolerated)."""
    out = {}
    for line in text.replace("\r", "").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.replace("_", "").isalnum():
            out[name] = value
    return out


# ---- the checks ---------------------------------------------------------------------------

class Smoke:
    def __init__(self, binary: Path) -> None:
        self.binary = binary.resolve()
        self.failed: list[str] = []
        self.skipped: list[str] = []

    def ok(self, name: str, detail: str = "") -> None:
        print(f"smoke: ok    {name}{': ' + detail if detail else ''}", flush=True)

    def fail(self, name: str, detail: str) -> None:
        print(f"smoke: FAIL  {name}: {detail}", flush=True)
        self.failed.append(name)

    def skip(self, name: str, why: str) -> None:
        print(f"smoke: skip  {name}: {why}", flush=True)
        self.skipped.append(name)

    def version(self, env: dict[str, str]) -> None:
        from_source = (ROOT / "codex" / "__init__.py").read_text()
        want = from_source.split('__version__ = "')[1].split('"')[0]
        for label in ("first run (empty cache)", "warm run"):
            t0 = time.perf_counter()
            res = run(self.binary, ["--version"], env=env)
            ms = (time.perf_counter() - t0) * 1000
            if res.returncode == 0 and res.stdout.strip() == f"codex-cli {want}":
                self.ok(f"--version, {label}", f"{res.stdout.strip()} in {ms:.0f} ms")
            else:
                self.fail(f"--version, {label}", f"rc={res.returncode} {res.stdout!r} "
                          f"{res.stderr[-500:]!r}")

    def empty_root_run(self) -> None:
        with empty_root(self.binary) as (_root, prefix):
            if prefix is None:
                self.skip("empty root", "needs root or unprivileged user namespaces")
                return
            res = subprocess.run([*prefix, "/codex", "--version"], capture_output=True,
                                 text=True, timeout=TIMEOUT)
            if res.returncode == 0 and res.stdout.startswith("codex-cli "):
                self.ok("empty root", "runs with no system libc (only the file, /proc, /tmp)")
            else:
                self.fail("empty root", f"rc={res.returncode} {res.stderr[-800:]!r}")

    def exec_server(self, env: dict[str, str]) -> None:
        if not has_subcommand("codex.exec_server.cli"):
            self.skip("exec-server stdio PTY session", "codex/exec_server/cli.py is not on "
                      "this branch yet (merge main once exec-server lands)")
            return
        try:
            out, code = exec_server_pty_session(self.binary, env)
        except (RuntimeError, TimeoutError, OSError) as e:
            self.fail("exec-server stdio PTY session", str(e))
            return
        if code == 0 and "/dev/pts/" in out and "smoke-pty-ok" in out:
            self.ok("exec-server stdio PTY session", out.split()[0])
        else:
            self.fail("exec-server stdio PTY session", f"exit {code}, output {out!r}")

    def child_env(self, env: dict[str, str]) -> None:
        if not (has_subcommand("codex.sandbox.cli") and has_subcommand("codex.child_env")):
            self.skip("child environment", "`codex sandbox -- env` and codex/child_env.py "
                      "(which restores the launcher's CODEX_ORIG_* values) are not both on "
                      "this branch yet")
            return
        res = run(self.binary, ["sandbox", "-s", "danger-full-access", "--", "env", "-0"],
                  env=env)
        if res.returncode != 0:
            self.fail("child environment", f"rc={res.returncode} {res.stderr[-800:]!r}")
            return
        child = dict(item.split("=", 1) for item in res.stdout.split("\0") if "=" in item)
        bad = freezer_vars(child, env)
        if bad:
            self.fail("child environment", f"freezer variables leaked: {', '.join(bad)}")
        else:
            self.ok("child environment", "no freezer variables, LD_LIBRARY_PATH as the user's")

    def unified_exec(self, env: dict[str, str], cwd: Path) -> None:
        name = "unified_exec command (codex exec -> exec_command on a PTY)"
        if not (has_subcommand("codex.exec_cmd") and has_subcommand("codex.unified_exec.manager")):
            self.skip(name, "`codex exec` and unified_exec are not both on this branch yet")
            return
        output, stderr = unified_exec_command(self.binary, env, cwd)
        if UNIFIED_MARK not in output or "/dev/pts/" not in output:
            self.fail(name, f"tool output {output[:500]!r}; codex stderr {stderr[-800:]!r}")
            return
        bad = freezer_vars(env_from_output(output), env)
        if bad:
            self.fail(name, f"the command saw freezer variables: {', '.join(bad)}")
        else:
            self.ok(name, "ran on a PTY, no freezer variables in its environment")

    def all(self) -> int:
        with tempfile.TemporaryDirectory(prefix="codex-smoke-") as tmp:
            env = dict(os.environ, XDG_CACHE_HOME=str(Path(tmp) / "cache"),
                       CODEX_HOME=str(Path(tmp) / "home"),
                       LD_LIBRARY_PATH="/smoke/user/lib")
            env.pop("CODEX_UNPACK_DIR", None)
            self.version(env)
            self.empty_root_run()
            self.exec_server(env)
            self.child_env(env)
            self.unified_exec(env, Path(tmp))
        status = "FAILED" if self.failed else "passed"
        print(f"smoke: {status} ({len(self.failed)} failed, {len(self.skipped)} skipped"
              f"{': ' + ', '.join(self.skipped) if self.skipped else ''})")
        return 1 if self.failed else 0


def run_smoke(binary: Path) -> int:
    from distbuild import binfmt

    arch = binfmt.elf_machine(binary) or binfmt.native_machine()
    with binfmt.registered(arch) as how:
        if how != "native":
            print(f"smoke: {binary.name} is an {arch} file: running it through qemu-user "
                  f"(binfmt entry: {how})", flush=True)
        return Smoke(binary).all()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("binary", type=Path, help="the packaged file (dist/codex-<triple>)")
    args = ap.parse_args()
    return run_smoke(args.binary)


if __name__ == "__main__":
    sys.exit(main())
