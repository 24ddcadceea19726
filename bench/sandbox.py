#!/usr/bin/env python3
"""Sandbox benchmark: `true` plain against `true` under each sandbox mode, in one run.

Usage: python bench/sandbox.py [--runs N]
Runs the argv codex.sandbox.wrap_argv returns (what unified_exec and the exec-server spawn),
interleaved with the plain command so machine noise hits all alike, and prints the median ms
per command and the ratio to plain. The bare interpreter and `codex sandbox -s
danger-full-access` separate the cost of starting Python from the sandbox set-up itself.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codex.sandbox import self_command, wrap_argv  # noqa: E402


def timed(cmd: list[str], cwd: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    true = ["true"]
    with tempfile.TemporaryDirectory(dir=str(ROOT / "build") if (ROOT / "build").is_dir()
                                     else None) as ws:
        os.mkdir(os.path.join(ws, ".git"))
        cases = {
            "plain `true`": true,
            "bare interpreter (`python -I -c pass`)": [sys.executable, "-I", "-c", "pass"],
            "`codex sandbox -s danger-full-access` (CLI)":
                [*self_command(), "sandbox", "-s", "danger-full-access", "--", *true],
            "read-only": wrap_argv({"type": "read-only"}, true, ws),
            "workspace-write (+ .git carve-out)": wrap_argv({"type": "workspace-write"}, true, ws),
            "workspace-write, network on": wrap_argv(
                {"type": "workspace-write", "network_access": True}, true, ws),
        }
        for cmd in cases.values():  # warm caches, and fail loudly if a case cannot run
            timed(cmd, ws)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, cmd in cases.items():
                samples[name].append(timed(cmd, ws))
        setup = {mode: setup_ms(mode, ws, args.runs) for mode in ("read-only", "workspace-write")}
    base = statistics.median(samples["plain `true`"])
    print(f"{'case':42} {'median ms':>10} {'ratio':>8}   (n={args.runs})")
    for name, xs in samples.items():
        m = statistics.median(xs)
        print(f"{name:42} {m:10.1f} {m / base:7.1f}x")
    for mode, ms in setup.items():
        print(f"{'in-process set-up only, ' + mode:42} {ms:10.2f}")
    return 0


def setup_ms(mode: str, cwd: str, runs: int) -> float:
    """Median time of the kernel set-up alone (namespaces, mounts, Landlock) in a fork."""
    if not sys.platform.startswith("linux"):
        return float("nan")
    from codex.sandbox import linux
    from codex.sandbox.policy import SandboxPolicy

    policy = SandboxPolicy(mode)
    times = []
    for _ in range(runs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            t0 = time.perf_counter()
            linux.apply_to_self(policy, cwd)
            os.write(w, f"{(time.perf_counter() - t0) * 1000}".encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            times.append(float(f.read()))
        os.waitpid(pid, 0)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
