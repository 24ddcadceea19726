"""`codex update`: the standalone self-upgrade against a local release server, and the
instructions for the other channels."""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci import standin
from codex import __version__, update
from codex.platform_info import target_triple
from installers.targets import target, write_sums
from tests.conftest import run_codex

HOST = target(target_triple())
pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="the release stand-in is a POSIX shell script")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def release_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "release"
    standin.write_archives(root, HOST, standin.standin_program())
    write_sums(root)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def old_codex(path: Path, version: str = "0.0.1") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho 'codex-cli {version}'\n")
    path.chmod(0o755)
    return path


def test_self_update_downloads_verifies_and_replaces(release_server, tmp_path: Path) -> None:
    base, _ = release_server
    installed = old_codex(tmp_path / "bin" / "codex")
    said = update.self_update(installed, update.Release(base, "latest"), HOST.triple, "0.0.1")
    assert said == f"updated {installed}: codex-cli 0.0.1 -> codex-cli {__version__}"
    assert standin.is_standin(installed.read_bytes())  # the release's file, not the old one
    assert sorted(p.name for p in installed.parent.iterdir()) == ["codex"]


def test_self_update_refuses_a_checksum_mismatch(release_server, tmp_path: Path) -> None:
    base, root = release_server
    archive = root / HOST.archive_name
    archive.write_bytes(archive.read_bytes() + b"x")
    installed = old_codex(tmp_path / "bin" / "codex")
    before = installed.read_bytes()
    with pytest.raises(update.UpdateError, match="checksum mismatch.*nothing was changed"):
        update.self_update(installed, update.Release(base, "latest"), HOST.triple)
    assert installed.read_bytes() == before
    assert sorted(p.name for p in installed.parent.iterdir()) == ["codex"]


def test_self_update_when_already_current(release_server, tmp_path: Path) -> None:
    base, _ = release_server
    installed = old_codex(tmp_path / "bin" / "codex", __version__)
    before = installed.read_bytes()
    said = update.self_update(installed, update.Release(base, "latest"), HOST.triple)
    assert said == f"codex is up to date (codex-cli {__version__})"
    assert installed.read_bytes() == before


def test_self_update_reports_an_unreachable_release(tmp_path: Path) -> None:
    installed = old_codex(tmp_path / "bin" / "codex")
    with pytest.raises(update.UpdateError, match="download failed: http://127.0.0.1:9/"):
        update.self_update(installed, update.Release("http://127.0.0.1:9", "latest"),
                           HOST.triple)


def test_release_urls_follow_install_sh() -> None:
    from codex import release_settings

    root = release_settings.RELEASE_BASE_URL
    assert update.release_from_env({}) == update.Release(f"{root}/latest/download", "latest")
    assert update.release_from_env({"CODEX_VERSION": "v1.2.3"}) == \
        update.Release(f"{root}/download/v1.2.3", "1.2.3")
    assert update.release_from_env({"CODEX_RELEASE_BASE_URL": "http://h/r/"}).base_url == \
        "http://h/r"


def test_update_tells_the_command_for_each_channel(codex_home: Path) -> None:
    from codex import release_settings

    r = run_codex(["update"], env={"CODEX_MANAGED_BY_NPM": "1"})
    assert r.returncode == 0
    assert f"npm install -g {release_settings.NPM_PACKAGE}@latest" in r.stdout
    r = run_codex(["update"], env={"CODEX_MANAGED_BY_NPM": ""})
    assert r.returncode == 0 and "installed via pip" in r.stdout


def test_a_homebrew_install_is_recognised(codex_home: Path) -> None:
    cask_path = "/opt/homebrew/Caskroom/codex/0.1.0/codex-aarch64-apple-darwin"
    env = {"CODEX_LAUNCHER_PATH": cask_path, "CODEX_MANAGED_BY_NPM": ""}
    r = run_codex(["doctor", "--json"], env=env)
    assert r.returncode == 0 and '"install_channel": "brew"' in r.stdout
    r = run_codex(["update"], env=env)
    assert "installed via brew" in r.stdout and "brew upgrade --cask codex" in r.stdout
