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
    """The folder trust is recorded for: the git checkout's root, else the cwd."""
    from codex.core.context import find_git_root

    root = find_git_root(cwd)
    return Path(root).resolve() if root is not None else cwd.resolve()


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
