"""The Linux arm64 file for tests marked `arm64`: built here under qemu-user when dist/ lacks a
current one (`python -m distbuild.build --target aarch64-unknown-linux-musl`), and run through
qemu-user (`distbuild.binfmt.registered`).

Building and running another CPU's programs needs root (binfmt_misc, chroot, mmdebstrap) and
an x86_64 host; elsewhere the tests are skipped with that reason. On an arm64 machine the
file is the host's own and the ordinary packaging tests cover it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from installers.targets import target

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
TRIPLE = "aarch64-unknown-linux-musl"
ARM64 = target(TRIPLE)
# Cold: Debian root (mmdebstrap under qemu) + PyInstaller freeze under qemu on 2 shared cores.
BUILD_TIMEOUT = 90 * 60


def emulation_unavailable() -> str | None:
    """Why this machine cannot build and run the arm64 file, or None if it can."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        return "builds Linux arm64 under qemu-user on an x86_64 Linux host"
    if os.geteuid() != 0:
        return "registering qemu in binfmt_misc and chroot into the arm64 root need root"
    return None


def _fresh(binary: Path) -> dict | None:
    from distbuild.build import source_fingerprint

    info_path = binary.with_name(binary.name + ".buildinfo.json")
    if not (binary.is_file() and info_path.is_file()):
        return None
    info = json.loads(info_path.read_text())
    return info if info.get("fingerprint") == source_fingerprint() else None


@pytest.fixture(scope="session")
def arm64_build() -> dict:
    """Build info of dist/codex-aarch64-unknown-linux-musl; `path` is the file. A stale or
    missing one is built now when CODEX_TEST_ARM64=1 (`make test-arm64`), else the tests
    skip, saying how to build it. CODEX_TEST_ARM64_BINARY=FILE tests a given file instead."""
    why = emulation_unavailable()
    if why:
        pytest.skip(why)
    given = os.environ.get("CODEX_TEST_ARM64_BINARY")
    if given:
        return {"path": Path(given).resolve(), "given": True}
    binary = DIST / ARM64.binary_name
    info = _fresh(binary)
    if info is None and os.environ.get("CODEX_TEST_ARM64") != "1":
        pytest.skip("dist/ holds no current Linux arm64 build; building one under qemu takes "
                    "10-25 min: `make dist TARGET=aarch64-unknown-linux-musl` (then these run "
                    "in every `make test`) or `make test-arm64` (builds, then runs them)")
    if info is None:
        subprocess.run([sys.executable, "-m", "distbuild.build_deps", "--target", TRIPLE],
                       check=True, cwd=ROOT, timeout=BUILD_TIMEOUT)
        subprocess.run([sys.executable, "-m", "distbuild.build", "--target", TRIPLE],
                       check=True, cwd=ROOT, timeout=BUILD_TIMEOUT)
        info = _fresh(binary)
        assert info is not None, "the arm64 build finished but dist/ does not match the sources"
    return {**info, "path": binary, "given": False}


@pytest.fixture(scope="session")
def qemu(arm64_build: dict) -> Iterator[str]:
    """aarch64 programs run on this machine while the session lasts (binfmt_misc + qemu;
    after `arm64_build`, which installs qemu-user-static)."""
    from distbuild import binfmt

    with binfmt.registered("aarch64") as how:
        yield how
