"""Build the single-file `codex` for a Linux or macOS target into dist/, archive it, smoke-run it.

Steps: freeze (Nuitka standalone or PyInstaller onedir) -> on Linux copy in the C library and
its loader and rewire the tree (distbuild/selfcontain.py) -> compress the tree behind a small
static launcher that unpacks it once per version+payload into the user cache dir
(distbuild/launcher/launcher.c) -> dist/codex-<triple>, codex-<triple>.tar.gz,
codex-<triple>.zst, SHA256SUMS (over every target's assets in dist/).

The target defaults to this machine's. Another Linux architecture (`--target
aarch64-unknown-linux-musl` on x86_64) is built inside a cached Debian root of that
architecture run under qemu-user (distbuild/emulated_root.py, distbuild/binfmt.py): freezing,
bundling the C library and compiling the launcher happen there, with the same tools as a
native build; compressing, archiving and the smoke run happen here (the smoke run executes the
target's file through qemu).

Run `python -m distbuild.build_deps` first (or `make dist`, which does) for the compilers and
the build venv. Usage: python -m distbuild.build [--target TRIPLE] [--freezer F] [--smoke]
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

from distbuild import archive, freeze, payload, selfcontain

ROOT = Path(__file__).resolve().parent.parent
# Measured (BENCHMARKS.md "Packaged binary" and "Linux arm64"): Nuitka starts 2.5x faster
# natively; under emulation its C compile takes too long, so arm64 freezes with PyInstaller.
DEFAULT_FREEZER = "nuitka"
DEFAULT_FREEZER_BY_TARGET = {"aarch64-unknown-linux-musl": "pyinstaller"}
BUILD_VENV = Path(os.environ.get("CODEX_BUILD_VENV") or ROOT / ".venv-build")
LAUNCHER_SRC = ROOT / "distbuild" / "launcher" / "launcher.c"
# What the fingerprint covers: everything that changes the built file or its archives (not
# smoke.py, build_deps.py or the docs, so editing those does not force a rebuild).
FINGERPRINT_PATHS = ("codex", "pyproject.toml", "distbuild/codex_main.py",
                     "distbuild/freeze.py", "distbuild/selfcontain.py", "distbuild/payload.py",
                     "distbuild/build.py", "distbuild/archive.py", "distbuild/launcher",
                     "distbuild/requirements-build.txt")


def codex_version() -> str:
    ns: dict[str, str] = {}
    exec((ROOT / "codex" / "__init__.py").read_text(), ns)  # noqa: S102 - our own file
    return ns["__version__"]


def host_triple() -> str:
    from codex.platform_info import target_triple

    return target_triple()


def target_arch(triple: str) -> str:
    return triple.split("-", 1)[0]


def is_emulated(triple: str) -> bool:
    """A Linux target of another CPU than this machine's: built and run under qemu-user."""
    host = host_triple()
    return triple != host and "linux" in triple and "linux" in host


def default_freezer(triple: str) -> str:
    return DEFAULT_FREEZER_BY_TARGET.get(triple, DEFAULT_FREEZER)


def binary_name(triple: str) -> str:
    return f"codex-{triple}.exe" if "windows" in triple else f"codex-{triple}"


# The subset that decides the frozen tree (what --reuse-tree may skip re-freezing).
FREEZE_INPUTS = ("codex", "pyproject.toml", "distbuild/codex_main.py", "distbuild/freeze.py",
                 "distbuild/selfcontain.py", "distbuild/requirements-build.txt")


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


def launcher_command(out: Path, version: str, pid: str, program_rel: str, interp_rel: str,
                     *, linux: bool, source: Path = LAUNCHER_SRC) -> list[str]:
    """The compiler command that makes the static launcher (paths as the compiler sees them)."""
    cc = os.environ.get("CC", "gcc")
    defines = [f'-DCODEX_VERSION="{version}"', f'-DPAYLOAD_ID="{pid}"',
               f'-DPROGRAM_REL="{program_rel}"', f'-DINTERP_REL="{interp_rel}"']
    if linux:
        link = ["-static", "-Wl,--build-id=none", "-l:libzstd.a"]
    else:
        # macOS has no static libc, but libzstd must not be a dependency of the file:
        # link Homebrew's static archive (brew install zstd).
        static = [Path(p) / "lib" / "libzstd.a" for p in ("/opt/homebrew", "/usr/local")]
        found = [str(p) for p in static if p.exists()]
        link = [found[0], f"-I{Path(found[0]).parent.parent / 'include'}"] if found else [
            "-lzstd"]
    return [cc, "-O2", "-s", "-Wall", "-Wextra", *defines, "-o", str(out), str(source), *link]


STAGE_INFO = "stage.json"


def stage_tree(freezer: str, work: Path, reuse_tree: bool = False) -> dict:
    """Freeze into work/stage and, on Linux, make it self-contained; writes work/stage.json
    (program path, loader path, PT_INTERP patches, freeze seconds) and returns it. Runs on a
    machine of the target's architecture (natively, or inside the emulated root)."""
    work.mkdir(parents=True, exist_ok=True)
    stage = work / "stage"
    info_path = work / STAGE_INFO
    tree_fingerprint = source_fingerprint(FREEZE_INPUTS)
    if reuse_tree and stage.exists() and info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("tree_fingerprint") != tree_fingerprint or info.get("freezer") != freezer:
            raise SystemExit("build: the sources or the freezer changed since this tree was "
                             "frozen; build without --reuse-tree")
        print(f"build: reusing {stage}")
        return {**info, "freeze_seconds": 0.0}
    python = build_python()
    print(f"build: freezing with {freezer} ({python})", flush=True)
    frozen = freeze.freeze(freezer, python, work)
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(frozen.tree, stage, symlinks=True)
    lib_dir = stage / frozen.lib_dir.relative_to(frozen.tree)
    interp_rel, patches = "", {}
    if sys.platform.startswith("linux"):
        sc = selfcontain.make_self_contained(stage, lib_dir)
        interp_rel = sc.interp_rel
        patches = {p.rel_path: (p.offset, p.capacity) for p in sc.patches}
        print(f"build: bundled {', '.join(sc.system_libs)}")
    info = {"freezer": freezer, "program_rel": frozen.program_rel, "interp_rel": interp_rel,
            "patches": patches, "tree_fingerprint": tree_fingerprint,
            "freeze_seconds": round(frozen.seconds, 1)}
    info_path.write_text(json.dumps(info))
    return info


class Emulation:
    """The target's Debian root under qemu-user (distbuild/emulated_root.py), ready to use."""

    def __init__(self, root: Path, work: Path, root_info: dict) -> None:
        self.root, self.work, self.info = root, work, root_info

    def run(self, argv: list[str]) -> None:
        from distbuild import emulated_root

        emulated_root.run(self.root, argv, work=self.work, env=emulated_root.BUILD_ENV)

    def stage_tree(self, triple: str, freezer: str, reuse_tree: bool) -> dict:
        from distbuild import emulated_root

        cmd = ["/usr/bin/python3", "-m", "distbuild.build", "--target", triple, "--freezer",
               freezer, "--work", emulated_root.WORK_IN_ROOT, "--stage-only"]
        self.run(cmd + (["--reuse-tree"] if reuse_tree else []))
        return json.loads((self.work / STAGE_INFO).read_text())


def build(freezer: str, work: Path, out_dir: Path, reuse_tree: bool = False,
          triple: str | None = None, emulation: Emulation | None = None) -> dict:
    """Freeze, make self-contained, assemble and archive. Returns the build info.

    A target of another architecture needs `emulation` (see `emulated_build()`)."""
    version, triple = codex_version(), triple or host_triple()
    if is_emulated(triple) and emulation is None:
        raise ValueError(f"{triple} is built in an emulated root: use emulated_build()")
    # Before freezing: edits made while the build runs must not count as built.
    fingerprint = source_fingerprint()
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    if emulation is not None:
        staged = emulation.stage_tree(triple, freezer, reuse_tree)
    else:
        staged = stage_tree(freezer, work, reuse_tree)
    t1 = time.monotonic()
    stage = work / "stage"
    patches = {k: tuple(v) for k, v in staged["patches"].items()}
    compressed = payload.compress(payload.records(stage, patches))
    pid = payload.payload_id(compressed)
    linux = "linux" in triple
    if emulation is not None:
        from distbuild import emulated_root

        emulation.run(launcher_command(
            Path(emulated_root.WORK_IN_ROOT) / "launcher", version, pid, staged["program_rel"],
            staged["interp_rel"], linux=linux,
            source=Path(emulated_root.SRC_IN_ROOT) / LAUNCHER_SRC.relative_to(ROOT)))
    else:
        subprocess.run(launcher_command(work / "launcher", version, pid, staged["program_rel"],
                                        staged["interp_rel"], linux=linux), check=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / binary_name(triple)
    payload.assemble(work / "launcher", compressed, pid, binary)
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
        "freeze_seconds": staged["freeze_seconds"],
        "stage_seconds": round(t1 - t0, 1),
        "package_seconds": round(t2 - t1, 1),
        "total_seconds": round(t2 - t0, 1),
    }
    if emulation is not None:
        info["emulated_root"] = emulation.info
    (out_dir / f"{binary.name}.buildinfo.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"build: {binary} ({info['binary_bytes'] / 1e6:.1f} MB, tree "
          f"{tree_bytes / 1e6:.1f} MB, {info['total_seconds']} s)")
    for a in assets:
        print(f"build: {a}")
    return info


def emulated_build(triple: str, freezer: str, work: Path, out_dir: Path,
                   reuse_tree: bool = False, smoke: bool = False) -> tuple[dict, int]:
    """Build (and optionally smoke-run) another architecture's file under qemu-user.
    Returns (build info, smoke exit status or 0)."""
    from distbuild import binfmt, emulated_root

    arch = target_arch(triple)
    with binfmt.registered(arch) as how:
        print(f"build: {arch} programs run through qemu-user (binfmt entry: {how})",
              flush=True)
        t0 = time.monotonic()
        root = emulated_root.ensure(arch)
        root_info = {"path": str(root.path), "created": root.created,
                     "create_seconds": round(root.seconds, 1),
                     "ready_seconds": round(time.monotonic() - t0, 1)}
        info = build(freezer, work, out_dir, reuse_tree, triple,
                     Emulation(root.path, work, root_info))
        status = 0
        if smoke:
            from distbuild import smoke as smoke_mod

            status = smoke_mod.run_smoke(out_dir / info["binary"])
    return info, status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--target", default=None,
                    help="target triple (default: this machine's; another Linux CPU builds "
                         "under qemu-user)")
    ap.add_argument("--freezer", choices=freeze.FREEZERS, default=None,
                    help=f"which freezer makes the program tree (default {DEFAULT_FREEZER}; "
                         + ", ".join(f"{v} for {k}" for k, v in
                                     DEFAULT_FREEZER_BY_TARGET.items()) + ")")
    ap.add_argument("--out", type=Path, default=ROOT / "dist", help="output dir (dist/)")
    ap.add_argument("--work", type=Path, default=None,
                    help="scratch dir for the freezer (build/distbuild/<triple>/<freezer>)")
    ap.add_argument("--reuse-tree", action="store_true",
                    help="skip freezing; repackage the last staged tree")
    ap.add_argument("--smoke", action="store_true",
                    help="afterwards run the packaged file (distbuild/smoke.py)")
    ap.add_argument("--stage-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    triple = args.target or host_triple()
    freezer = args.freezer or default_freezer(triple)
    work = (args.work or ROOT / "build" / "distbuild" / triple / freezer).absolute()
    if args.stage_only:  # inside the emulated root: freeze and bundle, nothing else
        stage_tree(freezer, work, args.reuse_tree)
        return 0
    if is_emulated(triple):
        _, status = emulated_build(triple, freezer, work, args.out.absolute(),
                                   args.reuse_tree, args.smoke)
        return status
    if triple != host_triple():
        raise SystemExit(f"build: {triple} is built on its own runner, not on {host_triple()}")
    info = build(freezer, work, args.out, reuse_tree=args.reuse_tree)
    if args.smoke:
        from distbuild import smoke

        return smoke.run_smoke(args.out / info["binary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
