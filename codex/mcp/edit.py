"""Add or remove one `[mcp_servers.<name>]` in config.toml, keeping every other byte.

Spec: `shared/specs/mcp.md`, "`codex mcp`": edits keep the rest of config.toml byte for byte
(comments, order, formatting). A whole-document round trip through `tomlkit` does not quite do
that: comments that sit just above the next table are attached to the previous table's body,
so they move with an inserted table or vanish with a removed one. So the common layout — the
server's own `[mcp_servers.NAME]` header (and `[mcp_servers.NAME.env]`-style sub-tables) — is
edited as text: the server's lines are cut out, or the new block (rendered by `tomlkit`) is
spliced in after the last server. Every splice is checked by parsing the result and comparing
it with the intended data; any other layout (inline tables, dotted keys) or a failed check
falls back to `tomlkit`'s structural edit, checked the same way.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex.mcp.config import McpConfigError

_HEADER = re.compile(r"^[ \t]*\[")  # a table or array-of-tables header line
_BLANK_OR_COMMENT = re.compile(r"^[ \t]*(#.*)?\r?\n?$")


@dataclass(frozen=True, slots=True)
class EditResult:
    text: str
    replaced: bool  # `add`: an existing server of that name was replaced


def _server_header(name: str) -> re.Pattern[str]:
    key = re.escape(name)
    part = rf'(?:{key}|"{key}"|\'{key}\')'
    return re.compile(rf"^[ \t]*\[[ \t]*mcp_servers[ \t]*\.[ \t]*{part}[ \t]*(?:\.[^\]]*)?\]"
                      rf"[ \t]*(?:#.*)?\r?\n?$")


def _any_server_header() -> re.Pattern[str]:
    return re.compile(r"^[ \t]*\[[ \t]*mcp_servers[ \t]*\.[^\]]+\][ \t]*(?:#.*)?\r?\n?$")


def _spans(lines: list[str], header: re.Pattern[str]) -> list[tuple[int, int]]:
    """[start, end) line ranges of the tables whose header matches. A table ends at its last
    line of content: blank and comment lines just above the next header belong to that one."""
    spans = []
    i = 0
    while i < len(lines):
        if not header.match(lines[i]):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not _HEADER.match(lines[j]):
            j += 1
        end = j
        while end > i + 1 and _BLANK_OR_COMMENT.match(lines[end - 1]):
            end -= 1
        spans.append((i, end))
        i = j
    return spans


def render_server(name: str, table: Mapping[str, Any]) -> str:
    """`[mcp_servers.NAME]` and its keys as TOML text (tables of strings inline)."""
    import tomlkit

    t = tomlkit.table()
    for key, value in table.items():
        if isinstance(value, Mapping):
            inline = tomlkit.inline_table()
            inline.update(value)
            t[key] = inline
        else:
            t[key] = value
    servers = tomlkit.table(is_super_table=True)
    servers[name] = t
    doc = tomlkit.document()
    doc["mcp_servers"] = servers
    return tomlkit.dumps(doc)


def _parse(text: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise McpConfigError(f"config.toml is not valid TOML ({e}); fix it first") from None
    servers = data.get("mcp_servers")
    if servers is not None and not isinstance(servers, dict):
        raise McpConfigError(f"config.toml: mcp_servers is {servers!r}, not a table of "
                             "servers ([mcp_servers.NAME]); fix it first")
    return data


def _expected(data: dict[str, Any], name: str, table: Mapping[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(data)
    servers = out.setdefault("mcp_servers", {})
    if table is None:
        servers.pop(name, None)
        if not servers:
            out.pop("mcp_servers")
    else:
        servers[name] = copy.deepcopy(dict(table))
    return out


def _same_after(text: str, expected: dict[str, Any]) -> bool:
    try:
        got = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    if "mcp_servers" in got and not got["mcp_servers"] and "mcp_servers" not in expected:
        got.pop("mcp_servers")  # an explicit, now empty `[mcp_servers]` header stays
    return got == expected


def _splice_remove(text: str, name: str) -> str | None:
    lines = text.splitlines(keepends=True)
    spans = _spans(lines, _server_header(name))
    if not spans:
        return None
    for start, end in reversed(spans):
        # Take one blank line that separated the block from what came before, if any.
        if start > 0 and lines[start - 1].strip() == "":
            start -= 1
        del lines[start:end]
    return "".join(lines)


def _splice_add(text: str, name: str, block: str) -> str:
    lines = text.splitlines(keepends=True)
    own = _spans(lines, _server_header(name))
    if own:
        # Replace in place: the first block's position, the others removed.
        for start, end in reversed(own[1:]):
            if lines[start - 1].strip() == "":
                start -= 1
            del lines[start:end]
        start, end = own[0]
        lines[start:end] = [block]
        return "".join(lines)
    others = _spans(lines, _any_server_header())
    if others:
        at = others[-1][1]
        if lines[at - 1].endswith("\n") is False:
            lines[at - 1] += "\n"
        lines[at:at] = ["\n", block]
        return "".join(lines)
    head = "".join(lines)
    if head and not head.endswith("\n"):
        head += "\n"
    sep = "\n" if head.strip() else ""
    return head + sep + block


def _tomlkit_edit(text: str, name: str, table: Mapping[str, Any] | None) -> str:
    import tomlkit

    doc = tomlkit.parse(text)
    if table is None:
        servers = doc.get("mcp_servers")
        if servers is not None and name in servers:
            del servers[name]
            if not servers:
                del doc["mcp_servers"]
    else:
        if "mcp_servers" not in doc:
            doc["mcp_servers"] = tomlkit.table(is_super_table=True)
        doc["mcp_servers"][name] = table
    return tomlkit.dumps(doc)


def add_server(text: str, name: str, table: Mapping[str, Any]) -> EditResult:
    """`text` with `[mcp_servers.NAME]` set to `table` (replacing one of that name)."""
    data = _parse(text)
    replaced = name in (data.get("mcp_servers") or {})
    expected = _expected(data, name, table)
    spliced = _splice_add(text, name, render_server(name, table))
    if _same_after(spliced, expected):
        return EditResult(spliced, replaced)
    edited = _tomlkit_edit(text, name, table)
    if not _same_after(edited, expected):
        raise McpConfigError(f"cannot add mcp_servers.{name}: config.toml has a layout "
                             "codex cannot edit safely; add the table by hand")
    return EditResult(edited, replaced)


def remove_server(text: str, name: str) -> str | None:
    """`text` without `mcp_servers.NAME`; None when there is no such server."""
    data = _parse(text)
    if name not in (data.get("mcp_servers") or {}):
        return None
    expected = _expected(data, name, None)
    spliced = _splice_remove(text, name)
    if spliced is not None and _same_after(spliced, expected):
        return spliced
    edited = _tomlkit_edit(text, name, None)
    if not _same_after(edited, expected):
        raise McpConfigError(f"cannot remove mcp_servers.{name}: config.toml has a layout "
                             "codex cannot edit safely; remove the table by hand")
    return edited


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename, keeping its permission bits (config.toml
    may hold tokens: a new file is created private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
