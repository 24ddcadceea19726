"""The four-pass line matcher on its own."""

from __future__ import annotations

import pytest

from codex.core.apply_patch.seek import LineMatcher, normalise_unicode


def test_empty_pattern_matches_at_start():
    assert LineMatcher(["a"]).seek([], 1) == 1


def test_pattern_longer_than_file():
    assert LineMatcher(["a"]).seek(["a", "b"], 0) is None


def test_search_starts_at_start():
    m = LineMatcher(["x", "y", "x"])
    assert m.seek(["x"], 0) == 0
    assert m.seek(["x"], 1) == 2
    assert m.seek(["x"], 3) is None


def test_partial_first_line_hits_are_skipped():
    assert LineMatcher(["a", "b", "a", "c"]).seek(["a", "c"], 0) == 2


@pytest.mark.parametrize(("file_line", "pattern_line"), [
    ("x  ", "x"),                 # pass 2
    ("\t x", "x"),                # pass 3
    ("\u201cq\u201d", '"q"'),      # pass 4
    ("a\u2212b", "a-b"),
    ("a\u00a0b", "a b"),
    ("it\u2019s", "it's"),
    ("cafe\u0301", "caf\u00e9"),  # decomposed vs composed accent
])
def test_fuzzy_passes(file_line, pattern_line):
    assert LineMatcher(["other", file_line]).seek([pattern_line], 0) == 1


def test_earlier_pass_wins_over_earlier_position():
    assert LineMatcher(["x ", "x"]).seek(["x"], 0) == 1
    assert LineMatcher([" x", "x "]).seek(["x"], 0) == 1


def test_end_of_file_prefers_the_last_position_in_every_pass():
    m = LineMatcher(["a", "b", "a ", "b "])
    assert m.seek(["a", "b"], 0) == 0
    assert m.seek(["a", "b"], 0, end_of_file=True) == 2


def test_normalise_unicode():
    assert normalise_unicode("\u2018a\u2019 \u201cb\u201d \u2013\u2014\u2011 \u3000") == (
        "'a' \"b\" --- " + " "
    )
