"""The `exec_command` / `write_stdin` tools over any `ExecBackend`.

The manager owns the session table and the timing rules of the unified-exec spec; it never
asks which backend a process runs on. Sessions live until they exit (and the model has been
told), are pruned, or `shutdown()` — not until the end of a turn.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codex.errors import CodexError
from codex.exec_server.backend import ExecBackend, SpawnError, StartParams, WriteStatus
from codex.unified_exec.buffer import Collected
from codex.unified_exec.output import DEFAULT_MAX_OUTPUT_TOKENS, format_result, render_output
from codex.unified_exec.process import OutputObserver, ProcessHandle, UnifiedExecProcess
from codex.unified_exec.sessions import SessionTable

log = logging.getLogger(__name__)

MIN_YIELD_TIME_MS = 250
MAX_YIELD_TIME_MS = 30_000
MIN_EMPTY_YIELD_TIME_MS = 5_000
MAX_EMPTY_YIELD_TIME_MS = 300_000
DEFAULT_EXEC_YIELD_TIME_MS = 10_000
DEFAULT_WRITE_YIELD_TIME_MS = 250
# After an exit, how long the last output may take to arrive.
POST_EXIT_OUTPUT_MS = 50
# After a spawn, how long to wait for an immediate exit before storing a session.
EARLY_EXIT_WAIT_MS = 150
# How long a write refused as unknownProcess/stdinClosed may take to show up as an exit.
WRITE_REFUSED_EXIT_WAIT_MS = 500
SHUTDOWN_WAIT_S = 5.0

CTRL_C = "\u0003"
STDIN_CLOSED_TEXT = ("write_stdin failed: stdin is closed for this session; rerun exec_command "
                     "with tty=true to keep stdin open")
FALLBACK_SHELLS = ("/bin/bash", "/bin/sh")

@dataclass(frozen=True, slots=True)
class ToolResult:
    """One tool call's outcome. `text` is exactly what the model reads."""

    text: str
    command: str
    output: str  # decoded output collected by this call (untruncated, as far as kept)
    exit_code: int | None
    session_id: int | None
    wall_time: float
    failure: str | None = None


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def _int_arg(args: Mapping[str, Any], key: str, default: int | None) -> int | None:
    v = args.get(key)
    if v is None or isinstance(v, bool):
        return default
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return default


def _bool_arg(args: Mapping[str, Any], key: str, default: bool) -> bool:
    v = args.get(key)
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes")
    return default if v is None else bool(v)


def default_shell(environ: Mapping[str, str] | None = None) -> str:
    """The user's shell: `$SHELL`, else /bin/bash, else /bin/sh."""
    env = os.environ if environ is None else environ
    shell = env.get("SHELL")
    if shell:
        return shell
    for candidate in FALLBACK_SHELLS:
        if os.access(candidate, os.X_OK):
            return candidate
    return FALLBACK_SHELLS[-1]


def extract_apply_patch(cmd: str, cwd: str) -> tuple[str, str] | None:
    """(patch text, directory) of an `[cd DIR &&] apply_patch <<'EOF' … EOF` command."""
    from codex.core.apply_patch import parse_heredoc_command

    parsed = parse_heredoc_command(cmd)
    if parsed is None:
        return None
    where = os.path.normpath(os.path.join(cwd, parsed.workdir)) if parsed.workdir else cwd
    return parsed.patch, where


class UnifiedExecManager:
    """Runs `exec_command` / `write_stdin` calls. Owns `backend`: `shutdown()` closes it."""

    def __init__(
        self,
        backend: ExecBackend,
        *,
        cwd: str,
        env: Mapping[str, str] | None = None,
        tool_output_token_limit: int = 10_000,
        sandbox: Mapping[str, Any] | None = None,
        deterministic_ids: bool = False,
        apply_patch_hook: Callable[[str, str], Awaitable[str]] | None = None,
        command_argv: Callable[[str, bool, str], Awaitable[Sequence[str]]] | None = None,
    ) -> None:
        """`command_argv(shell, login, cmd)`, when given, builds each command's argv instead
        of `[shell, "-lc" | "-c", cmd]` (the session's login-shell snapshot)."""
        from codex.child_env import child_env, force_env

        self._backend = backend
        self._cwd = os.path.abspath(cwd)
        self._env = force_env(env) if env is not None else child_env(None, None)
        self._limit = tool_output_token_limit
        self._sandbox = sandbox
        self._hook = apply_patch_hook
        self._command_argv = command_argv
        self._sessions: SessionTable[UnifiedExecProcess] = SessionTable(
            deterministic_ids=deterministic_ids)
        self._shell = default_shell(os.environ if "SHELL" in os.environ else self._env)
        self._live: set[UnifiedExecProcess] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._proc_prefix = f"ue-{secrets.token_hex(4)}"
        self._proc_counter = 0
        self._closed = False

    # --- public API -----------------------------------------------------------------------

    @property
    def session_ids(self) -> list[int]:
        """Stored sessions, least recently used first."""
        return list(self._sessions)

    async def exec_command(self, args: Mapping[str, Any], *,
                           on_output: OutputObserver | None = None,
                           kill_on_cancel: bool = False) -> ToolResult:
        """Run `args["cmd"]` (the `exec_command` tool). `on_output(stream, chunk)` sees the
        output while this call waits for it. A cancelled call keeps its process as a stored
        session, or with `kill_on_cancel` kills it (the model never learnt its session id)."""
        started = time.monotonic()
        cmd = args.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            return self._error("", "exec_command failed: `cmd` must be a non-empty string",
                               started)
        workdir = args.get("workdir")
        cwd = os.path.normpath(os.path.join(self._cwd, workdir)) if workdir else self._cwd
        budget = self._budget(args)
        if self._closed:
            return self._error(cmd, f"exec_command failed for `{cmd}`: the session manager "
                               "is shut down", started)

        if self._hook is not None:
            found = extract_apply_patch(cmd, cwd)
            if found is not None:
                return await self._apply_patch(cmd, *found, budget, started)

        yield_ms = _clamp(_int_arg(args, "yield_time_ms", DEFAULT_EXEC_YIELD_TIME_MS) or 0,
                          MIN_YIELD_TIME_MS, MAX_YIELD_TIME_MS)
        started_proc = await self._spawn(args, cmd, cwd, started)
        if isinstance(started_proc, ToolResult):
            return started_proc
        proc = started_proc
        proc.observer = on_output
        session_id: int | None = None
        deadline = started + yield_ms / 1000
        try:
            try:
                await proc.wait_finished(
                    min(deadline, time.monotonic() + EARLY_EXIT_WAIT_MS / 1000))
                if not proc.state.finished:
                    session_id = self._store(proc)
                    await proc.wait_finished(deadline)
            except asyncio.CancelledError:
                if kill_on_cancel:
                    self._forget(session_id)
                    await self._kill(proc)
                elif session_id is None and not proc.state.finished:
                    # An interrupted turn does not kill the command: keep it reachable.
                    self._store(proc)
                raise
            return await self._report(proc, session_id, budget, started, tool="exec_command")
        finally:
            proc.observer = None

    async def run_to_exit(self, args: Mapping[str, Any], *,
                          on_output: OutputObserver | None = None) -> ToolResult:
        """Run `args["cmd"]` until it exits, without storing a session (a command the user
        typed, `!cmd`). Cancelling the call kills the process."""
        started = time.monotonic()
        cmd = str(args.get("cmd") or "")
        workdir = args.get("workdir")
        cwd = os.path.normpath(os.path.join(self._cwd, workdir)) if workdir else self._cwd
        if self._closed or not cmd.strip():
            return self._error(cmd, f"`{cmd}` was not run: the session is shut down"
                               if self._closed else "nothing to run", started)
        started_proc = await self._spawn(args, cmd, cwd, started)
        if isinstance(started_proc, ToolResult):
            return started_proc
        proc = started_proc
        proc.observer = on_output
        try:
            try:
                await proc.wait_finished(float("inf"))
            except asyncio.CancelledError:
                await self._kill(proc)
                raise
            return await self._report(proc, None, self._budget(args), started,
                                      tool="exec_command")
        finally:
            proc.observer = None

    async def _spawn(self, args: Mapping[str, Any], cmd: str, cwd: str,
                     started: float) -> UnifiedExecProcess | ToolResult:
        """Start `cmd` on the backend; the error result when it cannot start."""
        shell = str(args.get("shell") or self._shell)
        login = _bool_arg(args, "login", True)
        tty = _bool_arg(args, "tty", False)
        # Escalation is approved by the agent before it calls us; then we run unsandboxed.
        sandbox = None if args.get("sandbox_permissions") == "require_escalated" \
            else self._sandbox
        if self._command_argv is not None:
            argv = list(await self._command_argv(shell, login, cmd))
        else:
            argv = [shell, "-lc" if login else "-c", cmd]
        self._proc_counter += 1
        params = StartParams(
            process_id=f"{self._proc_prefix}-{self._proc_counter}",
            argv=argv,
            cwd=cwd,
            env=self._env,
            tty=tty,
            sandbox=sandbox,
        )
        try:
            process, events = await self._backend.start(params)
        except (SpawnError, CodexError, OSError) as e:
            why = e.message if isinstance(e, SpawnError | CodexError) else (e.strerror or str(e))
            if isinstance(e, OSError) and e.filename:
                why = f"{why}: {e.filename}"
            return self._error(cmd, f"exec_command failed for `{cmd}`: {why}", started,
                               failure=why)
        proc = UnifiedExecProcess(ProcessHandle(process, events), command=cmd, tty=tty)
        self._live.add(proc)
        proc.when_closed(self._live.discard)
        return proc

    async def write_stdin(self, args: Mapping[str, Any], *,
                          on_output: OutputObserver | None = None) -> ToolResult:
        """Write to / poll a stored session (the `write_stdin` tool); `on_output` as for
        `exec_command`."""
        proc = self._sessions.get(_int_arg(args, "session_id", None) or -1)
        if proc is None or on_output is None:
            return await self._write_stdin(args)
        proc.observer = on_output
        try:
            return await self._write_stdin(args)
        finally:
            proc.observer = None

    @property
    def budget_tokens(self) -> int:
        """The output budget of a call that does not set `max_output_tokens`."""
        return min(DEFAULT_MAX_OUTPUT_TOKENS, self._limit)

    def command_of(self, session_id: int) -> str | None:
        """The command line a stored session runs, or None for an unknown id."""
        proc = self._sessions.get(session_id)
        return proc.command if proc is not None else None

    def configure(self, *, cwd: str | None = None,
                  sandbox: Mapping[str, Any] | None | object = ...) -> None:
        """Change the working directory / sandbox policy of the commands started from now
        on (a session's context override). `sandbox=None` means unsandboxed."""
        if cwd is not None:
            self._cwd = os.path.abspath(cwd)
        if sandbox is not ...:
            self._sandbox = sandbox  # type: ignore[assignment]

    async def _write_stdin(self, args: Mapping[str, Any]) -> ToolResult:
        started = time.monotonic()
        raw_id = args.get("session_id")
        session_id = _int_arg(args, "session_id", None)
        proc = self._sessions.get(session_id) if session_id is not None else None
        if proc is None:
            return self._error("", f"write_stdin failed: Unknown process id {raw_id}", started)
        self._sessions.touch(session_id)
        proc.last_used = started
        budget = self._budget(args)
        chars = args.get("chars") or ""
        if not isinstance(chars, str):
            chars = str(chars)
        y = _int_arg(args, "yield_time_ms", DEFAULT_WRITE_YIELD_TIME_MS) or 0
        if chars:
            yield_ms = _clamp(y, MIN_YIELD_TIME_MS, MAX_YIELD_TIME_MS)
        else:
            yield_ms = _clamp(y, MIN_EMPTY_YIELD_TIME_MS, MAX_EMPTY_YIELD_TIME_MS)
        deadline = started + yield_ms / 1000

        if chars and not proc.state.finished:
            if not proc.tty:
                if chars != CTRL_C:
                    return self._error(proc.command, STDIN_CLOSED_TEXT, started,
                                       session_id=session_id)
                await proc.interrupt()
            else:
                status = await proc.write(chars.encode("utf-8"))
                if status is not WriteStatus.ACCEPTED and not proc.state.finished:
                    # A process that just exited refuses input; report its exit if it comes.
                    await proc.wait_finished(
                        min(deadline, time.monotonic() + WRITE_REFUSED_EXIT_WAIT_MS / 1000))
                    if not proc.state.finished:
                        if status is WriteStatus.STDIN_CLOSED:
                            return self._error(proc.command, STDIN_CLOSED_TEXT, started,
                                               session_id=session_id)
                        self._forget(session_id)
                        return self._error(
                            proc.command, f"write_stdin failed: Unknown process id {raw_id}",
                            started)
        await proc.wait_finished(deadline)
        return await self._report(proc, session_id, budget, started, tool="write_stdin")

    async def shutdown(self) -> None:
        """Kill every process this manager started, wait for them, and close the backend."""
        self._closed = True
        procs = list(self._live)
        await asyncio.gather(*(p.terminate() for p in procs), return_exceptions=True)
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        await asyncio.gather(*(p.wait_closed(deadline) for p in procs),
                             return_exceptions=True)
        for sid in list(self._sessions):
            self._sessions.remove(sid)
        for p in procs:
            await p.stop_pump()
        self._live.clear()
        for t in list(self._background):
            t.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._backend.close()

    # --- internals ------------------------------------------------------------------------

    def _budget(self, args: Mapping[str, Any]) -> int:
        requested = _int_arg(args, "max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS)
        if requested is None or requested < 0:
            requested = DEFAULT_MAX_OUTPUT_TOKENS
        return min(requested, self._limit)

    def _store(self, proc: UnifiedExecProcess) -> int:
        victim = self._sessions.pick_prune_victim()
        if victim is not None:
            pruned = self._sessions.remove(victim)
            if pruned is not None:
                log.info("pruning session %s (%s)", victim, pruned.command)
                self._in_background(self._kill(pruned))
        session_id = self._sessions.reserve_id()
        self._sessions.store(session_id, proc)
        return session_id

    async def _kill(self, proc: UnifiedExecProcess) -> None:
        await proc.terminate()
        await proc.wait_closed(time.monotonic() + SHUTDOWN_WAIT_S)
        await proc.stop_pump()

    def _in_background(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _forget(self, session_id: int | None) -> None:
        if session_id is None:
            return
        self._sessions.remove(session_id)

    async def _report(self, proc: UnifiedExecProcess, session_id: int | None, budget: int,
                      started: float, *, tool: str) -> ToolResult:
        state = proc.state
        if state.has_exited:
            await proc.wait_closed(time.monotonic() + POST_EXIT_OUTPUT_MS / 1000)
        out = proc.take_output()
        output_text = out.kept.decode("utf-8", "replace")
        if state.failure_message is not None and not state.has_exited:
            self._forget(session_id)
            head = (f"exec_command failed for `{proc.command}`" if tool == "exec_command"
                    else "write_stdin failed")
            text = f"{head}: {state.failure_message}"
            if out.total:
                text += "\nOutput:\n" + render_output(out, budget)
            return ToolResult(text, proc.command, output_text, None, None,
                              time.monotonic() - started, state.failure_message)
        if state.has_exited:
            self._forget(session_id)
            session_id = None
        wall = time.monotonic() - started
        warning = self._sessions.warning() if session_id is not None else None
        text = format_result(wall_time=wall, exit_code=state.exit_code if state.has_exited
                             else None, session_id=session_id, out=out, budget_tokens=budget,
                             warning=warning)
        return ToolResult(text, proc.command, output_text,
                          state.exit_code if state.has_exited else None, session_id, wall)

    async def _apply_patch(self, cmd: str, patch: str, cwd: str, budget: int,
                           started: float) -> ToolResult:
        assert self._hook is not None
        try:
            text, code = await self._hook(patch, cwd), 0
        except CodexError as e:
            text, code = e.message, 1
        data = text.encode("utf-8")
        lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
        out = Collected(data, b"", len(data), lines)
        wall = time.monotonic() - started
        return ToolResult(format_result(wall_time=wall, exit_code=code, session_id=None,
                                        out=out, budget_tokens=budget),
                          cmd, text, code, None, wall)

    def _error(self, command: str, text: str, started: float, *,
               session_id: int | None = None, failure: str | None = None) -> ToolResult:
        return ToolResult(text, command, "", None, session_id, time.monotonic() - started,
                          failure)
