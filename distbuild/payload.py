"""The single file: launcher + compressed tree + trailer, and the tree's record format.

Format (all integers little-endian), read by distbuild/launcher/launcher.c:
  file    = launcher-ELF  zstd(records)  trailer
  record  = kind:u8  mode:u32  path_len:u16  size:u64  patch_offset:u64  patch_cap:u32
            path  data[size]
            kind 'd' directory, 'f' file, 'l' symlink (data = target), 'e' end (no path/data)
            patch_offset = 2**64-1 when the file has no loader path to patch
  trailer = b"CODEXPK\\x01"  payload_offset:u64  payload_size:u64  payload_id:16 ASCII hex
Records are sorted by path and carry no times or owners, so equal trees give equal bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

TRAILER_MAGIC = b"CODEXPK\x01"
NO_PATCH = 2**64 - 1
_HEADER = struct.Struct("<BIHQQI")
_TRAILER = struct.Struct("<8sQQ16s")
# Level 19 with a long window: ~10% smaller than the default for a one-time unpack that
# still decompresses at hundreds of MB/s. A fixed thread count keeps the output fixed.
ZSTD_ARGS = ("-19", "--long=27", "-T2", "-q", "-c", "--no-progress")


def _entries(tree: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            yield base / name


def records(tree: Path, patches: Mapping[str, tuple[int, int]]) -> bytes:
    """The uncompressed record stream for `tree` (patches: rel path -> (offset, capacity))."""
    out = bytearray()
    for path in sorted(_entries(tree), key=lambda p: p.relative_to(tree).as_posix()):
        rel = path.relative_to(tree).as_posix().encode()
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            data, kind, mode = os.readlink(path).encode(), b"l", 0o777
        elif stat.S_ISDIR(st.st_mode):
            data, kind, mode = b"", b"d", 0o755
        else:
            data, kind = path.read_bytes(), b"f"
            mode = 0o755 if st.st_mode & 0o111 else 0o644
        offset, cap = patches.get(rel.decode(), (NO_PATCH, 0))
        out += _HEADER.pack(kind[0], mode, len(rel), len(data), offset, cap)
        out += rel + data
    out += _HEADER.pack(ord("e"), 0, 0, 0, 0, 0)
    return bytes(out)


def compress(data: bytes, zstd: str = "zstd") -> bytes:
    return subprocess.run([zstd, *ZSTD_ARGS], input=data, capture_output=True,
                          check=True).stdout


def payload_id(compressed: bytes) -> str:
    return hashlib.sha256(compressed).hexdigest()[:16]


def assemble(launcher: Path, compressed: bytes, pid: str, out: Path) -> None:
    """Write launcher + payload + trailer to `out` (mode 0755)."""
    head = launcher.read_bytes()
    trailer = _TRAILER.pack(TRAILER_MAGIC, len(head), len(compressed), pid.encode())
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(head + compressed + trailer)
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)


def read_trailer(binary: Path) -> tuple[int, int, str]:
    """(payload offset, payload size, payload id) of a built single file."""
    with binary.open("rb") as f:
        f.seek(-_TRAILER.size, os.SEEK_END)
        magic, off, size, pid = _TRAILER.unpack(f.read(_TRAILER.size))
    if magic != TRAILER_MAGIC:
        raise ValueError(f"{binary}: not a codex single file (no trailer)")
    return off, size, pid.decode()
