"""Run foreign-architecture ELF files through qemu-user while a block of code runs.

Linux hands an executable whose header matches a `binfmt_misc` entry to that entry's
interpreter. `registered("aarch64")` makes sure such an entry for qemu-aarch64-static exists
(mounting `binfmt_misc` first if needed), and afterwards removes what it added: an entry (and
the mount) that was there before stays as it was.

The entry carries the `F` flag (the kernel opens the interpreter once, at registration), so
the emulated program also runs inside a chroot or an empty root that has no qemu of its own,
and `P`, so that argv[0] reaches the program unchanged.

Concurrent users (a build and a test run at once) share one entry: each holds a shared lock
on a lock file while it runs; the last one out, if the entry was ours, removes it. A user
killed with SIGKILL leaves the entry registered; the next user that leaves removes it.
Within one process, nested blocks share the outer block's entry.
Needs root (writing `/proc/sys/fs/binfmt_misc/register`). Raises `BinfmtError` otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
STATE_DIR = Path("/run/codex-binfmt")
# Nested use in one process (a build that smoke-runs, a test session around a smoke run):
# the outer block holds the lock; flock on a second descriptor would wait for it forever.
_held: dict[str, str] = {}


class BinfmtError(RuntimeError):
    """The entry cannot be registered here (not root, no qemu, no binfmt_misc)."""


@dataclass(frozen=True)
class Emulator:
    """One binfmt_misc entry: which ELF header it matches and which qemu runs it."""

    name: str  # entry name under /proc/sys/fs/binfmt_misc
    qemu: str  # static qemu-user binary (Debian package qemu-user-static)
    magic: bytes  # ELF header bytes 0..19 to match (class, data, version, e_type, e_machine)
    mask: bytes


# ELF64, little-endian, version 1, ET_EXEC or ET_DYN (mask 0xfe), e_machine 183 (EM_AARCH64).
_AARCH64 = Emulator(
    name="qemu-aarch64",
    qemu="qemu-aarch64-static",
    magic=b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
    mask=b"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
)
EMULATORS = {"aarch64": _AARCH64}


def _escape(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def _entry(emu: Emulator) -> Path:
    return BINFMT_DIR / emu.name


def _entry_enabled(emu: Emulator) -> bool:
    try:
        return _entry(emu).read_text().splitlines()[0].strip() == "enabled"
    except OSError:
        return False


# ELF e_machine values -> `uname -m` names.
_E_MACHINE = {62: "x86_64", 183: "aarch64"}


def native_machine() -> str:
    return os.uname().machine


def elf_machine(path: Path) -> str | None:
    """The CPU an ELF file is for, as `uname -m` names it (None: not an ELF we know)."""
    with Path(path).open("rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    order = "little" if head[5] == 1 else "big"
    return _E_MACHINE.get(int.from_bytes(head[18:20], order))


def qemu_path(arch: str) -> str | None:
    """The static qemu-user binary for `arch`, or None when it is not installed."""
    return shutil.which(EMULATORS[arch].qemu)


def _mount_binfmt() -> bool:
    """Mount binfmt_misc if it is not; True when this call mounted it."""
    if (BINFMT_DIR / "register").exists():
        return False
    r = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BinfmtError(f"cannot mount binfmt_misc on {BINFMT_DIR}: {r.stderr.strip()}")
    return True


def _register(emu: Emulator, qemu: str) -> None:
    line = f":{emu.name}:M:0:{_escape(emu.magic)}:{_escape(emu.mask)}:{qemu}:FP"
    try:
        (BINFMT_DIR / "register").write_text(line)
    except OSError as e:
        raise BinfmtError(f"cannot register {emu.name} in binfmt_misc: {e}") from e


def _unregister(emu: Emulator) -> None:
    with contextlib.suppress(OSError):
        _entry(emu).write_text("-1")


def available(arch: str) -> bool:
    """Whether `registered(arch)` can work here: native, root with qemu, or an entry exists."""
    if arch == native_machine():
        return True
    if arch not in EMULATORS:
        return False
    if _entry_enabled(EMULATORS[arch]):
        return True
    return os.geteuid() == 0 and qemu_path(arch) is not None


@contextlib.contextmanager
def registered(arch: str) -> Iterator[str]:
    """Within the block, `arch` ELF files run on this machine. Yields how: "native",
    "existing" (an entry someone else registered) or "registered" (ours, removed after)."""
    if arch == native_machine():
        yield "native"
        return
    if arch not in EMULATORS:
        raise BinfmtError(f"no emulator known for {arch} (known: {', '.join(EMULATORS)})")
    if arch in _held:
        yield _held[arch]
        return
    emu = EMULATORS[arch]
    if os.geteuid() != 0:
        if _entry_enabled(emu):
            yield "existing"
            return
        raise BinfmtError(f"running {arch} programs needs a binfmt_misc entry for qemu; "
                          "registering one needs root (or register it yourself: "
                          "apt-get install qemu-user-static binfmt-support)")
    qemu = qemu_path(arch)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    # Two locks: `mutex` (held briefly, exclusive) guards registering and removing; `users`
    # is held shared by every block that runs emulated programs, so the last one out can
    # tell it is the last (an exclusive non-blocking lock on it succeeds).
    mutex = os.open(STATE_DIR / "mutex", os.O_RDWR | os.O_CREAT, 0o600)
    users = os.open(STATE_DIR / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    ours_marker = STATE_DIR / f"{emu.name}.ours"
    mounted_marker = STATE_DIR / "mounted.ours"
    try:
        with _locked(mutex):
            if _mount_binfmt():
                mounted_marker.touch()
            if not _entry_enabled(emu):
                if qemu is None:
                    raise BinfmtError(f"{emu.qemu} is not installed "
                                      "(apt-get install qemu-user-static)")
                _register(emu, qemu)
                ours_marker.touch()
            how = "registered" if ours_marker.exists() else "existing"
            fcntl.flock(users, fcntl.LOCK_SH)
        _held[arch] = how
        yield how
    finally:
        _held.pop(arch, None)
        with _locked(mutex):
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another block still runs emulated programs; the last one cleans up
            else:
                if ours_marker.exists():
                    _unregister(emu)
                    ours_marker.unlink()
                if mounted_marker.exists() and not any(
                        p.name not in ("register", "status") for p in BINFMT_DIR.iterdir()):
                    subprocess.run(["umount", str(BINFMT_DIR)], capture_output=True)
                    mounted_marker.unlink()
            os.close(users)
        os.close(mutex)


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
