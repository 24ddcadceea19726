"""The `fs/*` methods (spec "The newest Codex dialect", file system table).

Each method is a plain blocking function run in a worker thread by the handler, so a 100 MB
read or write never holds up the other requests of the connection. Each checks the request's
sandbox (`sandbox_context.SandboxRules`) on the real location of every path it touches and
then works on that real location, so a symlink swapped in after the check cannot redirect it
past the final component. Errors (spec): a missing file -> -32004; invalid input or a
denied path -> -32600 (naming the path); any other I/O error -> -32603 with the OS text.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from typing import Any

from codex.exec_server import path_uri
from codex.exec_server import protocol as p
from codex.exec_server.sandbox_context import InvalidSandbox, SandboxRules, rules_from_wire

# A multiple of 3, so each block's base64 ends without padding.
READ_BLOCK = 3 << 20


def _os_error(e: OSError) -> p.ProtocolError:
    text = e.strerror or str(e)
    if e.errno is not None:
        text = f"{text} (os error {e.errno})"
    if e.errno == errno.ENOENT:
        return p.ProtocolError(p.NOT_FOUND, text)
    return p.ProtocolError(p.INTERNAL_ERROR, text)


def _denied(path: str, what: str) -> p.ProtocolError:
    return p.ProtocolError(p.INVALID_REQUEST, f"access denied: `{path}` is not {what} in "
                                              "this sandbox")


def _invalid(message: str) -> p.ProtocolError:
    return p.ProtocolError(p.INVALID_REQUEST, message)


def _bool(params: Mapping[str, Any], name: str, default: bool | None) -> bool:
    value = params.get(name)
    if value is None:
        if default is None:
            raise p.ProtocolError(p.INVALID_PARAMS, f"invalid params: missing field `{name}`")
        return default
    if not isinstance(value, bool):
        raise p.ProtocolError(p.INVALID_PARAMS, f"invalid params: `{name}` must be a boolean")
    return value


def _rules(params: Mapping[str, Any]) -> SandboxRules:
    sandbox = params.get("sandbox")
    if sandbox is not None and not isinstance(sandbox, dict):
        raise p.ProtocolError(p.INVALID_PARAMS, "invalid params: `sandbox` must be an object")
    try:
        return rules_from_wire(sandbox)
    except InvalidSandbox as e:
        raise _invalid(f"invalid sandbox: {e}") from None


def _readable(rules: SandboxRules, path: str) -> str:
    real = os.path.realpath(path)
    if not rules.can_read(real):
        raise _denied(path, "readable")
    return real


def _writable(rules: SandboxRules, path: str, *, tree: bool = False) -> str:
    """The real location a write of `path` lands on, after checking it may be written.
    `path` itself is followed when it is a symlink (writing through a link writes its
    target); `tree`: the whole directory below must be writable too."""
    real = os.path.realpath(path)
    ok = rules.can_write_tree(real) if tree else rules.can_write(real)
    if not ok:
        raise _denied(path, "writable")
    return real


def _entry_location(rules: SandboxRules, path: str, *, tree: bool) -> str:
    """Where a directory entry itself lives (a symlink is removed, not its target)."""
    parent, name = os.path.split(path.rstrip("/") or "/")
    real = os.path.join(os.path.realpath(parent), name) if name else "/"
    if os.path.isdir(real) and not os.path.islink(real):
        real = os.path.realpath(real)
    ok = rules.can_write_tree(real) if tree else rules.can_write(real)
    if not ok:
        raise _denied(path, "writable")
    return real


# --- methods (each: params -> result; blocking) -----------------------------------------

def read_file(params: Mapping[str, Any]) -> p.RawJson:
    path = p.decode_path(params)
    real = _readable(_rules(params), path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _os_error(e) from None
    # Encoded block by block, here in the worker: no 100 MB join, and a block's base64 is
    # ASCII that needs no JSON escaping (READ_BLOCK is a multiple of 3: no padding inside).
    parts = [b'{"dataBase64":"']
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _invalid(f"path `{path}` is not a file")
        os.set_blocking(fd, True)
        pending = b""
        while block := os.read(fd, READ_BLOCK):
            if pending:
                block, pending = pending + block, b""
            cut = len(block) - len(block) % 3
            pending = block[cut:]
            parts.append(p.b64encode(block[:cut]))
        if pending:
            parts.append(p.b64encode(pending))
    except OSError as e:
        raise _os_error(e) from None
    finally:
        os.close(fd)
    parts.append(b'"}')
    return p.RawJson(tuple(parts))


def write_file(params: Mapping[str, Any]) -> dict[str, Any]:
    path = p.decode_path(params)
    raw = params.get("dataBase64")
    if not isinstance(raw, str):
        raise p.ProtocolError(p.INVALID_PARAMS, "invalid params: `dataBase64` must be a string")
    rules = _rules(params)
    try:
        data = p.b64decode_strict(raw)
    except ValueError as e:
        raise _invalid(f"fs/writeFile requires valid base64 dataBase64: {e}") from None
    real = _writable(rules, path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real, flags, 0o666)
    except OSError as e:
        raise _os_error(e) from None
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view[:READ_BLOCK])
            view = view[n:]
    except OSError as e:
        raise _os_error(e) from None
    finally:
        os.close(fd)
    return {}


def create_directory(params: Mapping[str, Any]) -> dict[str, Any]:
    path = p.decode_path(params)
    recursive = _bool(params, "recursive", True)
    real = _writable(_rules(params), path)
    try:
        if recursive:
            os.makedirs(real, exist_ok=True)
        else:
            os.mkdir(real)
    except OSError as e:
        raise _os_error(e) from None
    return {}


def get_metadata(params: Mapping[str, Any]) -> dict[str, Any]:
    path = p.decode_path(params)
    follow = _bool(params, "followSymlinks", True)
    rules = _rules(params)
    try:
        lst = os.lstat(path)
        is_link = stat.S_ISLNK(lst.st_mode)
        if follow:
            _readable(rules, path)
            st = os.stat(path)
        else:
            _entry_readable(rules, path)
            st = lst
    except OSError as e:
        raise _os_error(e) from None
    created = getattr(st, "st_birthtime", None)
    return {"isDirectory": stat.S_ISDIR(st.st_mode), "isFile": stat.S_ISREG(st.st_mode),
            "isSymlink": is_link, "size": st.st_size,
            "createdAtMs": int(created * 1000) if created is not None else 0,
            "modifiedAtMs": int(st.st_mtime * 1000)}


def _entry_readable(rules: SandboxRules, path: str) -> None:
    parent, name = os.path.split(path)
    real = os.path.join(os.path.realpath(parent), name)
    if not rules.can_read(real):
        raise _denied(path, "readable")


def read_directory(params: Mapping[str, Any]) -> dict[str, Any]:
    path = p.decode_path(params)
    real = _readable(_rules(params), path)
    entries = []
    try:
        with os.scandir(real) as it:
            for entry in it:
                try:
                    is_dir, is_file = entry.is_dir(), entry.is_file()
                except OSError:
                    is_dir = is_file = False
                entries.append({"fileName": entry.name, "isDirectory": is_dir,
                                "isFile": is_file})
    except NotADirectoryError:
        raise _invalid(f"path `{path}` is not a directory") from None
    except OSError as e:
        raise _os_error(e) from None
    return {"entries": entries}


def remove(params: Mapping[str, Any]) -> dict[str, Any]:
    path = p.decode_path(params)
    recursive = _bool(params, "recursive", True)
    force = _bool(params, "force", True)
    if path == "/":
        raise _invalid("refusing to remove `/`")
    real = _entry_location(_rules(params), path, tree=recursive)
    try:
        st = os.lstat(real)
    except FileNotFoundError as e:
        if force:
            return {}
        raise _os_error(e) from None
    except OSError as e:
        raise _os_error(e) from None
    try:
        if stat.S_ISDIR(st.st_mode):
            if recursive:
                shutil.rmtree(real)
            else:
                os.rmdir(real)
        else:
            os.unlink(real)
    except OSError as e:
        raise _os_error(e) from None
    return {}


def copy(params: Mapping[str, Any]) -> dict[str, Any]:
    source = p.decode_path(params, "sourcePath")
    destination = p.decode_path(params, "destinationPath")
    recursive = _bool(params, "recursive", None)
    rules = _rules(params)
    real_source = _readable(rules, source)
    if os.path.isdir(real_source) and not recursive:
        raise _invalid("fs/copy requires recursive: true when sourcePath is a directory")
    real_dest = _writable(rules, destination, tree=True)
    try:
        if os.path.isdir(real_source):
            if _inside(real_dest, real_source):
                raise _invalid("fs/copy cannot copy a directory into itself")
            shutil.copytree(real_source, real_dest, symlinks=True)
        else:
            shutil.copy2(real_source, real_dest)
    except OSError as e:
        raise _os_error(e) from None
    return {}


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def canonicalize(params: Mapping[str, Any]) -> dict[str, Any]:
    path = p.decode_path(params)
    try:
        real = os.path.realpath(path, strict=True)
    except OSError as e:
        raise _os_error(e) from None
    if not _rules(params).can_read(real):
        raise _denied(path, "readable")
    return {"path": path_uri.from_path(real)}


# Method name -> the blocking function that serves it (run in a worker thread).
METHODS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    p.FS_READ_FILE: read_file,
    p.FS_WRITE_FILE: write_file,
    p.FS_CREATE_DIRECTORY: create_directory,
    p.FS_GET_METADATA: get_metadata,
    p.FS_READ_DIRECTORY: read_directory,
    p.FS_REMOVE: remove,
    p.FS_COPY: copy,
    p.FS_CANONICALIZE: canonicalize,
}
