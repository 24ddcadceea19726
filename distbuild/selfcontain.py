"""Make a frozen Linux tree independent of the system C library.

A freezer's output tree still needs the host's glibc and its loader. We copy those in, give
every ELF in the tree a DT_RPATH relative to itself (DT_RPATH, unlike DT_RUNPATH, is searched
before LD_LIBRARY_PATH and for the dependencies of dependencies, so the user's LD_LIBRARY_PATH
neither breaks us nor needs changing), and point each program's PT_INTERP at a long
placeholder that the launcher overwrites with the unpacked loader's real path. The result
runs in an empty root and sets no environment variable.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
PT_INTERP = 3
# Room for the unpack directory + loader name; the launcher refuses longer paths and falls
# back to a shorter candidate directory.
INTERP_PLACEHOLDER = "/" + "codex-loader-path-placeholder/" * 33
INTERP_CAPACITY = len(INTERP_PLACEHOLDER) + 1
_LDD_LINE = re.compile(r"^\s*(?:(\S+)\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)\s*$")


@dataclass(frozen=True)
class InterpPatch:
    """Where, in one file of the tree, the launcher writes the loader's path."""

    rel_path: str
    offset: int
    capacity: int


@dataclass(frozen=True)
class SelfContained:
    interp_rel: str  # the bundled loader, relative to the tree root
    patches: tuple[InterpPatch, ...]
    system_libs: tuple[str, ...]  # what was copied in (for the build log)


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def interp_segment(path: Path) -> tuple[int, int] | None:
    """(file offset, size) of the PT_INTERP segment of a 64-bit little-endian ELF, or None."""
    with path.open("rb") as f:
        ident = f.read(64)
        if ident[:4] != ELF_MAGIC or ident[4] != 2 or ident[5] != 1:
            return None
        phoff = struct.unpack_from("<Q", ident, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", ident, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type = struct.unpack_from("<I", table, i * phentsize)[0]
        if p_type == PT_INTERP:
            p_offset = struct.unpack_from("<Q", table, i * phentsize + 8)[0]
            p_filesz = struct.unpack_from("<Q", table, i * phentsize + 32)[0]
            return p_offset, p_filesz
    return None


def system_dependencies(elf: Path) -> dict[str, Path]:
    """soname -> host path of every library (and the loader) `elf` needs, transitively."""
    out = subprocess.run(["ldd", str(elf)], capture_output=True, text=True)
    deps: dict[str, Path] = {}
    for line in out.stdout.splitlines():
        m = _LDD_LINE.match(line)
        if m:
            name, path = m.group(1), Path(m.group(2))
            deps[name or path.name] = path
    return deps


def make_self_contained(tree: Path, lib_dir: Path, patchelf: str = "patchelf") -> SelfContained:
    """Copy the host's missing libraries and loader into `lib_dir` and rewire every ELF."""
    elves = sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))
    present = {p.name for p in tree.rglob("*")}
    needed: dict[str, Path] = {}
    loader: Path | None = None
    for elf in elves:
        for name, host_path in system_dependencies(elf).items():
            if name.startswith("ld-linux") or name.startswith("/"):
                loader = host_path
                continue
            if name not in present:
                needed[name] = host_path
    if loader is None:
        raise RuntimeError("ldd named no loader: is this a dynamically linked Linux build?")
    copied = []
    for name, host_path in sorted(needed.items()):
        shutil.copyfile(host_path.resolve(), lib_dir / name)
        os.chmod(lib_dir / name, 0o755)
        copied.append(name)
    loader_dst = lib_dir / loader.name
    shutil.copyfile(loader.resolve(), loader_dst)
    os.chmod(loader_dst, 0o755)
    copied.append(loader.name)

    patches = []
    for elf in elves:
        rel_lib = os.path.relpath(lib_dir, elf.parent)
        origin = "$ORIGIN" if rel_lib == "." else f"$ORIGIN/{rel_lib}"
        args = [patchelf, "--force-rpath", "--set-rpath", origin]
        has_interp = interp_segment(elf) is not None
        if has_interp:
            args += ["--set-interpreter", INTERP_PLACEHOLDER]
        subprocess.run([*args, str(elf)], check=True)
        if has_interp:
            seg = interp_segment(elf)
            assert seg is not None
            offset, size = seg
            with elf.open("rb") as f:
                f.seek(offset)
                assert f.read(len(INTERP_PLACEHOLDER)) == INTERP_PLACEHOLDER.encode()
            patches.append(InterpPatch(elf.relative_to(tree).as_posix(), offset, size))
    return SelfContained(
        interp_rel=loader_dst.relative_to(tree).as_posix(),
        patches=tuple(patches),
        system_libs=tuple(copied),
    )
