"""Freeze codex into a directory tree with PyInstaller (onedir) or Nuitka (standalone).

Both give a folder with one program and its libraries; distbuild/build.py turns that into the
single file. Every module under codex/ is included (subcommands are imported lazily through
importlib, which neither freezer can see). So is, whole, every package of every distribution
that pyproject.toml's [project] dependencies pull in (the closure, markers evaluated for the
build machine): their submodules, data files (the CA bundle in certifi) and metadata
(for `importlib.metadata.version()`). A dependency added to pyproject.toml is therefore frozen
without an edit here; it only has to be installed in the build venv, which
`distbuild.build_deps` does from the same list.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "distbuild" / "codex_main.py"
FREEZERS = ("nuitka", "pyinstaller")
# Installed only as dependencies (pyjwt[crypto] of the mcp SDK) and never imported by codex;
# left out, or requests' optional pyOpenSSL path would freeze ~10 MB of cryptography.
NOT_FROZEN = ("cryptography", "jwt")
# Submodules of frozen packages that need an extra codex does not install and never imports:
# `mcp.cli` (the SDK's own `mcp` command) exits the interpreter when `typer` is missing, which
# stopped PyInstaller's submodule collection (it imports every submodule to list them).
UNUSED_SUBMODULES = ("mcp.cli",)
# Packages Nuitka includes as bytecode instead of compiling to C: off every hot path (the MCP
# SDK and its pydantic/HTTP-server stack, run once per server start or call; pygments, whose
# ~340 lexer modules are data tables the UI loads one at a time). They were ~60 % of the C
# files of the build, and its compile time on two cores; Nuitka already does the same for
# `rich`. What stays compiled: codex itself, the wire (requests, urllib3, websockets,
# pybase64) and the UI's renderer (prompt_toolkit, markdown_it).
NUITKA_BYTECODE = ("pygments", "mcp", "pydantic", "pydantic_core", "pydantic_settings",
                   "anyio", "uvicorn", "starlette", "sse_starlette", "httpx", "httpcore",
                   "httpx_sse", "h11", "jsonschema", "jsonschema_specifications",
                   "referencing", "rpds", "attr", "attrs", "click", "dotenv", "multipart",
                   "python_multipart", "annotated_types", "typing_inspection")
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


@dataclass(frozen=True)
class Dependencies:
    """What the freezers must take whole: import names and distribution names."""

    packages: tuple[str, ...]  # import packages (directories), codex first
    modules: tuple[str, ...]  # top-level single-file modules (e.g. `six`)
    distributions: tuple[str, ...]  # for their metadata


# Runs in the build interpreter: the closure of pyproject.toml's dependencies over what is
# installed there, as JSON. `packaging` (PyPI) is in the build venv for the freezers.
_CLOSURE = r"""
import importlib.metadata as md, importlib.util, json, sys, tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

not_frozen = set(sys.argv[2:])
with open(sys.argv[1], "rb") as f:
    todo = [Requirement(r) for r in tomllib.load(f)["project"].get("dependencies", [])]
seen, missing, tops = {}, [], set()
while todo:
    req = todo.pop()
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    key = canonicalize_name(req.name)
    if key in seen:
        continue
    try:
        dist = md.distribution(req.name)
    except md.PackageNotFoundError:
        missing.append(req.name)
        continue
    names = set((dist.read_text("top_level.txt") or "").split())
    if not names:
        for f in dist.files or ():
            first = f.parts[0]
            if len(f.parts) == 1 and first.endswith(".py"):
                names.add(first[:-3])
            elif len(f.parts) > 1 and first not in ("..", "__pycache__", "bin") and \
                    not first.endswith((".dist-info", ".egg-info", ".data")):
                names.add(first)
    if names and names <= not_frozen:
        continue  # left out with what it alone pulls in (see NOT_FROZEN)
    seen[key] = dist.metadata["Name"]
    tops.update(n for n in names if n.isidentifier())
    todo.extend(Requirement(r) for r in dist.requires or ())
packages, modules = [], []
for name in sorted(tops):
    if name in sys.builtin_module_names:
        continue
    spec = importlib.util.find_spec(name)
    if spec is None:
        continue
    (packages if spec.submodule_search_locations is not None else modules).append(name)
print(json.dumps({"packages": packages, "modules": modules,
                  "distributions": sorted(seen.values()), "missing": missing}))
"""


def dependencies(python: str, pyproject: Path = ROOT / "pyproject.toml") -> Dependencies:
    """The packages to freeze whole, found by `python` from pyproject.toml's dependencies.

    Raises RuntimeError naming any declared dependency not installed for `python` (run
    `python -m distbuild.build_deps`)."""
    out = subprocess.run([python, "-c", _CLOSURE, str(pyproject), *NOT_FROZEN],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    found = json.loads(out)
    if found["missing"]:
        raise RuntimeError(f"not installed for {python}: {', '.join(found['missing'])} "
                           "(pyproject.toml dependencies; run python -m distbuild.build_deps)")
    return Dependencies(("codex", *found["packages"]), tuple(found["modules"]),
                        tuple(found["distributions"]))


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


# Runs in the build interpreter: every module under the given packages, found from their files
# (nothing imported, so a submodule needing an absent extra costs nothing), less the excluded
# prefixes and test folders.
_SUBMODULES = r"""
import importlib.machinery, importlib.util, os, sys
pkgs, excluded = sys.argv[1].split(","), tuple(sys.argv[2].split(","))
suffixes = tuple(importlib.machinery.all_suffixes())
def skip(name):
    parts = name.split(".")
    return "tests" in parts or "__pycache__" in parts or any(
        name == e or name.startswith(e + ".") for e in excluded)
for pkg in pkgs:
    spec = importlib.util.find_spec(pkg)
    print(pkg)
    for base in spec.submodule_search_locations or ():
        for dirpath, dirnames, filenames in os.walk(base):
            rel = os.path.relpath(dirpath, base)
            prefix = pkg if rel == "." else pkg + "." + rel.replace(os.sep, ".")
            dirnames[:] = sorted(d for d in dirnames if d.isidentifier()
                                 and not skip(prefix + "." + d))
            if rel != "." and not prefix.split(".")[-1].isidentifier():
                continue
            for f in sorted(filenames):
                stem = f.split(".")[0]
                if not f.endswith(suffixes) or not stem.isidentifier():
                    continue
                name = prefix if stem == "__init__" else prefix + "." + stem
                if not skip(name):
                    print(name)
"""


def submodules(python: str, packages: tuple[str, ...]) -> list[str]:
    """Every module name under `packages` for `python`, found from files, less
    UNUSED_SUBMODULES and tests (sorted, unique)."""
    out = subprocess.run([python, "-c", _SUBMODULES, ",".join(packages),
                          ",".join(UNUSED_SUBMODULES)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return sorted(set(out.split()))


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
    deps = dependencies(python)
    # Hidden imports listed from files rather than --collect-submodules, which imports each
    # submodule in the build interpreter (see UNUSED_SUBMODULES).
    for mod in submodules(python, deps.packages):
        args += ["--hidden-import", mod]
    for pkg in deps.packages:
        if pkg != "codex":
            args += ["--collect-data", pkg]
    for mod in deps.modules:
        args += ["--hidden-import", mod]
    for dist in deps.distributions:
        args += ["--copy-metadata", dist]
    for mod in (*NOT_FROZEN, *UNUSED_SUBMODULES):
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
    deps = dependencies(python)
    for pkg in deps.packages:
        args.append(f"--include-package={pkg}")
        if pkg != "codex":
            args.append(f"--include-package-data={pkg}")
    for mod in deps.modules:
        args.append(f"--include-module={mod}")
    for dist in deps.distributions:
        args.append(f"--include-distribution-metadata={dist}")
    args += [f"--noinclude-custom-mode={pkg}:bytecode" for pkg in NUITKA_BYTECODE
             if pkg in deps.packages]
    # Nuitka 4.3's bytecode cache breaks the second build of a bytecode package that a plugin
    # hooks (anyio's preload trigger comes back from the cache uncompiled, and Nuitka calls
    # getCompilationMode() on it: AttributeError). Without it a rebuild recompiles those
    # modules to bytecode (seconds); the C compile cache (ccache) is unaffected.
    args.append("--disable-cache=bytecode")
    args.append("--nofollow-import-to=*.tests")  # certifi.tests would pull in unittest
    args += [f"--nofollow-import-to={mod}" for mod in (*NOT_FROZEN, *UNUSED_SUBMODULES)]
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
