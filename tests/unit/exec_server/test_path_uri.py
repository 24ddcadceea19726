"""PathUri parsing and printing (spec "The newest Codex dialect": strict PathUris)."""

from __future__ import annotations

import os

import pytest

from codex.exec_server import path_uri


@pytest.mark.parametrize(("uri", "path"), [
    ("file:///tmp/a.txt", "/tmp/a.txt"),
    ("file://localhost/tmp/a.txt", "/tmp/a.txt"),
    ("file://LOCALHOST/tmp", "/tmp"),
    ("FILE:///tmp", "/tmp"),
    ("file:///", "/"),
    ("file://localhost", "/"),
    ("file:///a%20b/c%20d", "/a b/c d"),
    ("file:///a b", "/a b"),  # a raw space is read as itself
    ("file:///%E2%82%AC/caf%C3%A9", "/\u20ac/caf\u00e9"),
    ("file:///\u20ac", "/\u20ac"),  # raw unicode too
    ("file:///tmp/../etc/./x", "/etc/x"),  # dot segments resolved, as a URL resolves them
    ("file:///..", "/"),
    ("file:///a%25b", "/a%b"),
    ("file:///a%3Fb%23c", "/a?b#c"),
    ("file:////double//slash", "/double/slash"),
])
def test_parse(uri, path):
    assert path_uri.parse(uri) == path


def test_undecodable_bytes_round_trip():
    path = path_uri.parse("file:///x/%FF%FE")
    assert os.fsencode(path) == b"/x/\xff\xfe"
    assert path_uri.from_path(path) == "file:///x/%FF%FE"


@pytest.mark.parametrize(("uri", "why"), [
    ("/tmp/a", "not a file:// URI"),
    ("tmp/a", "not a file:// URI"),
    ("relative.txt", "not a file:// URI"),
    ("http:///tmp", "not a file:// URI"),
    ("file:tmp/a", "absolute path"),
    ("file:localhost:80/tmp", "absolute path"),
    ("file://host/tmp", "is not this machine"),
    ("file://user:pw@localhost/tmp", "credentials"),
    ("file://localhost:80/tmp", "port"),
    ("file:///tmp/a?x=1", "query"),
    ("file:///tmp/a#frag", "fragments"),
    ("file:///tmp/a%2Fb", "%2F"),
    ("file:///tmp/a%2fb", "%2F"),
    ("file:///tmp/a%00b", "NUL"),
    ("file:///tmp/a\x00b", "NUL"),
    ("file:///tmp/%zz", "hex escape"),
    ("file:///tmp/%4", "hex escape"),
    ("", "not a file:// URI"),
])
def test_rejects(uri, why):
    with pytest.raises(path_uri.InvalidPathUri, match=why.replace("?", r"\?")):
        path_uri.parse(uri)


def test_rejects_non_strings():
    with pytest.raises(path_uri.InvalidPathUri):
        path_uri.parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/", "/tmp/a b", "/\u20ac/caf\u00e9", "/a%b", "/a?b#c",
                                  "/x:y@z", "/~user/.hidden", "/with\nnewline"])
def test_print_then_parse_is_identity(path):
    uri = path_uri.from_path(path)
    assert uri.startswith("file:///")
    assert " " not in uri and "?" not in uri and "#" not in uri and "\n" not in uri
    assert path_uri.parse(uri) == path


def test_print_spellings():
    assert path_uri.from_path("/a b/\u20ac") == "file:///a%20b/%E2%82%AC"
    assert path_uri.from_path("/x:y@z/k=v;w") == "file:///x:y@z/k=v;w"


def test_relative_paths_are_made_absolute_when_printed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert path_uri.parse(path_uri.from_path("sub")) == str(tmp_path / "sub")
