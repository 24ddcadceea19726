#!/usr/bin/env python3
"""unified_exec benchmark: exec_command of `true`, and the cat echo round trip.

`exec_command` of `true` is timed from the call to the formatted result; the `cat` echo round
trip of a write goes through a `tty` session. Both run on the local backend and on exec-server
children (websocket and stdio).

Usage: python bench/unified_exec.py [--runs N] [--backends local,remote-ws,remote-stdio]

Baseline in the same run: spawning `bash -c true` with asyncio and waiting for it. The echo
round trip is measured from the write to the echoed bytes reaching the session's buffer
(a `write_stdin` call itself always waits at least 250 ms, by the spec's timing rules).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codex.exec_server.backend import ExecBackend  # noqa: E402
from codex.unified_exec import UnifiedExecManager  # noqa: E402

CODEX = [sys.executable, "-m", "codex"]


def start_ws_server() -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([*CODEX, "exec-server", "--listen", "ws://127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, cwd=ROOT)
    assert proc.stdout is not None
    line = b""
    deadline = time.monotonic() + 30
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], max(0, deadline - time.monotonic()))
        byte = os.read(proc.stdout.fileno(), 1) if ready else b""
        if not byte:
            proc.kill()
            raise SystemExit("exec-server did not print its URL")
        line += byte
    return proc, line.decode().strip()


def make_backend(kind: str, ws_url: str | None) -> ExecBackend:
    if kind == "local":
        from codex.exec_server.local import LocalBackend

        return LocalBackend()
    from codex.exec_server.remote import RemoteBackend

    if kind == "remote-ws":
        assert ws_url
        return RemoteBackend.websocket(ws_url)
    return RemoteBackend.stdio([*CODEX, "exec-server", "--listen", "stdio"])


async def baseline_spawn() -> float:
    t0 = time.perf_counter()
    p = await asyncio.create_subprocess_exec("/bin/bash", "-c", "true",
                                             stdin=subprocess.DEVNULL)
    await p.wait()
    return (time.perf_counter() - t0) * 1000


async def bench_backend(kind: str, ws_url: str | None, runs: int) -> dict[str, list[float]]:
    backend = make_backend(kind, ws_url)
    if hasattr(backend, "connect"):
        await backend.connect()
    m = UnifiedExecManager(backend, cwd=str(ROOT))
    res: dict[str, list[float]] = {"true": [], "true_login": [], "echo": [], "base": []}
    try:
        for args in ({"cmd": "true", "login": False}, {"cmd": "true"}):  # warm up
            await m.exec_command(args)
        for _ in range(runs):
            res["base"].append(await baseline_spawn())
            t0 = time.perf_counter()
            r = await m.exec_command({"cmd": "true", "login": False})
            res["true"].append((time.perf_counter() - t0) * 1000)
            assert r.exit_code == 0, r.text
        for _ in range(max(3, runs // 4)):
            t0 = time.perf_counter()
            r = await m.exec_command({"cmd": "true"})
            res["true_login"].append((time.perf_counter() - t0) * 1000)
        cat = await m.exec_command({"cmd": "cat", "tty": True, "login": False,
                                    "yield_time_ms": 250})
        proc = m._sessions.get(cat.session_id)
        assert proc is not None
        for _ in range(runs):
            proc.take_output()
            t0 = time.perf_counter()
            await proc.write(b"ping\n")
            # PTY echo "ping\r\n" plus cat's own "ping\r\n".
            ok = await proc._wait_until(lambda p=proc: p.buffer.total >= 12,
                                        time.monotonic() + 10)
            res["echo"].append((time.perf_counter() - t0) * 1000)
            assert ok, "no echo"
    finally:
        await m.shutdown()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--backends", default="local,remote-ws,remote-stdio")
    args = ap.parse_args()
    kinds = args.backends.split(",")
    server, url = start_ws_server() if "remote-ws" in kinds else (None, None)
    try:
        print(f"{'backend':13} {'true (-c)':>10} {'true (-lc)':>11} {'bash spawn':>11} "
              f"{'ratio':>6} {'cat echo':>9}   (medians, ms; n={args.runs})")
        for kind in kinds:
            r = asyncio.run(bench_backend(kind, url, args.runs))
            med = {k: statistics.median(v) for k, v in r.items()}
            print(f"{kind:13} {med['true']:10.1f} {med['true_login']:11.1f} "
                  f"{med['base']:11.1f} {med['true'] / med['base']:5.2f}x {med['echo']:9.2f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
