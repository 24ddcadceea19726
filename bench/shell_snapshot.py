#!/usr/bin/env python3
"""Login-shell benchmark: `exec_command true` with a heavy login profile, snapshot vs `-lc`.

Usage: python bench/shell_snapshot.py [--calls N] [--profile-ms MS]

A throw-away HOME gets a `.bash_profile` that costs about `--profile-ms` (a sleep, plus the
exports and functions a pyenv/nvm profile defines). The same UnifiedExecManager over the local
backend then runs `exec_command {"cmd": "true"}` N times each way, side by side in one run:
plainly (`bash -lc true`, the profile read every time) and through the session's snapshot
(`bash -c '. SNAPSHOT` + `true'`). The snapshot's one-off build is reported separately.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codex.core.shell_snapshot import ShellSnapshots  # noqa: E402
from codex.exec_server.local import LocalBackend  # noqa: E402
from codex.unified_exec import UnifiedExecManager  # noqa: E402

PROFILE = """\
sleep {seconds}
export PYENV_ROOT="$HOME/.pyenv" NVM_DIR="$HOME/.nvm" PATH="$HOME/.local/bin:$PATH"
pyenv() {{ echo "pyenv $*"; }}
nvm() {{ echo "nvm $*"; }}
alias ll='ls -l'
"""


async def _calls(manager: UnifiedExecManager, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await manager.exec_command({"cmd": "true"})
        out.append(time.perf_counter() - t0)
        assert r.exit_code == 0, r.text
    return out


async def run(n: int, profile_ms: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / ".bash_profile").write_text(PROFILE.format(seconds=profile_ms / 1000))
        env = {**os.environ, "HOME": str(home), "SHELL": "/bin/bash"}
        os.environ["SHELL"] = "/bin/bash"
        warnings: list[str] = []
        snaps = ShellSnapshots(directory=Path(tmp) / "snapshots", session_id="bench", env=env,
                               cwd=lambda: tmp, sandbox=lambda: None, warn=warnings.append)
        plain = UnifiedExecManager(LocalBackend(), cwd=tmp, env=env)
        snapped = UnifiedExecManager(LocalBackend(), cwd=tmp, env=env,
                                     command_argv=snaps.argv)
        try:
            t0 = time.perf_counter()
            await snaps.snapshot("/bin/bash")
            build = time.perf_counter() - t0
            assert not warnings, warnings
            lc, snap = [], []
            for _ in range(n // 5 or 1):  # interleaved, so load on the machine hits both
                lc += await _calls(plain, 5)
                snap += await _calls(snapped, 5)
        finally:
            await plain.shutdown()
            await snapped.shutdown()
            snaps.delete()
    m_lc, m_snap = statistics.median(lc), statistics.median(snap)
    print(f"profile cost ~{profile_ms} ms; {len(lc)} calls each way (medians)")
    print(f"exec_command true, bash -lc:        {m_lc * 1000:8.1f} ms")
    print(f"exec_command true, snapshot:        {m_snap * 1000:8.1f} ms")
    print(f"speed-up:                           {m_lc / m_snap:8.1f}x")
    print(f"snapshot build (once per session):  {build * 1000:8.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--profile-ms", type=int, default=120)
    args = ap.parse_args()
    asyncio.run(run(args.calls, args.profile_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
