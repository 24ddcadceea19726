"""What `codex exec` sends: the prompt (argument and/or stdin), images, the output schema.

Spec model-wire.md, "`codex exec`": the prompt is the argument, or stdin when the argument is
missing or `-`; with both, stdin is appended as `<stdin>…</stdin>`. stdin is never waited for
silently (codex.core.stdin_input): with a prompt argument, a pipe that stays silent for a
second is left unread, and a prompt read from stdin is announced after a second of silence.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from pathlib import Path
from typing import Any

from codex.core.stdin_input import read_optional_stdin, read_required_stdin
from codex.errors import UsageError


def resolve_prompt(arg: str | None, *, required: bool = True) -> str | None:
    """The prompt text; None only when it is not `required` and nothing gives one."""
    if arg is None or arg == "-":
        text = read_required_stdin(
            "the prompt", skip_hint="To skip it, pass the prompt as an argument instead.")
        if text is None:
            if not required and arg is None:
                return None
            raise UsageError("no prompt: pass it as an argument or pipe it on stdin")
        if not text.strip():
            raise UsageError("no prompt: stdin was empty")
        return text
    piped = read_optional_stdin("the input to add to the prompt")
    if not arg.strip():
        # `codex exec ""` (an unset shell variable, say): an empty message is no prompt,
        # as an empty stdin is; what was piped, if anything, is the prompt then.
        if piped and piped.strip():
            return piped
        raise UsageError("no prompt: the prompt argument is empty")
    if piped and piped.strip():
        return f"{arg}\n\n<stdin>\n{piped.rstrip(chr(10))}\n</stdin>"
    return arg


def image_part(path_text: str) -> dict[str, Any]:
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


def output_schema(path_text: str | None) -> Any:
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
