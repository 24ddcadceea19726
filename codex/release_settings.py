"""Where releases are published: the one place that names the npm package, repo and tap."""

from __future__ import annotations

GITHUB_REPO = "codex-py/codex"
NPM_PACKAGE = "@codex-py/codex"
HOMEBREW_TAP = "codex-py/homebrew-tap"
RELEASE_BASE_URL = f"https://github.com/{GITHUB_REPO}/releases"
INSTALL_SCRIPT_URL = f"{RELEASE_BASE_URL}/latest/download/install.sh"
