"""Helpers for the apply_patch tests: write a tree, snapshot it byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file (bytes), directory and symlink under `root`, including hidden leftovers."""
    state: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            state[rel] = "<dir>"
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                state[rel] = "<link " + os.readlink(full) + ">"
            else:
                state[rel] = Path(full).read_bytes()
    return state


@pytest.fixture
def tree(tmp_path: Path):
    """A function writing {relative path: text or bytes} under tmp_path; returns tmp_path."""

    def write(files: dict[str, str | bytes]) -> Path:
        for rel, content in files.items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_bytes(content.encode())
        return tmp_path

    return write
