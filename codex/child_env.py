"""The environment of the commands the model runs: the user's, not the freezer's.

`user_environ()` undoes what a frozen binary's bootloader did to our own environment (library
search paths pointing into the unpacked bundle, bootloader bookkeeping variables), so a
command the model runs sees what the user's shell would have given it. `child_env()` then
applies `shell_environment_policy` and the values the unified-exec spec forces.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

# Library search paths a bootloader may point into its bundle. PyInstaller saves the user's
# value as `<NAME>_ORIG` when there was one; our launcher may save it as `CODEX_ORIG_<NAME>`.
FREEZER_PATH_VARS = (
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "DYLD_LIBRARY_PATH",
    "DYLD_FRAMEWORK_PATH",
    "DYLD_FALLBACK_LIBRARY_PATH",
    "DYLD_INSERT_LIBRARIES",
    "LIBPATH",
    "SHLIB_PATH",
)
# Bootloader bookkeeping: inherited by a nested frozen program it would make that program
# believe it is a child of *our* bootloader (and reuse our unpacked bundle).
FREEZER_PREFIXES = ("_PYI_", "_MEIPASS", "STATICX_", "NUITKA_ONEFILE_")
# CODEX_LAUNCHER_PATH: our packaged launcher's note to the program it unpacked.
FREEZER_NAMES = frozenset({"_MEIPASS2", "PYINSTALLER_RESET_ENVIRONMENT", "CODEX_LAUNCHER_PATH"})
ORIG_PREFIX = "CODEX_ORIG_"
PYI_ORIG_SUFFIX = "_ORIG"

# Forced on every child (unified-exec spec): plain, uncoloured, unpaged UTF-8 output.
FORCED_ENV: dict[str, str] = {
    "NO_COLOR": "1",
    "TERM": "dumb",
    "LANG": "C.UTF-8",
    "LC_CTYPE": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "COLORTERM": "",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "GH_PAGER": "cat",
    "CODEX_CI": "1",
}
THREAD_ID_VAR = "CODEX_THREAD_ID"

CORE_VARS = ("HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP")
DEFAULT_EXCLUDES = ("*KEY*", "*SECRET*", "*TOKEN*")


def is_frozen() -> bool:
    """True inside a PyInstaller/cx_Freeze bundle or a Nuitka-compiled program."""
    return bool(getattr(sys, "frozen", False)) or "__compiled__" in globals()


def user_environ(environ: Mapping[str, str] | None = None, *,
                 frozen: bool | None = None) -> dict[str, str]:
    """`os.environ` as the user had it before a freezer's bootloader touched it."""
    env = dict(os.environ if environ is None else environ)
    frozen = is_frozen() if frozen is None else frozen
    restored: set[str] = set()
    for name in list(env):
        if name.startswith(ORIG_PREFIX):
            original = name[len(ORIG_PREFIX):]
            env[original] = env.pop(name)
            restored.add(original)
    for name in FREEZER_PATH_VARS:
        saved = env.pop(name + PYI_ORIG_SUFFIX, None)
        if name in restored:
            continue
        if saved is not None:
            env[name] = saved
        elif frozen:
            # The bootloader set it and the user had none.
            env.pop(name, None)
    for name in list(env):
        if name in FREEZER_NAMES or name.startswith(FREEZER_PREFIXES):
            del env[name]
    return env


def _matches(name: str, patterns: Iterable[str]) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, str(p).upper()) for p in patterns)


def apply_policy(base: Mapping[str, str], policy: Mapping[str, Any] | None) -> dict[str, str]:
    """Apply a `shell_environment_policy` table: inherit → default excludes → exclude →
    set → include_only (patterns are case-insensitive globs)."""
    policy = policy or {}
    inherit = policy.get("inherit", "all")
    if inherit == "all":
        env = dict(base)
    elif inherit == "core":
        env = {k: v for k, v in base.items() if k in CORE_VARS}
    elif inherit == "none":
        env = {}
    else:
        raise ValueError(f"shell_environment_policy.inherit must be all, core or none, "
                         f"not {inherit!r}")
    if not policy.get("ignore_default_excludes", True):
        env = {k: v for k, v in env.items() if not _matches(k, DEFAULT_EXCLUDES)}
    exclude = policy.get("exclude") or ()
    if exclude:
        env = {k: v for k, v in env.items() if not _matches(k, exclude)}
    for k, v in (policy.get("set") or {}).items():
        env[str(k)] = str(v)
    include_only = policy.get("include_only") or ()
    if include_only:
        env = {k: v for k, v in env.items() if _matches(k, include_only)}
    return env


def force_env(env: Mapping[str, str], thread_id: str | None = None) -> dict[str, str]:
    """`env` with the spec's forced variables (and the thread id, if any) on top."""
    out = dict(env)
    out.update(FORCED_ENV)
    if thread_id:
        out[THREAD_ID_VAR] = thread_id
    return out


def child_env(policy: Mapping[str, Any] | None, thread_id: str | None,
              environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a model-run command."""
    return force_env(apply_policy(user_environ(environ), policy), thread_id)
