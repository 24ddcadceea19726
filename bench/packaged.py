#!/usr/bin/env python3
"""Packaged-binary benchmark: start-up, first run, sizes, and freezer against freezer.

Measures, in one run with the commands interleaved round by round (so machine noise hits all
alike): warm `--version` of each packaged file against `python3 -I -c pass` (Debian's
/usr/bin/python3, the interpreter the binary is frozen from, and this interpreter); first run
from an empty cache dir (unpack included); binary and archive size and build time (from the
build info next to each file).

Usage:
  python bench/packaged.py                              # dist/codex-<triple>
  python bench/packaged.py --build-both                 # build with both freezers, compare
  python bench/packaged.py --binary nuitka=PATH --binary pyinstaller=PATH
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codex.platform_info import target_triple  # noqa: E402

GOAL_WARM_MS = 30
GOAL_RATIO = 4.0
GOAL_FIRST_MS = 1000
GOAL_ARCHIVE_MB = 15


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env=env)
    return (time.perf_counter() - t0) * 1000


def build_both(work: Path) -> dict[str, Path]:
    out = {}
    for freezer in ("nuitka", "pyinstaller"):
        dist = work / f"dist-{freezer}"
        subprocess.run([sys.executable, "-m", "distbuild.build", "--freezer",
                        freezer, "--out", str(dist), "--work", str(work / "build")],
                       check=True, cwd=ROOT)
        out[freezer] = dist / f"codex-{target_triple()}"
    return out


def build_info(binary: Path) -> dict:
    path = binary.with_name(binary.name + ".buildinfo.json")
    return json.loads(path.read_text()) if path.exists() else {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    ap.add_argument("--build-both", action="store_true",
                    help="build with Nuitka and PyInstaller first (minutes)")
    ap.add_argument("--runs", type=int, default=30, help="warm rounds (default 30)")
    ap.add_argument("--first-runs", type=int, default=5, help="first-run rounds (default 5)")
    args = ap.parse_args()

    binaries: dict[str, Path] = {}
    if args.build_both:
        binaries = build_both(ROOT / "build" / "bench")
    for spec in args.binary:
        label, _, path = spec.partition("=")
        binaries[label] = Path(path).resolve()
    if not binaries:
        default = ROOT / "dist" / f"codex-{target_triple()}"
        binaries[build_info(default).get("freezer", "dist")] = default

    with tempfile.TemporaryDirectory(prefix="codex-bench-") as tmp:
        env = dict(os.environ)
        env.pop("CODEX_UNPACK_DIR", None)
        env["XDG_CACHE_HOME"] = str(Path(tmp) / "warm-cache")
        cmds: dict[str, list[str]] = {}
        for label, path in binaries.items():
            cmds[f"{label}: codex --version (warm)"] = [str(path), "--version"]
        baselines = []
        if Path("/usr/bin/python3").exists():
            baselines.append("/usr/bin/python3")
        baselines.append(os.path.realpath(sys.executable))
        for py in baselines:
            cmds[f"{py} -I -c pass"] = [py, "-I", "-c", "pass"]
        for cmd in cmds.values():  # unpack + page cache
            timed(cmd, env)
        samples: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.runs):
            for key, cmd in cmds.items():
                samples[key].append(timed(cmd, env))
        first: dict[str, list[float]] = {label: [] for label in binaries}
        for i in range(args.first_runs):
            for label, path in binaries.items():
                cold = dict(env, XDG_CACHE_HOME=str(Path(tmp) / f"cold-{label}-{i}"))
                first[label].append(timed([str(path), "--version"], cold))
                shutil.rmtree(cold["XDG_CACHE_HOME"], ignore_errors=True)

    med = {k: statistics.median(v) for k, v in samples.items()}
    base_key = f"{baselines[0]} -I -c pass"
    print(f"## warm start-up (median of {args.runs}, interleaved)")
    print("| what | median | vs " + baselines[0] + " |")
    print("|---|---|---|")
    for key, value in med.items():
        print(f"| `{key}` | {value:.1f} ms | {value / med[base_key]:.2f}x |")
    print()
    print(f"## per freezer (first run = empty cache, median of {args.first_runs})")
    print("| freezer | warm --version | first run | binary | archive (.tar.gz) | tree "
          "unpacked | build time |")
    print("|---|---|---|---|---|---|---|")
    for label, path in binaries.items():
        info = build_info(path)
        warm = med[f"{label}: codex --version (warm)"]
        archive = path.with_name(path.name + ".tar.gz")
        arch_mb = archive.stat().st_size / 1e6 if archive.exists() else float("nan")
        print(f"| {label} | {warm:.1f} ms | {statistics.median(first[label]):.0f} ms | "
              f"{path.stat().st_size / 1e6:.1f} MB | {arch_mb:.1f} MB | "
              f"{info.get('tree_bytes', 0) / 1e6:.1f} MB | "
              f"{info.get('freeze_seconds', '?')} s freeze + "
              f"{info.get('package_seconds', '?')} s package |")
    print()
    print(f"goals: warm <= {GOAL_WARM_MS} ms and <= {GOAL_RATIO:g}x bare python3; first run "
          f"<= {GOAL_FIRST_MS} ms; archive <= {GOAL_ARCHIVE_MB} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
