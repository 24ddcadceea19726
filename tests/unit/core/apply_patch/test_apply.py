"""apply_patch on real directories: every operation, the matcher's passes through the whole
engine, the error texts, and the all-or-nothing guarantee."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codex.core.apply_patch import FileChange, PatchError, apply_patch, verify_patch

from .conftest import snapshot


def patch(*body: str) -> str:
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"])


def refused(text: str, cwd: Path) -> str:
    """Apply a patch that must fail; assert the tree is untouched; return the message."""
    before = snapshot(cwd)
    with pytest.raises(PatchError) as info:
        apply_patch(text, cwd)
    assert snapshot(cwd) == before
    return str(info.value)


# --- the operations ---------------------------------------------------------------------------

def test_add_creates_parents_and_summary(tmp_path):
    result = apply_patch(patch("*** Add File: deep/er/new.txt", "+hello", "+world"), tmp_path)
    assert (tmp_path / "deep/er/new.txt").read_bytes() == b"hello\nworld\n"
    assert result.changes == [FileChange("deep/er/new.txt", "add")]
    assert result.changes[0].abs_path == tmp_path / "deep/er/new.txt"
    assert result.summary_text() == "Success. Updated the following files:\nA deep/er/new.txt\n"


def test_add_overwrites_existing_file(tree):
    root = tree({"a.txt": "old\n"})
    apply_patch(patch("*** Add File: a.txt", "+new"), root)
    assert (root / "a.txt").read_bytes() == b"new\n"


def test_add_empty_file(tmp_path):
    apply_patch(patch("*** Add File: empty"), tmp_path)
    assert (tmp_path / "empty").read_bytes() == b""


def test_new_file_gets_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        apply_patch(patch("*** Add File: f", "+x"), tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_delete(tree):
    root = tree({"a.txt": "x\n", "b.txt": "y\n"})
    result = apply_patch(patch("*** Delete File: a.txt"), root)
    assert snapshot(root) == {"b.txt": b"y\n"}
    assert result.summary_text() == "Success. Updated the following files:\nD a.txt\n"


def test_update(tree):
    root = tree({"f.py": "a\nb\nc\n"})
    result = apply_patch(patch("*** Update File: f.py", "@@", " a", "-b", "+B", " c"), root)
    assert (root / "f.py").read_bytes() == b"a\nB\nc\n"
    assert result.changes == [FileChange("f.py", "update")]
    assert result.summary_text() == "Success. Updated the following files:\nM f.py\n"


def test_update_keeps_file_mode(tree):
    root = tree({"run.sh": "#!/bin/sh\necho hi\n"})
    (root / "run.sh").chmod(0o751)
    apply_patch(patch("*** Update File: run.sh", "-echo hi", "+echo bye"), root)
    assert stat.S_IMODE((root / "run.sh").stat().st_mode) == 0o751
    assert (root / "run.sh").read_text() == "#!/bin/sh\necho bye\n"


def test_move_with_edit_creates_parents_and_reports_destination(tree):
    root = tree({"src/a.py": "x = 1\n"})
    (root / "src/a.py").chmod(0o700)
    result = apply_patch(patch(
        "*** Update File: src/a.py", "*** Move to: lib/sub/b.py", "@@", "-x = 1", "+x = 2"
    ), root)
    assert snapshot(root) == {"src": "<dir>", "lib": "<dir>", "lib/sub": "<dir>",
                              "lib/sub/b.py": b"x = 2\n"}
    assert stat.S_IMODE((root / "lib/sub/b.py").stat().st_mode) == 0o700
    assert result.changes == [FileChange("src/a.py", "update", move_path="lib/sub/b.py")]
    assert result.summary_text() == "Success. Updated the following files:\nM lib/sub/b.py\n"


def test_move_overwrites_destination(tree):
    root = tree({"a": "new\n", "b": "old\n"})
    apply_patch(patch("*** Update File: a", "*** Move to: b"), root)
    assert snapshot(root) == {"b": b"new\n"}


def test_move_to_itself_is_a_plain_update(tree):
    root = tree({"a": "1\n"})
    apply_patch(patch("*** Update File: a", "*** Move to: ./a", "-1", "+2"), root)
    assert snapshot(root) == {"a": b"2\n"}


def test_summary_groups_added_modified_deleted(tree):
    root = tree({"m": "1\n", "d": "x\n", "mv": "y\n"})
    result = apply_patch(patch(
        "*** Delete File: d",
        "*** Update File: m", "-1", "+2",
        "*** Add File: a", "+z",
        "*** Update File: mv", "*** Move to: moved",
    ), root)
    assert result.summary_text() == (
        "Success. Updated the following files:\nA a\nM m\nM moved\nD d\n"
    )
    assert [c.kind for c in result.changes] == ["delete", "update", "add", "update"]


def test_absolute_paths_are_allowed(tree, tmp_path):
    root = tree({"dir/a": "1\n"})
    result = apply_patch(patch(f"*** Update File: {root / 'dir/a'}", "-1", "+one"), tmp_path / "x")
    assert (root / "dir/a").read_text() == "one\n"
    assert result.summary_text().endswith(f"M {root / 'dir/a'}\n")


def test_relative_paths_resolve_against_cwd(tree):
    root = tree({"pkg/a": "1\n", "b": "2\n"})
    apply_patch(patch("*** Update File: a", "-1", "+one",
                      "*** Update File: ../b", "-2", "+two"), root / "pkg")
    assert snapshot(root) == {"pkg": "<dir>", "pkg/a": b"one\n", "b": b"two\n"}


def test_update_through_symlink_keeps_the_link(tree):
    root = tree({"real.txt": "a\n"})
    (root / "link.txt").symlink_to("real.txt")
    apply_patch(patch("*** Update File: link.txt", "-a", "+b"), root)
    assert os.readlink(root / "link.txt") == "real.txt"
    assert (root / "real.txt").read_text() == "b\n"


def test_hunks_see_earlier_hunks_of_the_same_patch(tree):
    root = tree({"x": "old\n"})
    apply_patch(patch(
        "*** Add File: new", "+1", "+2",
        "*** Update File: new", "-1", "+one",
        "*** Delete File: x",
        "*** Add File: x", "+reborn",
    ), root)
    assert snapshot(root) == {"new": b"one\n2\n", "x": b"reborn\n"}


def test_no_temporary_files_are_left_behind(tree):
    root = tree({"a": "1\n", "b": "2\n"})
    apply_patch(patch("*** Update File: a", "-1", "+x", "*** Delete File: b",
                      "*** Add File: c", "+3"), root)
    assert sorted(os.listdir(root)) == ["a", "c"]


# --- chunks, context and end of file ----------------------------------------------------------

def test_multiple_chunks_apply_in_order_each_after_the_previous(tree):
    root = tree({"f": "x\nsame\ny\nsame\nz\n"})
    apply_patch(patch("*** Update File: f", "@@", " x", "-same", "+first",
                      "@@", "-same", "+second"), root)
    assert (root / "f").read_text() == "x\nfirst\ny\nsecond\nz\n"


def test_chunks_out_of_order_fail(tree):
    root = tree({"f": "a\nb\nc\n"})
    assert refused(patch("*** Update File: f", "@@", "-c", "+C", "@@", "-a", "+A"), root) == (
        "Failed to find expected lines in f:\na"
    )


def test_context_selects_the_occurrence_after_it(tree):
    root = tree({"f": "def a():\n    return 1\n\ndef b():\n    return 1\n"})
    apply_patch(patch("*** Update File: f", "@@ def b():", "-    return 1", "+    return 2"),
                root)
    assert (root / "f").read_text() == "def a():\n    return 1\n\ndef b():\n    return 2\n"


def test_successive_contexts_narrow_the_search(tree):
    root = tree({"f": "class A:\n  def f():\n    x\nclass B:\n  def f():\n    x\n"})
    apply_patch(patch("*** Update File: f", "@@ class B:", "@@   def f():", "-    x", "+    y"),
                root)
    assert (root / "f").read_text() == "class A:\n  def f():\n    x\nclass B:\n  def f():\n    y\n"


def test_context_is_found_with_fuzzy_passes(tree):
    root = tree({"f": "  def b():  \nx\n"})
    apply_patch(patch("*** Update File: f", "@@ def b():", "-x", "+y"), root)
    assert (root / "f").read_text() == "  def b():  \ny\n"


def test_missing_context_message(tree):
    root = tree({"f": "a\n"})
    assert refused(patch("*** Update File: f", "@@ def nowhere():", "-a"), root) == (
        "Failed to find context 'def nowhere():' in f"
    )


def test_missing_lines_message_lists_the_old_lines(tree):
    root = tree({"f": "a\nb\n"})
    assert refused(patch("*** Update File: f", "@@", " a", "-x", "+y", " b"), root) == (
        "Failed to find expected lines in f:\na\nx\nb"
    )


def test_end_of_file_anchors_at_the_end(tree):
    root = tree({"f": "end\nmiddle\nend\n"})
    apply_patch(patch("*** Update File: f", "@@", "-end", "+END", "*** End of File"), root)
    assert (root / "f").read_text() == "end\nmiddle\nEND\n"


def test_end_of_file_falls_back_to_a_normal_search(tree):
    root = tree({"f": "a\nb\nc\n"})
    apply_patch(patch("*** Update File: f", "@@", "-a", "+A", "*** End of File"), root)
    assert (root / "f").read_text() == "A\nb\nc\n"


def test_pure_insertion_with_context_goes_after_the_context_line(tree):
    root = tree({"f": "import os\n\ndef f():\n    pass\n"})
    apply_patch(patch("*** Update File: f", "@@ import os", "+import sys"), root)
    assert (root / "f").read_text() == "import os\nimport sys\n\ndef f():\n    pass\n"


def test_pure_insertion_without_context_appends(tree):
    root = tree({"f": "a\nb"})
    apply_patch(patch("*** Update File: f", "@@", "+c"), root)
    assert (root / "f").read_text() == "a\nb\nc"  # still no final newline, as before


def test_trailing_empty_context_line_may_stand_for_the_final_newline(tree):
    root = tree({"f": "a\nb\n"})
    apply_patch(patch("*** Update File: f", "@@", " a", "-b", "+c", " "), root)
    assert (root / "f").read_text() == "a\nc\n"


def test_deleting_every_line_leaves_an_empty_file(tree):
    root = tree({"f": "a\nb\n"})
    apply_patch(patch("*** Update File: f", "-a", "-b"), root)
    assert (root / "f").read_bytes() == b""


# --- the four passes --------------------------------------------------------------------------

def test_pass_1_exact(tree):
    root = tree({"f": "  x = 1  \n"})
    apply_patch(patch("*** Update File: f", "-  x = 1  ", "+  x = 2"), root)
    assert (root / "f").read_text() == "  x = 2\n"


def test_pass_2_ignores_trailing_whitespace(tree):
    root = tree({"f": "keep\nx = 1   \t\n"})
    apply_patch(patch("*** Update File: f", " keep", "-x = 1", "+x = 2"), root)
    assert (root / "f").read_text() == "keep\nx = 2\n"


def test_pass_3_ignores_leading_whitespace(tree):
    root = tree({"f": "if a:\n\t\treturn 1\n"})
    apply_patch(patch("*** Update File: f", "-    return 1", "+    return 2"), root)
    assert (root / "f").read_text() == "if a:\n    return 2\n"


def test_pass_4_normalises_unicode_punctuation_in_the_file(tree):
    root = tree({"f": "msg = \u201cit\u2019s \u2013 done\u201d\u00a0 # x\u2011y\nnext\n"})
    apply_patch(patch("*** Update File: f", "-msg = \"it's - done\"  # x-y", "+msg = 'ok'",
                      " next"), root)
    assert (root / "f").read_text() == "msg = 'ok'\nnext\n"


def test_pass_4_normalises_unicode_punctuation_in_the_patch(tree):
    root = tree({"f": "a - b 'c' \"d\" e\n"})
    apply_patch(patch("*** Update File: f", "-a \u2014 b \u2018c\u2019 \u201cd\u201d\u2003e",
                      "+changed"), root)
    assert (root / "f").read_text() == "changed\n"


def test_context_lines_keep_the_files_own_text(tree):
    root = tree({"f": "\tkeep \u2013 me  \r\nx\n".encode()})
    apply_patch(patch("*** Update File: f", "  keep - me", "-x", "+y"), root)
    assert (root / "f").read_bytes() == "\tkeep \u2013 me  \r\ny\n".encode()


def test_stricter_pass_anywhere_beats_looser_pass_earlier(tree):
    root = tree({"f": "x = 1 \nmiddle\nx = 1\n"})
    apply_patch(patch("*** Update File: f", "-x = 1", "+x = 2"), root)
    assert (root / "f").read_text() == "x = 1 \nmiddle\nx = 2\n"


def test_no_pass_matches_other_text(tree):
    root = tree({"f": "x = 1\n"})
    assert refused(patch("*** Update File: f", "-x = 10", "+y"), root) == (
        "Failed to find expected lines in f:\nx = 10"
    )


# --- line endings, encodings, final newline ---------------------------------------------------

def test_missing_final_newline_stays_missing(tree):
    root = tree({"f": "a\nb"})
    apply_patch(patch("*** Update File: f", "-a", "+A"), root)
    assert (root / "f").read_bytes() == b"A\nb"


def test_trailing_blank_lines_that_are_content_stay(tree):
    root = tree({"f": "a\n\n"})
    apply_patch(patch("*** Update File: f", "-a", "+A"), root)
    assert (root / "f").read_bytes() == b"A\n\n"


def test_crlf_file_stays_crlf(tree):
    root = tree({"f": b"one\r\ntwo\r\nthree"})
    apply_patch(patch("*** Update File: f", " one", "-two", "+2", "+2b", " three"), root)
    assert (root / "f").read_bytes() == b"one\r\n2\r\n2b\r\nthree"


def test_crlf_patch_text_on_lf_file(tree):
    root = tree({"f": b"one\ntwo\n"})
    text = patch("*** Update File: f", "-two", "+2").replace("\n", "\r\n")
    apply_patch(text, root)
    assert (root / "f").read_bytes() == b"one\n2\n"


def test_mixed_endings_keep_untouched_lines_bytes(tree):
    root = tree({"f": b"a\r\nb\nc\r\nd\r\n"})
    apply_patch(patch("*** Update File: f", "-d", "+D"), root)
    assert (root / "f").read_bytes() == b"a\r\nb\nc\r\nD\r\n"


def test_utf8_bom_is_kept(tree):
    root = tree({"f": "\ufeffa\nb\n".encode()})
    apply_patch(patch("*** Update File: f", "-a", "+A"), root)
    assert (root / "f").read_bytes() == "\ufeffA\nb\n".encode()


def test_non_utf8_bytes_on_untouched_lines_survive(tree):
    root = tree({"f": b"caf\xe9\nplain\n"})
    apply_patch(patch("*** Update File: f", "-plain", "+changed \u00e9"), root)
    assert (root / "f").read_bytes() == b"caf\xe9\nchanged \xc3\xa9\n"


# --- refusals: each leaves the tree byte-identical ---------------------------------------------

def test_update_of_missing_file(tmp_path):
    assert refused(patch("*** Update File: nope.txt", "-a"), tmp_path) == (
        "Failed to read file to update nope.txt: the file does not exist"
    )


def test_update_of_directory(tree):
    root = tree({"d/x": "1"})
    assert refused(patch("*** Update File: d", "-a"), root) == (
        "Failed to read file to update d: it is a directory"
    )


def test_delete_of_missing_file(tmp_path):
    assert refused(patch("*** Delete File: nope.txt"), tmp_path) == (
        "Failed to delete file nope.txt: the file does not exist"
    )


def test_delete_of_directory(tree):
    root = tree({"d/x": "1"})
    assert refused(patch("*** Delete File: d"), root) == (
        "Failed to delete file d: it is a directory"
    )


def test_update_after_delete_in_the_same_patch(tree):
    root = tree({"a": "1\n"})
    assert refused(patch("*** Delete File: a", "*** Update File: a", "-1"), root) == (
        "Failed to read file to update a: it was deleted earlier in this patch"
    )


def test_add_where_a_directory_is(tree):
    root = tree({"d/x": "1"})
    assert refused(patch("*** Add File: d", "+x"), root) == (
        "Failed to write d: a directory is in the way"
    )


def test_add_below_a_file(tree):
    root = tree({"f": "1\n"})
    assert refused(patch("*** Add File: f/g/h", "+x"), root) == (
        "Failed to write f/g/h: f is not a directory"
    )


def test_move_onto_a_directory(tree):
    root = tree({"a": "1\n", "d/x": "2"})
    assert refused(patch("*** Update File: a", "*** Move to: d"), root) == (
        "Failed to write d: a directory is in the way"
    )


def test_invalid_patch_touches_nothing(tree):
    root = tree({"a": "1\n"})
    assert refused("*** Update File: a\n-1\n+2\n*** End Patch", root) == (
        "invalid patch: The first line of the patch must be '*** Begin Patch'"
    )


def test_failing_hunk_in_the_middle_leaves_every_file_identical(tree):
    root = tree({"keep.txt": "k\n", "edit.txt": "1\n2\n3\n", "doomed.txt": "bye\n",
                 "mv/src.txt": "s\n", "bad.txt": "real\n", "after.txt": "a\n"})
    message = refused(patch(
        "*** Add File: brand/new.txt", "+n",
        "*** Add File: keep.txt", "+overwritten",
        "*** Update File: edit.txt", "-2", "+two",
        "*** Delete File: doomed.txt",
        "*** Update File: mv/src.txt", "*** Move to: mv2/dst.txt", "-s", "+t",
        "*** Update File: bad.txt", "-imaginary", "+x",
        "*** Delete File: after.txt",
    ), root)
    assert message == "Failed to find expected lines in bad.txt:\nimaginary"


# --- all-or-nothing when the disk fails us mid-way --------------------------------------------

def test_failure_while_swapping_rolls_back_every_file(tree):
    root = tree({"keep.txt": "k\n", "edit.txt": "1\n2\n", "doomed.txt": "bye\n",
                 "mv/src.txt": "s\n"})
    plan = verify_patch(patch(
        "*** Add File: brand/new/file.txt", "+n",
        "*** Add File: keep.txt", "+overwritten",
        "*** Update File: edit.txt", "-2", "+two",
        "*** Delete File: doomed.txt",
        "*** Update File: mv/src.txt", "*** Move to: mv2/dst.txt", "-s", "+t",
        "*** Add File: blocker", "+x",
    ), root)
    # After verification a directory appears where the last file is to be written: every
    # earlier file is already swapped in when the last rename fails, so all of it must unwind.
    (root / "blocker").mkdir()
    (root / "blocker" / "inside").write_text("mine\n")
    before = snapshot(root)
    with pytest.raises(PatchError) as info:
        plan.apply()
    assert info.value.code == "apply_failed"
    assert "nothing was changed" in str(info.value)
    assert snapshot(root) == before


def test_file_changed_after_verification_is_refused(tree):
    root = tree({"a": "1\n"})
    plan = verify_patch(patch("*** Update File: a", "-1", "+2"), root)
    (root / "a").write_text("1\nsomeone else\n")
    with pytest.raises(PatchError) as info:
        plan.apply()
    assert str(info.value) == "a changed on disk after the patch was verified; nothing was changed"
    assert (root / "a").read_text() == "1\nsomeone else\n"


def test_verify_writes_nothing_and_reports_changes(tree):
    root = tree({"a": "1\n"})
    before = snapshot(root)
    plan = verify_patch(patch("*** Update File: a", "-1", "+2", "*** Add File: b/c", "+x"), root)
    assert snapshot(root) == before
    assert [(c.path, c.kind) for c in plan.changes] == [("a", "update"), ("b/c", "add")]
    assert plan.apply().summary_text().endswith("A b/c\nM a\n")


def test_written_paths_lists_every_destination(tree):
    root = tree({"a": "1\n", "real": "r\n", "gone": "g\n"})
    (root / "link").symlink_to("real")
    plan = verify_patch(patch(
        "*** Update File: a", "*** Move to: b/c", "-1", "+2",
        "*** Update File: link", "-r", "+R",
        "*** Delete File: gone",
    ), root)
    assert set(plan.written_paths) == {root / "b/c", root / "a", root / "real", root / "gone"}


@pytest.mark.skipif(not hasattr(os, "chown") or os.geteuid() != 0,
                    reason="giving a file to another owner needs root")
def test_owner_is_kept_when_root_edits_a_users_file(tree):
    root = tree({"f": "1\n"})
    os.chown(root / "f", 4321, 4321)
    apply_patch(patch("*** Update File: f", "-1", "+2"), root)
    st = (root / "f").stat()
    assert (st.st_uid, st.st_gid) == (4321, 4321)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root may write read-only files, so there is nothing to refuse")
def test_read_only_file_is_refused(tree):
    root = tree({"f": "1\n"})
    (root / "f").chmod(0o444)
    assert refused(patch("*** Update File: f", "-1", "+2"), root) == (
        "Failed to write the patched files (f: Permission denied); nothing was changed"
    )


def test_file_deleted_then_used_as_directory_is_refused(tree):
    root = tree({"a": "1\n"})
    assert refused(patch("*** Delete File: a", "*** Add File: a/b", "+x"), root) == (
        "Failed to write a/b: a is a file deleted by this patch; turn it into a directory in a "
        "second patch"
    )


def test_file_added_then_deleted_or_moved_in_one_patch(tree):
    root = tree({"keep": "k\n"})
    result = apply_patch(patch(
        "*** Add File: tmp1", "+x",
        "*** Delete File: tmp1",
        "*** Add File: tmp2", "+y",
        "*** Update File: tmp2", "*** Move to: final", "-y", "+z",
    ), root)
    assert snapshot(root) == {"keep": b"k\n", "final": b"z\n"}
    assert result.summary_text() == (
        "Success. Updated the following files:\nA tmp1\nA tmp2\nM final\nD tmp1\n"
    )


def test_add_below_a_file_added_in_the_same_patch(tmp_path):
    assert refused(patch("*** Add File: a", "+1", "*** Add File: a/b", "+2"), tmp_path) == (
        "Failed to write a/b: a is a file"
    )
