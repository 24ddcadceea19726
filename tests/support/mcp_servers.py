"""MCP servers for the tests: real ones from PyPI, one built with the SDK's server API, and
scripted misbehaving ones.

- `server_venv()` installs the reference servers `mcp-server-time` and `mcp-server-git`
  (pinned) into a cache outside the repository (`$CODEX_TEST_CACHE`, default
  `~/.cache/codex-py-tests`) on first use. A fresh clone installs them; when PyPI cannot be
  reached the tests fail with pip's reason (they do not skip).
- `HttpMcpServer` runs a streamable HTTP server made with the SDK's `FastMCP` under uvicorn
  on 127.0.0.1, optionally demanding a bearer token.
- `write_script()` writes a small stdio server (SDK-based or not) that crashes, hangs or
  exits, for the failure cases.
- `marked_processes(mark)` finds every process whose environment holds a test's marker, so a
  test can prove no server (nor a server's child) outlived codex.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import threading
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SERVER_PACKAGES = ("mcp-server-time==2026.10.19", "mcp-server-git==2026.10.19")
MARK_VAR = "CODEX_TEST_MCP_MARK"


def cache_dir() -> Path:
    return Path(os.environ.get("CODEX_TEST_CACHE") or Path.home() / ".cache" / "codex-py-tests")


def server_venv() -> Path:
    """The venv holding the reference servers (installed once; pip output on failure)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / "mcp-venv"
    stamp = target / ".installed"
    wanted = "\n".join(SERVER_PACKAGES) + "\n"
    with open(root / ".mcp-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once install once
        if stamp.is_file() and stamp.read_text() == wanted:
            return target
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        r = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install",
                            "--disable-pip-version-check", "-q", *SERVER_PACKAGES],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            pytest.fail("cannot install the MCP test servers from PyPI "
                        f"({' '.join(SERVER_PACKAGES)}):\n{r.stderr[-3000:]}", pytrace=False)
        stamp.write_text(wanted)
    return target


def server_bin(name: str) -> str:
    return str(server_venv() / "bin" / name)


def script_python() -> str:
    """The interpreter for scripted servers: this test run's, which has the SDK (1.x)."""
    return sys.executable


# -- scripted stdio servers ---------------------------------------------------------------------
CRASHING_SERVER = """
    import os, sys
    from mcp.server.fastmcp import FastMCP

    app = FastMCP("crashy", log_level="WARNING")

    @app.tool()
    def echo(text: str) -> str:
        \"\"\"Echo the text back.\"\"\"
        return text

    @app.tool()
    def crash(code: int = 3) -> str:
        \"\"\"Exit the server in the middle of the call.\"\"\"
        print("crashing on purpose", file=sys.stderr, flush=True)
        os._exit(code)

    app.run()
"""

# Answers nothing, and starts a grandchild in its session that must not outlive codex either.
HANGING_SERVER = """
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("hanging without answering", file=sys.stderr, flush=True)
    while True:
        time.sleep(60)
"""

EXITING_SERVER = """
    import sys
    print("fatal: no configuration found", file=sys.stderr)
    sys.exit(7)
"""


def write_script(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


# -- processes left behind ----------------------------------------------------------------------
def marked_processes(mark: str) -> list[tuple[int, str]]:
    """(pid, cmdline) of live processes whose environment has `MARK_VAR=mark`."""
    needle = f"{MARK_VAR}={mark}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != b"Z" and needle in env.split(b"\0"):
            found.append((int(name), cmd))
    return found


# -- a streamable HTTP server made with the SDK ---------------------------------------------------
class HttpMcpServer:
    """FastMCP's streamable HTTP app under uvicorn on 127.0.0.1 (a free port), in a thread.
    With `token`, requests without `Authorization: Bearer <token>` get 401. `seen_headers`
    records the headers of every request."""

    def __init__(self, token: str | None = None) -> None:
        import uvicorn
        from mcp.server.fastmcp import FastMCP

        app = FastMCP("notes", host="127.0.0.1")
        self.notes: list[str] = []

        @app.tool()
        def add_note(text: str) -> str:
            """Store a note and say how many there are."""
            self.notes.append(text)
            return f"stored note #{len(self.notes)}: {text}"

        @app.tool()
        def count_notes() -> int:
            """How many notes are stored."""
            return len(self.notes)

        @app.resource("notes://all", mime_type="text/plain")
        def all_notes() -> str:
            """Every note, one per line."""
            return "\n".join(self.notes)

        inner = app.streamable_http_app()
        self.seen_headers: list[dict[str, str]] = []

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
                self.seen_headers.append(headers)
                if token is not None and headers.get("authorization") != f"Bearer {token}":
                    await send({"type": "http.response.start", "status": 401,
                                "headers": [(b"content-type", b"text/plain")]})
                    await send({"type": "http.response.body", "body": b"unauthorized"})
                    return
            await inner(scope, receive, send)

        self._server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=0,
                                                     log_level="error", lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> HttpMcpServer:
        self._thread.start()
        deadline = 200
        while not self._server.started:
            self._thread.join(0.05)
            deadline -= 1
            if deadline == 0 or not self._thread.is_alive():
                raise RuntimeError("the HTTP MCP server did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    @property
    def url(self) -> str:
        sock = self._server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        return f"http://{host}:{port}/mcp"


@contextmanager
def http_server(token: str | None = None) -> Iterator[HttpMcpServer]:
    with HttpMcpServer(token) as srv:
        yield srv



class LineWatcher:
    """Reads a pipe (a child's stderr) in a thread, so a test can wait for a line to appear
    while the child runs."""

    def __init__(self, pipe: Any) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: Any) -> None:
        for line in pipe:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("")  # EOF marker
            self._cond.notify_all()

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        def found() -> str | None:
            return next((ln for ln in self.lines if needle in ln), None)

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no line with {needle!r} in:\n" + "\n".join(self.lines))
            return found() or ""

    def text(self) -> str:
        self._thread.join(60)
        return "\n".join(self.lines)
