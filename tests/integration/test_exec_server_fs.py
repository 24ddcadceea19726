"""The `fs/*` methods (spec "The newest Codex dialect", file system table): results, error
codes, and checks against the request's sandbox context — read-only and workspace-write,
in Codex's form and in ours; `.git` stays read-only; symlinks cannot lead a write out."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from pathlib import Path

import pytest

from codex.exec_server.path_uri import from_path
from tests.support.exec_server import TRANSPORTS, RpcError, WsServer, make_client, run


@pytest.fixture(scope="module")
def ws_server():
    with WsServer() as server:
        yield server


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    url = request.getfixturevalue("ws_server").url if request.param == "ws" else None
    return request.param, url


def client(transport):
    return make_client(*transport, dialect="codex")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def codex_context(work: Path, *writable: Path) -> dict:
    """A sandbox context as Codex 0.171 sends it: read everywhere, write on `writable`."""
    entries = [{"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"}]
    entries += [{"path": {"type": "path", "path": from_path(w)}, "access": "write"}
                for w in writable]
    return {"permissions": {"type": "managed",
                            "file_system": {"type": "restricted", "entries": entries},
                            "network": "restricted"},
            "cwd": from_path(work), "windowsSandboxLevel": "disabled", "futureField": 1}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    w = tmp_path / "work"
    (w / ".git").mkdir(parents=True)
    (w / ".git" / "config").write_text("[core]\n")
    (w / "a.txt").write_text("hello\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s\n")
    (w / "escape").symlink_to(outside)
    return w


async def code_of(c, method: str, params: dict) -> tuple[int, str]:
    msg = await c.request_msg(method, params)
    assert "error" in msg, msg
    return msg["error"]["code"], msg["error"]["message"]


@run
async def test_every_method_without_a_sandbox(transport, work):
    async with client(transport) as c:
        await c.handshake()
        a = from_path(work / "a.txt")
        assert await c.request("fs/readFile", {"path": a}) == {"dataBase64": b64(b"hello\n")}
        assert await c.request("fs/writeFile", {"path": from_path(work / "b.bin"),
                                                "dataBase64": b64(b"\x00\xff")}) == {}
        assert (work / "b.bin").read_bytes() == b"\x00\xff"
        assert await c.request("fs/createDirectory", {"path": from_path(work / "d/e/f")}) == {}
        assert (work / "d/e/f").is_dir()
        assert (await code_of(c, "fs/createDirectory", {
            "path": from_path(work / "x/y"), "recursive": False}))[0] == -32004
        meta = await c.request("fs/getMetadata", {"path": a})
        assert (meta["isFile"], meta["isDirectory"], meta["isSymlink"], meta["size"]) == \
            (True, False, False, 6)
        assert meta["modifiedAtMs"] // 1000 == int(os.stat(work / "a.txt").st_mtime)
        link = await c.request("fs/getMetadata", {"path": from_path(work / "escape")})
        assert link["isDirectory"] and link["isSymlink"]
        own = await c.request("fs/getMetadata", {"path": from_path(work / "escape"),
                                                 "followSymlinks": False})
        assert own["isSymlink"] and not own["isDirectory"]
        listing = await c.request("fs/readDirectory", {"path": from_path(work)})
        assert sorted((e["fileName"], e["isDirectory"], e["isFile"])
                      for e in listing["entries"]) == [
            (".git", True, False), ("a.txt", False, True), ("b.bin", False, True),
            ("d", True, False), ("escape", True, False)]
        assert await c.request("fs/copy", {"sourcePath": from_path(work / "d"),
                                           "destinationPath": from_path(work / "d2"),
                                           "recursive": True}) == {}
        assert (work / "d2/e/f").is_dir()
        # Dot segments go first (URL rules), then symlinks are resolved.
        assert await c.request("fs/canonicalize", {
            "path": from_path(work / "escape") + "/../escape/secret"}) == \
            {"path": from_path((work.parent / "outside" / "secret").resolve())}
        assert await c.request("fs/remove", {"path": from_path(work / "d2")}) == {}
        assert not (work / "d2").exists()
        assert await c.request("fs/remove", {"path": from_path(work / "nope")}) == {}
        # Removing a symlink removes the link, never its target.
        assert await c.request("fs/remove", {"path": from_path(work / "escape")}) == {}
        assert (work.parent / "outside" / "secret").exists()


@pytest.mark.parametrize(("method", "params", "code", "text"), [
    ("fs/readFile", {"path": "MISSING"}, -32004, "No such file or directory"),
    ("fs/readFile", {"path": "DIR"}, -32600, "is not a file"),
    ("fs/readFile", {"path": "/native/path"}, -32602, "not a valid path URI"),
    ("fs/readFile", {"path": "file:///tmp/a%2Fb"}, -32602, "%2F"),
    ("fs/readFile", {"path": "file:///tmp/a%00b"}, -32602, "NUL"),
    ("fs/readFile", {}, -32602, "missing field `path`"),
    ("fs/writeFile", {"path": "FILE", "dataBase64": "!!"}, -32600, "valid base64"),
    ("fs/writeFile", {"path": "DIR/none/x", "dataBase64": ""}, -32004, "No such file"),
    ("fs/remove", {"path": "MISSING", "force": False}, -32004, "No such file"),
    ("fs/remove", {"path": "DIR", "recursive": False}, -32603, "Directory not empty"),
    ("fs/copy", {"sourcePath": "DIR", "destinationPath": "DIR2", "recursive": False},
     -32600, "recursive: true"),
    ("fs/copy", {"sourcePath": "FILE", "destinationPath": "DIR2"}, -32602,
     "missing field `recursive`"),
    ("fs/readDirectory", {"path": "FILE"}, -32600, "is not a directory"),
    ("fs/canonicalize", {"path": "MISSING"}, -32004, "No such file"),
    ("fs/getMetadata", {"path": "FILE", "followSymlinks": "yes"}, -32602, "boolean"),
])
@run
async def test_errors(transport, work, method, params, code, text):
    names = {"MISSING": work / "missing", "DIR": work, "FILE": work / "a.txt",
             "DIR2": work / "copy"}
    params = {k: from_path(names[v]) if v in names else
              (from_path(names[v.split("/")[0]]) + "/" + v.split("/", 1)[1]
               if isinstance(v, str) and "/" in v and v.split("/")[0] in names else v)
              for k, v in params.items()}
    async with client(transport) as c:
        await c.handshake()
        got_code, message = await code_of(c, method, params)
        assert got_code == code and text in message, message
        assert await c.request("environment/status", {}) == {"status": "ready"}


@run
async def test_read_only_context_reads_everywhere_writes_nowhere(transport, work):
    ctx = codex_context(work)
    async with client(transport) as c:
        await c.handshake()
        data = await c.request("fs/readFile", {"path": from_path(work / "escape" / "secret"),
                                               "sandbox": ctx})
        assert data == {"dataBase64": b64(b"s\n")}
        for method, params in [
            ("fs/writeFile", {"path": from_path(work / "new"), "dataBase64": ""}),
            ("fs/createDirectory", {"path": from_path(work / "dir")}),
            ("fs/remove", {"path": from_path(work / "a.txt")}),
            ("fs/copy", {"sourcePath": from_path(work / "a.txt"),
                         "destinationPath": from_path(work / "copy"), "recursive": False}),
        ]:
            target = params.get("path") or params["destinationPath"]
            code, message = await code_of(c, method, {**params, "sandbox": ctx})
            assert code == -32600 and "not writable" in message, message
            assert str(Path(target[len("file://"):])) in message  # it names the path
        assert (work / "a.txt").exists() and not (work / "new").exists()


@pytest.mark.parametrize("form", ["codex", "ours"])
@run
async def test_workspace_write_context(transport, work, form):
    if form == "codex":
        ctx = codex_context(work, work)
    else:
        ctx = {"type": "workspace-write", "writable_roots": [], "exclude_slash_tmp": True,
               "exclude_tmpdir_env_var": True, "cwd": str(work)}
    async with client(transport) as c:
        await c.handshake()

        async def ok(method, params):
            return await c.request(method, {**params, "sandbox": ctx})

        async def denied(method, params):
            code, message = await code_of(c, method, {**params, "sandbox": ctx})
            assert code == -32600 and "access denied" in message, (method, params, message)

        assert await ok("fs/writeFile", {"path": from_path(work / "in.txt"),
                                         "dataBase64": b64(b"ok")}) == {}
        assert await ok("fs/createDirectory", {"path": from_path(work / "sub/dir")}) == {}
        assert await ok("fs/copy", {"sourcePath": from_path(work / "a.txt"),
                                    "destinationPath": from_path(work / "sub/a.txt"),
                                    "recursive": False}) == {}
        assert await ok("fs/remove", {"path": from_path(work / "sub")}) == {}
        # Outside the writable root.
        await denied("fs/writeFile", {"path": from_path(work.parent / "out.txt"),
                                      "dataBase64": ""})
        # .git stays read-only (readable).
        await denied("fs/writeFile", {"path": from_path(work / ".git" / "config"),
                                      "dataBase64": b64(b"x")})
        await denied("fs/createDirectory", {"path": from_path(work / ".git" / "hooks")})
        await denied("fs/remove", {"path": from_path(work / ".git")})
        await denied("fs/remove", {"path": from_path(work)})  # it holds .git
        await denied("fs/copy", {"sourcePath": from_path(work / "a.txt"),
                                 "destinationPath": from_path(work / ".git" / "x"),
                                 "recursive": False})
        assert await ok("fs/readFile", {"path": from_path(work / ".git" / "config")})
        # A symlink inside the root cannot lead a write outside it.
        await denied("fs/writeFile", {"path": from_path(work / "escape" / "secret"),
                                      "dataBase64": b64(b"pwned")})
        await denied("fs/createDirectory", {"path": from_path(work / "escape" / "new")})
        await denied("fs/copy", {"sourcePath": from_path(work / "a.txt"),
                                 "destinationPath": from_path(work / "escape" / "a"),
                                 "recursive": False})
        assert (work.parent / "outside" / "secret").read_text() == "s\n"
        assert (work / ".git" / "config").read_text() == "[core]\n"
        # The link itself lives in the root: removing it is allowed, the target stays.
        assert await ok("fs/remove", {"path": from_path(work / "escape")}) == {}
        assert (work.parent / "outside" / "secret").exists()


@run
async def test_malformed_sandbox_is_refused_not_ignored(transport, work):
    async with client(transport) as c:
        await c.handshake()
        for ctx in ({"permissions": {"type": "alien"}},
                    {"permissions": {"type": "managed", "file_system": {"type": "weird"}}},
                    {"neither": True}, "strict"):
            msg = await c.request_msg("fs/writeFile", {
                "path": from_path(work / "x"), "dataBase64": "", "sandbox": ctx})
            assert msg["error"]["code"] in (-32600, -32602), msg
        assert not (work / "x").exists()


@run
async def test_a_large_read_does_not_hold_the_connection(transport, tmp_path):
    """64 MiB read and written back while other requests keep being answered."""
    big = tmp_path / "big.bin"
    data = os.urandom(1 << 20) * 64
    big.write_bytes(data)
    async with client(transport) as c:
        await c.handshake()
        order: list[str] = []

        async def read_big():
            r = await c.request("fs/readFile", {"path": from_path(big)})
            order.append("read")
            return r

        async def status():
            assert await c.request("environment/status", {}) == {"status": "ready"}
            order.append("status")

        reading = asyncio.ensure_future(read_big())
        await asyncio.sleep(0)
        await status()
        r = await reading
        assert order[0] == "status"
        got = base64.b64decode(r["dataBase64"])
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        back = tmp_path / "back.bin"
        assert await c.request("fs/writeFile", {"path": from_path(back),
                                                "dataBase64": r["dataBase64"]}) == {}
        assert back.read_bytes() == data


@run
async def test_fs_methods_need_the_handshake(transport, work):
    async with client(transport) as c:
        with pytest.raises(RpcError) as e:
            await c.request("fs/readFile", {"path": from_path(work / "a.txt")})
        assert e.value.code == -32600
