#!/usr/bin/env python3
"""Compaction benchmark: the client's share of compacting a 200-item history.

Usage: python bench/compaction.py [--items N] [--runs R]

A session is resumed (in-process, the real Responses client over HTTP) from a rollout holding
N history items — user and assistant messages, function calls and their outputs, 200 B to
4 KB each — and the `Compact` op is submitted against the mock model
(tests/support/mock_model.py, which answers at once with a short summary). Measured per run:
- request out: from `submit(Compact)` to the mock receiving the request (building the input
  from the history, encoding, sending);
- answer in: from the mock receiving the request to the `ContextCompacted` event (the mock's
  few SSE lines, decoding, the new history, the `compacted` rollout line).
Their sum is the client's share (an upper bound: it includes the mock writing its reply).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codex.config import load_config  # noqa: E402
from codex.core import protocol as P  # noqa: E402
from codex.core.rollout import RolloutWriter, new_session_id  # noqa: E402
from codex.core.session import Session, SessionOptions  # noqa: E402
from tests.support import mock_model as mm  # noqa: E402


def history(n: int) -> list[dict]:
    items: list[dict] = []
    i = 0
    while len(items) < n:
        items.append({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": f"step {i}: " + "please look at the code " * 10}]})
        items.append({"type": "function_call", "name": "exec_command", "call_id": f"c{i}",
                      "arguments": json.dumps({"cmd": f"rg -n thing src/module_{i}.py"})})
        items.append({"type": "function_call_output", "call_id": f"c{i}",
                      "output": f"src/module_{i}.py:{i}: " + "matched line text " * 200})
        items.append({"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Found it; next I will change it. " * 8}]})
        i += 1
    return items[:n]


def make_rollout(home: Path, n: int) -> Path:
    w = RolloutWriter.create(home, new_session_id(), {"cwd": str(home)})
    for it in history(n):
        w.item(it)
    w.close()
    assert w.path is not None
    return w.path


async def one(home: Path, rollout: Path, url: str, mock: mm.MockModel) -> tuple[float, float]:
    arrived: list[float] = []

    def answer(_req: mm.Request) -> mm.Reply:
        arrived.append(time.perf_counter())
        return mm.sse(mm.message_item("Summary: the work so far, the decisions, next steps."))

    mock.add(answer)
    cfg = load_config(home=home, overrides=["model=gpt-5-codex",
                                            f'model_providers.openai.base_url="{url}"'],
                      warn_unknown=False)
    s = await Session.start(SessionOptions(config=cfg, cwd=home, resume_path=rollout))
    await s.next_event()
    t0 = time.perf_counter()
    s.submit(P.Compact())
    while not isinstance(ev := await s.next_event(), P.ContextCompacted):
        if isinstance(ev, P.Error):
            raise SystemExit(ev.message)
    t1 = time.perf_counter()
    s.submit(P.Shutdown())
    async for _ in s.events():
        pass
    return arrived[0] - t0, t1 - arrived[0]


async def run(n: int, runs: int) -> None:
    os.environ["OPENAI_API_KEY"] = "bench"
    with tempfile.TemporaryDirectory() as tmp, mm.MockModel() as mock:
        home = Path(tmp)
        source = make_rollout(home, n)
        out, back = [], []
        for i in range(runs + 1):
            copy = source.with_name(source.name.replace(".jsonl", f"-{i}.jsonl"))
            shutil.copy(source, copy)
            o, b = await one(home, copy, mock.url, mock)
            if i:  # the first run warms imports and connections
                out.append(o)
                back.append(b)
        size = len(mock.requests[-1].body and json.dumps(mock.requests[-1].body))
    o, b = statistics.median(out), statistics.median(back)
    print(f"history: {n} items, compaction request body {size / 1024:.0f} KiB; "
          f"{runs} runs (medians)")
    print(f"request out (build + send):            {o * 1000:8.1f} ms")
    print(f"answer in -> ContextCompacted:          {b * 1000:8.1f} ms")
    print(f"client's share:                         {(o + b) * 1000:8.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    asyncio.run(run(args.items, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
