"""Linux arm64, built here in an arm64 Debian root under qemu-user and run through qemu.

The same product as x86_64 (launcher, bundled glibc, one file for any Linux); these tests
check the file is an aarch64 ELF, its archives and checksums, and run the smoke checks
(including the empty root) on it under emulation. Marked `arm64`: `make test-arm64`.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from codex import __version__
from distbuild import binfmt, smoke
from tests.support.arm64 import ARM64

pytestmark = [pytest.mark.packaging, pytest.mark.arm64]
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # emulated first run on a shared machine


def test_the_file_is_an_aarch64_elf(arm64_build: dict) -> None:
    binary = arm64_build["path"]
    assert binfmt.elf_machine(binary) == "aarch64"
    if shutil.which("file"):
        described = subprocess.run(["file", "-b", str(binary)], capture_output=True,
                                   text=True, check=True).stdout
        assert "ELF 64-bit LSB" in described and "ARM aarch64" in described, described
        assert "statically linked" in described  # the launcher needs no loader of its own


def test_archives_and_checksums(arm64_build: dict) -> None:
    binary = arm64_build["path"]
    dist = binary.parent
    with tarfile.open(dist / ARM64.archive_name) as tar:
        (member,) = tar.getmembers()
        assert (member.name, member.mode) == (ARM64.binary_name, 0o755)
        assert tar.extractfile(member).read() == binary.read_bytes()
    unzstd = subprocess.run(["zstd", "-d", "-c", str(dist / ARM64.zst_name)],
                            capture_output=True, check=True).stdout
    assert unzstd == binary.read_bytes()
    sums = dict(reversed(line.split("  ", 1))
                for line in (dist / "SHA256SUMS").read_text().splitlines())
    for name in (ARM64.archive_name, ARM64.zst_name):
        assert sums[name] == hashlib.sha256((dist / name).read_bytes()).hexdigest()


def test_build_info_records_the_emulated_build(arm64_build: dict) -> None:
    if arm64_build.get("given"):
        pytest.skip("CODEX_TEST_ARM64_BINARY names a file built elsewhere")
    assert arm64_build["triple"] == ARM64.triple
    assert arm64_build["freezer"] == "pyinstaller"
    assert Path(arm64_build["emulated_root"]["path"]).is_dir()


def test_version_under_qemu(arm64_build: dict, qemu: str, tmp_path: Path) -> None:
    r = subprocess.run([str(arm64_build["path"]), "--version"], capture_output=True,
                       text=True, timeout=TIMEOUT,
                       env={"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path)})
    assert (r.returncode, r.stdout, r.stderr) == (0, f"codex-cli {__version__}\n", "")
    # The unpacked program is aarch64 too, with its own aarch64 loader.
    (tree,) = (tmp_path / "codex").iterdir()
    assert binfmt.elf_machine(tree / "codex") == "aarch64"
    assert list(tree.rglob("ld-linux-aarch64.so.1"))


def test_smoke_run_under_qemu_including_the_empty_root(arm64_build: dict, qemu: str,
                                                       capsys: pytest.CaptureFixture) -> None:
    status = smoke.run_smoke(arm64_build["path"])
    out = capsys.readouterr().out
    assert status == 0, out
    for check in ("--version, first run (empty cache)", "empty root",
                  "exec-server stdio PTY session", "unified_exec command"):
        assert f"smoke: ok    {check}" in out, out
    assert "aarch64 file: running it through qemu-user" in out


def _holder() -> subprocess.Popen:
    """A process inside `binfmt.registered("aarch64")` until its stdin closes."""
    code = ("import sys; from distbuild import binfmt\n"
            "with binfmt.registered('aarch64') as how:\n"
            "    print(how, flush=True); sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() in ("registered", "existing")
    return proc


def _entry_enabled() -> bool:
    entry = binfmt.BINFMT_DIR / binfmt.EMULATORS["aarch64"].name
    return entry.exists() and entry.read_text().startswith("enabled")


def test_binfmt_entry_lasts_while_anyone_uses_it_and_is_removed_after(arm64_build: dict) -> None:
    """Two users at once: the first to leave must not pull the entry from under the other;
    when both have left, binfmt_misc is as it was before."""
    before = _entry_enabled()
    first, second = _holder(), _holder()
    try:
        assert _entry_enabled()
        first.stdin.close()
        assert first.wait(timeout=60) == 0
        assert _entry_enabled()  # the second still needs it
        r = subprocess.run([str(arm64_build["path"]), "--version"], capture_output=True,
                           text=True, timeout=TIMEOUT)
        assert r.stdout == f"codex-cli {__version__}\n", r.stderr
    finally:
        for proc in (first, second):
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()
            proc.wait(timeout=60)
    assert _entry_enabled() == before
