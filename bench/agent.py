#!/usr/bin/env python3
"""Agent benchmark: overhead per tool round trip, and `codex exec` start-to-first-request.

Usage: python bench/agent.py [--calls N] [--runs R] [--codex PATH] [--before-rev REV]

Round trip: a mock model (tests/support/mock_model.py, answering instantly) asks for N calls
of `exec_command true` one after another, then answers. Per round trip =
(wall of that run - wall of a run that answers at once) / N, so start-up and the final answer
cancel out. Two kinds of call: `login: false` (`bash -c true`: the agent's own overhead plus
a cheap spawn) and the default login shell (`bash -lc true`, or the session's snapshot).
For scale it also times spawning `bash -c true` / `bash -lc true` directly. Start-to-first-
request: from spawning `codex exec` to the mock receiving the first request, against
`python -I -c pass` start-up in the same run.

`--before-rev REV` runs the same measurements, interleaved in the same run, on the code of
git revision REV (exported to a temporary directory and run with PYTHONPATH), side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import mock_model as mm  # noqa: E402


def _env(home: str, url: str, pythonpath: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CODEX_HOME": home, "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": url})
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def _argv(codex: list[str]) -> list[str]:
    return [*codex, "exec", "-c", "model=mock-model", "-s", "danger-full-access",
            "--skip-git-repo-check", "bench"]


def run_calls(codex: list[str], n: int, work: str, *, login: bool = True,
              pythonpath: str | None = None) -> float:
    """Wall seconds of one `codex exec` doing `n` sequential `true` round trips."""
    args = {"cmd": "true"} if login else {"cmd": "true", "login": False}
    with mm.MockModel() as m:
        for i in range(n):
            m.add(mm.sse(mm.function_call("exec_command", args, f"c{i}")))
        m.add(mm.sse(mm.message_item("done")))
        t0 = time.perf_counter()
        subprocess.run(_argv(codex), cwd=work, env=_env(work + "/home", m.url, pythonpath),
                       check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        assert len(m.requests) == n + 1
    return wall


def first_request(codex: list[str], work: str, pythonpath: str | None = None) -> float:
    with mm.MockModel() as m:
        m.add(mm.sse(mm.message_item("done")))
        t0 = time.perf_counter()
        p = subprocess.Popen(_argv(codex), cwd=work,
                             env=_env(work + "/home", m.url, pythonpath),
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


@dataclass
class Variant:
    name: str
    pythonpath: str | None
    zero: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)  # login: false
    login: list[float] = field(default_factory=list)  # the default login shell
    firsts: list[float] = field(default_factory=list)

    def per_call(self, calls: int) -> tuple[float, float]:
        z = statistics.median(self.zero)
        return ((statistics.median(self.plain) - z) / calls,
                (statistics.median(self.login) - z) / calls)


def export_rev(rev: str, dest: str) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "codex"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--codex", default=None, help="codex executable (default: this checkout)")
    ap.add_argument("--before-rev", default=None,
                    help="also measure the code of this git revision, side by side")
    args = ap.parse_args()
    codex = [args.codex] if args.codex else [sys.executable, "-m", "codex"]
    shell = os.environ.get("SHELL") or "/bin/bash"
    with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as before:
        variants = [Variant("this checkout", None)]
        if args.before_rev:
            export_rev(args.before_rev, before)
            variants.insert(0, Variant(f"before ({args.before_rev})", before))
        for v in variants:
            run_calls(codex, 1, work, pythonpath=v.pythonpath)  # warm caches
        spawn_c, spawn_lc, py = [], [], []
        for _ in range(args.runs):
            for v in variants:  # interleaved: machine load hits every variant alike
                v.zero.append(run_calls(codex, 0, work, pythonpath=v.pythonpath))
                v.plain.append(run_calls(codex, args.calls, work, login=False,
                                         pythonpath=v.pythonpath))
                v.login.append(run_calls(codex, args.calls, work, pythonpath=v.pythonpath))
                v.firsts.append(first_request(codex, work, v.pythonpath))
            spawn_c.append(statistics.median(timed([shell, "-c", "true"]) for _ in range(10)))
            spawn_lc.append(statistics.median(timed([shell, "-lc", "true"]) for _ in range(10)))
            py.append(timed([sys.executable, "-I", "-c", "pass"]))
    sc, slc, p = statistics.median(spawn_c), statistics.median(spawn_lc), statistics.median(py)
    print(f"runs: {args.runs}, calls per run: {args.calls} (medians)")
    print(f"`{shell} -c true` spawn: {sc * 1000:.1f} ms; `{shell} -lc true` spawn: "
          f"{slc * 1000:.1f} ms; python -I -c pass: {p * 1000:.1f} ms")
    for v in variants:
        plain, login = v.per_call(args.calls)
        f = statistics.median(v.firsts)
        print(f"-- {v.name}")
        print(f"exec with 0 calls:                     {statistics.median(v.zero) * 1000:8.1f} ms")
        print(f"per round trip, login: false:          {plain * 1000:8.1f} ms "
              f"(agent overhead {max(plain - sc, 0) * 1000:.1f} ms over the spawn)")
        print(f"per round trip, login shell (default): {login * 1000:8.1f} ms")
        print(f"start to first request:                {f * 1000:8.1f} ms "
              f"({f / p:.2f}x python start-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
