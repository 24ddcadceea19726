"""Recognising `apply_patch <<'EOF'` shell commands (what unified_exec intercepts)."""

from __future__ import annotations

import pytest

from codex.core.apply_patch import (
    HeredocCommand,
    apply_patch,
    extract_heredoc,
    parse_heredoc_command,
)

PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi $HOME `x` \\n\n*** End Patch"


@pytest.mark.parametrize("opener", [
    "apply_patch <<'EOF'",
    "apply_patch <<EOF",
    'apply_patch <<"EOF"',
    "apply_patch << 'EOF'",
    "applypatch <<'EOF'",
    "  apply_patch<<'EOF'  ",
])
def test_heredoc_forms(opener):
    assert extract_heredoc(f"{opener}\n{PATCH}\nEOF\n") == PATCH


def test_body_is_taken_literally():
    # No $VAR, backquote or backslash processing, even for an unquoted delimiter.
    assert "+hi $HOME `x` \\n" in extract_heredoc(f"apply_patch <<EOF\n{PATCH}\nEOF")


def test_other_delimiters_and_crlf():
    cmd = f"apply_patch <<'PATCH'\r\n{PATCH}\r\nPATCH\r\n"
    assert extract_heredoc(cmd) == PATCH


def test_dash_form_strips_leading_tabs():
    body = "\n".join("\t" + line for line in PATCH.split("\n"))
    assert extract_heredoc(f"apply_patch <<-EOF\n{body}\n\tEOF") == PATCH


@pytest.mark.parametrize("cmd", [
    "apply_patch",
    "echo hi",
    f"cat <<'EOF'\n{PATCH}\nEOF",
    f"apply_patch <<'EOF'\n{PATCH}\n",  # no terminator
    f"apply_patch <<'EOF'\n{PATCH}\nEOF\nrm -rf /tmp/x",  # more shell after it
    f"apply_patch <<'EOF' && ls\n{PATCH}\nEOF",
    f"apply_patch <<'EOF'\n{PATCH}\nEOFX",
    f"sudo apply_patch <<'EOF'\n{PATCH}\nEOF",
    f"apply_patch_x <<'EOF'\n{PATCH}\nEOF",
])
def test_not_a_patch_command(cmd):
    assert extract_heredoc(cmd) is None
    assert parse_heredoc_command(cmd) is None


@pytest.mark.parametrize(("prefix", "workdir"), [
    ("cd sub && ", "sub"),
    ("cd 'my dir' && ", "my dir"),
    ('cd "a \\"b\\"" && ', 'a "b"'),
    ("cd /abs/path&&", "/abs/path"),
])
def test_cd_prefix_gives_the_workdir(prefix, workdir):
    cmd = f"{prefix}apply_patch <<'EOF'\n{PATCH}\nEOF"
    assert parse_heredoc_command(cmd) == HeredocCommand(patch=PATCH, workdir=workdir)
    # The str-only API refuses rather than lose the directory.
    assert extract_heredoc(cmd) is None


def test_plain_command_has_no_workdir():
    assert parse_heredoc_command(f"apply_patch <<'EOF'\n{PATCH}\nEOF") == HeredocCommand(PATCH)


def test_extracted_patch_applies_in_the_workdir(tmp_path):
    (tmp_path / "sub").mkdir()
    parsed = parse_heredoc_command(f"cd sub && apply_patch <<'EOF'\n{PATCH}\nEOF")
    apply_patch(parsed.patch, tmp_path / parsed.workdir)
    assert (tmp_path / "sub" / "hello.txt").read_text() == "hi $HOME `x` \\n\n"
