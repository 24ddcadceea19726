"""Project trust (spec tui.md "Starting"): ask once per folder, remember the answer in
`config.toml` as `[projects."<abs path>"] trust_level = "trusted" | "untrusted"`.

The file is edited with tomlkit, which keeps the user's comments, ordering and formatting:
only the one table is added or changed.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

from codex.config import CONFIG_FILE, ConfigError


class TrustLevel(enum.StrEnum):
    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"


# What each answer means when the user chose no policy themselves (flags, -c, config).
DEFAULTS: dict[TrustLevel, dict[str, str]] = {
    TrustLevel.TRUSTED: {"approval_policy": "on-request", "sandbox_mode": "workspace-write"},
    TrustLevel.UNTRUSTED: {"approval_policy": "untrusted", "sandbox_mode": "read-only"},
}


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


def needs_question(values: dict[str, Any], sources: dict[str, str], cwd: Path) -> bool:
    """Whether starting here asks the trust question: nothing is recorded for the project and
    the user chose no approval policy or sandbox themselves (flags, -c, config)."""
    from codex.config import SRC_DEFAULT

    if any(sources.get(k) != SRC_DEFAULT for k in ("approval_policy", "sandbox_mode")):
        return False
    return recorded_level(values, project_root(cwd)) is None


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


def record(home: Path, root: Path, level: TrustLevel) -> Path:
    """Write the project's trust level into `home/config.toml`, keeping everything else
    byte for byte. Raises ConfigError when the file cannot be parsed or written."""
    import tomlkit

    path = home / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    projects = doc.get("projects")
    if projects is None:
        projects = tomlkit.table(is_super_table=True)
        doc["projects"] = projects
    key = str(root)
    entry = projects.get(key)
    if entry is None:
        entry = tomlkit.table()
        projects[key] = entry
    entry["trust_level"] = str(level)
    out = tomlkit.dumps(doc)
    try:
        home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(out, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None
    return path
