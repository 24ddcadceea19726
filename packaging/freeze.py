"""Freeze codex into a directory tree with PyInstaller (onedir) or Nuitka (standalone).

Both give a folder with one program and its libraries; packaging/build.py turns that into the
single file. Every module under codex/ is included (subcommands are imported lazily through
importlib, which neither freezer can see), as are the CA bundle (certifi) and the packages
that are only imported inside functions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "packaging" / "codex_main.py"
FREEZERS = ("nuitka", "pyinstaller")
# Imported lazily or only by code paths the freezers cannot follow from the entry point.
PACKAGES = ("codex", "websockets", "requests", "urllib3", "certifi", "ptyprocess",
            "platformdirs", "tomli_w", "idna", "charset_normalizer")
# Installed only as dependencies (pyjwt[crypto] of the mcp SDK) and never imported by codex;
# left out, or requests' optional pyOpenSSL path would freeze ~10 MB of cryptography.
NOT_FROZEN = ("cryptography", "jwt")
# Stdlib modules codex reaches only through lazy imports (PTY and terminal handling, TLS,
# process control); listed so a subcommand never meets ModuleNotFoundError when frozen.
STDLIB = ("pty", "tty", "termios", "fcntl", "resource", "select", "selectors", "ssl",
          "asyncio", "json", "tomllib", "shlex", "signal", "socket", "uuid", "hashlib",
          "secrets", "base64", "zipfile", "tarfile", "gzip", "difflib", "fnmatch", "glob",
          "locale", "getpass", "logging.handlers", "concurrent.futures", "unicodedata", "zlib",
          "queue", "textwrap", "struct", "mmap", "string", "dataclasses", "contextlib")


@dataclass(frozen=True)
class FrozenTree:
    """A freezer's output: `tree` holds `program` and the libraries beside it in `lib_dir`."""

    freezer: str
    tree: Path
    program_rel: str
    lib_dir: Path
    seconds: float


def _present(names: tuple[str, ...], python: str) -> list[str]:
    """The names importable by the build interpreter (optional stdlib parts may be absent),
    less those built into it (nothing to include)."""
    code = (
        "import importlib.util,sys\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n"
        "        ok = n not in sys.builtin_module_names and "
        "importlib.util.find_spec(n) is not None\n"
        "    except ImportError:\n"
        "        ok = False\n"
        "    print(n if ok else '')\n"
    )
    out = subprocess.run([python, "-c", code, *names], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    return [n for n in out.split() if n]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONHASHSEED"] = "0"  # reproducible bytecode and set orderings
    env.setdefault("SOURCE_DATE_EPOCH", "0")
    return env


def freeze_pyinstaller(python: str, work: Path) -> FrozenTree:
    out = work / "pyinstaller"
    shutil.rmtree(out, ignore_errors=True)
    args = [python, "-m", "PyInstaller", "--onedir", "--noconfirm", "--clean", "--log-level",
            "WARN", "--name", "codex", "--paths", str(ROOT),
            "--distpath", str(out / "dist"), "--workpath", str(out / "build"),
            "--specpath", str(out), "--optimize", "1"]
    for pkg in _present(PACKAGES, python):
        args += ["--collect-submodules", pkg]
    args += ["--collect-data", "certifi"]
    for mod in NOT_FROZEN:
        args += ["--exclude-module", mod]
    for mod in _present(STDLIB, python):
        args += ["--hidden-import", mod]
    t0 = time.monotonic()
    subprocess.run([*args, str(ENTRY)], check=True, cwd=ROOT, env=_env())
    tree = out / "dist" / "codex"
    return FrozenTree("pyinstaller", tree, "codex", tree / "_internal",
                      time.monotonic() - t0)


def freeze_nuitka(python: str, work: Path, jobs: int | None = None) -> FrozenTree:
    out = work / "nuitka"
    shutil.rmtree(out, ignore_errors=True)
    args = [python, "-m", "nuitka", "--mode=standalone", "--assume-yes-for-downloads",
            f"--output-dir={out}", "--output-filename=codex", "--lto=no",
            "--python-flag=no_site", "--python-flag=isolated", "--python-flag=no_docstrings",
            "--quiet", "--no-progressbar",
            # Deployment mode: without it Nuitka refuses argv holding "-c" (it takes that
            # for a program re-running itself as `python -c`), and `codex -c key=value` is ours.
            "--deployment"]
    if jobs:
        args.append(f"--jobs={jobs}")
    for pkg in _present(PACKAGES, python):
        args.append(f"--include-package={pkg}")
    args.append("--nofollow-import-to=*.tests")  # certifi.tests would pull in unittest
    args += [f"--nofollow-import-to={mod}" for mod in NOT_FROZEN]
    for mod in _present(STDLIB, python):
        args.append(f"--include-module={mod}")
    t0 = time.monotonic()
    subprocess.run([*args, str(ENTRY)], check=True, cwd=ROOT, env=_env(),
                   stdin=subprocess.DEVNULL)
    tree = out / "codex_main.dist"
    return FrozenTree("nuitka", tree, "codex", tree, time.monotonic() - t0)


def freeze(freezer: str, python: str, work: Path) -> FrozenTree:
    if freezer == "pyinstaller":
        return freeze_pyinstaller(python, work)
    if freezer == "nuitka":
        return freeze_nuitka(python, work)
    raise ValueError(f"unknown freezer {freezer!r} (choose from {', '.join(FREEZERS)})")
