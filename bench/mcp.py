#!/usr/bin/env python3
"""MCP start-up benchmark: what configured MCP servers cost `codex --version` and `codex exec`.

Usage: python bench/mcp.py [--runs R] [--codex PATH]

Interleaved runs of four cases, medians reported:
- `codex --version` with no MCP server configured, and with two stdio servers configured;
- `codex exec` start-to-first-request (spawn → the mock model receives the first POST) with no
  server, and with two stdio servers (the reference `mcp-server-time` and `mcp-server-git`,
  from the test cache venv; installed on first use). The servers start in the background: the
  first request must not wait for them (spec mcp.md), so the two medians should be close
  (the servers themselves take about a second to become ready, so a first request that waited
  would show it).
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

from tests.support import mcp_servers as ms  # noqa: E402
from tests.support import mock_model as mm  # noqa: E402


def _env(home: Path, url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CODEX_HOME": str(home), "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": url})
    return env


def _homes(work: Path) -> tuple[Path, Path]:
    plain = work / "plain"
    plain.mkdir()
    (plain / "config.toml").write_text("")
    servers = work / "servers"
    servers.mkdir()
    repo = work / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (servers / "config.toml").write_text(
        f'[mcp_servers.time]\ncommand = "{ms.server_bin("mcp-server-time")}"\n\n'
        f'[mcp_servers.git]\ncommand = "{ms.server_bin("mcp-server-git")}"\n'
        f'args = ["--repository", "{repo}"]\n')
    return plain, servers


def version(codex: list[str], home: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([*codex, "--version"], check=True, stdout=subprocess.DEVNULL,
                   env=_env(home, "http://127.0.0.1:9/v1"))
    return time.perf_counter() - t0


def first_request(codex: list[str], home: Path, work: Path) -> float:
    """Seconds from spawning `codex exec` to the mock model receiving its first request."""
    with mm.MockModel() as m:
        m.add(mm.sse(mm.message_item("done")))
        t0 = time.perf_counter()
        p = subprocess.Popen([*codex, "exec", "-c", "model=mock-model", "-s",
                              "danger-full-access", "--skip-git-repo-check", "bench"],
                             cwd=work, env=_env(home, m.url), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        m.wait_for_requests(1)
        first = time.perf_counter() - t0
        p.wait(60)
        if p.returncode != 0:
            raise SystemExit(f"codex exec failed with {p.returncode}")
    return first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--codex", default=None, help="codex executable (default: this checkout)")
    args = ap.parse_args()
    codex = [args.codex] if args.codex else [sys.executable, "-m", "codex"]
    ms.server_venv()
    with tempfile.TemporaryDirectory(prefix="codex-bench-mcp-") as tmp:
        work = Path(tmp)
        plain, servers = _homes(work)
        results: dict[str, list[float]] = {k: [] for k in
                                           ("version", "version+mcp", "first", "first+mcp")}
        for _ in range(args.runs):
            results["version"].append(version(codex, plain))
            results["version+mcp"].append(version(codex, servers))
            results["first"].append(first_request(codex, plain, work))
            results["first+mcp"].append(first_request(codex, servers, work))
    med = {k: statistics.median(v) * 1000 for k, v in results.items() if v}
    print(f"runs: {args.runs} (interleaved), medians")
    print(f"codex --version, no MCP server:           {med['version']:7.1f} ms")
    print(f"codex --version, two stdio servers:       {med['version+mcp']:7.1f} ms")
    print(f"exec start-to-first-request, no server:   {med['first']:7.1f} ms")
    print(f"exec start-to-first-request, two servers: {med['first+mcp']:7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
