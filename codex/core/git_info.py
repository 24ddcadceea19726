"""The git state of a session's folder, recorded in its rollout's `session_meta` as
`git: {commit_hash, branch, repository_url}` (spec session.md, the rollout format; the resume
picker shows the branch).

Best effort: each field is left out when git cannot tell it (no commits yet, a detached HEAD,
no `origin` remote), None is returned outside a checkout or without git, and the queries
together take at most `timeout_s` (a slow network filesystem never delays a session much).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 2.0

# field name -> git arguments printing it on one line
_QUERIES = {
    "commit_hash": ("rev-parse", "HEAD"),
    "branch": ("rev-parse", "--abbrev-ref", "HEAD"),
    "repository_url": ("remote", "get-url", "origin"),
}


def _git(cwd: Path, args: tuple[str, ...], timeout_s: float) -> str | None:
    # subprocess.run kills and reaps git when the timeout passes: nothing is left behind.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        out = subprocess.run(["git", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout.decode("utf-8", "replace").strip()
    return text if out.returncode == 0 and text else None


async def collect_git_info(cwd: Path, timeout_s: float = GIT_TIMEOUT_S) -> dict[str, str] | None:
    """`{commit_hash, branch, repository_url}` (the fields git could tell within `timeout_s`)
    for the checkout holding `cwd`, or None (not a checkout, no git, or all timed out)."""
    names = list(_QUERIES)
    # One worker thread per query, run together: the whole takes at most about `timeout_s`.
    values = await asyncio.gather(*(asyncio.to_thread(_git, cwd, _QUERIES[n], timeout_s)
                                    for n in names))
    info = {n: v for n, v in zip(names, values, strict=True) if v is not None}
    if info.get("branch") == "HEAD":
        del info["branch"]  # detached: no branch to show
    return info or None
