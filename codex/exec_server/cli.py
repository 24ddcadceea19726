"""`codex exec-server`: serve processes over JSON-RPC until the client (stdio) or a signal
(websocket) ends it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading

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
    grace_ms = getattr(args, "session_grace_ms", None)
    if grace_ms is not None and grace_ms < 0:
        raise UsageError("--session-grace-ms must be >= 0")
    setup_logging("exec-server")
    retain_ms = getattr(args, "retain_closed_ms", None)
    server = transport.Server(
        retain_closed_s=transport.RETAIN_CLOSED_S if retain_ms is None else retain_ms / 1000,
        grace_s=transport.SESSION_GRACE_S if grace_ms is None else grace_ms / 1000)
    try:
        rc = _run_loop(_serve(listen, server, token))
    except OSError as e:
        raise CodexError(f"cannot listen on {args.listen}: {e.strerror or e}") from None
    finally:
        # Whatever happened above, no child of ours outlives the server.
        server.kill_now()
    _exit_now_if_threads_linger(rc)
    return rc


def _run_loop(main) -> int:
    """asyncio.run without its wait for the default executor's threads: a worker stuck in
    a read must not keep a stopped server alive (issue 15 item 9)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=0.2))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _exit_now_if_threads_linger(rc: int) -> None:
    """Interpreter exit joins worker threads; one still busy (a huge read) must not hold
    the exit past the shutdown budget."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)


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
