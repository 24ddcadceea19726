"""Prove the README's set-up on a fresh machine: a clean Debian root, a fresh clone, its commands.

Makes a minimal Debian bookworm root for this machine's CPU with mmdebstrap, holding only what
the README asks for (Python 3.11 and make; git to clone, ca-certificates for HTTPS), enters it
with pivot_root in a private mount namespace (so the host's tools are out of reach and user
namespaces work as on a real machine), clones the checkout's HEAD into it and runs the given
commands there — by default `make dist && make test`, exactly what a new user runs. Nothing
else is installed beforehand: each command must install what it needs itself. The root is
deleted afterwards unless --keep.

Needs root (mmdebstrap, mounts). Usage: python -m ci.fresh_machine [--keep] [-- COMMAND...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distbuild import emulated_root

ROOT = Path(__file__).resolve().parent.parent
# What the README's set-up section assumes a machine has.
PREREQUISITES = ("python3", "make", "git", "ca-certificates", "mount")
DEFAULT_COMMAND = "make dist && make test"
CLONE = "/work/codex"  # where the fresh clone goes inside the root


def make_root(target: Path) -> None:
    arch = emulated_root.DEBIAN_ARCH[os.uname().machine]
    subprocess.run(["mmdebstrap", "--variant=minbase", f"--arch={arch}",
                    f"--include={','.join(PREREQUISITES)}", emulated_root.SUITE, str(target),
                    *emulated_root.MIRRORS], check=True, stdin=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--keep", action="store_true", help="keep the root afterwards")
    ap.add_argument("--root", type=Path, help="use (or make) the root here")
    ap.add_argument("command", nargs="*", help=f"shell command (default: {DEFAULT_COMMAND})")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("fresh_machine: needs root (mmdebstrap, mount namespaces)")
    base = args.root or Path(tempfile.mkdtemp(prefix="codex-fresh-machine-", dir="/var/tmp"))
    t0 = time.monotonic()
    try:
        if not (base / "usr" / "bin" / "python3").exists():
            if base.exists():
                base.rmdir()
            make_root(base)
        print(f"fresh_machine: root {base} ready in {time.monotonic() - t0:.0f} s", flush=True)
        # A fresh clone of what is committed (not the working tree's dist/, .venv ...), made
        # from here: the checkout may be a worktree whose repository lies outside it.
        # Not under /root (mode 0700): the sandbox tests run codex from the checkout as the
        # user nobody, as on a machine where the checkout is readable (CI's is).
        clone = base / CLONE.lstrip("/")
        shutil.rmtree(clone, ignore_errors=True)
        clone.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        script = (f"set -e; cd {CLONE}; git log --oneline -1; "
                  + (" ".join(args.command) or DEFAULT_COMMAND))
        t1 = time.monotonic()
        r = emulated_root.run(base, ["/bin/bash", "-c", script], cwd="/root", pivot=True,
                              check=False, env={"CI": "true"})
        print(f"fresh_machine: `{' '.join(args.command) or DEFAULT_COMMAND}` exited "
              f"{r.returncode} after {time.monotonic() - t1:.0f} s", flush=True)
        return r.returncode
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
