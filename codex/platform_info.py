"""What this build is and where it runs: target triple, libc, install channel."""

from __future__ import annotations

import os
import platform
import sys

_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}

# Set by the npm shim; the other channels are recognised by where the executable lives.
NPM_ENV = "CODEX_MANAGED_BY_NPM"


def target_triple() -> str:
    """The release target this machine needs, e.g. `x86_64-unknown-linux-musl`."""
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    if sys.platform.startswith("linux"):
        return f"{arch}-unknown-linux-musl"
    if sys.platform == "darwin":
        return f"{arch}-apple-darwin"
    if sys.platform == "win32":
        return f"{arch}-pc-windows-msvc"
    return f"{arch}-unknown-{sys.platform}"


def is_frozen() -> bool:
    """True inside the packaged single-file binary (PyInstaller or Nuitka)."""
    return bool(getattr(sys, "frozen", False)) or "__compiled__" in globals()


def executable_path() -> str:
    """The file the user ran: the packaged binary when frozen, else the Python entry point."""
    launcher = os.environ.get("CODEX_LAUNCHER_PATH")
    if launcher:
        return launcher
    return sys.executable if is_frozen() else os.path.abspath(sys.argv[0])


def libc() -> str:
    if not sys.platform.startswith("linux"):
        return "system"
    if is_frozen():
        return "bundled (static)"
    name, version = platform.libc_ver()
    return f"{name} {version}".strip() or "unknown"


def install_channel() -> str:
    """npm, brew, standalone or pip: decides what `codex update` does."""
    if os.environ.get(NPM_ENV):
        return "npm"
    exe = os.path.realpath(executable_path()).replace("\\", "/")
    if "/Caskroom/" in exe or "/Cellar/" in exe or "/homebrew/" in exe.lower():
        return "brew"
    if "/node_modules/" in exe:
        # An npm-installed binary started without the shim (e.g. by a path in a script).
        return "npm"
    if is_frozen():
        return "standalone"
    return "pip"
