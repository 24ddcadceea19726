"""Release artifacts for the installer tests: the real frozen build when dist/ has it.

`make dist` (distbuild/) leaves the host's archives in dist/. When they are absent (a checkout
that has not built the binary), a stand-in in the same layout is staged instead: a small
executable that runs this checkout's `python -m codex` (ci/standin.py), so every installer is
still exercised end to end with a program that really runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci import local_registry, standin
from codex import __version__, platform_info
from installers.npm.build_packages import extract_binary
from installers.targets import target
from tests.support.arm64 import arm64_build, qemu  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
HOST = target(platform_info.target_triple())


def real_dist() -> Path | None:
    """ROOT/dist when it holds a frozen (not stand-in) build for this host."""
    dist = ROOT / "dist"
    if not (dist / HOST.archive_name).is_file():
        return None
    return None if standin.is_standin(extract_binary(dist, HOST)) else dist


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"these e2e tests need {', '.join(missing)} on PATH (see .ci/run)")


@pytest.fixture(scope="session")
def release_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dist/ for this host as the release job would stage it (archives, npm, cask, SUMS)."""
    require_tools("npm", "node")
    dist = tmp_path_factory.mktemp("dist")
    real = real_dist()
    if real is not None:
        for name in (HOST.archive_name, HOST.zst_name):
            if (real / name).is_file():
                shutil.copyfile(real / name, dist / name)
    else:
        standin.write_archives(dist, HOST, standin.standin_program())
    r = subprocess.run([sys.executable, "-m", "ci.release", "--dist", str(dist),
                        "package", "--allow-missing"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return dist


@pytest.fixture(scope="session")
def registry(release_dist: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[local_registry.Registry]:
    """A local Verdaccio holding this release, published the way the release job does."""
    with local_registry.running(tmp_path_factory.mktemp("registry")) as reg:
        manifest = json.loads((release_dist / "npm" / "manifest.json").read_text())
        env = reg.npm_env()
        for entry in manifest["publish"]:
            tag = entry["tag"] or "latest"
            r = subprocess.run(["npm", "publish", str(release_dist / "npm" / entry["tarball"]),
                                "--tag", tag], capture_output=True, text=True, env=env)
            assert r.returncode == 0, r.stderr
        yield reg


def shim_env(reg: local_registry.Registry, tmp: Path) -> dict[str, str]:
    """A user's environment: npm configured for the local registry, a private cache/home."""
    env = reg.npm_env()
    env.pop("npm_config_registry")  # the shim must find the registry through npm's config
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    env["CODEX_HOME"] = str(tmp / "codex-home")
    env.pop("CODEX_MANAGED_BY_NPM", None)
    return env


def npm_install(reg: local_registry.Registry, prefix: Path, name: str) -> Path:
    """`npm install -g --prefix PREFIX NAME` from the local registry; returns the `codex` path."""
    r = subprocess.run(["npm", "install", "-g", "--prefix", str(prefix), name],
                       capture_output=True, text=True, env=reg.npm_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    shim = prefix / "bin" / "codex"
    assert shim.exists(), os.listdir(prefix)
    return shim


VERSION_LINE = f"codex-cli {__version__}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if sys.platform != "win32":
        return
    skip = pytest.mark.skip(reason="installer e2e tests run the POSIX channels (install.sh, "
                                   "a shell stand-in); Windows is built and smoked in release.yml")
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/"):
            item.add_marker(skip)
