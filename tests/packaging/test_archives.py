"""Release assets: one-entry tar.gz, .zst, SHA256SUMS; reproducible byte for byte."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.packaging

EPOCH = "1700000000"


@pytest.fixture
def assets(binary: Path, archive_mod: ModuleType, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two independent archive steps of the same file, into two directories."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out1, out2 = tmp_path / "one", tmp_path / "two"
    for out in (out1, out2):
        subprocess.run([sys.executable, "-m", "distbuild.archive", str(binary), "--out",
                        str(out)], check=True, capture_output=True, timeout=600,
                       cwd=Path(archive_mod.__file__).parents[1])
    return out1, out2


def test_tar_gz_has_exactly_one_entry_mode_0755(assets: tuple[Path, Path], binary: Path) -> None:
    out, _ = assets
    name = binary.name
    with tarfile.open(out / f"{name}.tar.gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [name]
        (m,) = members
        assert m.isreg() and m.mode == 0o755
        assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "")
        assert m.mtime == int(EPOCH)
        assert m.pax_headers == {}
        f = tar.extractfile(m)
        assert f is not None
        assert f.read() == binary.read_bytes()
    # No PAX/GNU extension records: the first header is the entry itself (USTAR magic).
    raw = subprocess.run(["gzip", "-dc", str(out / f"{name}.tar.gz")], capture_output=True,
                         check=True).stdout
    assert raw[156:157] == b"0" and raw[257:263] == b"ustar\x00"


def test_zst_decompresses_to_the_file(assets: tuple[Path, Path], binary: Path) -> None:
    out, _ = assets
    if not shutil.which("zstd"):
        pytest.skip("zstd is not installed (apt-get install zstd)")
    r = subprocess.run(["zstd", "-dc", str(out / f"{binary.name}.zst")], capture_output=True,
                       check=True)
    assert r.stdout == binary.read_bytes()


def test_sha256sums_match_every_asset(assets: tuple[Path, Path], binary: Path) -> None:
    out, _ = assets
    lines = (out / "SHA256SUMS").read_text().splitlines()
    names = [line.split("  ", 1)[1] for line in lines]
    assert names == sorted([f"{binary.name}.tar.gz", f"{binary.name}.zst"])
    r = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=out,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in lines:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def test_second_archive_step_gives_identical_bytes(assets: tuple[Path, Path]) -> None:
    out1, out2 = assets
    files = sorted(p.name for p in out1.iterdir())
    assert files == sorted(p.name for p in out2.iterdir())
    for name in files:
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name


def test_dist_sha256sums_match_the_built_assets(packaged: dict) -> None:
    if packaged["given"]:
        pytest.skip("CODEX_TEST_BINARY names a file built elsewhere; dist/ was not built here")
    dist = packaged["path"].parent
    r = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=dist,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    checked = {line.rsplit(":", 1)[0] for line in r.stdout.splitlines()}
    name = packaged["path"].name
    assert {f"{name}.tar.gz", f"{name}.zst"} <= checked
    # Every target's assets in dist/ (Linux arm64's too, when built), and nothing else.
    assert checked == {p.name for p in dist.iterdir() if p.name.endswith((".tar.gz", ".zst"))}
