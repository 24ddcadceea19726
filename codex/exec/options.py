"""`codex exec`'s command line as one typed object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.errors import UsageError


@dataclass(frozen=True)
class ExecOptions:
    """Everything `codex exec` was asked to do. `prompt` None: read it from stdin; `resume`
    with `resume_id` None: the most recent session (`--last`)."""

    prompt: str | None
    resume: bool = False
    resume_id: str | None = None
    images: tuple[str, ...] = ()
    json: bool = False
    output_last_message: Path | None = None
    output_schema: str | None = None
    model: str | None = None
    sandbox: str | None = None
    full_auto: bool = False
    bypass: bool = False
    skip_git_repo_check: bool = False
    ephemeral: bool = False
    oss: bool = False
    add_dirs: tuple[str, ...] = ()
    exec_server: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> ExecOptions:
        """From the parsed `codex exec` namespace; UsageError for bad positionals."""
        resume, resume_id, prompt = _positionals(args)
        out = getattr(args, "output_last_message", None)
        return cls(prompt=prompt, resume=resume, resume_id=resume_id,
                   images=tuple(getattr(args, "image", None) or ()),
                   json=bool(getattr(args, "json", False)),
                   output_last_message=Path(out) if out else None,
                   output_schema=getattr(args, "output_schema", None),
                   model=getattr(args, "model", None), sandbox=getattr(args, "sandbox", None),
                   full_auto=bool(getattr(args, "full_auto", False)),
                   bypass=bool(getattr(args, "bypass", False)),
                   skip_git_repo_check=bool(getattr(args, "skip_git_repo_check", False)),
                   ephemeral=bool(getattr(args, "ephemeral", False)),
                   oss=bool(getattr(args, "oss", False)),
                   add_dirs=tuple(getattr(args, "add_dir", None) or ()),
                   exec_server=getattr(args, "exec_server", None))

    def config_flags(self) -> dict[str, Any]:
        """The config keys set by dedicated flags (they win over config and `-c`)."""
        sandbox = self.sandbox
        if self.bypass:
            sandbox = "danger-full-access"
        elif self.full_auto and sandbox is None:
            sandbox = "workspace-write"
        # Headless: nobody can answer an approval prompt.
        return {"model": self.model, "sandbox_mode": sandbox, "approval_policy": "never"}


def _positionals(args: Any) -> tuple[bool, str | None, str | None]:
    """(resume?, session id or None for --last, prompt argument)."""
    extra = list(getattr(args, "extra", None) or [])
    prompt = getattr(args, "prompt", None)
    last = bool(getattr(args, "last", False))
    if prompt == "resume":
        if last:
            if len(extra) > 1:
                raise UsageError("resume --last takes at most one prompt argument")
            return True, None, extra[0] if extra else None
        if not extra:
            raise UsageError("resume needs --last or a session id: codex exec resume --last")
        if len(extra) > 2:
            raise UsageError("resume takes a session id and at most one prompt argument")
        return True, extra[0], extra[1] if len(extra) > 1 else None
    if last:
        raise UsageError("--last only goes with resume: codex exec resume --last [PROMPT]")
    if prompt is None:
        return False, None, None
    return False, None, " ".join([prompt, *extra]) if extra else prompt
