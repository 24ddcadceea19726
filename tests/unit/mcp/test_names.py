"""Model-facing tool names: `mcp__server__tool`, sanitised, at most 64 characters, unique."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from codex.mcp.names import MAX_TOOL_NAME_LENGTH, qualify, qualify_all

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_plain_names() -> None:
    assert qualify("time", "get_current_time") == "mcp__time__get_current_time"
    assert qualify("my-srv", "a.b/c d") == "mcp__my-srv__a_b_c_d"


def test_long_names_are_cut_with_a_hash_and_stay_distinct() -> None:
    long_a = "x" * 80 + "a"
    long_b = "x" * 80 + "b"
    a, b = qualify("srv", long_a), qualify("srv", long_b)
    assert len(a) == len(b) == MAX_TOOL_NAME_LENGTH
    assert a != b and a.startswith("mcp__srv__xxxx")
    assert qualify("srv", long_a) == a  # stable
    exactly = "t" * (MAX_TOOL_NAME_LENGTH - len("mcp__srv__"))
    assert qualify("srv", exactly) == f"mcp__srv__{exactly}"  # 64 fits, no hash


def test_collisions_after_sanitising_get_distinct_names() -> None:
    names = qualify_all([("s", "a.b"), ("s", "a_b"), ("t", "x"), ("s", "a.b")])
    assert [q.name for q in names][2] == "mcp__t__x"
    assert names[0].name == "mcp__s__a_b" and names[1].name != names[0].name
    assert len(names) == 3  # the duplicate pair is dropped
    assert all(VALID.match(q.name) for q in names)
    assert [(q.server, q.tool) for q in names] == [("s", "a.b"), ("s", "a_b"), ("t", "x")]


@given(st.lists(st.tuples(st.from_regex(r"[a-zA-Z0-9_-]{1,40}", fullmatch=True),
                          st.text(min_size=1, max_size=90)), max_size=12))
def test_every_name_is_valid_and_unique(pairs: list[tuple[str, str]]) -> None:
    names = [q.name for q in qualify_all(pairs)]
    assert all(VALID.match(n) for n in names)
    assert len(set(names)) == len(names) == len(set(pairs))
