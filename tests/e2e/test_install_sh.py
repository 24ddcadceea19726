"""install.sh against a local HTTP server serving the release: curl, wget, tampering."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import HOST, VERSION_LINE, real_dist

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# What install.sh may use besides the downloader: a minimal PATH proves it needs no more.
BASE_TOOLS = ("sh", "uname", "mktemp", "awk", "cut", "sha256sum", "tar", "gzip", "chmod",
              "mkdir", "cp", "mv", "rm", "cat")


@pytest.fixture
def served(release_dist: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a copy of the release folder (tests may tamper)."""
    root = tmp_path / "release"
    shutil.copytree(release_dist, root)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def tool_path(tmp_path: Path, downloader: str) -> str:
    bindir = tmp_path / f"bin-{downloader}"
    bindir.mkdir()
    for tool in (*BASE_TOOLS, downloader):
        found = shutil.which(tool)
        if found is None:
            pytest.fail(f"install.sh tests need {tool} on PATH (see .ci/run)")
        (bindir / tool).symlink_to(found)
    return str(bindir)


def install(base: str, served_root: Path, install_dir: Path, path: str,
            *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(install_dir.parent), "SHELL": "/bin/bash",
           "CODEX_RELEASE_BASE_URL": base, "CODEX_INSTALL_DIR": str(install_dir)}
    return subprocess.run(["sh", str(served_root / "install.sh"), *args], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=300)


@pytest.mark.parametrize("downloader", ["curl", "wget"])
def test_installs_a_working_codex(served, tmp_path: Path, downloader: str) -> None:
    base, root = served
    install_dir = tmp_path / "home" / "bin"
    install_dir.mkdir(parents=True)
    (install_dir / "codex").write_text("#!/bin/sh\necho old\n")  # replaced, not appended to
    r = install(base, root, install_dir, tool_path(tmp_path, downloader))
    assert r.returncode == 0, r.stderr
    codex = install_dir / "codex"
    assert os.access(codex, os.X_OK)
    out = subprocess.run([str(codex), "--version"], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == VERSION_LINE
    assert sorted(p.name for p in install_dir.iterdir()) == ["codex"]  # no staging leftovers
    assert f"installed {VERSION_LINE} to {codex}" in r.stderr
    assert f'export PATH="{install_dir}:$PATH"' in r.stderr  # not on PATH: says how


def test_version_flag_and_dir_on_path(served, tmp_path: Path) -> None:
    base, root = served
    install_dir = tmp_path / "home" / "bin"
    path = tool_path(tmp_path, "curl") + os.pathsep + str(install_dir)
    r = install(base, root, install_dir, path, "--version", "v0.1.0")
    assert r.returncode == 0, r.stderr
    assert "(0.1.0)" in r.stderr and "not on your PATH" not in r.stderr


def test_tampered_archive_is_refused_and_nothing_installed(served, tmp_path: Path) -> None:
    base, root = served
    archive = root / HOST.archive_name
    archive.write_bytes(archive.read_bytes() + b"tampered")
    install_dir = tmp_path / "home" / "bin"
    r = install(base, root, install_dir, tool_path(tmp_path, "curl"))
    assert r.returncode != 0
    assert f"checksum mismatch for {HOST.archive_name}" in r.stderr
    assert "nothing was installed" in r.stderr
    assert not install_dir.exists()


def test_tampered_archive_leaves_an_existing_install_alone(served, tmp_path: Path) -> None:
    base, root = served
    archive = root / HOST.archive_name
    archive.write_bytes(archive.read_bytes()[:-10])
    install_dir = tmp_path / "home" / "bin"
    install_dir.mkdir(parents=True)
    (install_dir / "codex").write_text("previous\n")
    r = install(base, root, install_dir, tool_path(tmp_path, "wget"))
    assert r.returncode != 0 and "checksum mismatch" in r.stderr
    assert sorted(p.name for p in install_dir.iterdir()) == ["codex"]
    assert (install_dir / "codex").read_text() == "previous\n"


def test_missing_asset_fails_clearly(served, tmp_path: Path) -> None:
    base, root = served
    (root / HOST.archive_name).unlink()
    r = install(base, root, tmp_path / "home" / "bin", tool_path(tmp_path, "curl"))
    assert r.returncode != 0 and f"download failed: {base}/{HOST.archive_name}" in r.stderr


@pytest.mark.parametrize("script", ["installers/install.sh", "ci/macos_sign.sh"])
def test_shellcheck_clean(script: str, release_dist: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("needs shellcheck on PATH (see .ci/run)")
    for path in (ROOT / script, release_dist / "install.sh"):
        r = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout


def test_progress_is_shown_on_a_terminal(served, tmp_path: Path) -> None:
    import pty

    base, root = served
    install_dir = tmp_path / "home" / "bin"
    env = {"PATH": tool_path(tmp_path, "curl"), "HOME": str(tmp_path), "TERM": "dumb",
           "CODEX_RELEASE_BASE_URL": base, "CODEX_INSTALL_DIR": str(install_dir)}
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(["sh", str(root / "install.sh")], env=env, stdin=terminal,
                                stdout=terminal, stderr=terminal)
        os.close(terminal)
        output = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's last writer has gone
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=120) == 0, output
    finally:
        os.close(controller)
    assert b"100.0%" in output  # curl's progress bar, drawn only for a terminal
    assert (install_dir / "codex").exists()


@pytest.mark.skipif(real_dist() is None,
                    reason="needs the frozen binary in dist/ (`make dist`): only a frozen "
                           "codex knows it is a standalone install")
def test_frozen_install_reports_standalone_and_updates_itself(served, tmp_path: Path) -> None:
    base, root = served
    install_dir = tmp_path / "home" / "bin"
    assert install(base, root, install_dir, tool_path(tmp_path, "curl")).returncode == 0
    env = {**os.environ, "CODEX_HOME": str(tmp_path / "codex-home"),
           "CODEX_RELEASE_BASE_URL": base}
    env.pop("CODEX_MANAGED_BY_NPM", None)
    codex = str(install_dir / "codex")
    doctor = subprocess.run([codex, "doctor", "--json"], capture_output=True, text=True,
                            env=env, timeout=120)
    info = json.loads(doctor.stdout)
    assert (info["install_channel"], info["executable"]) == ("standalone", codex)
    r = subprocess.run([codex, "update"], capture_output=True, text=True, env=env, timeout=300)
    assert (r.returncode, r.stdout.strip()) == (0, f"codex is up to date ({VERSION_LINE})")
    assert sorted(p.name for p in install_dir.iterdir()) == ["codex"]


@pytest.mark.skipif(shutil.which("busybox") is None,
                    reason="busybox is not installed (apt-get install busybox-static)")
def test_installs_with_only_busybox_tools(served, tmp_path: Path) -> None:
    # Alpine's userland: busybox sh, wget, sha256sum, tar, awk ... and nothing else.
    base, root = served
    bindir = tmp_path / "busybox-bin"
    bindir.mkdir()
    busybox = shutil.which("busybox")
    for tool in (*BASE_TOOLS, "wget"):
        (bindir / tool).symlink_to(busybox)
    install_dir = tmp_path / "home" / "bin"
    env = {"PATH": str(bindir), "HOME": str(tmp_path / "home"),
           "CODEX_RELEASE_BASE_URL": base, "CODEX_INSTALL_DIR": str(install_dir)}
    r = subprocess.run([str(bindir / "sh"), str(root / "install.sh")], capture_output=True,
                       text=True, env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([str(install_dir / "codex"), "--version"], capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == VERSION_LINE
