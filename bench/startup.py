#!/usr/bin/env python3
"""Start-up benchmark: `codex --version` against a bare interpreter, in the same run.

Usage: python bench/startup.py [--runs N] [--codex PATH]
Prints medians (ms) and the ratio; interleaves the two so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--codex", default=str(ROOT / ".venv" / "bin" / "codex"))
    ap.add_argument("--baseline-python", default=sys.executable)
    args = ap.parse_args()
    ours_cmd = [args.codex, "--version"]
    base_cmd = [args.baseline_python, "-I", "-c", "pass"]
    for cmd in (ours_cmd, base_cmd):  # warm the page cache
        timed(cmd)
    ours, base = [], []
    for _ in range(args.runs):
        ours.append(timed(ours_cmd))
        base.append(timed(base_cmd))
    mo, mb = statistics.median(ours), statistics.median(base)
    print(f"codex --version   median {mo:7.1f} ms  (n={args.runs}, {args.codex})")
    print(f"python -I -c pass median {mb:7.1f} ms  ({args.baseline_python})")
    print(f"ratio             {mo / mb:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
