"""`codex login --with-api-key` (key read from stdin) and `codex logout`."""

from __future__ import annotations

import sys
from typing import Any

from codex.config import codex_home
from codex.core.auth import auth_path, write_stored_key
from codex.errors import UsageError


def login(args: Any) -> int:
    if not getattr(args, "with_api_key", False):
        raise UsageError("only API-key login is supported: "
                         "printenv OPENAI_API_KEY | codex login --with-api-key")
    from codex.core.stdin_input import read_required_stdin

    # Never a silent wait: after a second without input, say what is awaited.
    text = read_required_stdin(
        "the API key", skip_hint="To log in, pipe the key in, e.g. printenv OPENAI_API_KEY "
        "| codex login --with-api-key")
    if text is None:
        raise UsageError("--with-api-key reads the key from stdin; pipe it in, e.g. "
                         "printenv OPENAI_API_KEY | codex login --with-api-key")
    key = text.strip()
    if not key:
        raise UsageError("no API key on stdin")
    if any(c.isspace() for c in key):
        raise UsageError("the API key on stdin must be one word (no spaces or newlines)")
    path = write_stored_key(codex_home(), key)
    sys.stderr.write(f"Successfully logged in (key stored in {path})\n")
    return 0


def logout(args: Any) -> int:
    path = auth_path(codex_home())
    try:
        path.unlink()
    except FileNotFoundError:
        sys.stderr.write("Not logged in\n")
        return 0
    sys.stderr.write("Successfully logged out\n")
    return 0
