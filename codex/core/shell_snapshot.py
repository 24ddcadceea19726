"""The login shell, once per session (spec session.md, last section).

`$SHELL -lc CMD` re-reads the user's profile for every command (~100-300 ms with a pyenv or
nvm profile). Instead, the login shell runs once: it prints its exported variables (and, for
bash and zsh, its functions and aliases), which we write to a snapshot file; each command then
runs as `$SHELL -c '. SNAPSHOT` + newline + `CMD'` (the newline lets aliases defined in the
snapshot apply to CMD where the shell expands aliases at all).

- The snapshot runs under the session's sandbox, with the commands' environment, in the cwd;
  its output is taken between two marker lines, so a profile that prints is harmless.
- Not carried over: `PWD`, `OLDPWD`, `SHLVL`, `_` and the shell's own read-only state.
- Files: `$CODEX_HOME/shell_snapshots/<session id>-<shell>.sh`, mode 0600, deleted at shutdown.
- Rebuilt when the shell's profile files change (their mtimes are checked before each command)
  or the file disappeared.
- A snapshot that cannot be built (a shell we cannot snapshot, a profile that fails or hangs,
  a full disk) falls back to `-lc` for that shell, with one `Warning`.
- Only for commands on this machine: with a remote exec-server the commands run `-lc` there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.core.fileio import write_atomic

log = logging.getLogger(__name__)

SNAPSHOT_DIR = "shell_snapshots"
BUILD_TIMEOUT_S = 20.0
_BEGIN = "__CODEX_SNAPSHOT_BEGIN__"
_END = "__CODEX_SNAPSHOT_END__"
_SKIP = ("PWD", "OLDPWD", "SHLVL", "_")

# What each shell prints into the snapshot (between the markers).
_DUMP = {
    "bash": (
        "for __v in $(compgen -e); do case $__v in PWD|OLDPWD|SHLVL|_|BASH_*|BASHOPTS|"
        "SHELLOPTS) ;; *) declare -p \"$__v\" ;; esac; done; declare -f; alias -p"),
    "zsh": (
        "for __v in ${(k)parameters[(R)*export*]}; do case $__v in PWD|OLDPWD|SHLVL|_) ;; "
        "*) typeset -p \"$__v\" ;; esac; done; typeset -f; alias -L"),
    "sh": "export -p",
}
_FAMILY = {"bash": "bash", "zsh": "zsh", "sh": "sh", "dash": "sh", "ksh": "sh", "mksh": "sh",
           "ash": "sh", "busybox": "sh"}

_PROFILES = (".profile", ".bash_profile", ".bash_login", ".bashrc", ".zshenv", ".zprofile",
             ".zshrc", ".zlogin")
_SYSTEM_PROFILES = ("/etc/profile", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zshenv",
                    "/etc/zprofile", "/etc/zsh/zshenv", "/etc/zsh/zprofile", "/etc/zsh/zshrc")


class SnapshotError(Exception):
    pass


@dataclass
class _Built:
    path: Path
    stamp: tuple[Any, ...]


class ShellSnapshots:
    """The session's snapshots, one per shell program; `argv` is unified_exec's
    `command_argv` hook."""

    def __init__(self, *, directory: Path, session_id: str, env: Mapping[str, str],
                 cwd: Callable[[], str], sandbox: Callable[[], Mapping[str, Any] | None],
                 warn: Callable[[str], None]) -> None:
        self._dir = directory
        self._session_id = session_id
        self._env = dict(env)
        self._cwd = cwd
        self._sandbox = sandbox
        self._warn = warn
        self._built: dict[str, _Built] = {}
        self._building: dict[str, asyncio.Task[_Built | None]] = {}
        self._failed: set[str] = set()

    async def argv(self, shell: str, login: bool, cmd: str) -> Sequence[str]:
        if not login:
            return [shell, "-c", cmd]
        path = await self.snapshot(shell)
        if path is None:
            return [shell, "-lc", cmd]
        return [shell, "-c", f". {shlex.quote(str(path))}\n{cmd}"]

    async def snapshot(self, shell: str) -> Path | None:
        """The current snapshot of `shell`, built or rebuilt if needed; None: use `-lc`."""
        if shell in self._failed:
            return None
        built = self._built.get(shell)
        if built is not None and built.stamp == self._stamp(shell) and built.path.exists():
            return built.path
        task = self._building.get(shell)
        if task is None:
            task = asyncio.ensure_future(self._build(shell))
            self._building[shell] = task
            task.add_done_callback(lambda _t: self._building.pop(shell, None))
        result = await asyncio.shield(task)
        return result.path if result is not None else None

    def delete(self) -> None:
        for task in self._building.values():
            task.cancel()
        for built in self._built.values():
            with contextlib.suppress(OSError):
                built.path.unlink()
        self._built.clear()

    # -- building ----------------------------------------------------------------------
    def _stamp(self, shell: str) -> tuple[Any, ...]:
        home = Path(self._env.get("HOME") or os.path.expanduser("~"))
        zdot = self._env.get("ZDOTDIR")
        paths = [home / p for p in _PROFILES] + [Path(p) for p in _SYSTEM_PROFILES]
        if zdot:
            paths += [Path(zdot) / p for p in (".zshenv", ".zprofile", ".zshrc", ".zlogin")]
        stamp: list[Any] = [shell]
        for p in paths:
            try:
                st = p.stat()
                stamp.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    async def _build(self, shell: str) -> _Built | None:
        stamp = self._stamp(shell)
        try:
            text = await self._dump(shell)
            path = self._write(shell, text)
            await self._check(shell, path)
        except asyncio.CancelledError:
            raise
        except (SnapshotError, OSError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            self._failed.add(shell)
            old = self._built.pop(shell, None)
            if old is not None:
                with contextlib.suppress(OSError):
                    old.path.unlink()
            self._warn(f"could not snapshot the login shell {shell} ({why}); commands run "
                       f"as `{Path(shell).name} -lc` instead, which reads the profile every "
                       "time")
            return None
        built = _Built(path, stamp)
        self._built[shell] = built
        return built

    async def _dump(self, shell: str) -> str:
        family = _FAMILY.get(Path(shell).name)
        if family is None:
            raise SnapshotError(f"{Path(shell).name} is not a shell codex can snapshot")
        script = f"printf '\\n%s\\n' {_BEGIN}; {_DUMP[family]}; printf '\\n%s\\n' {_END}"
        code, out = await self._run([shell, "-lc", script])
        text = out.decode("utf-8", "surrogateescape")
        begin, end = text.rfind(f"\n{_BEGIN}\n"), text.rfind(f"\n{_END}\n")
        if code != 0 or begin < 0 or end < begin:
            raise SnapshotError(f"the login shell exited with {code}")
        body = text[begin + len(_BEGIN) + 2:end]
        if family == "sh":
            body = _drop_exports(body, _SKIP)
        return body

    def _write(self, shell: str, body: str) -> Path:
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / f"{self._session_id}-{Path(shell).name}.sh"
        data = f"# codex login-shell snapshot of {shell}\n{body}\n".encode(
            "utf-8", "surrogateescape")
        write_atomic(path, data, mode=0o600)
        return path

    async def _check(self, shell: str, path: Path) -> None:
        """The snapshot must load cleanly in a plain `-c` shell."""
        code, out = await self._run(
            [shell, "-c", f". {shlex.quote(str(path))} && printf '%s\\n' {_END}"])
        if code != 0 or _END.encode() not in out:
            raise SnapshotError("the snapshot does not load in a plain shell")

    async def _run(self, argv: list[str]) -> tuple[int, bytes]:
        sandbox = self._sandbox()
        if sandbox is not None:
            from codex.sandbox import SandboxUnavailable, wrap_argv

            try:
                argv = wrap_argv(sandbox, argv, self._cwd())
            except SandboxUnavailable as e:
                raise SnapshotError(str(e)) from None
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, cwd=self._cwd(), env=self._env, start_new_session=True)
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
            async with asyncio.timeout(BUILD_TIMEOUT_S):
                out, _ = await proc.communicate()
        except (TimeoutError, asyncio.CancelledError) as e:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            if isinstance(e, asyncio.CancelledError):
                raise
            raise SnapshotError(f"the login shell took over {BUILD_TIMEOUT_S:g} s") from None
        return proc.returncode or 0, out


def _drop_exports(text: str, names: tuple[str, ...]) -> str:
    """`export -p` output without the entries for `names` (values may span lines)."""
    out: list[str] = []
    entry: list[str] = []
    for line in text.splitlines():
        entry.append(line)
        joined = "\n".join(entry)
        try:
            shlex.split(joined)
        except ValueError:
            continue  # an open quote: the value goes on on the next line
        words = joined.split(None, 1)
        name = words[1].split("=", 1)[0] if len(words) > 1 else ""
        if name not in names:
            out.append(joined)
        entry = []
    return "\n".join(out)
