"""Release assets for one built file: codex-<triple>.tar.gz, codex-<triple>.zst, SHA256SUMS.

Byte-for-byte reproducible: the tar has one entry with mode 0755, uid/gid 0, empty owner
names, mtime SOURCE_DATE_EPOCH (default: the last commit's time) and no extended headers;
gzip carries no file name and mtime 0; zstd output depends only on its input and level.

Usage: python -m distbuild.archive dist/codex-x86_64-unknown-linux-musl [--out dist]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMS = "SHA256SUMS"
# What a release uploads per target; the bare file in dist/ is for local use and tests.
ASSET_SUFFIXES = (".tar.gz", ".zst", ".zip")


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH if set, else the last commit time, else 0."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    out = subprocess.run(["git", "log", "-1", "--format=%ct"], capture_output=True, text=True,
                         cwd=ROOT)
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else 0


def tar_gz(binary: Path, name: str, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = binary.stat().st_size
    info.mode = 0o755
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = mtime
    info.type = tarfile.REGTYPE
    raw = io.BytesIO()
    # USTAR: no PAX/GNU extension headers (the name is short).
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar, \
            binary.open("rb") as f:
        tar.addfile(info, f)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def zst(binary: Path, zstd: str = "zstd") -> bytes:
    return subprocess.run([zstd, "-19", "-T1", "-q", "-c", "--no-progress", str(binary)],
                          capture_output=True, check=True).stdout


def write_sums(out_dir: Path) -> Path:
    """SHA256SUMS over every release asset (archive) in out_dir, sorted by name."""
    lines = []
    for asset in sorted(p for p in out_dir.iterdir() if p.is_file()
                        and p.name.endswith(ASSET_SUFFIXES)):
        digest = hashlib.sha256(asset.read_bytes()).hexdigest()
        lines.append(f"{digest}  {asset.name}\n")
    path = out_dir / SUMS
    path.write_text("".join(lines))
    return path


def make_assets(binary: Path, out_dir: Path, name: str | None = None) -> list[Path]:
    """Write <name>.tar.gz and <name>.zst for `binary` into out_dir, then SHA256SUMS."""
    name = name or binary.name
    out_dir.mkdir(parents=True, exist_ok=True)
    tgz = out_dir / f"{name}.tar.gz"
    tgz.write_bytes(tar_gz(binary, name, source_date_epoch()))
    zpath = out_dir / f"{name}.zst"
    zpath.write_bytes(zst(binary))
    return [tgz, zpath, write_sums(out_dir)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", type=Path, help="the built single file, named codex-<triple>")
    ap.add_argument("--out", type=Path, default=ROOT / "dist", help="output dir (dist/)")
    ap.add_argument("--name", help="entry name (default: the binary's file name)")
    args = ap.parse_args()
    for path in make_assets(args.binary, args.out, args.name):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
