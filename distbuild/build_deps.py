"""Install what building the single file needs: system packages and the build venv.

System (Debian/Ubuntu, installed with apt-get when running as root, else listed with the
command to run): a C compiler with static libc and libzstd (the launcher), zstd (payload and
.zst asset), patchelf (rewiring the frozen tree), ccache (faster Nuitka rebuilds),
python3-venv and python3-dev (Debian's Python freezes: its extension modules carry no
RUNPATH and Nuitka needs its headers).
Python: the build venv (.venv-build/, or $CODEX_BUILD_VENV) made with that interpreter, holding
the freezers pinned in distbuild/requirements-build.txt and every runtime dependency that
pyproject.toml declares (pinned there too when a pin exists: the pins are constraints, so a
dependency added to pyproject.toml is installed, and frozen, without further edits).

For a Linux target of another CPU (`--target aarch64-unknown-linux-musl` on x86_64) also
qemu-user-static, mmdebstrap and arch-test: that target is built in an emulated Debian root
(distbuild/emulated_root.py), which gets its own copy of all of the above.

Usage: python -m distbuild.build_deps [--target TRIPLE] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("CODEX_BUILD_VENV") or ROOT / ".venv-build")
REQUIREMENTS = ROOT / "distbuild" / "requirements-build.txt"
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


# Host packages an emulated (other-CPU Linux) build needs: tool -> Debian package.
EMULATION_TOOLS = {"qemu-aarch64-static": "qemu-user-static", "mmdebstrap": "mmdebstrap",
                   "arch-test": "arch-test", "unshare": "util-linux"}


def missing_emulation_packages() -> list[str]:
    return sorted({pkg for tool, pkg in EMULATION_TOOLS.items() if not shutil.which(tool)})


def _emulated(target: str | None) -> bool:
    if not target or "linux" not in target or not sys.platform.startswith("linux"):
        return False
    arch = {"arm64": "aarch64", "amd64": "x86_64"}.get(os.uname().machine, os.uname().machine)
    return target.split("-", 1)[0] != arch


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


def runtime_requirements() -> list[str]:
    """pyproject.toml's [project] dependencies (markers kept: pip evaluates them)."""
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"].get("dependencies", []))


def _pinned_names() -> set[str]:
    names = set()
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            names.add(_normalise(line.split("==", 1)[0]))
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def unpinned_runtime(python: str) -> list[str]:
    """Runtime dependencies (their markers evaluated by `python`, the build venv's, which has
    PyPI's `packaging`) with no exact pin in requirements-build.txt: built, but not
    reproducibly (their newest release is taken)."""
    pinned = _pinned_names()
    code = ("import sys; from packaging.requirements import Requirement as R\n"
            "for r in sys.argv[1:]:\n"
            "    m = R(r).marker\n"
            "    print(int(m is None or m.evaluate()))")
    wanted = runtime_requirements()
    out = subprocess.run([python, "-c", code, *wanted], capture_output=True, text=True,
                         check=True).stdout.split()
    return [r for r, applies in zip(wanted, out, strict=True) if applies == "1"
            and _normalise(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) not in pinned]


def ensure_venv() -> None:
    stamp = VENV / ".installed"
    wanted = runtime_requirements()
    want = hashlib.sha256(REQUIREMENTS.read_bytes() + "\n".join(wanted).encode()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == want:
        return
    if not (VENV / "bin" / "python").exists():
        subprocess.run([build_python(), "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    # The pins are the requirements (freezers) and constraints (runtime): what pyproject.toml
    # declares is what gets installed, and frozen.
    subprocess.run([*pip, "-r", str(REQUIREMENTS), "-c", str(REQUIREMENTS), *wanted],
                   check=True)
    for req in unpinned_runtime(str(VENV / "bin" / "python")):
        print(f"build_deps: note: {req!r} has no pin in {REQUIREMENTS.name}; "
              "builds take its newest release", flush=True)
    stamp.write_text(want + "\n")
    print(f"build_deps: {VENV} ready")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--check", action="store_true", help="only report what is missing")
    ap.add_argument("--target", help="the triple to build (default: this machine's)")
    args = ap.parse_args()
    missing = missing_apt_packages() if sys.platform.startswith("linux") else []
    if _emulated(args.target):
        missing += missing_emulation_packages()
    if args.check:
        print("missing system packages: " + (" ".join(missing) or "none"))
        return 1 if missing else 0
    if missing:
        install_apt(missing)
    ensure_venv()
    return 0


if __name__ == "__main__":
    sys.exit(main())
