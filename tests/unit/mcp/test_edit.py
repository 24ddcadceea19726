"""config.toml edits keep every byte outside the edited table (spec "`codex mcp`")."""

from __future__ import annotations

import tomllib

import pytest

from codex.mcp.config import McpConfigError
from codex.mcp.edit import add_server, remove_server

COMMENTED = """\
# My Codex settings -- hand written, please keep the comments
model = "o3"            # the default model
approval_policy = "on-request"

[profiles.fast]  # quick runs
model = "gpt-5-mini"

# --- MCP servers ---------------------------------------------------------
[mcp_servers.docs]
command = "npx"   # node wrapper
args = ["-y", "docs-mcp"]

[mcp_servers.docs.env]
DOCS_TOKEN = "abc"

# history is kept local
[history]
persistence = "none"
"""


def test_add_then_remove_is_byte_for_byte() -> None:
    added = add_server(COMMENTED, "time", {"command": "uvx", "args": ["mcp-server-time"]})
    assert not added.replaced
    data = tomllib.loads(added.text)
    assert data["mcp_servers"]["time"] == {"command": "uvx", "args": ["mcp-server-time"]}
    assert data["mcp_servers"]["docs"]["env"] == {"DOCS_TOKEN": "abc"}
    # everything that was there is still there, in order, and the new block is in one piece
    block = '[mcp_servers.time]\ncommand = "uvx"\nargs = ["mcp-server-time"]\n'
    assert block in added.text
    assert added.text.replace("\n" + block, "", 1) == COMMENTED
    assert remove_server(added.text, "time") == COMMENTED


def test_remove_keeps_the_comment_of_the_next_table() -> None:
    out = remove_server(COMMENTED, "docs")
    assert out is not None
    assert "# history is kept local\n[history]" in out
    assert "docs" not in out and "DOCS_TOKEN" not in out
    assert out.startswith(COMMENTED.split("[mcp_servers.docs]")[0].rstrip("\n"))
    assert "mcp_servers" not in tomllib.loads(out)


def test_add_replaces_in_place() -> None:
    out = add_server(COMMENTED, "docs", {"url": "https://docs.example/mcp"})
    assert out.replaced
    before, after = COMMENTED.split("[mcp_servers.docs]")
    assert out.text.startswith(before)
    assert out.text.endswith("# history is kept local\n[history]\npersistence = \"none\"\n")
    assert tomllib.loads(out.text)["mcp_servers"] == {"docs": {"url": "https://docs.example/mcp"}}


@pytest.mark.parametrize("text", ["", 'model = "x"', 'model = "x"\n', "[history]\nx = 1\n"])
def test_add_to_a_config_without_servers(text: str) -> None:
    out = add_server(text, "t", {"command": "a", "env": {"K": "V"}})
    assert out.text.startswith(text)
    data = tomllib.loads(out.text)
    assert data["mcp_servers"]["t"] == {"command": "a", "env": {"K": "V"}}


@pytest.mark.parametrize("text", [
    'mcp_servers = { a = { command = "x" }, b = { command = "y" } }\n',
    '[mcp_servers]\na = { command = "x" }\nb = { command = "y" }\n',
    'mcp_servers.a.command = "x"\nmcp_servers.b.command = "y"\n',
])
def test_other_layouts_fall_back_to_a_structural_edit(text: str) -> None:
    out = remove_server(text, "a")
    assert out is not None
    assert tomllib.loads(out)["mcp_servers"] == {"b": {"command": "y"}}
    added = add_server(out, "c", {"command": "z"})
    assert tomllib.loads(added.text)["mcp_servers"] == {"b": {"command": "y"},
                                                        "c": {"command": "z"}}


def test_header_like_lines_inside_strings_do_not_fool_the_splice() -> None:
    text = ('[mcp_servers.a]\ncommand = "x"\nargs = ["""\n[mcp_servers.b]\n"""]\n\n'
            '[mcp_servers.b]\ncommand = "y"\n')
    out = remove_server(text, "b")
    assert out is not None
    assert tomllib.loads(out)["mcp_servers"] == {"a": {"command": "x",
                                                       "args": ["[mcp_servers.b]\n"]}}


def test_missing_server_and_bad_toml() -> None:
    assert remove_server(COMMENTED, "nope") is None
    with pytest.raises(McpConfigError, match="not valid TOML"):
        add_server("model = ", "t", {"command": "a"})
