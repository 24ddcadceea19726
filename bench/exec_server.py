#!/usr/bin/env python3
"""exec-server benchmark over websocket loopback against a real `codex exec-server` child.

Usage: python bench/exec_server.py [--codex PATH] [--rounds N] [--mb N]

Measures, in one run:
- PTY round trip: `process/write` of one byte to a raw-mode PTY `cat` until its echo arrives
  as `process/output` (p50/p99 over N rounds);
- throughput: one process printing `--mb` MB to a pipe, as received (and base64-decoded) by
  a websocket client, against `head -c ... | cat` through a plain pipe as the baseline, and
  the server's own CPU cost per MB (its ceiling when the client is not the bottleneck);
- server RSS idle (one client connected, handshake done) and with 64 live processes, against
  a bare `python -c` interpreter's RSS as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_s(pid: int) -> float:
    """User+system CPU seconds used so far by `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.handlers: dict[str, asyncio.Queue] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            msg = json.loads(frame)
            if "id" in msg and "method" not in msg:
                self.pending.pop(msg["id"]).set_result(msg)
            else:
                q = self.handlers.get(msg["params"]["processId"])
                if q is not None:
                    q.put_nowait(msg)

    async def call(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps({"id": self.next_id, "method": method,
                                       "params": params or {}}))
        msg = await fut
        if "error" in msg:
            raise RuntimeError(msg["error"])
        return msg["result"]

    async def start(self, pid: str, argv: list[str], tty: bool = False) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self.handlers[pid] = q
        await self.call("process/start", {"processId": pid, "argv": argv, "cwd": "/",
                                          "env": dict(os.environ), "tty": tty})
        return q


async def bench(url: str, server_pid: int, rounds: int, mb: int) -> dict[str, float]:
    from websockets.asyncio.client import connect

    out: dict[str, float] = {}
    async with connect(url, max_size=None, compression=None) as ws:
        c = Client(ws)
        await c.call("initialize", {"clientName": "bench"})
        await ws.send(json.dumps({"method": "initialized"}))
        await asyncio.sleep(0.5)
        out["rss_idle_mb"] = rss_mb(server_pid)

        # PTY echo round trip through `cat` in raw mode (no line discipline echo).
        q = await c.start("cat", ["/bin/sh", "-c", "stty raw -echo; printf R; exec cat"],
                          tty=True)
        await q.get()  # "R": the terminal is raw now
        rtts = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await c.call("process/write", {"processId": "cat", "chunk": "eA=="})
            msg = await q.get()
            rtts.append((time.perf_counter() - t0) * 1000)
            assert base64.b64decode(msg["params"]["chunk"]) == b"x", msg
        rtts.sort()
        out["rtt_p50_ms"] = statistics.median(rtts)
        out["rtt_p99_ms"] = rtts[int(len(rtts) * 0.99) - 1]
        await c.call("process/terminate", {"processId": "cat"})

        # Throughput: pipe output received and decoded by this client.
        size = mb * 1_000_000
        cpu0 = cpu_s(server_pid)
        t0 = time.perf_counter()
        q = await c.start("big", ["head", "-c", str(size), "/dev/zero"])
        got = 0
        while True:
            msg = await q.get()
            if msg["method"] == "process/output":
                got += len(base64.b64decode(msg["params"]["chunk"]))
            elif msg["method"] == "process/closed":
                break
        elapsed = time.perf_counter() - t0
        assert got == size, (got, size)
        out["throughput_mb_s"] = size / elapsed / 1e6
        out["server_cpu_mb_s"] = size / (cpu_s(server_pid) - cpu0) / 1e6

        # RSS with 64 live processes (every 4th on a PTY).
        for i in range(64):
            await c.start(f"s{i}", ["sleep", "1000"], tty=(i % 4 == 0))
        await asyncio.sleep(0.5)
        out["rss_64_mb"] = rss_mb(server_pid)
        for i in range(64):
            await c.call("process/terminate", {"processId": f"s{i}"})
    return out


def baseline_pipe_mb_s(mb: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(f"head -c {mb * 1_000_000} /dev/zero | cat > /dev/null", shell=True,
                   check=True)
    return mb / (time.perf_counter() - t0)


def baseline_python_rss_mb(python: str) -> float:
    p = subprocess.Popen([python, "-c", "import sys; sys.stdin.read()"],
                         stdin=subprocess.PIPE)
    time.sleep(0.5)
    r = rss_mb(p.pid)
    p.communicate(b"")
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codex", default=None,
                    help="codex executable (default: this checkout via python -m codex)")
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    cmd = [args.codex] if args.codex else [sys.executable, "-m", "codex"]
    server = subprocess.Popen([*cmd, "exec-server", "--listen", "ws://127.0.0.1:0"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = server.stdout.readline().strip()
        res = asyncio.run(bench(url, server.pid, args.rounds, args.mb))
    finally:
        server.terminate()
        server.wait(30)
    pipe = baseline_pipe_mb_s(args.mb)
    py_rss = baseline_python_rss_mb(sys.executable)
    print(f"server: {' '.join(cmd)} exec-server ({url})")
    print(f"PTY cat echo round trip   p50 {res['rtt_p50_ms']:.3f} ms   "
          f"p99 {res['rtt_p99_ms']:.3f} ms   (n={args.rounds})")
    print(f"pipe -> ws client         {res['throughput_mb_s']:.0f} MB/s   "
          f"({args.mb} MB; baseline head|cat {pipe:.0f} MB/s)")
    print(f"  server CPU per MB sent    {res['server_cpu_mb_s']:.0f} MB per CPU-second "
          "(the server's own ceiling; the Python client decoding is the other half)")
    print(f"server RSS idle           {res['rss_idle_mb']:.1f} MB   "
          f"(baseline bare python {py_rss:.1f} MB)")
    print(f"server RSS, 64 processes  {res['rss_64_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
