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
    """The main checkout of the linked worktree at `root`, only when git itself would take it
    for one: `<root>/.git` names `<main>/.git/worktrees/NAME`, that folder exists and its
    `gitdir` file points back to `<root>/.git`. A `.git` file alone proves nothing (an unpacked
    archive could name a trusted checkout to borrow its trust)."""
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
    if git_dir.parent.name != "worktrees" or git_dir.parent.parent.name != ".git":
        return None
    try:
        back = (git_dir / "gitdir").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    if not back or (git_dir / back).resolve() != dot_git.resolve():
        return None
    main = git_dir.parent.parent
    if not (main / "HEAD").is_file():
        return None
    return main.parent


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


def level_for(values: dict[str, Any], cwd: Path) -> tuple[TrustLevel | None, Path]:
    """The trust that applies in `cwd` and the folder it is recorded for: `cwd`'s own entry
    when it has one, else its project root's (level None: nothing recorded; the folder is then
    the project root, where the UI's question records the answer). The one rule for the
    config layers, the trust question and its defaults."""
    here = cwd.resolve()
    root = project_root(here)
    for folder in (here, root):
        level = recorded_level(values, folder)
        if level is not None:
            return level, folder
    return None, root


def trusted_folder(values: dict[str, Any], cwd: Path) -> Path | None:
    """The folder whose entry in `values` makes `cwd` trusted (see `level_for`); None when the
    entry is missing or says untrusted. `values` must be the user's configuration
    (config.toml, -c): a project cannot vouch for itself."""
    level, folder = level_for(values, cwd)
    return folder if level is TrustLevel.TRUSTED else None


def is_trusted(values: dict[str, Any], cwd: Path) -> bool:
    return trusted_folder(values, cwd) is not None


def candidate_files(cwd: Path, codex_home: Path, *, top: Path | None = None) -> list[Path]:
    """Every `.codex/config.toml` from `top` (default: the top of the checkout holding `cwd`;
    outside git, `cwd`) down to `cwd`, lowest precedence first. The user's own config (codex
    home is `<folder>/.codex`) is never one of them."""
    from codex.core.project_docs import find_git_root

    here = cwd.resolve()
    # A linked worktree's own top, not the main checkout its trust comes from.
    stop = top if top is not None and (top == here or top in here.parents) else \
        find_git_root(here) or here
    folders = [here]
    if stop != here:
        for d in here.parents:
            folders.append(d)
            if d == stop:
                break
    user_file = (codex_home / "config.toml").resolve()
    files = []
    for d in reversed(folders):
        path = d / PROJECT_CONFIG
        if path.is_file() and path.resolve() != user_file:
            files.append(path)
    return files


def project_config_files(values: dict[str, Any], cwd: Path, codex_home: Path) -> list[Path]:
    """The `.codex/config.toml` files that apply in `cwd`, lowest precedence first (a
    subfolder's settings win, as Codex layers them); empty unless the folder is trusted. When
    the trust is `cwd`'s own entry, only its file: folders above it were not vouched for."""
    folder = trusted_folder(values, cwd)
    if folder is None:
        return []
    top = folder if folder == cwd.resolve() else None
    return candidate_files(cwd, codex_home, top=top)
