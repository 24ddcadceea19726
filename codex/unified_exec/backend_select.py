"""Which ExecBackend runs the model's commands: local, or an exec-server from config/flag."""

from __future__ import annotations

from typing import Any

from codex.errors import UsageError
from codex.exec_server.backend import ExecBackend

STDIO_URLS = ("stdio", "stdio://")


def backend_from_config(cfg: Any, flag_url: str | None = None) -> ExecBackend:
    """`--exec-server URL` wins over `exec_server_url` in config; neither means local.

    `cfg` is a `codex.config.Config` (or any mapping with `.get`). A remote backend connects
    on first use; `await backend.connect()` to fail early. `stdio` spawns our own
    `exec-server --listen stdio` child.
    """
    url = flag_url or cfg.get("exec_server_url")
    if not url:
        from codex.exec_server.local import LocalBackend

        return LocalBackend()
    from codex.exec_server.remote import RemoteBackend

    url = str(url)
    if url in STDIO_URLS:
        return RemoteBackend.stdio()
    if not url.startswith(("ws://", "wss://")):
        raise UsageError(f"exec-server URL {url!r} is not ws://HOST:PORT, wss://HOST:PORT "
                         "or stdio")
    token_file = cfg.get("exec_server_token_file")
    return RemoteBackend.websocket(url, token_file=str(token_file) if token_file else None)
