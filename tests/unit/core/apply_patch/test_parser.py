"""parse_patch: the format's shapes, the lenient corners, and every error message."""

from __future__ import annotations

import pytest

from codex.core.apply_patch import (
    AddFile,
    Chunk,
    DeleteFile,
    PatchError,
    UpdateFile,
    parse_patch,
)

VALID = (
    "Valid hunk headers: '*** Add File: {path}', '*** Delete File: {path}', "
    "'*** Update File: {path}'"
)


def patch(*body: str) -> str:
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"])


def error_of(text: str) -> PatchError:
    with pytest.raises(PatchError) as info:
        parse_patch(text)
    assert info.value.code == "invalid_patch"
    return info.value


def test_all_three_operations_in_order():
    parsed = parse_patch(patch(
        "*** Add File: a/new.txt",
        "+one",
        "+two",
        "*** Delete File: gone.txt",
        "*** Update File: src/x.py",
        "*** Move to: src/y.py",
        "@@ def f():",
        " keep",
        "-old",
        "+new",
    ))
    assert parsed.hunks == (
        AddFile(path="a/new.txt", contents="one\ntwo\n", line=2),
        DeleteFile(path="gone.txt", line=5),
        UpdateFile(
            path="src/x.py",
            move_to="src/y.py",
            chunks=(Chunk("def f():", ((" ", "keep"), ("-", "old"), ("+", "new")), False, 8),),
            line=6,
        ),
    )


def test_first_chunk_may_omit_the_marker_and_later_chunks_have_context():
    (hunk,) = parse_patch(patch(
        "*** Update File: f",
        " a",
        "-b",
        "+B",
        "@@",
        "-c",
        "@@ class K:",
        "+d",
        "*** End of File",
    )).hunks
    assert isinstance(hunk, UpdateFile)
    assert [(c.context, c.old_lines, c.new_lines, c.end_of_file) for c in hunk.chunks] == [
        (None, ("a", "b"), ("a", "B"), False),
        (None, ("c",), (), False),
        ("class K:", (), ("d",), True),
    ]


def test_empty_line_inside_a_chunk_is_empty_context():
    (hunk,) = parse_patch(patch("*** Update File: f", "@@", " a", "", "-b", "+c")).hunks
    assert hunk.chunks[0].old_lines == ("a", "", "b")
    assert hunk.chunks[0].new_lines == ("a", "", "c")


def test_blank_lines_between_hunks_are_not_context():
    (update, delete) = parse_patch(patch(
        "*** Update File: f", "@@", "-a", "+b", "", "", "*** Delete File: g"
    )).hunks
    assert update.chunks[0].old_lines == ("a",)
    assert update.chunks[0].new_lines == ("b",)
    assert delete == DeleteFile("g", 8)


def test_explicit_trailing_empty_context_is_kept():
    (hunk,) = parse_patch(patch("*** Update File: f", "@@", "-a", " ")).hunks
    assert hunk.chunks[0].old_lines == ("a", "")


def test_surrounding_whitespace_and_crlf_are_tolerated():
    text = "\n\n  " + patch("*** Add File: x", "+hi").replace("\n", "\r\n") + "\r\n\n  \n"
    assert parse_patch(text).hunks == (AddFile("x", "hi\n", 2),)


def test_markers_with_padding_are_accepted():
    parsed = parse_patch("  *** Begin Patch  \n  *** Add File:   x.txt  \n+a\n*** End Patch  ")
    assert parsed.hunks == (AddFile("x.txt", "a\n", 2),)


@pytest.mark.parametrize("opener", ["<<'EOF'", "<<EOF", '<<"EOF"', "apply_patch <<'EOF'",
                                    "applypatch << 'PATCH_END'"])
def test_heredoc_wrapper_is_unwrapped(opener):
    delim = "PATCH_END" if "PATCH_END" in opener else "EOF"
    text = f"{opener}\n{patch('*** Delete File: a')}\n{delim}\n"
    assert parse_patch(text).hunks == (DeleteFile("a", 2),)


def test_add_file_blank_lines_between_plus_lines_are_kept_trailing_ones_dropped():
    (hunk, _) = parse_patch(patch(
        "*** Add File: a", "+one", "", "+three", "", "*** Delete File: b"
    )).hunks
    assert hunk.contents == "one\n\nthree\n"


def test_empty_add_file_is_an_empty_file():
    assert parse_patch(patch("*** Add File: empty")).hunks == (AddFile("empty", "", 2),)


def test_pure_rename_needs_no_chunks():
    (hunk,) = parse_patch(patch("*** Update File: a", "*** Move to: b")).hunks
    assert hunk == UpdateFile("a", "b", (), 2)


def test_unified_diff_range_header_is_not_taken_as_context():
    (hunk,) = parse_patch(patch(
        "*** Update File: f", "@@ -1,3 +1,4 @@", "-a", "@@ -9 +9 @@ def g():", "-b"
    )).hunks
    assert [c.context for c in hunk.chunks] == [None, "def g():"]


def test_no_newline_marker_from_diffs_is_ignored():
    (hunk,) = parse_patch(patch(
        "*** Update File: f", "@@", "-a", "\\ No newline at end of file", "+b"
    )).hunks
    assert hunk.chunks[0].old_lines == ("a",)
    assert hunk.chunks[0].new_lines == ("b",)


def test_lines_that_look_like_markers_inside_chunks_are_content():
    (hunk,) = parse_patch(patch(
        "*** Update File: f", "@@", " *** End Patch", "-*** Add File: x", "+@@ not a marker"
    )).hunks
    assert hunk.chunks[0].old_lines == ("*** End Patch", "*** Add File: x")
    assert hunk.chunks[0].new_lines == ("*** End Patch", "@@ not a marker")


# --- errors -----------------------------------------------------------------------------------

def test_first_line_must_be_begin_patch():
    assert str(error_of("*** Add File: a\n+x\n*** End Patch")) == (
        "invalid patch: The first line of the patch must be '*** Begin Patch'"
    )


def test_empty_text_is_invalid():
    assert str(error_of("   \n")) == (
        "invalid patch: The first line of the patch must be '*** Begin Patch'"
    )


def test_last_line_must_be_end_patch():
    assert str(error_of("*** Begin Patch\n*** Add File: a\n+x")) == (
        "invalid patch: The last line of the patch must be '*** End Patch'"
    )
    assert str(error_of("*** Begin Patch")) == (
        "invalid patch: The last line of the patch must be '*** End Patch'"
    )


def test_patch_without_operations():
    assert str(error_of(patch())) == (
        "invalid patch: The patch has no file operations between '*** Begin Patch' and "
        "'*** End Patch'"
    )


def test_bad_hunk_header_names_the_line():
    assert str(error_of(patch("*** Delete File: a", "*** Frobnicate File: b"))) == (
        f"invalid hunk at line 3, '*** Frobnicate File: b' is not a valid hunk header. {VALID}"
    )


def test_add_file_line_without_plus_gets_a_hint():
    assert str(error_of(patch("*** Add File: a", "+x", "y"))) == (
        "invalid hunk at line 4, 'y' is not a valid hunk header (every line of an added file "
        f"must start with '+'). {VALID}"
    )


@pytest.mark.parametrize("header", ["*** Add File:", "*** Delete File:  ", "*** Update File: "])
def test_header_without_path(header):
    marker = header.strip()
    assert str(error_of(patch(header))) == (
        f"invalid hunk at line 2, '{marker}' must be followed by a path"
    )


def test_move_without_path():
    assert str(error_of(patch("*** Update File: a", "*** Move to:", "@@", "-x"))) == (
        "invalid hunk at line 3, '*** Move to:' must be followed by a path"
    )


def test_empty_update():
    assert str(error_of(patch("*** Update File: a", "*** Delete File: b"))) == (
        "invalid hunk at line 2, the update of 'a' is empty (no chunks)"
    )


def test_chunk_without_lines():
    assert str(error_of(patch("*** Update File: a", "@@ ctx", "", "*** Delete File: b"))) == (
        "invalid hunk at line 3, a chunk of the update of 'a' has no lines; give the lines to "
        "change (' ' context, '-' remove, '+' add)"
    )


def test_unexpected_line_in_update():
    assert str(error_of(patch("*** Update File: a", "@@", "-x", "oops"))) == (
        "invalid hunk at line 5, unexpected line in the update of 'a': 'oops'. Every line of a "
        "chunk must start with ' ' (context), '-' (removed) or '+' (added)"
    )


def test_unknown_star_marker_in_update():
    assert "invalid hunk at line 4, unexpected line in the update of 'a': '*** Nope'" in str(
        error_of(patch("*** Update File: a", "-x", "*** Nope"))
    )


def test_end_of_file_without_chunk_lines():
    assert str(error_of(patch("*** Update File: a", "*** End of File"))) == (
        "invalid hunk at line 3, '*** End of File' must follow the lines of a chunk"
    )


def test_consecutive_context_markers_make_narrowing_chunks():
    (hunk,) = parse_patch(patch("*** Update File: f", "@@ class A:", "@@ def g():", "-x")).hunks
    assert hunk.chunks == (
        Chunk("class A:", (), False, 3),
        Chunk("def g():", (("-", "x"),), False, 4),
    )


@pytest.mark.parametrize("fence", ["```", "```diff", "```text"])
def test_markdown_code_fence_is_unwrapped(fence):
    text = f"{fence}\n\n{patch('*** Delete File: a')}\n```\n"
    assert parse_patch(text).hunks == (DeleteFile("a", 2),)
