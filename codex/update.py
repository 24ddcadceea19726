"""`codex update`: the right upgrade for the way this copy was installed."""

from __future__ import annotations

import argparse
import sys

from codex import platform_info

INSTRUCTIONS = {
    "npm": "npm install -g {npm_package}@latest",
    "brew": "brew upgrade --cask codex",
    "pip": "pip install --upgrade codex-py",
    "standalone": "curl -fsSL {install_url} | sh",
}


def run(args: argparse.Namespace) -> int:
    from codex import release_settings

    channel = platform_info.install_channel()
    cmd = INSTRUCTIONS[channel].format(
        npm_package=release_settings.NPM_PACKAGE, install_url=release_settings.INSTALL_SCRIPT_URL
    )
    sys.stdout.write(f"installed via {channel}; to update run:\n  {cmd}\n")
    return 0
