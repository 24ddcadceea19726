"""Which targets build here and how: native, under qemu-user, or only on their own runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from distbuild import binfmt, build

AARCH64_HEADER = (b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\xb7\x00" + bytes(44))


def test_elf_machine_names_the_cpu(tmp_path: Path) -> None:
    assert binfmt.elf_machine(Path(sys.executable).resolve()) == os.uname().machine
    arm = tmp_path / "arm"
    arm.write_bytes(AARCH64_HEADER)
    assert binfmt.elf_machine(arm) == "aarch64"
    script = tmp_path / "script"
    script.write_bytes(b"#!/bin/sh\necho not an ELF file at all\n")
    assert binfmt.elf_machine(script) is None


def test_the_aarch64_entry_matches_an_aarch64_header_only() -> None:
    emu = binfmt.EMULATORS["aarch64"]

    def matches(head: bytes) -> bool:
        return all(h & m == g & m for h, g, m in zip(head, emu.magic, emu.mask, strict=False))

    assert matches(AARCH64_HEADER)
    x86 = bytearray(AARCH64_HEADER)
    x86[18] = 62  # EM_X86_64
    assert not matches(bytes(x86))
    shared = bytearray(AARCH64_HEADER)
    shared[16] = 3  # ET_DYN (a PIE or the loader) matches too
    assert matches(bytes(shared))


@pytest.mark.skipif(not (sys.platform == "linux" and os.uname().machine == "x86_64"),
                    reason="the table below is this x86_64 Linux host's")
def test_what_builds_here() -> None:
    assert not build.is_emulated("x86_64-unknown-linux-musl")
    assert build.is_emulated("aarch64-unknown-linux-musl")  # Debian root under qemu-user
    assert not build.is_emulated("aarch64-apple-darwin")  # its own runner only
    assert build.default_freezer("x86_64-unknown-linux-musl") == "nuitka"
    assert build.default_freezer("aarch64-unknown-linux-musl") == "pyinstaller"


def test_a_foreign_target_needs_the_emulated_root(tmp_path: Path) -> None:
    if not build.is_emulated("aarch64-unknown-linux-musl"):
        pytest.skip("aarch64 is this machine's own CPU")
    with pytest.raises(ValueError, match="emulated root"):
        build.build("pyinstaller", tmp_path / "work", tmp_path / "out",
                    triple="aarch64-unknown-linux-musl")
