#!/usr/bin/env python3
"""Install what building the single file needs: system packages and the build venv.

System (Debian/Ubuntu, installed with apt-get when running as root, else listed with the
command to run): a C compiler with static libc and libzstd (the launcher), zstd (payload and
.zst asset), patchelf (rewiring the frozen tree), ccache (faster Nuitka rebuilds),
python3-venv and python3-dev (Debian's Python freezes: its extension modules carry no
RUNPATH and Nuitka needs its headers).
Python: .venv-build/ made with that interpreter, holding packaging/requirements-build.txt.

Usage: packaging/build_deps.py [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-build"
REQUIREMENTS = ROOT / "packaging" / "requirements-build.txt"
SYSTEM_PYTHON = "/usr/bin/python3"


def _multiarch() -> str:
    out = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else (
        f"{os.uname().machine}-linux-gnu")


def missing_apt_packages() -> list[str]:
    """Debian package names for whatever of the toolchain is not installed."""
    missing = []
    if not shutil.which("gcc"):
        return ["gcc", "libc6-dev", "libzstd-dev", "zstd", "patchelf", "ccache",
                "python3-venv", "python3-dev"]
    lib = Path("/usr/lib") / _multiarch()
    checks = [
        ("libc6-dev", (lib / "libc.a").exists()),
        ("libzstd-dev", (lib / "libzstd.a").exists()),
        ("zstd", shutil.which("zstd") is not None),
        ("patchelf", shutil.which("patchelf") is not None),
        # Nuitka uses it when present: a rebuild recompiles only the modules that changed.
        ("ccache", shutil.which("ccache") is not None),
    ]
    if Path(SYSTEM_PYTHON).exists():
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import ensurepip, sysconfig, os, sys; "
             "sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()['include'], "
             "'Python.h')) else 3)"], capture_output=True)
        checks.append(("python3-venv", probe.returncode != 1))
        checks.append(("python3-dev", probe.returncode != 3))
    else:
        checks += [("python3", False), ("python3-venv", False), ("python3-dev", False)]
    missing += [name for name, ok in checks if not ok]
    return missing


def install_apt(packages: list[str]) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("build_deps: missing system packages; run:\n"
                 f"  sudo apt-get update && sudo apt-get install -y {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"build_deps: apt-get install {' '.join(packages)}", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def build_python() -> str:
    return SYSTEM_PYTHON if Path(SYSTEM_PYTHON).exists() else sys.executable


def ensure_venv() -> None:
    stamp = VENV / ".installed"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == want:
        return
    if not (VENV / "bin" / "python").exists():
        subprocess.run([build_python(), "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(want + "\n")
    print(f"build_deps: {VENV} ready")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--check", action="store_true", help="only report what is missing")
    args = ap.parse_args()
    missing = missing_apt_packages() if sys.platform.startswith("linux") else []
    if args.check:
        print("missing system packages: " + (" ".join(missing) or "none"))
        return 1 if missing else 0
    if missing:
        install_apt(missing)
    ensure_venv()
    return 0


if __name__ == "__main__":
    sys.exit(main())
