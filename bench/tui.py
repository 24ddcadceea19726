"""Benchmarks of the interactive UI, measured in tmux (figures go to BENCHMARKS.md).

    .venv/bin/python bench/tui.py [--binary dist/codex-<triple>] [--codex PATH]
                                  [--extra NAME=COMMAND]... [--runs N]
                                  [--only startup|echo|throughput]

Every program gets the same CODEX_HOME: the mock model as a custom provider (key from the
environment), the repository trusted. Codex's own binary (`npm i @openai/codex` into a cache
dir) runs with `--no-daemon` (otherwise it waits for a background server it downloads).

- startup: from launching the program in a fresh tmux pane to its first painted character
  ("first paint"; a Z is typed at launch and the terminal itself echoes it while still in
  cooked mode, so that Z does not count), and to a composer that shows the Z ("ready": a line
  holding the prompt mark `›` and the Z). Runs of the programs are interleaved.
- echo: keystroke-to-echo latency while a 10,000-token answer streams (paced, ~2,500
  tokens/s): a key every 50 ms, the time until the composer shows one more of it (p50/p99);
  first the same for a pane that only sleeps (the tty's own echo: the floor that tmux, the
  scheduler and this harness's polling set on this machine).
- throughput: a 10,000-token answer sent by the mock model as fast as it can; tokens divided
  by the time from the answer's first line to its last line on the screen.

The screen is read with `capture-pane` in a tight loop (each read costs ~2-4 ms, which bounds
the resolution). Needs the mock model of tests/support (run from the repository root).
"""

from __future__ import annotations

import argparse
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import mock_model as mm  # noqa: E402

WIDTH, HEIGHT = 100, 30
TOKENS = 10_000


class Pane:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.sock = f"bench-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.cwd = cwd
        self.t0 = time.perf_counter()
        self._tmux("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "b",
                   shlex.join(argv) + "; sleep 30")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args],
                              capture_output=True, text=True, env=self.env, cwd=self.cwd,
                              timeout=30).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "b")

    def keys(self, *k: str) -> None:
        self._tmux("send-keys", "-t", "b", *k)

    def wait(self, pred: Any, timeout: float = 30) -> float:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            s = self.screen()
            if pred(s):
                return time.perf_counter()
            time.sleep(0.002)
        raise TimeoutError(self.screen())

    def program_pid(self) -> int:
        """The program the pane runs (the child of the pane's `sh -c`)."""
        shell = self._tmux("display-message", "-p", "-t", "b", "#{pane_pid}").strip()
        out = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout
        return int(out.split()[0])

    def close(self) -> None:
        self._tmux("kill-server")


def composer_line(screen: str, ch: str) -> str | None:
    for line in screen.splitlines():
        if "›" in line and ch in line.split("›", 1)[1]:
            return line
    return None


def composer_count(screen: str, ch: str) -> int:
    """How many `ch` the composer shows: lines holding nothing but the prompt mark and `ch`
    (a long run wraps onto continuation lines, drawn by either program)."""
    n = 0
    for line in screen.splitlines():
        body = line.replace("›", "").strip()
        if body and body == ch * len(body):
            n += len(body)
    return n


def setup_home(tmp: Path, mock: mm.MockModel, repo: Path) -> tuple[Path, dict[str, str]]:
    """A CODEX_HOME both programs read alike: the mock as a custom provider (key from the
    environment), the repo trusted, and Codex's API-key login (auth.json)."""
    home = tmp / f"home-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\ncheck_for_update_on_startup = false\n'
        'preferred_auth_method = "apikey"\n'
        f'[projects.{json.dumps(str(repo))}]\ntrust_level = "trusted"\n'
        f'[model_providers.mock]\nname = "mock"\nbase_url = "{mock.url}"\n'
        'env_key = "OPENAI_API_KEY"\nwire_api = "responses"\n')
    (home / "auth.json").write_text('{"auth_mode": "apikey", "OPENAI_API_KEY": "sk-bench"}')
    env = dict(os.environ)
    env.pop("TMUX", None)
    env.update({"CODEX_HOME": str(home), "OPENAI_API_KEY": "sk-bench", "TERM": "xterm-256color"})
    return home, env


def bench_startup(name: str, argv: list[str], tmp: Path, mock: mm.MockModel, repo: Path,
                  runs: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"first_paint": [], "ready": []}
    for _ in range(runs):
        _home, env = setup_home(tmp, mock, repo)
        p = Pane(argv, env, repo)
        try:
            p.keys("Z")  # typed at launch; echoed by the composer once it runs
            # The program's own output: the tty itself echoes the Z while it is in cooked mode.
            t_paint = p.wait(lambda s: s.replace("Z", "").strip() != "")
            t_ready = p.wait(lambda s: composer_line(s, "Z") is not None)
            out["first_paint"].append((t_paint - p.t0) * 1000)
            out["ready"].append((t_ready - p.t0) * 1000)
        finally:
            p.close()
    return out


PROMPT = "stream please"


def streaming_reply(tokens: int, pace_s: float, end: str) -> mm.Reply:
    item = mm.message_item("")
    evs: list[Any] = [{"type": "response.created", "response": {"id": "r"}},
                      {"type": "response.output_item.added", "output_index": 0, "item": item}]
    deltas = [f"w{i % 1000:03d} " + ("\n" if i % 12 == 11 else "") for i in range(tokens)]
    deltas.append(f"\n{end}\n")
    evs += [{"type": "response.output_text.delta", "delta": d} for d in deltas]
    done_item = mm.message_item("".join(deltas))
    evs.append({"type": "response.output_item.done", "output_index": 0, "item": done_item})
    evs.append({"type": "response.completed", "response": {"id": "r", "usage": mm.USAGE}})
    return _PacedReply(events=evs, pace_s=pace_s)


class _PacedReply(mm.Reply):
    def __init__(self, events: list[Any], pace_s: float) -> None:
        super().__init__(events=events)
        self.pace_s = pace_s


def _patch_mock_pacing() -> None:
    """Let a reply sleep `pace_s` every 10 events (a steady stream instead of a burst)."""
    orig = mm.MockModel._serve

    def serve(self: mm.MockModel, h: Any, reply: mm.Reply) -> None:
        pace = getattr(reply, "pace_s", 0.0)
        if not pace:
            return orig(self, h, reply)
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        for i, ev in enumerate(reply.events):
            chunk = f"event: {ev['type']}\ndata: {json.dumps(ev)}\n\n".encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if i % 10 == 9:
                h.wfile.flush()
                time.sleep(pace)
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    mm.MockModel._serve = serve  # type: ignore[method-assign]


def script(mock: mm.MockModel, reply: mm.Reply) -> None:
    """`reply` answers the request that carries the user's prompt; any other request a
    program makes on the side (Codex: titles, memories) gets a short answer."""
    mock.default = mm.sse(mm.message_item("ok"))

    def pick(req: mm.Request) -> mm.Reply:
        return reply if PROMPT in json.dumps(req.body.get("input")) else mock.default

    mock.add(*[pick] * 20)


def echo_ms(p: Pane, count: int) -> float:
    """Type one more `q` and wait until the screen shows `count` of them: milliseconds."""
    t = time.perf_counter()
    p.keys("q")
    p.wait(lambda s: composer_count(s, "q") >= count, 10)
    return (time.perf_counter() - t) * 1000


def send_prompt(p: Pane) -> float:
    """Type the prompt and press Enter until the answer starts (Codex drops an Enter pressed
    while its start-up is still under way, even after it drew its footer); the time the
    answer's first line was seen."""
    p.keys("-l", PROMPT)
    for _ in range(10):
        p.keys("Enter")
        try:
            return p.wait(lambda s: "w000" in s, 3)
        except TimeoutError:
            continue
    raise TimeoutError(p.screen())


def bench_echo(argv: list[str], tmp: Path, mock: mm.MockModel, repo: Path) -> list[float]:
    """Keystroke-to-echo latencies (ms) while the answer streams (~4 s at 2,500 tokens/s)."""
    _home, env = setup_home(tmp, mock, repo)
    end = "END-OF-ANSWER"
    script(mock, streaming_reply(TOKENS, 0.004, end))
    p = Pane(argv, env, repo)
    lat: list[float] = []
    try:
        # Both footers name the model once the program takes a prompt (Codex ignores Enter
        # before its start-up is done).
        p.wait(lambda s: "›" in s and "mock-model" in s)
        send_prompt(p)
        p.wait(lambda s: "w005" in s)
        count = 0
        while True:
            s = p.screen()
            if end in s:
                break
            count += 1
            lat.append(echo_ms(p, count))
            time.sleep(0.05)
    finally:
        p.close()
    return lat


def bench_echo_floor(tmp: Path, n: int = 60) -> list[float]:
    """The same keystroke-to-echo measurement against the terminal's own echo (a pane whose
    program only sleeps: the tty echoes keys in the kernel): what tmux, the scheduler and this
    harness's polling cost on this machine, with no program in the loop."""
    env = dict(os.environ)
    env.pop("TMUX", None)
    p = Pane(["sleep", "600"], env, tmp)
    lat: list[float] = []
    try:
        p.wait(lambda s: True)
        for count in range(1, n + 1):
            lat.append(echo_ms(p, count))
            time.sleep(0.05)
    finally:
        p.close()
    return lat


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_throughput(argv: list[str], tmp: Path, mock: mm.MockModel,
                     repo: Path) -> tuple[float, float]:
    """(tokens/s from the first line to the last on screen, CPU seconds the program spent
    on the turn: independent of the machine's load)."""
    _home, env = setup_home(tmp, mock, repo)
    end = "END-OF-ANSWER"
    script(mock, streaming_reply(TOKENS, 0.0, end))
    p = Pane(argv, env, repo)
    try:
        # Both footers name the model once the program takes a prompt (Codex ignores Enter
        # before its start-up is done).
        p.wait(lambda s: "›" in s and "mock-model" in s)
        time.sleep(1.0)  # start-up work (engine import, session start) is not the turn's
        pid = p.program_pid()
        cpu0 = cpu_seconds(pid)
        t_first = send_prompt(p)
        t_last = p.wait(lambda s: end in s, 120)
        time.sleep(0.3)
        cpu = cpu_seconds(pid) - cpu0
    finally:
        p.close()
    return TOKENS / (t_last - t_first), cpu


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", help="the packaged codex (default: this checkout)")
    ap.add_argument("--codex", help="Codex's own binary, measured in the same run")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=COMMAND",
                    help="another program measured in the same run (e.g. an earlier "
                         "revision: before='env PYTHONPATH=/tmp/old python -m codex')")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--only", choices=["startup", "echo", "throughput"])
    args = ap.parse_args()
    ours = [args.binary] if args.binary else [sys.executable, "-m", "codex"]
    if os.environ.get("BENCH_OURS"):  # e.g. a profiling wrapper
        ours = shlex.split(os.environ["BENCH_OURS"])
    # --no-daemon: Codex's UI otherwise waits for its background app server, which it
    # downloads on first use (no network here).
    targets = [("ours", ours)] + ([("codex", [args.codex, "--no-daemon"])] if args.codex
                                  else [])
    for spec in args.extra:
        name, _, command = spec.partition("=")
        targets.append((name, shlex.split(command)))
    _patch_mock_pacing()
    with tempfile.TemporaryDirectory() as d, mm.MockModel() as mock:
        tmp = Path(d)
        repo = tmp / "repo"
        repo.mkdir()
        (repo / ".git").mkdir()
        if args.only in (None, "startup"):
            res = {name: {"first_paint": [], "ready": []} for name, _ in targets}
            for _ in range(args.runs):  # interleaved, so load changes hit both alike
                for name, argv in targets:
                    r = bench_startup(name, argv, tmp, mock, repo, 1)
                    for k, v in r.items():
                        res[name][k] += v
            for name, r in res.items():
                print(f"{name}: first paint median {statistics.median(r['first_paint']):.0f} ms"
                      f" (min {min(r['first_paint']):.0f}, max {max(r['first_paint']):.0f});"
                      f" ready composer median {statistics.median(r['ready']):.0f} ms"
                      f" (min {min(r['ready']):.0f}, max {max(r['ready']):.0f})", flush=True)
        if args.only in (None, "echo"):
            lat = bench_echo_floor(tmp)
            print(f"floor (the tty's own echo, no program): keystroke echo n={len(lat)} "
                  f"p50 {pct(lat, 0.5):.1f} ms p99 {pct(lat, 0.99):.1f} ms "
                  f"max {max(lat):.1f} ms", flush=True)
            for name, argv in targets:
                with mm.MockModel() as fresh:  # a server of its own: no reply left over
                    lat = bench_echo(argv, tmp, fresh, repo)
                print(f"{name}: keystroke echo while streaming {TOKENS:,} tokens: "
                      f"n={len(lat)} p50 {pct(lat, 0.5):.1f} ms p99 {pct(lat, 0.99):.1f} ms "
                      f"max {max(lat):.1f} ms", flush=True)
        if args.only in (None, "throughput"):
            for name, argv in targets:
                with mm.MockModel() as fresh:
                    tps, cpu = bench_throughput(argv, tmp, fresh, repo)
                print(f"{name}: render throughput {tps:,.0f} tokens/s "
                      f"({TOKENS:,} tokens, first line to last line on screen); "
                      f"CPU {cpu:.2f} s for the turn", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
