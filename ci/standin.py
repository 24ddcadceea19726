"""Stage stand-in release archives in dist/ when the frozen binary is not there.

The real archives come from distbuild/ (`make dist`). Until a checkout has them, the installer
tests and `ci/release.py --dry-run` need *something* in the spec's dist/ layout that really
runs: a small executable that execs this checkout's `python -m codex`. It is never published;
`ci/release.py` refuses to publish it outside a dry run.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from installers.targets import TARGETS, Target, target, write_sums

ROOT = Path(__file__).resolve().parent.parent

STANDIN_MARK = b"codex-release-standin"


def standin_program(python: str = sys.executable, root: Path = ROOT) -> bytes:
    return (
        "#!/bin/sh\n"
        f"# {STANDIN_MARK.decode()}: runs the codex checkout at {root}\n"
        f"PYTHONPATH='{root}'${{PYTHONPATH:+:$PYTHONPATH}} exec '{python}' -m codex \"$@\"\n"
    ).encode()


def is_standin(binary: bytes) -> bool:
    return STANDIN_MARK in binary[:200]


def _epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def write_archives(dist: Path, tgt: Target, program: bytes) -> list[Path]:
    """The spec's per-target assets for one file: `.tar.gz` with one entry, and `.zst`."""
    dist.mkdir(parents=True, exist_ok=True)
    info = tarfile.TarInfo(tgt.binary_name)
    info.size, info.mode, info.mtime = len(program), 0o755, _epoch()
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(program))
    archive = dist / tgt.archive_name
    with archive.open("wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=_epoch(),
                                                 filename="") as gz:
        gz.write(raw.getvalue())
    out = [archive]
    if shutil.which("zstd"):
        zst = dist / tgt.zst_name
        subprocess.run(["zstd", "-q", "-f", "-19", "-o", str(zst)], input=program, check=True)
        out.append(zst)
    return out


def stage(dist: Path, triples: list[str], program: bytes | None = None) -> list[Path]:
    program = program or standin_program()
    written: list[Path] = []
    for triple in triples:
        tgt = target(triple)
        if tgt.windows:
            raise SystemExit("stand-ins are POSIX shell scripts; no Windows stand-in")
        written += write_archives(dist, tgt, program)
    written.append(write_sums(dist))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (dist/)")
    ap.add_argument("--target", action="append", dest="targets", metavar="TRIPLE",
                    help="triple to stage (repeatable; default: the four required targets)")
    args = ap.parse_args(argv)
    triples = args.targets or [t.triple for t in TARGETS if t.required]
    for path in stage(args.dist, triples):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
