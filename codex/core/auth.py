"""API keys: the provider's `env_key`, `CODEX_API_KEY` (exec), or `$CODEX_HOME/auth.json`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codex.errors import CodexError

AUTH_FILE = "auth.json"
AUTH_KEY_FIELD = "OPENAI_API_KEY"  # the field Codex itself writes
CODEX_API_KEY_ENV = "CODEX_API_KEY"


class AuthError(CodexError):
    """No usable credentials (exit 1)."""


def auth_path(home: Path) -> Path:
    return home / AUTH_FILE


def read_stored_key(home: Path) -> str | None:
    try:
        data = json.loads(auth_path(home).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise AuthError(f"cannot read {auth_path(home)}: {e}") from None
    key = data.get(AUTH_KEY_FIELD) if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None


def write_stored_key(home: Path, key: str) -> Path:
    """Write auth.json with mode 0600, whole or not at all (a full disk keeps the old file);
    AuthError (one clean line) when it cannot be written."""
    from codex.core.fileio import write_atomic

    path = auth_path(home)
    data = json.dumps({AUTH_KEY_FIELD: key, "tokens": None, "last_refresh": None}, indent=2)
    try:
        home.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (data + "\n").encode("utf-8"), mode=0o600)
    except OSError as e:
        raise AuthError(f"cannot store the key in {path}: {e.strerror or e}") from None
    return path


def resolve_api_key(provider: Mapping[str, Any], home: Path, *, exec_mode: bool) -> str | None:
    """The key to send, or None when the provider takes none; AuthError when one is missing."""
    env_key = provider.get("env_key")
    if not env_key:
        return None
    value = os.environ.get(str(env_key))
    if value:
        return value
    uses_openai_auth = provider.get("id") == "openai" or env_key == AUTH_KEY_FIELD
    if uses_openai_auth:
        if exec_mode and os.environ.get(CODEX_API_KEY_ENV):
            return os.environ[CODEX_API_KEY_ENV]
        stored = read_stored_key(home)
        if stored:
            return stored
        raise AuthError(
            f"no API key for provider {provider.get('id')!r}: set {env_key}"
            + (f" or {CODEX_API_KEY_ENV}" if exec_mode else "")
            + ", or run `codex login --with-api-key` and paste the key on stdin")
    raise AuthError(f"provider {provider.get('id')!r} needs an API key: set {env_key}")
