"""Whether a folder is a trusted project (spec tui.md "Starting", mcp.md "Config").

Trust is recorded per project in the user's `config.toml` as
`[projects."<abs path>"] trust_level = "trusted" | "untrusted"` (`codex.tui.trust` asks and
records). A trusted project's own `.codex/config.toml` files are configuration layers
(`project_config_files`); an untrusted or unknown one's are ignored, so cloning a repository
never runs its MCP servers or changes the sandbox.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

PROJECT_CONFIG = Path(".codex") / "config.toml"


class TrustLevel(enum.StrEnum):
    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"


def project_root(cwd: Path) -> Path:
    """The folder trust is recorded for (as Codex does): the root of the git checkout holding
    `cwd`; for a linked worktree (`.git` is a file pointing into `<repo>/.git/worktrees/NAME`)
    the main checkout's root, so trusting a repository covers its worktrees; else (no git, or
    a `.git` file of another kind, such as a submodule's) `cwd` itself. Symlinks resolved."""
    from codex.core.project_docs import find_git_root

    root = find_git_root(cwd)
    if root is None:
        return cwd.resolve()
    dot_git = root / ".git"
    if dot_git.is_dir():
        return root.resolve()
    main = _main_checkout(root, dot_git)
    return main if main is not None else cwd.resolve()


def _main_checkout(root: Path, dot_git: Path) -> Path | None:
    try:
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    target = text[len("gitdir:"):].strip()
    if not target:
        return None
    git_dir = (root / target).resolve()  # an absolute target stays as it is
    if git_dir.parent.name != "worktrees":
        return None
    return git_dir.parent.parent.parent


def recorded_level(values: dict[str, Any], root: Path) -> TrustLevel | None:
    projects = values.get("projects")
    if not isinstance(projects, dict):
        return None
    entry = projects.get(str(root))
    level = entry.get("trust_level") if isinstance(entry, dict) else None
    try:
        return TrustLevel(level) if level else None
    except ValueError:
        return None


def is_trusted(values: dict[str, Any], cwd: Path) -> bool:
    """Whether `cwd` itself, or else its project root, is recorded as trusted in `values`
    (the user's configuration: a project cannot vouch for itself)."""
    here = cwd.resolve()
    for folder in (here, project_root(here)):
        level = recorded_level(values, folder)
        if level is not None:
            return level is TrustLevel.TRUSTED
    return False


def project_config_files(values: dict[str, Any], cwd: Path, codex_home: Path) -> list[Path]:
    """The `.codex/config.toml` files of a trusted project, lowest precedence first: from the
    checkout's top down to `cwd`, each folder's own (a subfolder's settings win, as Codex layers
    them). Empty when the folder is not trusted. A file that is the user's own config (codex
    home is `<folder>/.codex`) is not listed twice."""
    here = cwd.resolve()
    if not is_trusted(values, here):
        return []
    from codex.core.project_docs import find_git_root

    # The walk stops at the checkout holding `cwd` (a linked worktree's own top, not the main
    # checkout its trust comes from); outside git, `cwd` alone.
    top = find_git_root(here) or here
    folders = [here]
    if top != here:
        for d in here.parents:
            folders.append(d)
            if d == top:
                break
    user_file = (codex_home / "config.toml").resolve()
    files = []
    for d in reversed(folders):
        path = d / PROJECT_CONFIG
        if path.is_file() and path.resolve() != user_file:
            files.append(path)
    return files
