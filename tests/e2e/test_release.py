"""ci/release.py: its dry run end to end, and the steps' refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codex import __version__
from tests.e2e.conftest import HOST, real_dist

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def release(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ci.release", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_dry_run_passes(tmp_path: Path) -> None:
    prebuilt = real_dist() or (tmp_path / "nothing-built")
    prebuilt.mkdir(exist_ok=True)
    dist = tmp_path / "dist"
    r = release("--dist", str(dist), "--prebuilt", str(prebuilt), "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in (HOST.archive_name, "SHA256SUMS", "install.sh", "npm/manifest.json",
                 "homebrew/codex.rb"):
        assert (dist / name).is_file(), name
    sums = (dist / "SHA256SUMS").read_text()
    assert HOST.archive_name in sums and "install.sh" in sums
    assert f"smoke: {HOST.triple}: codex-cli {__version__}" in r.stdout
    assert f"smoke: {HOST.triple}: exec-server answered initialize" in r.stdout
    assert "sign: SKIPPED" in r.stdout  # no secrets here, and it says so
    assert "already published" in r.stdout  # the publish step ran twice: reruns are safe
    assert "installed from http://127.0.0.1:" in r.stdout
    assert f"ran: codex-cli {__version__}" in r.stdout
    manifest = json.loads((dist / "npm" / "manifest.json").read_text())
    tags = [e["tag"] for e in manifest["publish"]]
    # The host's platform package, Linux arm64's too when dist/ holds that build; root last.
    assert HOST.npm_suffix in tags and tags[-1] is None and None not in tags[:-1]


def test_plan_checks_the_tag() -> None:
    ok = release("plan", "--tag", f"v{__version__}")
    assert ok.returncode == 0 and json.loads(ok.stdout)["version"] == __version__
    wrong = release("plan", "--tag", "v99.0.0")
    assert wrong.returncode != 0 and "does not match the project version" in wrong.stderr
    malformed = release("plan", "--tag", "release-1")
    assert malformed.returncode != 0 and "is not v<major>" in malformed.stderr


def test_publish_refuses_a_stand_in(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    from ci import standin

    standin.write_archives(dist, HOST, standin.standin_program())
    assert release("--dist", str(dist), "package", "--allow-missing").returncode == 0
    (dist / HOST.archive_name).unlink()  # the npm job gets dist/npm only, not the archives
    r = release("--dist", str(dist), "publish-npm", "--registry", "http://127.0.0.1:9/")
    assert r.returncode != 0 and "carries a stand-in" in r.stderr, r.stderr


def test_package_wants_every_required_target(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    r = release("--dist", str(dist), "package")
    assert r.returncode != 0 and "missing codex-" in r.stderr


def test_macos_sign_is_skipped_without_secrets(tmp_path: Path) -> None:
    env_free = {k: v for k, v in os.environ.items() if not k.startswith("APPLE_")}
    r = subprocess.run([sys.executable, "-m", "ci.release", "--dist",
                        str(tmp_path), "macos-sign", "--target", "aarch64-apple-darwin"],
                       capture_output=True, text=True, env=env_free, timeout=120, cwd=ROOT)
    assert r.returncode == 0 and "macos-sign: SKIPPED (secrets not set: APPLE_" in r.stdout


def test_update_cask_commits_to_a_tap_checkout_once(tmp_path: Path) -> None:
    from ci import standin
    from installers.targets import TARGETS, write_sums

    dist = tmp_path / "dist"
    for t in TARGETS:
        if t.required:
            standin.write_archives(dist, t, standin.standin_program() + t.triple.encode())
    write_sums(dist)
    tap = tmp_path / "tap"
    git = ["git", "-C", str(tap), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(tap)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    first = release("--dist", str(dist), "update-cask", "--tap-dir", str(tap))
    assert first.returncode == 0, first.stderr
    cask = (tap / "Casks" / "codex.rb").read_text()
    assert cask == (dist / "homebrew" / "codex.rb").read_text() and "MISSING" not in cask
    log = subprocess.run([*git, "log", "--format=%s"], capture_output=True, text=True).stdout
    assert log.splitlines()[0] == f"codex {__version__}"
    again = release("--dist", str(dist), "update-cask", "--tap-dir", str(tap))
    assert again.returncode == 0 and "the tap already has this cask" in again.stdout
