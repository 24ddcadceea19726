"""Issue 15 item 3: apply_patch changes no byte it was not asked to change.

Everything outside the replaced lines stays as it was: the final line break (present or
absent), each line's own ending (`\\r\\n`, `\\r`, `\\n` mixed in one file), a byte-order mark,
bytes that are not UTF-8, and the file's permission bits. The example from the issue runs
through the real `codex exec` too; the rest drive the patch engine directly, plus a property
test over random files.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex.core.apply_patch import apply_patch
from codex.core.apply_patch.text import FileText
from tests.support.exec_harness import Harness, harness_for


def patch(*body: str) -> str:
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"


def write(tmp_path: Path, data: bytes, mode: int | None = None) -> Path:
    path = tmp_path / "f"
    path.write_bytes(data)
    if mode is not None:
        os.chmod(path, mode)
    return path


# --- the examples --------------------------------------------------------------------

def test_editing_line_one_adds_no_final_newline(tmp_path: Path) -> None:
    f = write(tmp_path, b"alpha\nbeta\ngamma\ndelta")
    apply_patch(patch("*** Update File: f", "@@", "-alpha", "+ALPHA"), tmp_path)
    assert f.read_bytes() == b"ALPHA\nbeta\ngamma\ndelta"


def test_mixed_endings_file_can_be_patched_and_each_line_keeps_its_own(tmp_path: Path) -> None:
    f = write(tmp_path, b"one\r\ntwo\rthree\nfour\r\nfive\rsix\n")
    apply_patch(patch("*** Update File: f", " two", "-three", "+THREE", " four"), tmp_path)
    assert f.read_bytes() == b"one\r\ntwo\rTHREE\nfour\r\nfive\rsix\n"
    apply_patch(patch("*** Update File: f", "-five", "+FIVE"), tmp_path)
    assert f.read_bytes() == b"one\r\ntwo\rTHREE\nfour\r\nFIVE\rsix\n"


# --- siblings: final line break ---------------------------------------------------------------

def test_last_line_without_break_replaced_stays_without(tmp_path: Path) -> None:
    f = write(tmp_path, b"alpha\nbeta\ngamma\ndelta")
    apply_patch(patch("*** Update File: f", "-delta", "+DELTA"), tmp_path)
    assert f.read_bytes() == b"alpha\nbeta\ngamma\nDELTA"


def test_lines_appended_after_a_last_line_without_break(tmp_path: Path) -> None:
    # The old last line needs a break now; the file still ends without one, as it did.
    f = write(tmp_path, b"a\r\nb\r\nc")
    apply_patch(patch("*** Update File: f", " c", "+d", "+e", "*** End of File"), tmp_path)
    assert f.read_bytes() == b"a\r\nb\r\nc\r\nd\r\ne"


def test_replacing_the_last_lines_keeps_the_file_without_final_break(tmp_path: Path) -> None:
    f = write(tmp_path, b"a\nb\nc")
    apply_patch(patch("*** Update File: f", " a", "-b", "-c", "+X"), tmp_path)
    assert f.read_bytes() == b"a\nX"


def test_deleting_the_last_line_leaves_the_line_before_untouched(tmp_path: Path) -> None:
    # The missing break belonged to the deleted line; "b\n" is not the patch's to change.
    f = write(tmp_path, b"a\nb\nc")
    apply_patch(patch("*** Update File: f", " b", "-c"), tmp_path)
    assert f.read_bytes() == b"a\nb\n"


def test_final_break_present_stays_present(tmp_path: Path) -> None:
    f = write(tmp_path, b"a\rb\r")
    apply_patch(patch("*** Update File: f", "-b", "+B", "+C"), tmp_path)
    assert f.read_bytes() == b"a\rB\rC\r"


def test_emptied_file_stays_empty(tmp_path: Path) -> None:
    f = write(tmp_path, b"only")
    apply_patch(patch("*** Update File: f", "-only"), tmp_path)
    assert f.read_bytes() == b""


# --- siblings: endings of new lines -----------------------------------------------------------

def test_pure_addition_takes_the_dominant_ending(tmp_path: Path) -> None:
    f = write(tmp_path, b"a\r\nb\nc\r\nd\r\n")
    apply_patch(patch("*** Update File: f", "@@ b", "+new"), tmp_path)
    assert f.read_bytes() == b"a\r\nb\nnew\r\nc\r\nd\r\n"


def test_a_longer_replacement_repeats_the_replaced_lines_ending(tmp_path: Path) -> None:
    f = write(tmp_path, b"x\ny\rz\n")
    apply_patch(patch("*** Update File: f", "-y", "+y1", "+y2"), tmp_path)
    assert f.read_bytes() == b"x\ny1\ry2\rz\n"


def test_lone_cr_inside_patch_lines_of_an_old_mac_file(tmp_path: Path) -> None:
    f = write(tmp_path, b"first\rsecond\rthird\r")
    apply_patch(patch("*** Update File: f", " first", "-second", "+2nd", " third"), tmp_path)
    assert f.read_bytes() == b"first\r2nd\rthird\r"


# --- siblings: byte-order marks and bytes that are not UTF-8 ----------------------------------

def test_utf8_bom_and_crlf_without_final_break(tmp_path: Path) -> None:
    f = write(tmp_path, codecs.BOM_UTF8 + b"a\r\nb")
    apply_patch(patch("*** Update File: f", "-a", "+A"), tmp_path)
    assert f.read_bytes() == codecs.BOM_UTF8 + b"A\r\nb"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_file_with_bom_is_patched_in_utf16(tmp_path: Path, codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    f = write(tmp_path, bom + "k\u00e9y = 1\r\nother\r\n".encode(codec))
    apply_patch(patch("*** Update File: f", "-k\u00e9y = 1", "+k\u00e9y = 2"), tmp_path)
    assert f.read_bytes() == bom + "k\u00e9y = 2\r\nother\r\n".encode(codec)


def test_bytes_that_are_not_utf8_survive_around_the_change(tmp_path: Path) -> None:
    f = write(tmp_path, b"caf\xe9\nplain\n\xff\xfe\x00raw\r\n")
    apply_patch(patch("*** Update File: f", "-plain", "+changed"), tmp_path)
    assert f.read_bytes() == b"caf\xe9\nchanged\n\xff\xfe\x00raw\r\n"


def test_a_line_with_bad_bytes_matches_as_the_model_saw_it(tmp_path: Path) -> None:
    # Tool output shows undecodable bytes as U+FFFD; a patch quoting that line still applies,
    # and the context line keeps its real bytes.
    f = write(tmp_path, b"caf\xe9 = 1\nna\xefve = 2\nend\n")
    apply_patch(patch("*** Update File: f", " caf\ufffd = 1", "-na\ufffdve = 2", "+naive = 2"),
                tmp_path)
    assert f.read_bytes() == b"caf\xe9 = 1\nnaive = 2\nend\n"


# --- siblings: permission bits ------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o755, 0o600, 0o640, 0o2755, 0o1777 & ~0o002])
def test_permission_bits_are_kept(tmp_path: Path, mode: int) -> None:
    f = write(tmp_path, b"#!/bin/sh\necho a\n", mode)
    apply_patch(patch("*** Update File: f", "-echo a", "+echo b"), tmp_path)
    assert stat.S_IMODE(f.stat().st_mode) == mode
    assert f.read_bytes() == b"#!/bin/sh\necho b\n"


def test_moved_file_keeps_its_bits_and_its_missing_final_break(tmp_path: Path) -> None:
    write(tmp_path, b"run\r\nme", 0o750)
    apply_patch(patch("*** Update File: f", "*** Move to: g", "-run", "+go"), tmp_path)
    g = tmp_path / "g"
    assert g.read_bytes() == b"go\r\nme" and stat.S_IMODE(g.stat().st_mode) == 0o750
    assert not (tmp_path / "f").exists()


# --- property: random files, random edits -----------------------------------------------------

_ENDINGS = [b"\n", b"\r\n", b"\r"]
_BOMS = [b"", codecs.BOM_UTF8]
_MODES = [0o644, 0o600, 0o755, 0o640, 0o700, 0o2750]
# Text a line may hold besides its unique marker: ASCII, accents, and raw bytes that are not
# UTF-8 (the model sees those as U+FFFD).
_PIECES = st.sampled_from([b"", b" x", b" =", b"\t", " \u00e9".encode(), " \u2014".encode(),
                           b" \xe9", b" \xff\xfe", b" \x80"])


@st.composite
def file_and_edit(draw):
    count = draw(st.integers(1, 10))
    # A marker keeps every line unique and non-empty (so a "\r" never meets a following "\n").
    lines = [b"L%d" % k + b"".join(draw(st.lists(_PIECES, max_size=3))) for k in range(count)]
    endings = [draw(st.sampled_from(_ENDINGS)) for _ in range(count - 1)]
    endings.append(draw(st.sampled_from([*_ENDINGS, b""])))
    start = draw(st.integers(0, count - 1))
    length = draw(st.integers(1, count - start))
    new = [f"N{k}" + draw(st.sampled_from(["", " y", " \u00fc"]))
           for k in range(draw(st.integers(0, 3)))]
    before = draw(st.integers(0, min(2, start)))
    after = draw(st.integers(0, min(2, count - start - length)))
    return (draw(st.sampled_from(_BOMS)), lines, endings, start, length, new, before, after,
            draw(st.sampled_from(_MODES)))


def _as_model_sees(line: bytes) -> str:
    return line.decode("utf-8", "replace")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=file_and_edit())
def test_bytes_outside_the_edit_never_change(tmp_path_factory, case) -> None:
    bom, lines, endings, start, length, new, before, after, mode = case
    root = tmp_path_factory.mktemp("bytes")
    original = bom + b"".join(line + end for line, end in zip(lines, endings, strict=True))
    f = write(root, original, mode)

    end = start + length
    body = [" " + _as_model_sees(x) for x in lines[start - before:start]]
    body += ["-" + _as_model_sees(x) for x in lines[start:end]]
    body += ["+" + x for x in new]
    body += [" " + _as_model_sees(x) for x in lines[end:end + after]]
    apply_patch(patch("*** Update File: f", "@@", *body), root)
    out = f.read_bytes()

    prefix = bom + b"".join(x + e for x, e in zip(lines[:start], endings[:start], strict=True))
    suffix = b"".join(x + e for x, e in zip(lines[end:], endings[end:], strict=True))
    assert out.startswith(prefix)
    assert out.endswith(suffix)
    middle = FileText.decode(out[len(prefix):len(out) - len(suffix)])
    # The middle is exactly the new lines, each ended as the file already ends lines.
    assert middle.lines == new
    used = {e.decode() for e in endings if e} or {"\n"}
    for k, ending in enumerate(middle.endings):
        last_in_file = not suffix and k == len(new) - 1
        assert ending in used or (last_in_file and ending == "")
        # Replacing line k by new line k keeps line k's own ending (unless now the last).
        if k < length and not last_in_file:
            assert ending == endings[start + k].decode() or (
                k == length - 1 and endings[start + k] == b"")
    # A file without a final break keeps lacking one unless its last line was just deleted.
    if out != bom:
        if suffix or new:
            assert out.endswith((b"\n", b"\r")) == (endings[-1] != b"")
        else:
            assert out.endswith((b"\n", b"\r"))
    assert stat.S_IMODE(f.stat().st_mode) == mode


# --- through the real `codex exec` -------------------------------------------------------------

@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")


def test_exec_apply_patch_keeps_every_untouched_byte(hr: Harness) -> None:
    (hr.cwd / "notes.txt").write_bytes(b"alpha\nbeta\ngamma\ndelta")
    (hr.cwd / "mixed.txt").write_bytes(codecs.BOM_UTF8 + b"one\r\ntwo\rthree\nf\xe9\n")
    os.chmod(hr.cwd / "mixed.txt", 0o751)
    hr.mock.add(
        hr.patch_call("p1", patch("*** Update File: notes.txt", "-alpha", "+ALPHA",
                                  "*** Update File: mixed.txt", " one", "-two", "+TWO")),
        hr.answer("done"),
    )
    r = hr.run("-s", "danger-full-access", "edit")
    assert r.returncode == 0, r.stderr
    assert hr.outputs(1)["p1"].startswith("Success."), hr.outputs(1)
    assert (hr.cwd / "notes.txt").read_bytes() == b"ALPHA\nbeta\ngamma\ndelta"
    assert (hr.cwd / "mixed.txt").read_bytes() == (
        codecs.BOM_UTF8 + b"one\r\nTWO\rthree\nf\xe9\n")
    assert stat.S_IMODE((hr.cwd / "mixed.txt").stat().st_mode) == 0o751
