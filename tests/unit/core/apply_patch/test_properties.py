"""Property tests: random files and random edits round-trip through a patch; random text never
crashes the parser; grammar and parser agree on generated patches."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark

from codex.core.apply_patch import PatchError, apply_patch, parse_patch
from codex.core.apply_patch.tool import APPLY_PATCH_LARK_GRAMMAR

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

_WORDS = st.text(alphabet="abc xyz_=()", min_size=0, max_size=8)
_PADDING = st.sampled_from(["", " ", "  ", "\t", "    "])
_FUZZ = st.sampled_from(["", " ", "\t ", "\u00a0"])


@st.composite
def file_and_edit(draw):
    """A file of unique lines, one region of it, the replacement, and patch-side fuzz."""
    count = draw(st.integers(1, 25))
    lines = [
        f"{draw(_PADDING)}{draw(_WORDS)}#{k}{draw(_WORDS)}".rstrip() + draw(_FUZZ)
        for k in range(count)
    ]
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    final_newline = draw(st.booleans())
    start = draw(st.integers(0, count - 1))
    length = draw(st.integers(1, min(4, count - start)))
    new = [f"new{draw(_WORDS)}".rstrip() for _ in range(draw(st.integers(0, 4)))]
    before = draw(st.integers(0, 3))
    after = draw(st.integers(0, 3))
    # How the model mangles the lines it copies: nothing, trailing, leading+trailing, unicode.
    mangle = draw(st.sampled_from(["exact", "rstrip", "strip"]))
    return lines, eol, final_newline, start, length, new, before, after, mangle


def _copy(line: str, mangle: str) -> str:
    if mangle == "rstrip":
        return line.rstrip()
    if mangle == "strip":
        return line.strip()
    return line


@SETTINGS
@given(case=file_and_edit())
def test_random_edit_round_trips(tmp_path_factory, case):
    lines, eol, final_newline, start, length, new, before, after, mangle = case
    root = tmp_path_factory.mktemp("prop")
    text = eol.join(lines) + (eol if final_newline else "")
    (root / "f.txt").write_bytes(text.encode())

    pre = lines[max(0, start - before):start]
    old = lines[start:start + length]
    post = lines[start + length:start + length + after]
    body = [" " + _copy(x, mangle) for x in pre]
    body += ["-" + _copy(x, mangle) for x in old]
    body += ["+" + x for x in new]
    body += [" " + _copy(x, mangle) for x in post]
    at_end = start + length + len(post) == len(lines)
    if at_end and draw_eof(lines, start):
        body.append("*** End of File")
    patch = "\n".join(["*** Begin Patch", "*** Update File: f.txt", "@@", *body,
                       "*** End Patch"])
    apply_patch(patch, root)

    expected = lines[:start] + new + lines[start + length:]
    if len(lines) == 1 and not final_newline:
        eol = "\n"  # a file without any line break has no style to keep: LF
    expected_text = "".join(line + eol for line in expected)
    deleted_last = start + length == len(lines) and not new
    if not final_newline and expected and not deleted_last:
        # No final line break, as before (deleting the last line outright takes its missing
        # break with it: the line before keeps its own ending).
        expected_text = expected_text.removesuffix(eol)
    assert (root / "f.txt").read_bytes() == expected_text.encode()


def draw_eof(lines: list[str], start: int) -> bool:
    # Deterministic choice so the example stays reproducible from its inputs alone.
    return (len(lines) + start) % 2 == 0


@SETTINGS
@given(st.lists(st.sampled_from(
    ["*** Begin Patch", "*** End Patch", "*** Add File: a", "*** Update File: a",
     "*** Delete File: a", "*** Move to: b", "*** End of File", "@@", "@@ x", "+", "-", " ",
     "\n", "x", "<<'EOF'", "EOF", "\r"]), max_size=40).map("".join))
def test_parser_only_ever_raises_patch_error(text):
    try:
        parse_patch(text)
    except PatchError as exc:
        assert str(exc)


_LINE = st.text(alphabet="ab *+-@:#", min_size=0, max_size=6).map(lambda s: s.replace("\n", ""))
_PATH = st.text(alphabet="abc/._-", min_size=1, max_size=8).filter(lambda p: p.strip())


@st.composite
def canonical_patch(draw):
    out = ["*** Begin Patch"]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["add", "delete", "update"]))
        path = draw(_PATH)
        if kind == "add":
            out.append(f"*** Add File: {path}")
            out += ["+" + draw(_LINE) for _ in range(draw(st.integers(0, 3)))]
        elif kind == "delete":
            out.append(f"*** Delete File: {path}")
        else:
            out.append(f"*** Update File: {path}")
            if draw(st.booleans()):
                out.append(f"*** Move to: {draw(_PATH)}")
            for index in range(draw(st.integers(1, 3))):
                anchors = draw(st.integers(0 if index == 0 else 1, 2))
                for _ in range(anchors):
                    ctx = draw(_LINE).strip()
                    out.append(f"@@ {ctx}" if ctx else "@@")
                for _ in range(draw(st.integers(1, 4))):
                    out.append(draw(st.sampled_from(" -+")) + draw(_LINE))
                if index == 0 and draw(st.booleans()):
                    out.append("*** End of File")
                    break
    out.append("*** End Patch")
    return "\n".join(out) + "\n"


_LARK = Lark(APPLY_PATCH_LARK_GRAMMAR, parser="lalr")


@SETTINGS
@given(canonical_patch())
def test_what_the_grammar_generates_the_parser_accepts(text):
    _LARK.parse(text)
    parse_patch(text)
