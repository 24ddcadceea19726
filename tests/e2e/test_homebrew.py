"""The Homebrew cask: rendered from SHA256SUMS, valid Ruby, and every arch/os pair resolves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci import standin
from codex import __version__, release_settings
from installers.targets import TARGETS, read_sums, write_sums

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "installers" / "homebrew" / "cask_harness.rb"
PAIRS = {("arm", "macos"): "aarch64-apple-darwin", ("intel", "macos"): "x86_64-apple-darwin",
         ("arm", "linux"): "aarch64-unknown-linux-musl",
         ("intel", "linux"): "x86_64-unknown-linux-musl"}


@pytest.fixture(scope="module")
def four_target_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ruby") is None:
        pytest.fail("the cask tests need ruby on PATH (see .ci/run)")
    dist = tmp_path_factory.mktemp("dist4")
    # Each target gets different bytes, so a swapped sha256 cannot go unnoticed.
    for t in TARGETS:
        if t.required:
            standin.write_archives(dist, t, standin.standin_program() + t.triple.encode())
    write_sums(dist)
    return dist


def render(dist: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "installers.homebrew.render_cask",
                           "--sums", str(dist / "SHA256SUMS"), "--out",
                           str(dist / "homebrew/codex.rb"), *extra],
                          capture_output=True, text=True, cwd=ROOT)


def test_cask_resolves_every_arch_os_pair_to_its_archive(four_target_dist: Path) -> None:
    assert render(four_target_dist).returncode == 0
    cask = four_target_dist / "homebrew" / "codex.rb"
    syntax = subprocess.run(["ruby", "-c", str(cask)], capture_output=True, text=True)
    assert syntax.returncode == 0 and "Syntax OK" in syntax.stdout, syntax.stderr
    out = subprocess.run(["ruby", str(HARNESS), str(cask)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    sums = read_sums(four_target_dist / "SHA256SUMS")
    assert {(r["arch"], r["os"]) for r in records} == set(PAIRS)
    for r in records:
        triple = PAIRS[(r["arch"], r["os"])]
        asset = r["url"].rsplit("/", 1)[1]
        assert asset == f"codex-{triple}.tar.gz"
        assert r["sha256"] == sums[asset]
        assert r["url"] == (f"https://github.com/{release_settings.GITHUB_REPO}/releases/"
                            f"download/v{__version__}/{asset}")
        assert r["sha256_keys"] == ["arm", "arm64_linux", "intel", "x86_64_linux"]
        assert r["version"] == __version__
        assert r["binaries"] == [[f"codex-{triple}", "codex"]]
        assert r["completions"] == [{"executable": f"codex-{triple}", "args": ["completion"],
                                     "base_name": "codex"}]
        assert r["livecheck"] == {"url": "url", "strategy": "github_latest"}
        assert r["zap"] == [{"rmdir": "~/.codex"}]


def test_cask_needs_all_four_builds(four_target_dist: Path, tmp_path: Path) -> None:
    sums = (four_target_dist / "SHA256SUMS").read_text().splitlines()
    partial = tmp_path / "SHA256SUMS"
    partial.write_text("\n".join(s for s in sums if "x86_64-apple-darwin.tar" not in s) + "\n")
    r = render(tmp_path)
    assert r.returncode != 0 and "codex-x86_64-apple-darwin.tar.gz" in r.stderr
    # A dry run of one host may render anyway; the gap is marked, not hidden.
    r = render(tmp_path, "--allow-missing")
    assert r.returncode == 0
    text = (tmp_path / "homebrew" / "codex.rb").read_text()
    assert text.count("# MISSING from this build") == 1
