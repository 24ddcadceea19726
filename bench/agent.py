#!/usr/bin/env python3
"""Agent benchmark: overhead per tool round trip, and `codex exec` start-to-first-request.

Usage: python bench/agent.py [--calls N] [--runs R] [--codex PATH]

Round trip: a mock model (tests/support/mock_model.py, answering instantly) asks for N calls
of `exec_command true` one after another, then answers. Per round trip =
(wall of that run - wall of a run that answers at once) / N, so start-up and the final answer
cancel out. For scale it also times spawning `bash -lc true` directly (the floor any agent
pays per command). Start-to-first-request: from spawning `codex exec` to the mock receiving
the first request, against `python -I -c pass` start-up in the same run.
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

from tests.support import mock_model as mm  # noqa: E402


def _env(home: str, url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CODEX_HOME": home, "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": url})
    return env


def _argv(codex: list[str]) -> list[str]:
    return [*codex, "exec", "-c", "model=mock-model", "-s", "danger-full-access",
            "--skip-git-repo-check", "bench"]


def run_calls(codex: list[str], n: int, work: str) -> float:
    """Wall seconds of one `codex exec` doing `n` sequential `true` round trips."""
    with mm.MockModel() as m:
        for i in range(n):
            m.add(mm.sse(mm.function_call("exec_command", {"cmd": "true"}, f"c{i}")))
        m.add(mm.sse(mm.message_item("done")))
        t0 = time.perf_counter()
        subprocess.run(_argv(codex), cwd=work, env=_env(work + "/home", m.url), check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        assert len(m.requests) == n + 1
    return wall


def first_request(codex: list[str], work: str) -> float:
    with mm.MockModel() as m:
        m.add(mm.sse(mm.message_item("done")))
        t0 = time.perf_counter()
        p = subprocess.Popen(_argv(codex), cwd=work, env=_env(work + "/home", m.url),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        m.wait_for_requests(1)
        t = time.perf_counter() - t0
        p.wait(60)
    return t


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--codex", default=None, help="codex executable (default: this checkout)")
    args = ap.parse_args()
    codex = [args.codex] if args.codex else [sys.executable, "-m", "codex"]
    shell = os.environ.get("SHELL") or "/bin/bash"
    with tempfile.TemporaryDirectory() as work:
        run_calls(codex, 1, work)  # warm caches
        zero, many, spawn, firsts, py = [], [], [], [], []
        for _ in range(args.runs):
            zero.append(run_calls(codex, 0, work))
            many.append(run_calls(codex, args.calls, work))
            spawn.append(statistics.median(timed([shell, "-lc", "true"]) for _ in range(10)))
            firsts.append(first_request(codex, work))
            py.append(timed([sys.executable, "-I", "-c", "pass"]))
    z, m_, s = statistics.median(zero), statistics.median(many), statistics.median(spawn)
    per = (m_ - z) / args.calls
    f, p = statistics.median(firsts), statistics.median(py)
    print(f"runs: {args.runs}, calls per run: {args.calls} (medians)")
    print(f"exec with 0 calls:             {z * 1000:8.1f} ms")
    print(f"exec with {args.calls} calls:            {m_ * 1000:8.1f} ms")
    print(f"per tool round trip:           {per * 1000:8.1f} ms")
    print(f"  of which `{shell} -lc true` spawn: {s * 1000:8.1f} ms "
          f"(agent overhead {max(per - s, 0) * 1000:.1f} ms)")
    print(f"start to first request:        {f * 1000:8.1f} ms")
    print(f"python -I -c pass:             {p * 1000:8.1f} ms (ratio {f / p:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
