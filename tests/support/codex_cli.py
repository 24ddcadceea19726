"""Codex's own CLI, installed from npm (a pinned version) into a cache outside the repository,
for interoperability tests and benchmarks against the real program.

`codex_binary()` installs on first use; when npm or the registry cannot be reached the test
fails and says why (it never skips silently). The cache is `$CODEX_PY_TEST_CACHE` or
`~/.cache/codex-py-tests`.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

CODEX_NPM_PACKAGE = "@openai/codex"
CODEX_NPM_VERSION = "0.171.0"
INSTALL_TIMEOUT_S = 600


class CodexCliUnavailable(RuntimeError):
    """The pinned Codex CLI could not be installed; the message says why."""


def cache_dir() -> Path:
    root = os.environ.get("CODEX_PY_TEST_CACHE") or Path.home() / ".cache" / "codex-py-tests"
    return Path(root) / f"npm-{CODEX_NPM_VERSION}"


def _target_triple() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
    arch_name = arch.get(machine, machine)
    if sys.platform.startswith("linux"):
        return f"{arch_name}-unknown-linux-musl"
    if sys.platform == "darwin":
        return f"{arch_name}-apple-darwin"
    raise CodexCliUnavailable(f"no Codex CLI build for {sys.platform}/{machine}")


def _find(root: Path) -> Path | None:
    triple = _target_triple()
    for candidate in sorted(root.glob(f"node_modules/@openai/codex*/vendor/{triple}/bin/codex")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def codex_binary() -> Path:
    """The native `codex` of the pinned npm package (installed into the cache if needed)."""
    root = cache_dir()
    found = _find(root)
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise CodexCliUnavailable("npm is not installed: the interop tests install "
                                  f"{CODEX_NPM_PACKAGE}@{CODEX_NPM_VERSION} with it")
    root.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(root),
                            f"{CODEX_NPM_PACKAGE}@{CODEX_NPM_VERSION}"],
                           capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CodexCliUnavailable(f"npm install of {CODEX_NPM_PACKAGE}@{CODEX_NPM_VERSION} "
                                  f"took longer than {INSTALL_TIMEOUT_S} s (registry "
                                  "unreachable?)") from None
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-5:]
        raise CodexCliUnavailable(f"npm install of {CODEX_NPM_PACKAGE}@{CODEX_NPM_VERSION} "
                                  f"failed (exit {r.returncode}): {' | '.join(tail)}")
    found = _find(root)
    if found is None:
        raise CodexCliUnavailable(f"{CODEX_NPM_PACKAGE}@{CODEX_NPM_VERSION} installed into "
                                  f"{root} but has no native binary for {_target_triple()}")
    return found


def codex_server_env(home: Path) -> dict[str, str]:
    """The environment for Codex's exec-server: its own CODEX_HOME (it writes helper files
    there), nothing of the user's config."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["CODEX_HOME"] = str(home)
    env.pop("CODEX_TEST_BINARY", None)
    return env
