"""`codex update`: the right upgrade for the way this copy was installed.

npm, Homebrew and pip installs are upgraded by their own tool, so we say the command. A
standalone install (install.sh or an archive) upgrades itself the way install.sh installs:
same release URLs (CODEX_RELEASE_BASE_URL overrides them), same SHA256SUMS check, and an
atomic rename over the running file.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from codex import __version__, platform_info
from codex.errors import CodexError

INSTRUCTIONS = {
    "npm": "npm install -g {npm_package}@latest",
    "brew": "brew upgrade --cask codex",
    "pip": "pip install --upgrade codex-py",
    "standalone": "codex update",
}
DOWNLOAD_TIMEOUT = 120


class UpdateError(CodexError):
    """The upgrade could not be done; the installed codex is unchanged."""


@dataclass(frozen=True)
class Release:
    base_url: str  # the folder holding the release's assets
    version: str  # "latest" or a version number


def release_from_env(environ: os._Environ[str] | dict[str, str] = os.environ) -> Release:
    """Where install.sh would download from, given the same environment variables."""
    from codex import release_settings

    version = environ.get("CODEX_VERSION", "latest").removeprefix("v") or "latest"
    base = environ.get("CODEX_RELEASE_BASE_URL", "").rstrip("/")
    if not base:
        root = release_settings.RELEASE_BASE_URL
        base = f"{root}/latest/download" if version == "latest" else f"{root}/download/v{version}"
    return Release(base_url=base, version=version)


def asset_names(triple: str) -> tuple[str, str]:
    """(archive name, name of the one file inside it) for a target triple."""
    if "windows" in triple:
        return f"codex-{triple}.exe.zip", f"codex-{triple}.exe"
    return f"codex-{triple}.tar.gz", f"codex-{triple}"


def _fetch(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": f"codex-cli/{__version__}"})
    try:
        with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT) as r:
            return r.read()
    except (urllib.error.URLError, OSError) as e:
        raise UpdateError(f"download failed: {url}: {getattr(e, 'reason', e)}") from e


def _expected_sha256(sums: str, asset: str) -> str:
    for line in sums.splitlines():
        digest, _, name = line.strip().partition(" ")
        if name.lstrip(" *") == asset:
            return digest.lower()
    raise UpdateError(f"SHA256SUMS has no entry for {asset}")


def _unpack(archive: bytes, asset: str, member: str) -> bytes:
    try:
        if asset.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(archive)) as z:
                return z.read(member)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            f = tar.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except (KeyError, tarfile.TarError, zipfile.BadZipFile, OSError) as e:
        raise UpdateError(f"{asset} does not hold {member}: {e}") from e


def self_update(target: Path, release: Release, triple: str, current: str = __version__) -> str:
    """Replace `target` (codex `current`) with the release's build for `triple`; returns
    what happened."""
    asset, member = asset_names(triple)
    archive = _fetch(f"{release.base_url}/{asset}")
    sums = _fetch(f"{release.base_url}/SHA256SUMS").decode("utf-8", "replace")
    expected = _expected_sha256(sums, asset)
    actual = hashlib.sha256(archive).hexdigest()
    if actual != expected:
        raise UpdateError(f"checksum mismatch for {asset}: expected {expected}, got {actual}; "
                          "nothing was changed")
    binary = _unpack(archive, asset, member)
    # Stage next to the target so the final rename stays on one filesystem (atomic).
    fd, staged_name = tempfile.mkstemp(prefix=".codex.update.", dir=target.parent)
    staged = Path(staged_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(binary)
        staged.chmod(0o755)
        probe = subprocess.run([str(staged), "--version"], capture_output=True, text=True,
                               timeout=120)
        new_version = probe.stdout.strip()
        if probe.returncode != 0 or not new_version.startswith("codex-cli "):
            raise UpdateError(f"the downloaded codex does not run here: {probe.stderr.strip()}")
        if new_version == f"codex-cli {current}":
            return f"codex is up to date ({new_version})"
        os.replace(staged, target)
        return f"updated {target}: codex-cli {current} -> {new_version}"
    except OSError as e:
        raise UpdateError(f"cannot replace {target}: {e.strerror or e}") from e
    finally:
        staged.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    from codex import release_settings

    channel = platform_info.install_channel()
    out = sys.stdout
    if channel != "standalone":
        cmd = INSTRUCTIONS[channel].format(npm_package=release_settings.NPM_PACKAGE)
        out.write(f"installed via {channel}; to update run:\n  {cmd}\n")
        return 0
    release = release_from_env()
    target = Path(os.path.realpath(platform_info.executable_path()))
    triple = platform_info.target_triple()
    if args.check:
        out.write(f"installed standalone at {target}; `codex update` would replace it with "
                  f"{asset_names(triple)[0]} ({release.version}) from {release.base_url}\n")
        return 0
    out.write(f"{self_update(target, release, triple)}\n")
    return 0
