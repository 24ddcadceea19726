"""Linux arm64 under qemu-user against x86_64 natively: `--version` start-up, sizes, build times.

For the record only: emulation is no speed claim (an arm64 machine runs the file natively).
Interleaves warm `--version` runs of the two packaged files (each after one first run that
unpacks it into a private cache dir), and reads file/archive sizes and build times from
their `.buildinfo.json`.

Usage: .venv/bin/python bench/arm64.py [--runs 20] [--dist dist]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from distbuild import binfmt  # noqa: E402

TARGETS = ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl")


def timed(binary: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(binary), "--version"], stdout=subprocess.DEVNULL, check=True, env=env)
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--dist", type=Path, default=ROOT / "dist")
    args = ap.parse_args()
    binaries = {t: args.dist / f"codex-{t}" for t in TARGETS}
    missing = [str(p) for p in binaries.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)} (make dist; make dist TARGET=...)")
    with binfmt.registered("aarch64") as how, tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CACHE_HOME=tmp)
        first = {t: timed(b, env) for t, b in binaries.items()}
        warm: dict[str, list[float]] = {t: [] for t in TARGETS}
        for _ in range(args.runs):
            for t, b in binaries.items():
                warm[t].append(timed(b, env))
    print(f"qemu binfmt entry: {how}; {args.runs} interleaved warm runs")
    print("| target | warm `--version` median | first run | file | .tar.gz | tree | build |")
    print("|---|---|---|---|---|---|---|")
    for t, b in binaries.items():
        info_path = b.with_name(b.name + ".buildinfo.json")
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        root = info.get("emulated_root", {})
        build = (f"{info.get('freezer', '?')}: stage {info.get('stage_seconds', '?')} s "
                 f"(freeze {info.get('freeze_seconds', '?')} s) + package "
                 f"{info.get('package_seconds', '?')} s")
        if root:
            build += (f"; root {'made' if root.get('created') else 'cached'} "
                      f"{root.get('ready_seconds', '?')} s")
        print(f"| {t} | {statistics.median(warm[t]):.1f} ms | {first[t]:.0f} ms | "
              f"{b.stat().st_size / 1e6:.1f} MB | {info.get('archive_bytes', 0) / 1e6:.1f} MB | "
              f"{info.get('tree_bytes', 0) / 1e6:.1f} MB | {build} |")
    ratio = statistics.median(warm[TARGETS[1]]) / statistics.median(warm[TARGETS[0]])
    print(f"arm64 under qemu / x86_64 native: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
