"""`codex exec`: run one task headless; human text on stderr + the answer on stdout, or JSONL.

Exit codes: 0 when the turn completes (even if commands failed), 1 on turn failure or bad
configuration, 130 when interrupted. `codex exec resume --last|<id> [prompt]` continues a
recorded session.
"""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
import signal
import sys
from pathlib import Path
from typing import Any

from codex.config import Config, ConfigError, load_from_args
from codex.errors import CodexError, UsageError

OSS_PROVIDERS = ("ollama", "lmstudio")
OSS_DEFAULT_MODEL = "gpt-oss:20b"
OSS_PROBE_TIMEOUT_S = 1.0
EXIT_INTERRUPTED = 130


# -- command line ------------------------------------------------------------------------
def _positionals(args: Any) -> tuple[bool, str | None, str | None]:
    """(resume?, session id or None for --last, prompt argument)."""
    extra = list(getattr(args, "extra", None) or [])
    if args.prompt == "resume":
        if getattr(args, "last", False):
            if len(extra) > 1:
                raise UsageError("resume --last takes at most one prompt argument")
            return True, None, extra[0] if extra else None
        if not extra:
            raise UsageError("resume needs --last or a session id: codex exec resume --last")
        if len(extra) > 2:
            raise UsageError("resume takes a session id and at most one prompt argument")
        return True, extra[0], extra[1] if len(extra) > 1 else None
    if getattr(args, "last", False) or getattr(args, "all", False):
        flag = "--last" if getattr(args, "last", False) else "--all"
        raise UsageError(f"{flag} only goes with resume: codex exec resume --last [PROMPT]")
    if args.prompt is None:
        return False, None, None
    return False, None, " ".join([args.prompt, *extra]) if extra else args.prompt


def _stdin_text() -> str | None:
    """All of stdin when it is piped or a file; None when it is a terminal or absent."""
    stdin = sys.stdin
    if stdin is None:
        return None
    try:
        if stdin.isatty():
            return None
        data = stdin.buffer.read()
    except (OSError, ValueError):
        return None
    return data.decode("utf-8", "replace")


def resolve_prompt(arg: str | None, *, required: bool = True) -> str | None:
    if arg is None or arg == "-":
        text = _stdin_text()
        if text is None:
            if not required and arg is None:
                return None
            raise UsageError("no prompt: pass it as an argument or pipe it on stdin")
        if not text.strip():
            raise UsageError("no prompt: stdin was empty")
        return text
    piped = _stdin_text()
    if piped and piped.strip():
        return f"{arg}\n\n<stdin>\n{piped.rstrip(chr(10))}\n</stdin>"
    return arg


def _image_part(path_text: str) -> dict[str, Any]:
    path = Path(path_text).expanduser()
    mime, _ = mimetypes.guess_type(path.name)
    if not mime or not mime.startswith("image/"):
        raise UsageError(f"--image {path_text}: not an image file (png, jpeg, gif, webp)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"--image {path_text}: {e.strerror}") from None
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return {"type": "input_image", "image_url": url}


def _output_schema(path_text: str | None) -> Any:
    if not path_text:
        return None
    try:
        schema = json.loads(Path(path_text).read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"--output-schema {path_text}: {e.strerror}") from None
    except ValueError as e:
        raise UsageError(f"--output-schema {path_text}: not valid JSON ({e})") from None
    if not isinstance(schema, dict):
        # Said here, before the turn, rather than as the API's HTTP 400 after it started.
        raise UsageError(f"--output-schema {path_text}: a JSON Schema must be a JSON object")
    return schema


def _flags(args: Any) -> dict[str, Any]:
    sandbox = args.sandbox
    if args.bypass:
        sandbox = "danger-full-access"
    elif args.full_auto and sandbox is None:
        sandbox = "workspace-write"
    # Headless: nobody can answer an approval prompt.
    return {"model": args.model, "sandbox_mode": sandbox, "approval_policy": "never"}


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


# -- output --------------------------------------------------------------------------------
class _JsonOut:
    def __init__(self) -> None:
        self.out = sys.stdout

    def line(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()

    def __call__(self, ev: Any) -> None:
        from codex.core import events as E

        if isinstance(ev, E.TurnStarted):
            self.line({"type": "turn.started"})
        elif isinstance(ev, E.ItemStarted):
            self.line({"type": "item.started", "item": ev.item})
        elif isinstance(ev, E.ItemUpdated):
            self.line({"type": "item.updated", "item": ev.item})
        elif isinstance(ev, E.ItemCompleted):
            self.line({"type": "item.completed", "item": ev.item})
        elif isinstance(ev, E.StreamNotice):
            self.line({"type": "error", "message": ev.message})
        elif isinstance(ev, E.TurnCompleted):
            self.line({"type": "turn.completed", "usage": ev.usage.to_json()})
        elif isinstance(ev, E.TurnFailed):
            self.line({"type": "turn.failed", "error": {"message": ev.message}})


class _HumanOut:
    """Progress for people on stderr; stdout gets only the final message (written by run)."""

    def __init__(self) -> None:
        self.err = sys.stderr

    def say(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def __call__(self, ev: Any) -> None:
        from codex.core import events as E

        if isinstance(ev, E.ItemStarted | E.ItemUpdated | E.ItemCompleted):
            self._item(ev)
        elif isinstance(ev, E.StreamNotice):
            self.say(ev.message)
        elif isinstance(ev, E.TurnCompleted):
            total = ev.usage.input_tokens + ev.usage.output_tokens
            self.say(f"tokens used: {total}")
        elif isinstance(ev, E.TurnFailed):
            self.say(f"ERROR: {ev.message}")

    def _item(self, ev: Any) -> None:
        from codex.core import events as E

        item = ev.item
        kind = item["type"]
        if kind == "command_execution":
            if isinstance(ev, E.ItemStarted):
                self.say(f"exec {item['command']}")
            elif item["status"] == "declined":
                self.say(f"exec {item['command']}\n  declined by policy")
            elif isinstance(ev, E.ItemCompleted):
                out = (item.get("aggregated_output") or "").rstrip("\n").splitlines()
                shown = out[:6] + ([f"  ... ({len(out) - 6} more lines)"] if len(out) > 6 else [])
                body = "".join(f"\n  {line}" for line in shown)
                code = item["exit_code"]
                self.say(f"  {'failed' if code is None else f'exited {code}'}{body}")
        elif kind == "file_change" and isinstance(ev, E.ItemCompleted):
            if item["status"] == "completed":
                marks = {"add": "A", "update": "M", "delete": "D"}
                for c in item["changes"]:
                    self.say(f"apply_patch {marks.get(c['kind'], '?')} {c['path']}")
            else:
                self.say("apply_patch failed")
        elif kind == "todo_list" and not isinstance(ev, E.ItemCompleted):
            lines = "".join(f"\n  [{'x' if t['completed'] else ' '}] {t['text']}"
                            for t in item["items"])
            self.say(f"plan{lines}")
        elif kind == "reasoning":
            self.say(f"thinking\n{item['text']}")
        elif kind == "agent_message":
            self.say(f"codex\n{item['text']}")


# -- the run ---------------------------------------------------------------------------------
def run(args: Any) -> int:
    resume, target, prompt_arg = _positionals(args)
    cfg = load_from_args(args, _flags(args))
    cwd = Path.cwd()

    from codex.core.context import find_git_root

    if not args.skip_git_repo_check and find_git_root(cwd) is None:
        raise CodexError(f"not inside a git repository ({cwd}); run in one or pass "
                         "--skip-git-repo-check")
    if args.oss:
        cfg.values["model_provider"] = pick_oss_provider(cfg)
        if args.model is None and cfg.sources.get("model") == "default":
            cfg.values["model"] = OSS_DEFAULT_MODEL
    provider = cfg.provider()

    from codex.core.auth import resolve_api_key

    api_key = resolve_api_key(provider, cfg.codex_home, exec_mode=True)
    schema = _output_schema(args.output_schema)
    images = [_image_part(p) for p in args.image]
    prompt = resolve_prompt(prompt_arg, required=not resume or bool(images))
    if prompt is None and resume:
        raise UsageError("resume needs a prompt: codex exec resume --last \"what next\"")
    return asyncio.run(_run_async(args, cfg, provider, api_key, cwd, resume, target, prompt,
                                  images, schema))


async def _run_async(args: Any, cfg: Config, provider: dict[str, Any], api_key: str | None,
                     cwd: Path, resume: bool, target: str | None, prompt: str,
                     images: list[dict[str, Any]], schema: Any) -> int:
    from codex.core.agent import Agent
    from codex.core.client import make_client
    from codex.core.context import initial_items
    from codex.core.events import Emitter
    from codex.core.policy import DANGER_FULL_ACCESS, Policy
    from codex.core.prompt import BASE_INSTRUCTIONS
    from codex.core.rollout import RolloutWriter, find_rollout, new_session_id, read_rollout
    from codex.core.tools import ToolRouter

    policy = Policy.from_config(cfg.values, args.add_dir)
    home = cfg.codex_home
    rollout = None
    try:
        if resume:
            # --last means the newest session of this directory, unless --all.
            scope = None if getattr(args, "all", False) else cwd
            session = read_rollout(find_rollout(home, target, cwd=scope))
            session_id, history = session.id, session.items
            if not args.ephemeral:
                rollout = RolloutWriter(session.path)
        else:
            session_id = new_session_id()
            history = initial_items(home, cwd, policy, int(cfg["project_doc_max_bytes"]),
                                    cfg["project_doc_fallback_filenames"])
            if not args.ephemeral:
                rollout = RolloutWriter.create(home, session_id, {
                    "cwd": str(cwd), "originator": "codex_exec",
                    "model_provider": provider["id"], "instructions": BASE_INSTRUCTIONS})
                for it in history:
                    rollout.item(it)
    except OSError as e:
        raise CodexError(f"cannot write the session file under {home}: {e.strerror or e} "
                         "(use --ephemeral to run without one)") from None

    out = _JsonOut() if args.json else _HumanOut()
    if args.json:
        out.line({"type": "thread.started", "thread_id": session_id})
    else:
        out.say(f"codex exec · session {session_id}\nmodel: {cfg['model']} · provider: "
                f"{provider['id']} · sandbox: {policy.sandbox_mode} · approval: "
                f"{policy.approval}\n--------\nuser\n{prompt or ''}")
    emit = Emitter(out)

    # None = unsandboxed; otherwise every command is wrapped by codex.sandbox, which refuses
    # (SandboxUnavailable) rather than run a command unconfined.
    sandbox_wire = None if policy.sandbox_mode == DANGER_FULL_ACCESS \
        else policy.sandbox_policy(cwd).to_wire()

    from codex.unified_exec import UnifiedExecManager
    from codex.unified_exec.backend_select import backend_from_config

    router = ToolRouter(cwd=cwd, policy=policy, manager=None, emit=emit,
                        wire=provider.get("wire_api", "responses"))
    from codex.child_env import child_env

    try:
        env = child_env(cfg.get("shell_environment_policy"), session_id)
    except ValueError as e:
        raise ConfigError(f"shell_environment_policy: {e}") from None
    manager = UnifiedExecManager(
        backend_from_config(cfg, getattr(args, "exec_server", None)), cwd=str(cwd), env=env,
        sandbox=sandbox_wire, tool_output_token_limit=int(cfg["tool_output_token_limit"]),
        apply_patch_hook=router.apply_patch_hook)
    router.manager = manager

    client = make_client(provider, model=str(cfg["model"]), api_key=api_key,
                         session_id=session_id,
                         reasoning_effort=cfg.get("model_reasoning_effort"),
                         reasoning_summary=cfg.get("model_reasoning_summary"),
                         verbosity=cfg.get("model_verbosity"))
    agent = Agent(client=client, router=router, emit=emit, instructions=BASE_INSTRUCTIONS,
                  history=history, rollout=rollout, output_schema=schema,
                  turn_context={"cwd": str(cwd), "model": cfg["model"],
                                "approval_policy": policy.approval,
                                "sandbox_policy": policy.to_wire(cwd)})
    user_items: list[dict[str, Any]] = []
    if resume:
        # The world may have changed since the session was recorded (cwd, sandbox, date).
        from codex.core.context import environment_context, user_message

        now = environment_context(cwd, policy)
        if now != _last_environment(history):
            user_items.append(user_message(now))
    content: list[dict[str, Any]] = []
    if prompt:
        content.append({"type": "input_text", "text": prompt})
    content.extend(images)
    user_items.append({"type": "message", "role": "user", "content": content})

    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(agent.run_turn(user_items))
    # SIGHUP too: a closed terminal must still end the turn cleanly (sessions killed,
    # rollout closed) instead of leaving the model's commands running as orphans.
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    received: list[int] = []

    def stop(sig: int) -> None:
        received.append(sig)
        task.cancel()

    for sig in stop_signals:
        try:
            loop.add_signal_handler(sig, stop, sig)
        except (NotImplementedError, RuntimeError):
            pass
    interrupted = False
    result = None
    try:
        result = await task
    except asyncio.CancelledError:
        interrupted = True
    finally:
        for sig in stop_signals:
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
        # Sessions outlive turns, not the process (shutdown also closes the backend).
        await manager.shutdown()
        client.close()
        if rollout is not None:
            rollout.close()

    if interrupted:
        if args.json:
            out.line({"type": "turn.failed", "error": {"message": "interrupted"}})
        else:
            out.say("interrupted")
        return 128 + received[0] if received else EXIT_INTERRUPTED
    assert result is not None
    if not result.ok:
        return 1
    if args.output_last_message:
        _write_last(Path(args.output_last_message), result.last_message or "")
    if not args.json and result.last_message is not None:
        sys.stdout.write(result.last_message + "\n")
        sys.stdout.flush()
    return 0


def _last_environment(history: list[dict[str, Any]]) -> str | None:
    for item in reversed(history):
        if item.get("type") == "message" and item.get("role") == "user":
            for part in item.get("content") or []:
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str) and text.startswith("<environment_context>"):
                    return text
    return None


def _write_last(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        sys.stderr.write(f"codex: cannot write {path}: {e.strerror}\n")


