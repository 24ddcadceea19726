"""installers/npm/build_packages.py: package shapes, Windows zips, reproducible tarballs."""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from ci import standin
from installers.npm.build_packages import build
from installers.targets import BY_TRIPLE

NAME = "@example/codex"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    if shutil.which("npm") is None:
        pytest.fail("needs npm on PATH (the npm channel's tests need it anyway)")
    d = tmp_path / "dist"
    standin.write_archives(d, BY_TRIPLE["aarch64-apple-darwin"], b"#!/bin/sh\necho mac\n")
    win = BY_TRIPLE["x86_64-pc-windows-msvc"]
    with zipfile.ZipFile(d / win.archive_name, "w") as z:
        z.writestr(win.binary_name, b"MZ windows")
    return d


def _member(tgz: Path, name: str) -> tarfile.TarInfo:
    with tarfile.open(tgz) as tar:
        return tar.getmember(name)


def _read(tgz: Path, name: str) -> bytes:
    with tarfile.open(tgz) as tar:
        return tar.extractfile(name).read()


def test_root_and_platform_packages(dist: Path) -> None:
    m = build(dist, dist / "npm", "1.2.3", NAME)
    assert [e["version"] for e in m["publish"]] == ["1.2.3-darwin-arm64", "1.2.3-win32-x64",
                                                     "1.2.3"]
    out = dist / "npm"
    root = json.loads(_read(out / m["root"]["tarball"], "package/package.json"))
    assert root["bin"] == {"codex": "bin/codex.js"} and root["files"] == ["bin"]
    assert root["engines"] == {"node": ">=16"}
    assert root["optionalDependencies"] == {
        f"{NAME}-darwin-arm64": f"npm:{NAME}@1.2.3-darwin-arm64",
        f"{NAME}-win32-x64": f"npm:{NAME}@1.2.3-win32-x64",
    }
    assert root["codexPlatforms"]["win32-x64"]["triple"] == "x86_64-pc-windows-msvc"
    shim = _member(out / m["root"]["tarball"], "package/bin/codex.js")
    assert shim.mode & 0o111
    mac, win = m["platforms"]
    mac_pkg = json.loads(_read(out / mac["tarball"], "package/package.json"))
    assert (mac_pkg["os"], mac_pkg["cpu"]) == (["darwin"], ["arm64"])
    exe = _member(out / mac["tarball"], "package/vendor/aarch64-apple-darwin/bin/codex")
    assert exe.mode & 0o111
    assert _read(out / win["tarball"],
                 "package/vendor/x86_64-pc-windows-msvc/bin/codex.exe") == b"MZ windows"
    assert root["codexPlatforms"]["darwin-arm64"]["integrity"] == mac["integrity"]


def test_tarballs_are_reproducible(dist: Path) -> None:
    first = build(dist, dist / "npm", "1.2.3", NAME)
    second = build(dist, dist / "npm", "1.2.3", NAME)
    assert first == second  # same archives in, same integrity recorded and published


def test_no_archives_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no release archives"):
        build(tmp_path, tmp_path / "npm", "1.2.3", NAME)
