"""PathUri: the `file://` strings the newest Codex dialect uses for paths (spec exec-server.md,
"The newest Codex dialect").

A PathUri names one absolute path on the server's machine: `file:///abs/path`, each byte that
is not a plain path character percent-encoded (UTF-8 for text, the raw bytes otherwise).
Parsing is strict on purpose: a path that would mean something else on the other side is an
error, never a guess. Rules:

- scheme `file` (any case); host empty or `localhost` (`file://localhost/x` is `file:///x`);
- no query, fragment, credentials or port; no other host;
- `%2F` (a slash inside one segment) and NUL (raw or `%00`) are refused;
- `%` must start a two-digit hex escape; dot segments are resolved as a URL resolves them.

`InvalidPathUri` carries the reason; the server turns it into -32602.
"""

from __future__ import annotations

import os
import posixpath
import re

SCHEME = "file"
# RFC 3986 pchar minus `%`, plus `/` between segments: what we print unescaped.
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                  b"-._~!$&'()*+,;=:@/")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class InvalidPathUri(ValueError):
    """A string that is not a PathUri we accept; `str()` says why."""


def parse(uri: str) -> str:
    """The native absolute path a PathUri names (a str; undecodable bytes as surrogates).

    Raises InvalidPathUri for a relative or native path, another scheme, a host other than
    `localhost`, credentials, a port, a query, a fragment, `%2F`, NUL or a bad escape."""
    if not isinstance(uri, str):
        raise InvalidPathUri("a path URI must be a string")
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() != SCHEME:
        raise InvalidPathUri(f"{uri!r} is not a file:// URI (native paths are not accepted)")
    if not rest.startswith("//"):
        raise InvalidPathUri(f"{uri!r} is not a file:// URI with an absolute path")
    if "\0" in uri:
        raise InvalidPathUri("a path URI must not contain NUL")
    if "?" in rest:
        raise InvalidPathUri("query parameters are not allowed in path URIs")
    if "#" in rest:
        raise InvalidPathUri("fragments are not allowed in path URIs")
    authority, slash, path = rest[2:].partition("/")
    if "@" in authority:
        raise InvalidPathUri("credentials are not allowed in path URIs")
    if ":" in authority:
        raise InvalidPathUri("a port is not allowed in path URIs")
    if authority.lower() not in ("", "localhost"):
        raise InvalidPathUri(f"host {authority!r} is not this machine (use file:///path)")
    if _ESCAPE.search(path):
        raise InvalidPathUri(f"{uri!r} has a `%` that does not start a hex escape")
    segments = []
    for segment in path.split("/"):
        raw = _unquote(segment)
        if b"/" in raw:
            raise InvalidPathUri("`%2F` (a slash inside a segment) is not allowed in path URIs")
        if b"\0" in raw:
            raise InvalidPathUri("a path URI must not contain NUL")
        segments.append(os.fsdecode(raw))
    joined = "/" + "/".join(segments)
    # URL semantics: `.` and `..` segments are resolved lexically, `..` never above `/`.
    normal = posixpath.normpath(joined)
    if normal.startswith("//"):
        normal = "/" + normal.lstrip("/")
    return normal


def _unquote(segment: str) -> bytes:
    out = bytearray()
    i = 0
    encoded = segment.encode("utf-8", "surrogateescape")
    n = len(encoded)
    while i < n:
        b = encoded[i]
        if b == 0x25:  # %
            out.append(int(encoded[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(b)
            i += 1
    return bytes(out)


def from_path(path: str | os.PathLike[str]) -> str:
    """`path` (absolute; made absolute against the cwd otherwise) as a PathUri."""
    native = os.path.abspath(os.fspath(path))
    raw = os.fsencode(native)
    return "file://" + "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def is_path_uri(value: object) -> bool:
    """Whether `value` looks like a PathUri (a string with the file scheme), valid or not."""
    return isinstance(value, str) and value[:5].lower() == "file:"
