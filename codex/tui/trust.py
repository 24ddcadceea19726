"""Project trust (spec tui.md "Starting"): ask once per folder, remember the answer in
`config.toml` as `[projects."<abs path>"] trust_level = "trusted" | "untrusted"`.

The file is edited with tomlkit, which keeps the user's comments, ordering and formatting:
only the one table is added or changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from codex.config import CONFIG_FILE, ConfigError
from codex.project_trust import TrustLevel, level_for, project_root, recorded_level

__all__ = ["DEFAULTS", "TrustLevel", "level_for", "needs_question", "project_root", "record",
           "recorded_level"]


# What each answer means when the user chose no policy themselves (flags, -c, config).
DEFAULTS: dict[TrustLevel, dict[str, str]] = {
    TrustLevel.TRUSTED: {"approval_policy": "on-request", "sandbox_mode": "workspace-write"},
    TrustLevel.UNTRUSTED: {"approval_policy": "untrusted", "sandbox_mode": "read-only"},
}


def needs_question(values: dict[str, Any], sources: dict[str, str], cwd: Path) -> bool:
    """Whether starting here asks the trust question: nothing is recorded for the project and
    the user chose no approval policy or sandbox themselves (flags, -c, config)."""
    from codex.config import SRC_DEFAULT

    if any(sources.get(k) != SRC_DEFAULT for k in ("approval_policy", "sandbox_mode")):
        return False
    return level_for(values, cwd)[0] is None


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
