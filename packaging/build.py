#!/usr/bin/env python3
"""Build the single-file `codex` for this machine into dist/, archive it, and smoke-run it.

Steps: freeze (Nuitka standalone by default, or PyInstaller onedir with
`--freezer pyinstaller`) -> on Linux copy in the C library and its loader and rewire the tree
(packaging/selfcontain.py) -> compress the tree behind a small static launcher that unpacks
it once per version+payload into the user cache dir (packaging/launcher/launcher.c) ->
dist/codex-<triple>, codex-<triple>.tar.gz, codex-<triple>.zst, SHA256SUMS.

Run packaging/build_deps.py first (or `make dist`, which does) for the compilers and the
build venv. Usage: packaging/build.py [--freezer nuitka|pyinstaller] [--smoke]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The sibling scripts are imported by file name: a `packaging` package would shadow the
# PyPI `packaging` that pip and pytest import.
sys.path.insert(0, str(ROOT / "packaging"))
sys.path.insert(1, str(ROOT))

import archive  # noqa: E402
import freeze  # noqa: E402
import payload  # noqa: E402
import selfcontain  # noqa: E402

DEFAULT_FREEZER = "nuitka"  # measured: see BENCHMARKS.md "Packaged binary"
BUILD_VENV = ROOT / ".venv-build"
LAUNCHER_SRC = ROOT / "packaging" / "launcher" / "launcher.c"
# What the fingerprint covers: everything that changes the built file or its archives (not
# smoke.py, build_deps.py or the docs, so editing those does not force a rebuild).
FINGERPRINT_PATHS = ("codex", "pyproject.toml", "packaging/codex_main.py",
                     "packaging/freeze.py", "packaging/selfcontain.py", "packaging/payload.py",
                     "packaging/build.py", "packaging/archive.py", "packaging/launcher",
                     "packaging/requirements-build.txt")


def codex_version() -> str:
    ns: dict[str, str] = {}
    exec((ROOT / "codex" / "__init__.py").read_text(), ns)  # noqa: S102 - our own file
    return ns["__version__"]


def host_triple() -> str:
    from codex.platform_info import target_triple

    return target_triple()


def binary_name(triple: str) -> str:
    return f"codex-{triple}.exe" if "windows" in triple else f"codex-{triple}"


# The subset that decides the frozen tree (what --reuse-tree may skip re-freezing).
FREEZE_INPUTS = ("codex", "pyproject.toml", "packaging/codex_main.py", "packaging/freeze.py",
                 "packaging/selfcontain.py", "packaging/requirements-build.txt")


def source_fingerprint(paths: tuple[str, ...] = FINGERPRINT_PATHS) -> str:
    """A hash of every source file that goes into the binary (to reuse a fresh dist/)."""
    h = hashlib.sha256()
    for top in paths:
        base = ROOT / top
        files = [base] if base.is_file() else sorted(
            p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for p in files:
            h.update(p.relative_to(ROOT).as_posix().encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def build_python() -> str:
    """The interpreter that freezes: the build venv (Debian's Python), else this one."""
    candidate = BUILD_VENV / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def compile_launcher(out: Path, version: str, pid: str, program_rel: str,
                     interp_rel: str) -> Path:
    cc = os.environ.get("CC", "gcc")
    defines = [f'-DCODEX_VERSION="{version}"', f'-DPAYLOAD_ID="{pid}"',
               f'-DPROGRAM_REL="{program_rel}"', f'-DINTERP_REL="{interp_rel}"']
    if sys.platform.startswith("linux"):
        link = ["-static", "-Wl,--build-id=none", "-l:libzstd.a"]
    else:
        # macOS has no static libc, but libzstd must not be a dependency of the file:
        # link Homebrew's static archive (brew install zstd).
        static = [Path(p) / "lib" / "libzstd.a" for p in ("/opt/homebrew", "/usr/local")]
        found = [str(p) for p in static if p.exists()]
        link = [found[0], f"-I{Path(found[0]).parent.parent / 'include'}"] if found else [
            "-lzstd"]
    subprocess.run([cc, "-O2", "-s", "-Wall", "-Wextra", *defines, "-o", str(out),
                    str(LAUNCHER_SRC), *link], check=True)
    return out


def build(freezer: str, work: Path, out_dir: Path, reuse_tree: bool = False) -> dict:
    """Freeze, make self-contained, assemble and archive. Returns the build info."""
    version, triple = codex_version(), host_triple()
    # Before freezing: edits made while the build runs must not count as built.
    fingerprint = source_fingerprint()
    tree_fingerprint = source_fingerprint(FREEZE_INPUTS)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    python = build_python()
    stage = work / "stage"
    if reuse_tree and stage.exists():
        frozen = freeze.FrozenTree(freezer, stage, "codex", stage, 0.0)
        print(f"build: reusing {stage}")
        info_prev = json.loads((work / "stage.json").read_text())
        if info_prev.get("tree_fingerprint") != source_fingerprint(FREEZE_INPUTS):
            raise SystemExit("build: the sources changed since this tree was frozen; "
                             "build without --reuse-tree")
        program_rel, interp_rel = info_prev["program_rel"], info_prev["interp_rel"]
        patches = {k: tuple(v) for k, v in info_prev["patches"].items()}
        freeze_s = 0.0
    else:
        print(f"build: freezing with {freezer} ({python})", flush=True)
        frozen = freeze.freeze(freezer, python, work)
        freeze_s = frozen.seconds
        shutil.rmtree(stage, ignore_errors=True)
        shutil.copytree(frozen.tree, stage, symlinks=True)
        program_rel = frozen.program_rel
        lib_dir = stage / frozen.lib_dir.relative_to(frozen.tree)
        interp_rel, patches = "", {}
        if sys.platform.startswith("linux"):
            sc = selfcontain.make_self_contained(stage, lib_dir)
            interp_rel = sc.interp_rel
            patches = {p.rel_path: (p.offset, p.capacity) for p in sc.patches}
            print(f"build: bundled {', '.join(sc.system_libs)}")
        (work / "stage.json").write_text(json.dumps(
            {"program_rel": program_rel, "interp_rel": interp_rel, "patches": patches,
             "tree_fingerprint": tree_fingerprint}))
    t1 = time.monotonic()
    compressed = payload.compress(payload.records(stage, patches))
    pid = payload.payload_id(compressed)
    launcher = compile_launcher(work / "launcher", version, pid, program_rel, interp_rel)
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / binary_name(triple)
    payload.assemble(launcher, compressed, pid, binary)
    assets = archive.make_assets(binary, out_dir)
    t2 = time.monotonic()
    tree_bytes = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file())
    info = {
        "version": version,
        "triple": triple,
        "freezer": freezer,
        "payload_id": pid,
        "fingerprint": fingerprint,
        "binary": binary.name,
        "binary_bytes": binary.stat().st_size,
        "tree_bytes": tree_bytes,
        "archive_bytes": assets[0].stat().st_size,
        "freeze_seconds": round(freeze_s, 1),
        "package_seconds": round(t2 - t1, 1),
        "total_seconds": round(t2 - t0, 1),
    }
    (out_dir / f"{binary.name}.buildinfo.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"build: {binary} ({info['binary_bytes'] / 1e6:.1f} MB, tree "
          f"{tree_bytes / 1e6:.1f} MB, {info['total_seconds']} s)")
    for a in assets:
        print(f"build: {a}")
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--freezer", choices=freeze.FREEZERS, default=DEFAULT_FREEZER,
                    help=f"which freezer makes the program tree (default {DEFAULT_FREEZER})")
    ap.add_argument("--out", type=Path, default=ROOT / "dist", help="output dir (dist/)")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "packaging",
                    help="scratch dir for the freezer (build/packaging/)")
    ap.add_argument("--reuse-tree", action="store_true",
                    help="skip freezing; repackage the last staged tree")
    ap.add_argument("--smoke", action="store_true",
                    help="afterwards run the packaged file (packaging/smoke.py)")
    args = ap.parse_args()
    info = build(args.freezer, args.work / args.freezer, args.out, reuse_tree=args.reuse_tree)
    if args.smoke:
        import smoke

        return smoke.run_smoke(args.out / info["binary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
