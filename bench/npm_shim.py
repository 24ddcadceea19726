#!/usr/bin/env python3
"""What the npm shim costs: `codex --version` through an npm install vs. the binary itself.

Usage: python bench/npm_shim.py [--runs N]
Packages dist/ (the frozen build when present, else the stand-in), publishes to a local
Verdaccio, `npm install -g`s it into a temp prefix, then times both commands interleaved, so
machine noise hits both alike. Also times the one-off fallback fetch of a missing platform
package.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ci import local_registry, standin  # noqa: E402
from codex import platform_info, release_settings  # noqa: E402
from installers.targets import target  # noqa: E402


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env=env)
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    host = target(platform_info.target_triple())
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        dist = tmp / "dist"
        dist.mkdir()
        real = ROOT / "dist" / host.archive_name
        if real.is_file():
            shutil.copyfile(real, dist / host.archive_name)
        else:
            standin.write_archives(dist, host, standin.standin_program())
        subprocess.run([sys.executable, "-m", "ci.release", "--dist", str(dist),
                        "package", "--allow-missing"], check=True, capture_output=True, cwd=ROOT)
        with local_registry.running(tmp / "registry") as reg:
            env = reg.npm_env()
            manifest = json.loads((dist / "npm" / "manifest.json").read_text())
            for entry in manifest["publish"]:  # platform versions first, root last
                subprocess.run(["npm", "publish", str(dist / "npm" / entry["tarball"]),
                                "--tag", entry["tag"] or "latest"],
                               check=True, capture_output=True, env=env)
            prefix = tmp / "prefix"
            subprocess.run(["npm", "install", "-g", "--prefix", str(prefix),
                            release_settings.NPM_PACKAGE], check=True, capture_output=True,
                           env=env)
            pkg = (prefix / "lib/node_modules" / release_settings.NPM_PACKAGE / "node_modules"
                   / f"{release_settings.NPM_PACKAGE}-{host.npm_suffix}")
            binary = pkg / "vendor" / host.triple / "bin" / "codex"
            shim = prefix / "bin" / "codex"
            for _ in range(3):  # warm caches (and the frozen binary's unpack-once)
                timed([str(binary), "--version"])
                timed([str(shim), "--version"], env)
            direct, through, node = [], [], []
            for _ in range(args.runs):
                direct.append(timed([str(binary), "--version"]))
                through.append(timed([str(shim), "--version"], env))
                node.append(timed(["node", "-e", "0"]))
            shutil.rmtree(pkg)
            fetch = timed([str(shim), "--version"], env)
    kind = "frozen" if real.is_file() else "stand-in"
    d, t = statistics.median(direct), statistics.median(through)
    print(f"binary ({kind}) --version: median {d:.1f} ms")
    print(f"through npm shim --version: median {t:.1f} ms (+{t - d:.1f} ms, {t / d:.2f}x)")
    print(f"bare `node -e 0`: median {statistics.median(node):.1f} ms (the floor of any shim)")
    print(f"first run with the platform package missing (fetch+verify+unpack): {fetch:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
