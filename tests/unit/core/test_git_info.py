"""The git state recorded in a new session's `session_meta` (for the resume picker's branch)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from codex.core.git_info import collect_git_info
from tests.support.session_harness import SessionHarness, rollout_lines, shutdown

pytestmark = pytest.mark.asyncio


def make_repo(path: Path, branch: str = "feature-x") -> str:
    """A real checkout at `path` with one commit on `branch` and an origin; its HEAD hash."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=path, check=True, capture_output=True, text=True).stdout
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", branch)
    (path / "a.txt").write_text("a\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "first")
    git("remote", "add", "origin", "https://example.invalid/team/repo.git")
    return git("rev-parse", "HEAD").strip()


async def test_git_info_of_a_checkout(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "repo")
    (tmp_path / "repo" / "sub").mkdir()
    assert await collect_git_info(tmp_path / "repo" / "sub") == {
        "commit_hash": head, "branch": "feature-x",
        "repository_url": "https://example.invalid/team/repo.git"}


async def test_git_info_outside_a_checkout_is_none(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert await collect_git_info(tmp_path / "plain") is None


async def test_a_hanging_git_is_given_up_on(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text(f"#!/bin/sh\necho $$ >> {tmp_path}/pids\nexec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert await collect_git_info(tmp_path, timeout_s=0.5) is None
    for pid in (int(x) for x in (tmp_path / "pids").read_text().split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped, not left sleeping


async def test_session_meta_records_git(harness: SessionHarness) -> None:
    (harness.cwd / ".git").rmdir()
    head = make_repo(harness.cwd, "topic")
    s = await harness.start()
    await shutdown(s)
    meta = rollout_lines(s.rollout_path)[0]["payload"]
    assert meta["git"] == {"commit_hash": head, "branch": "topic",
                           "repository_url": "https://example.invalid/team/repo.git"}
