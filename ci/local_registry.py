"""A throwaway local npm registry (Verdaccio 5.33 on 127.0.0.1) for dry runs and tests.

Verdaccio is installed once from ci/verdaccio/package.json into the user cache dir (never into
the repo). Verdaccio 6 needs Node >= 22; 5.33 runs on Node 20 once node-fetch is pinned to 2.7.0
through npm `overrides` (that package.json does it). Each registry gets its own storage folder
and a user whose token is written to an npmrc that `npm --userconfig` can use.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_JSON = HERE / "verdaccio" / "package.json"
START_TIMEOUT = 60.0


def install_dir() -> Path:
    from platformdirs import user_cache_dir

    digest = hashlib.sha256(PACKAGE_JSON.read_bytes()).hexdigest()[:12]
    return Path(user_cache_dir("codex-ci")) / f"verdaccio-{digest}"


def ensure_installed() -> Path:
    """The verdaccio executable, installing it first if this cache has none."""
    target = install_dir()
    exe = target / "node_modules" / ".bin" / "verdaccio"
    if exe.exists():
        return exe
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="verdaccio-", dir=target.parent))
    shutil.copyfile(PACKAGE_JSON, work / "package.json")
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=work, capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"installing Verdaccio failed:\n{r.stderr}")
    try:
        work.rename(target)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)  # another run installed it meanwhile
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Registry:
    url: str  # with a trailing slash
    storage: Path  # where Verdaccio keeps published tarballs
    npmrc: Path  # userconfig with the registry and a publish token

    def npm_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment in which npm talks only to this registry."""
        env = dict(os.environ if base is None else base)
        for key in list(env):
            if key.lower().startswith("npm_config_"):
                del env[key]
        env["npm_config_userconfig"] = str(self.npmrc)
        env["npm_config_registry"] = self.url
        env["npm_config_update_notifier"] = "false"
        return env


def _config(root: Path) -> str:
    return (
        f"storage: {root / 'storage'}\n"
        f"auth:\n  htpasswd:\n    file: {root / 'htpasswd'}\n    max_users: 100\n"
        "uplinks: {}\n"  # local only: nothing is proxied to a public registry
        "packages:\n  '**':\n    access: $all\n    publish: $authenticated\n"
        "    unpublish: $authenticated\n"
        "max_body_size: 500mb\n"
        "log: { type: stdout, format: pretty, level: warn }\n"
    )


def _watch(proc: subprocess.Popen, log: Path, ready: threading.Event) -> None:
    """Copy Verdaccio's output to `log`; set `ready` once it says it is listening."""
    with log.open("wb") as out:
        for line in proc.stdout:
            out.write(line)
            out.flush()
            if b"http address" in line:
                ready.set()
    ready.set()  # it exited: let the waiter see that


def _wait_up(url: str, proc: subprocess.Popen, log: Path, ready: threading.Event) -> None:
    if not ready.wait(START_TIMEOUT):
        raise RuntimeError(f"Verdaccio did not start within {START_TIMEOUT}s:\n{log.read_text()}")
    try:
        with urllib.request.urlopen(url + "-/ping", timeout=30):
            return
    except (urllib.error.URLError, OSError) as e:
        code = proc.poll()
        raise RuntimeError(f"Verdaccio (exit {code}) does not answer on {url}: {e}\n"
                           f"{log.read_text()}") from e


def _add_user(url: str) -> str:
    body = json.dumps({"name": "ci", "password": "ci-local-only"}).encode()
    req = urllib.request.Request(url + "-/user/org.couchdb.user:ci", data=body, method="PUT",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["token"]


@contextlib.contextmanager
def running(root: Path) -> Iterator[Registry]:
    """Start a registry whose files live under `root`; stop it (by PID) on exit."""
    exe = ensure_installed()
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(_config(root))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = root / "verdaccio.log"
    proc = subprocess.Popen([str(exe), "--config", str(root / "config.yaml"),
                             "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    ready = threading.Event()
    watcher = threading.Thread(target=_watch, args=(proc, log, ready), daemon=True)
    watcher.start()
    try:
        _wait_up(url, proc, log, ready)
        token = _add_user(url)
        npmrc = root / "npmrc"
        hostpath = url.split(":", 1)[1]  # //127.0.0.1:PORT/
        npmrc.write_text(f"registry={url}\n{hostpath}:_authToken={token}\n"
                         "audit=false\nfund=false\nupdate-notifier=false\n")
        yield Registry(url=url, storage=root / "storage", npmrc=npmrc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        watcher.join(timeout=15)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--install-only", action="store_true", help="install Verdaccio and exit")
    ap.add_argument("--root", type=Path, help="state folder (default: a temporary one)")
    args = ap.parse_args(argv)
    if args.install_only:
        print(ensure_installed())
        return 0
    root = args.root or Path(tempfile.mkdtemp(prefix="codex-registry-"))
    with running(root) as reg:
        print(f"registry {reg.url} (npm --userconfig {reg.npmrc}); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
