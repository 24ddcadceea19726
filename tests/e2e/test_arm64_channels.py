"""Linux arm64 through every install channel on this x86_64 machine, run under qemu-user.

npm (installed as an arm64 machine would: npm's `cpu` setting), install.sh (told the CPU by
CODEX_INSTALL_ARCH / --arch), and the release rehearsal packaging both Linux targets.
Marked `arm64`: `make test-arm64`.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci import local_registry, standin
from codex import __version__, release_settings
from distbuild import binfmt
from installers.homebrew.render_cask import PLACEHOLDER
from installers.targets import read_sums
from tests.e2e.conftest import HOST, VERSION_LINE, real_dist, require_tools, shim_env
from tests.support.arm64 import ARM64

pytestmark = [pytest.mark.e2e, pytest.mark.arm64]
ROOT = Path(__file__).resolve().parents[2]
NAME = release_settings.NPM_PACKAGE
TIMEOUT = 600


@pytest.fixture(scope="module")
def both_archives(arm64_build: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the host's archives (the frozen build, else a stand-in) and arm64's."""
    folder = tmp_path_factory.mktemp("prebuilt")
    arm64_dist = arm64_build["path"].parent
    for name in (ARM64.archive_name, ARM64.zst_name):
        shutil.copyfile(arm64_dist / name, folder / name)
    host = real_dist()
    if host is not None:
        for name in (HOST.archive_name, HOST.zst_name):
            shutil.copyfile(host / name, folder / name)
    else:
        standin.write_archives(folder, HOST, standin.standin_program())
    return folder


@pytest.fixture(scope="module")
def release_both(both_archives: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release job's dist/ for both Linux targets: SHA256SUMS, install.sh, npm, cask."""
    require_tools("npm", "node")
    dist = tmp_path_factory.mktemp("dist-both")
    for p in both_archives.iterdir():
        shutil.copyfile(p, dist / p.name)
    r = subprocess.run([sys.executable, "-m", "ci.release", "--dist", str(dist), "package",
                        "--allow-missing"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return dist


@pytest.fixture(scope="module")
def registry_both(release_both: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[local_registry.Registry]:
    with local_registry.running(tmp_path_factory.mktemp("registry")) as reg:
        manifest = json.loads((release_both / "npm" / "manifest.json").read_text())
        for entry in manifest["publish"]:
            r = subprocess.run(["npm", "publish", str(release_both / "npm" / entry["tarball"]),
                                "--tag", entry["tag"] or "latest"], capture_output=True,
                               text=True, env=reg.npm_env())
            assert r.returncode == 0, r.stderr
        yield reg


def _platform_dir(prefix: Path, suffix: str) -> Path:
    return prefix / "lib" / "node_modules" / NAME / "node_modules" / f"{NAME}-{suffix}"


def test_npm_on_an_arm64_machine_installs_and_runs_the_arm64_binary(
        registry_both: local_registry.Registry, qemu: str, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # npm picks optional platform packages by its `cpu` setting (default: process.arch).
    env = dict(registry_both.npm_env(), npm_config_cpu="arm64", npm_config_arch="arm64")
    r = subprocess.run(["npm", "install", "-g", "--prefix", str(prefix), NAME],
                       capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    arm_binary = _platform_dir(prefix, ARM64.npm_suffix) / "vendor" / ARM64.triple / "bin" / "codex"
    assert arm_binary.is_file() and binfmt.elf_machine(arm_binary) == "aarch64"
    assert not _platform_dir(prefix, HOST.npm_suffix).exists()  # x64 skipped as on arm64

    # Node on an arm64 machine reports process.arch "arm64": the shim must pick that
    # package. Record the execve it makes, then run that file (through qemu here).
    record = tmp_path / "execve.json"
    preload = tmp_path / "arm64.js"
    preload.write_text(f"""
        Object.defineProperty(process, "arch", {{value: "arm64"}});
        process.execve = (file, args, environ) => {{
          require("fs").writeFileSync({json.dumps(str(record))}, JSON.stringify({{file, args}}));
          const r = require("child_process").spawnSync(file, args.slice(1),
            {{stdio: "inherit", env: environ}});
          process.exit(r.status === null ? 1 : r.status);
        }};
    """)
    run_env = dict(shim_env(registry_both, tmp_path), NODE_OPTIONS=f"--require {preload}")
    r = subprocess.run([str(prefix / "bin" / "codex"), "--version"], capture_output=True,
                       text=True, env=run_env, timeout=TIMEOUT)
    assert (r.returncode, r.stdout.strip()) == (0, VERSION_LINE), r.stderr
    assert r.stderr == ""  # found installed: nothing fetched
    call = json.loads(record.read_text())
    assert call == {"file": str(arm_binary), "args": [str(arm_binary), "--version"]}


# ---- install.sh --------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_both(release_both: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "release"
    shutil.copytree(release_both, root)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _install_sh(base: str, root: Path, install_dir: Path, *args: str,
                arch: str | None = "aarch64") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(install_dir.parent),
           "CODEX_RELEASE_BASE_URL": base, "CODEX_INSTALL_DIR": str(install_dir)}
    if arch:
        env["CODEX_INSTALL_ARCH"] = arch
    return subprocess.run(["sh", str(root / "install.sh"), *args], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=TIMEOUT)


@pytest.mark.parametrize("how", ["env", "flag"])
def test_install_sh_installs_the_arm64_file_when_told_the_cpu(served_both, qemu: str,
                                                              tmp_path: Path, how: str) -> None:
    base, root = served_both
    install_dir = tmp_path / "home" / "bin"
    if how == "env":
        r = _install_sh(base, root, install_dir)
    else:
        r = _install_sh(base, root, install_dir, "--arch", "arm64", arch=None)
    assert r.returncode == 0, r.stderr
    assert f"downloading {ARM64.archive_name}" in r.stderr
    installed = install_dir / "codex"
    assert binfmt.elf_machine(installed) == "aarch64"
    with __import__("tarfile").open(root / ARM64.archive_name) as tar:
        assert installed.read_bytes() == tar.extractfile(ARM64.binary_name).read()
    # It ran the file to check it (through qemu here) before putting it in place.
    assert f"installed {VERSION_LINE} to {installed}" in r.stderr
    out = subprocess.run([str(installed), "--version"], capture_output=True, text=True,
                         timeout=TIMEOUT, env={"HOME": str(tmp_path)})
    assert out.stdout.strip() == VERSION_LINE


def test_install_sh_refuses_a_tampered_arm64_archive(served_both, tmp_path: Path) -> None:
    base, root = served_both
    archive = root / ARM64.archive_name
    archive.write_bytes(archive.read_bytes()[:-100] + bytes(100))
    install_dir = tmp_path / "home" / "bin"
    r = _install_sh(base, root, install_dir)
    assert r.returncode != 0
    assert f"checksum mismatch for {ARM64.archive_name}" in r.stderr
    assert not install_dir.exists()


def test_install_sh_rejects_an_unknown_cpu(served_both, tmp_path: Path) -> None:
    base, root = served_both
    r = _install_sh(base, root, tmp_path / "bin", arch="riscv64")
    assert r.returncode != 0 and "no codex build for CPU riscv64" in r.stderr


# ---- the release rehearsal ---------------------------------------------------------------

def test_dry_run_packages_both_linux_targets(both_archives: Path, tmp_path: Path) -> None:
    require_tools("npm", "node")
    dist = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "ci.release", "--dist", str(dist), "--prebuilt",
                        str(both_archives), "--dry-run"], capture_output=True, text=True,
                       cwd=ROOT, timeout=3600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert f"packaging {HOST.triple}, {ARM64.triple}" in r.stdout
    for triple in (HOST.triple, ARM64.triple):
        assert f"smoke: {triple}: codex-cli {__version__}" in r.stdout
        assert f"smoke: {triple}: exec-server answered initialize" in r.stdout
    assert f"npm --cpu=arm64 installed {NAME}-{ARM64.npm_suffix}" in r.stdout
    sums = read_sums(dist / "SHA256SUMS")
    assert {HOST.archive_name, ARM64.archive_name, "install.sh"} <= set(sums)
    manifest = json.loads((dist / "npm" / "manifest.json").read_text())
    assert sorted(p["triple"] for p in manifest["platforms"]) == sorted(
        [HOST.triple, ARM64.triple])
    assert [e["tag"] for e in manifest["publish"]][-1] is None  # the root package last
    cask = (dist / "homebrew" / "codex.rb").read_text()
    for key, asset in (("arm64_linux", ARM64.archive_name), ("x86_64_linux", HOST.archive_name)):
        line = next(li for li in cask.splitlines() if f"{key}:" in li)
        assert sums[asset] in line and PLACEHOLDER not in line and "MISSING" not in line
