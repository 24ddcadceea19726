"""`codex doctor`: version, platform, install channel and the effective configuration."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

from codex import __version__, platform_info
from codex.config import flatten, load_from_args


def _ca_bundle() -> str:
    """The CA file HTTPS uses (requests verifies against certifi's bundle, frozen inside)."""
    try:
        import certifi
    except ImportError:
        return "(certifi missing: HTTPS will fail)"
    return certifi.where()


def _containment() -> dict[str, str | None]:
    """How codex keeps what commands start from outliving it, here (codex.reaper)."""
    from codex import reaper

    reaper.want_subreaper()  # as `codex exec` / `exec-server` would
    found = reaper.containment()
    return {"mode": found.mode, "detail": found.detail, "cgroup": found.cgroup}


def _project_config(cfg: Any) -> dict[str, Any]:
    """The project's .codex/config.toml layers in use, and those here left out (untrusted)."""
    from codex.project_trust import candidate_files

    used = [str(p) for p in cfg.project_files]
    ignored = [str(p) for p in candidate_files(Path.cwd(), cfg.codex_home) if str(p) not in used]
    return {"files": used, "ignored_untrusted": ignored}


def report(args: argparse.Namespace) -> dict[str, Any]:
    cfg = load_from_args(args)
    flat = flatten(cfg.values)
    return {
        "version": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "target_triple": platform_info.target_triple(),
        "libc": platform_info.libc(),
        "install_channel": platform_info.install_channel(),
        "executable": platform_info.executable_path(),
        "frozen": platform_info.is_frozen(),
        "ca_bundle": _ca_bundle(),
        "codex_home": str(cfg.codex_home),
        "config_file": str(cfg.config_path),
        "config_file_exists": cfg.config_path.is_file(),
        "profile": cfg.profile,
        "project_config": _project_config(cfg),
        "unknown_config_keys": cfg.unknown_keys,
        "process_containment": _containment(),
        "config": {k: {"value": flat[k], "source": cfg.sources.get(k, "config.toml")}
                   for k in sorted(flat) if not k.startswith("profiles.")},
    }


def run(args: argparse.Namespace) -> int:
    info = report(args)
    if args.json:
        json.dump(info, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    out = sys.stdout
    for key in ("version", "python", "platform", "target_triple", "libc", "install_channel",
                "executable", "frozen", "ca_bundle", "codex_home", "config_file", "profile"):
        label = key.replace("_", " ")
        value = info[key]
        if key == "config_file" and not info["config_file_exists"]:
            value = f"{value} (not present)"
        if key == "profile" and value is None:
            value = "(none: -p NAME selects one)"
        out.write(f"{label:16} {value}\n")
    project = info["project_config"]
    for path in project["files"]:
        out.write(f"{'project config':16} {path}\n")
    for path in project["ignored_untrusted"]:
        out.write(f"{'project config':16} {path} (ignored: not in a trusted folder)\n")
    pc = info["process_containment"]
    out.write(f"{'processes':16} {pc['mode']}: {pc['detail']}\n")
    if info["unknown_config_keys"]:
        out.write(f"{'ignored keys':16} {', '.join(info['unknown_config_keys'])}\n")
    out.write("\neffective configuration (key = value  [source])\n")
    width = max((len(k) for k in info["config"]), default=0)
    for key, entry in info["config"].items():
        out.write(f"  {key:{width}} = {json.dumps(entry['value'])}  [{entry['source']}]\n")
    return 0
