#!/usr/bin/env python3
"""apply_patch benchmark: patch application against plain read+write of the same files.

Usage: python bench/apply_patch.py [--runs N] [--lines N] [--chunks N]
Scenarios (each timed against its baseline, interleaved so machine noise hits both alike):
  edit   one file of --lines lines, --chunks exact chunks spread over it;
         baseline: read the file and write it back
  fuzzy  the same file, one chunk that only the 4th pass (Unicode) finds, at the end;
         baseline: the same chunk written exactly
  many   50 small files updated by one patch (one chunk each);
         baseline: read and write the 50 files
Prints medians in milliseconds and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codex.core.apply_patch import apply_patch  # noqa: E402


def _file_lines(count: int) -> list[str]:
    return [f"    value_{i} = compute({i}, 'x')  # line {i}" for i in range(count)]


def _edit_patch(lines: list[str], chunks: int, path: str) -> tuple[str, str]:
    """A patch changing `chunks` spread lines (forward), and one changing them back."""
    step = len(lines) // (chunks + 1)
    fwd, back = [], []
    for k in range(1, chunks + 1):
        i = k * step
        ctx = lines[i - 2:i]
        fwd += ["@@", *(" " + c for c in ctx), "-" + lines[i], "+" + lines[i] + " # edited"]
        back += ["@@", *(" " + c for c in ctx), "-" + lines[i] + " # edited", "+" + lines[i]]
    head = ["*** Begin Patch", f"*** Update File: {path}"]
    return ("\n".join([*head, *fwd, "*** End Patch"]),
            "\n".join([*head, *back, "*** End Patch"]))


def _median(fn: Callable[[], None], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _pair(name: str, ours: Callable[[], None], base: Callable[[], None], runs: int) -> None:
    ours(), base()  # warm up
    a, b = [], []
    for _ in range(runs):
        a += _median(ours, 1)
        b += _median(base, 1)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{name:6} apply_patch {ma:8.2f} ms   baseline {mb:8.2f} ms   ratio {ma / mb:6.1f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--chunks", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = _file_lines(args.lines)
        big = root / "big.py"
        big.write_text("\n".join(lines) + "\n")

        fwd, back = _edit_patch(lines, args.chunks, "big.py")
        state = {"forward": True}

        def edit() -> None:
            apply_patch(fwd if state["forward"] else back, root)
            state["forward"] = not state["forward"]

        def rewrite(paths: list[Path]) -> Callable[[], None]:
            def run() -> None:
                for p in paths:
                    p.write_bytes(p.read_bytes())
            return run

        _pair("edit", edit, rewrite([big]), args.runs)

        last = lines[-1]
        fancy = last.replace("'", "\u2019").replace("    ", "\u00a0\u00a0")
        def one(old: str, new: str) -> str:
            return f"*** Begin Patch\n*** Update File: big.py\n@@\n-{old}\n+{new}\n*** End Patch"

        fuzzy_fwd, fuzzy_back, exact_fwd = one(fancy, last + "!"), one(last + "!", last), one(
            last, last + "!")

        def fuzzy() -> None:
            apply_patch(fuzzy_fwd, root)
            apply_patch(fuzzy_back, root)

        def exact() -> None:
            apply_patch(exact_fwd, root)
            apply_patch(fuzzy_back, root)

        _pair("fuzzy", fuzzy, exact, args.runs)

        small = []
        for i in range(50):
            p = root / "pkg" / f"m{i}.py"
            p.parent.mkdir(exist_ok=True)
            p.write_text("import os\n\ndef f():\n    return 1\n")
            small.append(p)
        many_fwd = "\n".join(["*** Begin Patch"] + [
            f"*** Update File: pkg/m{i}.py\n@@ def f():\n-    return 1\n+    return 2"
            for i in range(50)] + ["*** End Patch"])
        many_back = many_fwd.replace("-    return 1\n+    return 2", "-    return 2\n+    return 1")
        flip = {"forward": True}

        def many() -> None:
            apply_patch(many_fwd if flip["forward"] else many_back, root)
            flip["forward"] = not flip["forward"]

        _pair("many", many, rewrite(small), args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
