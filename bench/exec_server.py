#!/usr/bin/env python3
"""exec-server benchmark: ours and Codex's own `codex exec-server`, side by side in one run,
each a real child over websocket loopback, driven by one client in Codex's newest dialect
(which both servers speak).

Usage: python bench/exec_server.py [--ours CMD] [--codex PATH | --no-codex] [--rounds N]
                                   [--mb N] [--file-mb N] [--repeat N]

Figures, per server:
- PTY echo round trip: `process/write` of one byte to a raw-mode PTY `cat` until it comes
  back as `process/output` (p50/p99 over N rounds);
- throughput: one process printing `--mb` MB to a pipe, received and base64-decoded here;
- `fs/readFile` and `fs/writeFile` of a `--file-mb` MB file (MB/s, request to answer);
- RSS of the server process with 64 live processes (every 4th on a PTY), on a fresh server,
  and its idle RSS after all the transfers above.
`--repeat` alternates the servers that many times and reports each figure's best run (the
machine is shared; the best run is the least disturbed one).
Codex's CLI comes from npm (@openai/codex, pinned in tests/support/codex_cli.py), installed
into the test cache on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("rtt_p50_ms", "rtt_p99_ms", "throughput_mb_s", "read_mb_s", "write_mb_s",
           "read_small_mb_s", "write_small_mb_s", "rss_64_mb", "rss_after_mb")
# A file size both servers take in one message (Codex's caps a websocket frame at 16 MiB).
SMALL_FILE_MB = 12
LOWER_IS_BETTER = {"rtt_p50_ms", "rtt_p99_ms", "rss_64_mb", "rss_after_mb"}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def file_uri(path: str) -> str:
    sys.path.insert(0, str(ROOT))
    from codex.exec_server.path_uri import from_path

    return from_path(path)


class Client:
    """A minimal client in Codex's dialect: no "jsonrpc", writeId, file:// paths."""

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
                q = self.handlers.get(msg["params"].get("processId"))
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
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg["result"]

    async def start(self, pid: str, argv: list[str], tty: bool = False) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self.handlers[pid] = q
        await self.call("process/start", {
            "processId": pid, "argv": argv, "cwd": "file:///", "env": dict(os.environ),
            "tty": tty, "envPolicy": {"inherit": "none", "ignoreDefaultExcludes": True,
                                      "exclude": [], "set": {}, "includeOnly": []},
            "metadata": {"threadId": str(uuid.uuid4()), "toolCallId": pid}, "arg0": None})
        return q


async def bench(url: str, server_pid: int, rounds: int, mb: int, file_mb: int,
                tmp: Path) -> dict[str, float]:
    from websockets.asyncio.client import connect

    out: dict[str, float] = {}
    async with connect(url, max_size=None, compression=None) as ws:
        c = Client(ws)
        await c.call("initialize", {"clientName": "bench"})
        await ws.send(json.dumps({"method": "initialized"}))
        # RSS with 64 live processes (every 4th on a PTY), measured first: on a fresh server.
        for i in range(64):
            await c.start(f"s{i}", ["sleep", "1000"], tty=(i % 4 == 0))
        await asyncio.sleep(0.5)
        out["rss_64_mb"] = rss_mb(server_pid)
        for i in range(64):
            await c.call("process/terminate", {"processId": f"s{i}"})

        # PTY echo round trip through `cat` in raw mode (no line discipline echo).
        q = await c.start("cat", ["/bin/sh", "-c", "stty raw -echo; printf R; exec cat"],
                          tty=True)
        while True:  # "R": the terminal is raw now
            msg = await q.get()
            if msg["method"] == "process/output":
                break
        rtts = []
        for i in range(rounds):
            t0 = time.perf_counter()
            await c.call("process/write", {"processId": "cat", "chunk": "eA==",
                                           "writeId": f"w{i}"})
            msg = await q.get()
            rtts.append((time.perf_counter() - t0) * 1000)
            assert base64.b64decode(msg["params"]["chunk"]) == b"x", msg
        rtts.sort()
        out["rtt_p50_ms"] = statistics.median(rtts)
        out["rtt_p99_ms"] = rtts[max(0, int(len(rtts) * 0.99) - 1)]
        await c.call("process/terminate", {"processId": "cat"})

        # Throughput: pipe output received and decoded by this client.
        size = mb * 1_000_000
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

        # fs/readFile and fs/writeFile of big files (request to answer; the client's own
        # JSON encoding of the write is done before the clock starts).
        for label, fmb in (("_small", SMALL_FILE_MB), ("", file_mb)):
            fsize = fmb * 1_000_000
            src = tmp / "src.bin"
            src.write_bytes(os.urandom(1 << 20) * (fsize >> 20) + os.urandom(fsize % (1 << 20)))
            try:
                t0 = time.perf_counter()
                r = await c.call("fs/readFile", {"path": file_uri(str(src))})
                out[f"read{label}_mb_s"] = fsize / (time.perf_counter() - t0) / 1e6
                data = r["dataBase64"]
                assert len(base64.b64decode(data)) == fsize
                dst = tmp / "dst.bin"
                c.next_id += 1
                frame = json.dumps({"id": c.next_id, "method": "fs/writeFile", "params": {
                    "path": file_uri(str(dst)), "dataBase64": data}})
                fut = asyncio.get_running_loop().create_future()
                c.pending[c.next_id] = fut
                t0 = time.perf_counter()
                await ws.send(frame)
                msg = await fut
                assert "result" in msg, msg
                out[f"write{label}_mb_s"] = fsize / (time.perf_counter() - t0) / 1e6
                assert dst.stat().st_size == fsize
                dst.unlink()
            except Exception as e:  # Codex's server drops frames over 64 MiB
                print(f"  {fmb} MB file: {type(e).__name__}: {str(e)[:120]}", file=sys.stderr)
                break
            finally:
                src.unlink()

    await asyncio.sleep(0.5)
    out["rss_after_mb"] = rss_mb(server_pid)
    return out


def run_server(cmd: list[str], env: dict[str, str], args, tmp: Path) -> dict[str, float]:
    server = subprocess.Popen([*cmd, "exec-server", "--listen", "ws://127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=ROOT, env=env)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        return asyncio.run(bench(url, server.pid, args.rounds, args.mb, args.file_mb, tmp))
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def best(runs: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    if not values:
        return float("nan")  # the server could not do it
    return min(values) if key in LOWER_IS_BETTER else max(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", default=None,
                    help="our codex command (default: this checkout via python -m codex)")
    ap.add_argument("--codex", default=None, help="Codex's codex binary (default: from npm)")
    ap.add_argument("--no-codex", action="store_true", help="measure ours only")
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--file-mb", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    servers: dict[str, tuple[list[str], dict[str, str]]] = {
        "ours": (shlex.split(args.ours) if args.ours else [sys.executable, "-m", "codex"],
                 dict(os.environ))}
    tmp = Path(tempfile.mkdtemp(prefix="bench-exec-server-"))
    if not args.no_codex:
        sys.path.insert(0, str(ROOT))
        from tests.support.codex_cli import codex_binary, codex_server_env

        binary = args.codex or str(codex_binary())
        servers["codex"] = ([binary], codex_server_env(tmp / "codex-home"))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    for _ in range(args.repeat):
        for name, (cmd, env) in servers.items():
            runs[name].append(run_server(cmd, env, args, tmp))
    names = list(servers)
    print(f"rounds={args.rounds} mb={args.mb} file_mb={args.file_mb} repeat={args.repeat}")
    print(f"{'figure':<30}" + "".join(f"{n:>14}" for n in names))
    labels = {"rtt_p50_ms": "PTY echo round trip p50 ms", "rtt_p99_ms": "  same, p99 ms",
              "throughput_mb_s": "pipe output MB/s", "read_mb_s": "fs/readFile MB/s",
              "write_mb_s": "fs/writeFile MB/s", "rss_64_mb": "RSS, 64 processes MB",
              "rss_after_mb": "RSS idle after all of it MB",
              "read_small_mb_s": f"fs/readFile {SMALL_FILE_MB} MB, MB/s",
              "write_small_mb_s": f"fs/writeFile {SMALL_FILE_MB} MB, MB/s"}
    for key in FIGURES:
        print(f"{labels[key]:<30}" + "".join(f"{best(runs[n], key):>14.2f}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
