"""`codex exec-server`: serve processes over JSON-RPC until the client (stdio) or a signal
(websocket) ends it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from codex.errors import CodexError, UsageError
from codex.exec_server import transport

log = logging.getLogger(__name__)


def _read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise UsageError(f"cannot read --ws-token-file {path!r}: {e.strerror}") from None
    if not token:
        raise UsageError(f"--ws-token-file {path!r} is empty")
    return token


def run(args: argparse.Namespace) -> int:
    from codex.logs import setup_logging

    listen = transport.parse_listen(args.listen)
    token = None
    if listen.kind == "ws":
        if args.ws_token_file:
            token = _read_token(args.ws_token_file)
        elif not listen.is_loopback:
            raise UsageError(
                f"refusing to listen on non-loopback address {listen.host!r} without a token: "
                "pass --ws-token-file PATH (clients then send 'Authorization: Bearer <token>')")
    elif args.ws_token_file:
        raise UsageError("--ws-token-file only applies to a ws:// listen address")
    setup_logging("exec-server")
    retain_ms = getattr(args, "retain_closed_ms", None)
    server = transport.Server(
        retain_closed_s=transport.RETAIN_CLOSED_S if retain_ms is None else retain_ms / 1000)
    try:
        return asyncio.run(_serve(listen, server, token))
    except OSError as e:
        raise CodexError(f"cannot listen on {args.listen}: {e.strerror or e}") from None
    finally:
        # Whatever happened above, no child of ours outlives the server.
        server.kill_now()


async def _serve(listen: transport.Listen, server: transport.Server, token: str | None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    if listen.kind == "stdio":
        await transport.serve_stdio(server, stop)
    else:
        await transport.serve_websocket(listen, server, stop, token=token)
    log.info("exec-server stopped")
    sys.stdout.flush()
    # A signal is the ordinary way to stop a server: a clean shutdown, exit 0 (issue 3).
    return 0
