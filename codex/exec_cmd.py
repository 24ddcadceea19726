"""`codex exec`: one task, headless. A front-end of the session: it submits one `UserTurn` and
renders the events as text for people (stderr, the final message on stdout) or as JSONL
(`--json`, codex/exec/jsonl.py). `codex exec resume --last|<id> [prompt]` continues a
recorded session.

Exit codes (`exit_code` below is the one place they are decided):
- 0: the turn completed (even if commands failed);
- 1: the turn failed, bad configuration, not in a git repo without `--skip-git-repo-check`,
  or `-o FILE` / stdout could not be written;
- 2: bad command line;
- 128+N: ended by signal N (SIGINT -> 130, SIGTERM -> 143, SIGHUP -> 129); 130 when the turn
  was aborted otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import sys
from pathlib import Path
from typing import Any

from codex.config import Config, load_from_args
from codex.errors import CodexError, UsageError
from codex.exec.options import ExecOptions

OSS_PROVIDERS = ("ollama", "lmstudio")
OSS_DEFAULT_MODEL = "gpt-oss:20b"
OSS_PROBE_TIMEOUT_S = 1.0
# SIGHUP too: a closed terminal must still end the turn cleanly (sessions killed, rollout
# closed) instead of leaving the model's commands running as orphans.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130  # 128 + SIGINT


class Outcome(enum.Enum):
    """How the run ended, before it is turned into an exit code."""

    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"
    OUTPUT_FAILED = "output_failed"  # stdout or -o FILE could not be written


def exit_code(outcome: Outcome, signal_received: int | None) -> int:
    if signal_received is not None:
        return 128 + signal_received
    return {Outcome.COMPLETED: ExitCode.OK, Outcome.FAILED: ExitCode.FAILED,
            Outcome.ABORTED: ExitCode.INTERRUPTED,
            Outcome.OUTPUT_FAILED: ExitCode.FAILED}[outcome]


# -- oss -----------------------------------------------------------------------------------
def _probe(base_url: str) -> bool:
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(base_url.rstrip("/") + "/models", timeout=OSS_PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError:
        return True  # something answered HTTP there
    except (OSError, ValueError):
        return False


def pick_oss_provider(cfg: Config) -> str:
    chosen = cfg.get("oss_provider")
    candidates = [chosen] if chosen else list(OSS_PROVIDERS)
    tried = []
    for pid in candidates:
        prov = cfg.provider(pid)
        if _probe(str(prov.get("base_url", ""))):
            return pid
        tried.append(f"{pid} at {prov.get('base_url')}")
    raise CodexError("--oss: no local model server is running (tried " + ", ".join(tried)
                     + "). Start Ollama (`ollama serve`) or LM Studio's server, or set "
                     "model_providers.<id>.base_url to where yours listens.")


# -- the run -------------------------------------------------------------------------------
def run(args: Any) -> int:
    from codex.exec.inputs import image_part, output_schema, resolve_prompt

    opts = ExecOptions.from_args(args)
    cfg = load_from_args(args, opts.config_flags())
    cwd = Path.cwd()

    from codex.core.context import find_git_root

    if not opts.skip_git_repo_check and find_git_root(cwd) is None:
        raise CodexError(f"not inside a git repository ({cwd}); run in one or pass "
                         "--skip-git-repo-check")
    if opts.oss:
        cfg.values["model_provider"] = pick_oss_provider(cfg)
        if opts.model is None and cfg.sources.get("model") == "default":
            cfg.values["model"] = OSS_DEFAULT_MODEL
    cfg.provider()  # an unknown provider is a configuration error before anything else
    resume_path = None
    if opts.resume:
        from codex.core.rollout import find_rollout

        # --last means the newest session of this directory, unless --all.
        resume_path = find_rollout(cfg.codex_home, opts.resume_id,
                                   cwd=None if opts.all_sessions else cwd)
    schema = output_schema(opts.output_schema)
    images = [image_part(p) for p in opts.images]
    prompt = resolve_prompt(opts.prompt, required=not opts.resume or bool(images))
    if prompt is None and opts.resume:
        raise UsageError("resume needs a prompt: codex exec resume --last \"what next\"")
    content: list[dict[str, Any]] = []
    if prompt:
        content.append({"type": "input_text", "text": prompt})
    content.extend(images)

    from codex.core.session import SessionOptions

    options = SessionOptions(config=cfg, cwd=cwd, resume_path=resume_path,
                             ephemeral=opts.ephemeral, add_dirs=opts.add_dirs,
                             exec_server_url=opts.exec_server, output_schema=schema)
    return asyncio.run(_drive(opts, options, tuple(content)))


class _Output:
    """stdout/stderr writes that notice a broken or full output once instead of raising."""

    def __init__(self) -> None:
        self.failed: str | None = None

    def guard(self, fn: Any, *args: Any) -> None:
        if self.failed is not None:
            return
        try:
            fn(*args)
        except BrokenPipeError:
            self.failed = "the reader of the output went away"
        except OSError as e:
            self.failed = f"cannot write the output: {e.strerror or e}"
        if self.failed is not None:
            # What is still buffered for stdout must not fail again at exit (a traceback).
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)


async def _drive(opts: ExecOptions, options: Any, content: tuple[dict[str, Any], ...]) -> int:
    from codex.core import protocol as P
    from codex.core.session import Session

    session = await Session.start(options)
    if opts.json:
        from codex.exec.jsonl import JsonlRenderer

        renderer: Any = JsonlRenderer(sys.stdout)
    else:
        from codex.exec.human import HumanRenderer

        renderer = HumanRenderer(sys.stderr)
    output = _Output()
    received: list[int] = []
    loop = asyncio.get_running_loop()

    def stop(sig: int) -> None:
        received.append(sig)
        session.submit(P.Shutdown())  # ends the running turn first (TurnAborted)

    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop, sig)
    mcp_failed = await _required_mcp_failures(session)
    if mcp_failed is None:
        session.submit(P.UserTurn(items=content))
    else:
        session.submit(P.Shutdown())  # before any model request (spec mcp.md)
    end: P.TurnComplete | P.TurnAborted | None = None
    try:
        async for ev in session.events():
            output.guard(renderer, ev)
            if output.failed is not None and end is None:
                session.submit(P.Shutdown())  # nobody can see the run any more
            if isinstance(ev, P.TurnComplete | P.TurnAborted) and end is None:
                end = ev
                session.submit(P.Shutdown())
        output.guard(renderer.finish)
    finally:
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)

    if mcp_failed is not None:
        with contextlib.suppress(OSError):
            sys.stderr.write(f"codex: error: {mcp_failed}\n")
        return exit_code(Outcome.FAILED, received[0] if received else None)
    outcome = _outcome(end, output.failed)
    if isinstance(end, P.TurnComplete) and not end.failed and output.failed is None:
        if opts.output_last_message is not None and \
                not _write_last(opts.output_last_message, end.last_message or ""):
            outcome = Outcome.OUTPUT_FAILED
        if not opts.json and end.last_message is not None:
            output.guard(_print, end.last_message)
            if output.failed is not None:
                outcome = Outcome.OUTPUT_FAILED
    if output.failed is not None:
        with contextlib.suppress(OSError):
            sys.stderr.write(f"codex: error: {output.failed}\n")
    return exit_code(outcome, received[0] if received else None)


async def _required_mcp_failures(session: Any) -> str | None:
    """Why `required` MCP servers could not start (waiting for them), or None."""
    if session.mcp is None:
        return None
    failed = await session.mcp.required_failures()
    if not failed:
        return None
    return "; ".join(f"required MCP server {s.name} failed to start: {s.reason}"
                     for s in failed)


def _outcome(end: Any, output_failed: str | None) -> Outcome:
    from codex.core import protocol as P

    if output_failed is not None:
        return Outcome.OUTPUT_FAILED
    if isinstance(end, P.TurnComplete):
        return Outcome.FAILED if end.failed else Outcome.COMPLETED
    return Outcome.ABORTED


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _write_last(path: Path, text: str) -> bool:
    """Write the last message (no trailing newline): a file whole or not at all (through a
    temporary file beside it); a pipe or device (`-o /dev/stdout`) directly."""
    data = text.encode("utf-8")
    try:
        if path.exists() and not path.is_file():
            with path.open("wb") as f:
                f.write(data)
            return True
        from codex.core.fileio import write_atomic

        write_atomic(path, data)
    except OSError as e:
        sys.stderr.write(f"codex: error: cannot write {path}: {e.strerror or e}\n")
        return False
    return True
