"""The packaged binary, built once per test session (or taken from CODEX_TEST_BINARY).

Building costs minutes, so a dist/ whose build info records the fingerprint of the current
sources is reused as it is. Set CODEX_TEST_BINARY=/path/to/codex-<triple> to test a given
file instead of building (the rest of the suite then runs against it too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from distbuild import archive, build, smoke
from tests.support.arm64 import arm64_build, qemu  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
BUILD_TIMEOUT = 45 * 60  # Nuitka on two busy cores; normally 3-5 minutes


@pytest.fixture(scope="session")
def build_mod() -> ModuleType:
    return build


@pytest.fixture(scope="session")
def smoke_mod() -> ModuleType:
    return smoke


@pytest.fixture(scope="session")
def archive_mod() -> ModuleType:
    return archive


def _fresh_build_info(build_mod: ModuleType, binary: Path) -> dict | None:
    info_path = binary.with_name(binary.name + ".buildinfo.json")
    if not (binary.exists() and info_path.exists()):
        return None
    info = json.loads(info_path.read_text())
    return info if info.get("fingerprint") == build_mod.source_fingerprint() else None


@pytest.fixture(scope="session")
def packaged(build_mod: ModuleType) -> dict:
    """Build info of the packaged file under test; `path` is the file itself."""
    given = os.environ.get("CODEX_TEST_BINARY")
    if given:
        return {"path": Path(given).resolve(), "given": True}
    binary = DIST / build_mod.binary_name(build_mod.host_triple())
    info = _fresh_build_info(build_mod, binary)
    if info is None:
        subprocess.run([sys.executable, "-m", "distbuild.build_deps"], check=True,
                       timeout=BUILD_TIMEOUT, cwd=ROOT)
        subprocess.run([sys.executable, "-m", "distbuild.build"], check=True,
                       timeout=BUILD_TIMEOUT, cwd=ROOT)
        info = _fresh_build_info(build_mod, binary)
        assert info is not None, "build finished but dist/ does not match the sources"
    return {**info, "path": binary, "given": False}


@pytest.fixture(scope="session")
def binary(packaged: dict) -> Path:
    return packaged["path"]


@pytest.fixture
def cache_env(tmp_path: Path) -> dict[str, str]:
    """The user's environment with an empty, private cache dir and CODEX_HOME."""
    env = dict(os.environ)
    env.pop("CODEX_UNPACK_DIR", None)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["CODEX_HOME"] = str(tmp_path / "codex-home")
    return env
