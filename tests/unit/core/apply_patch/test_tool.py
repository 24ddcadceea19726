"""The tool definitions: shapes the APIs accept, and a grammar that agrees with the parser."""

from __future__ import annotations

import json

import pytest
from lark import Lark
from lark.exceptions import LarkError

from codex.core.apply_patch import parse_patch
from codex.core.apply_patch.tool import (
    APPLY_PATCH_FREEFORM_TOOL,
    APPLY_PATCH_INSTRUCTIONS,
    APPLY_PATCH_JSON_TOOL,
    APPLY_PATCH_LARK_GRAMMAR,
)

CANONICAL = [
    "*** Begin Patch\n*** Add File: a.txt\n+one\n+\n+three\n*** End Patch\n",
    "*** Begin Patch\n*** Add File: empty\n*** End Patch",
    "*** Begin Patch\n*** Delete File: old.py\n*** End Patch\n",
    "*** Begin Patch\n*** Update File: src/x.py\n*** Move to: src/y.py\n*** End Patch\n",
    "*** Begin Patch\n*** Update File: f\n a\n-b\n+c\n \n*** End Patch\n",
    (
        "*** Begin Patch\n*** Update File: f\n@@ class A:\n@@ def g():\n-x\n+y\n@@\n z\n"
        "+w\n*** End of File\n*** Add File: n\n+1\n*** Delete File: d\n*** End Patch\n"
    ),
]

NOT_CANONICAL = [
    "*** Add File: a\n+x\n*** End Patch\n",  # no Begin
    "*** Begin Patch\n*** End Patch\n",  # no operation
    "*** Begin Patch\n*** Add File: a\nx\n*** End Patch\n",  # line without +
    "*** Begin Patch\n*** Update File: f\n-a\n*** End of File\n-b\n*** End Patch\n",
    "*** Begin Patch\n*** Frob File: a\n*** End Patch\n",
]


@pytest.fixture(scope="module", params=["lalr", "earley"])
def grammar(request):
    return Lark(APPLY_PATCH_LARK_GRAMMAR, parser=request.param)


@pytest.mark.parametrize("text", CANONICAL)
def test_grammar_and_parser_accept_canonical_patches(grammar, text):
    grammar.parse(text)
    parse_patch(text)


@pytest.mark.parametrize("text", NOT_CANONICAL)
def test_grammar_rejects_malformed_patches(grammar, text):
    with pytest.raises(LarkError):
        grammar.parse(text)


def test_example_in_instructions_fits_grammar_and_parser(grammar):
    start = APPLY_PATCH_INSTRUCTIONS.index("*** Begin Patch\n*** Update File")
    end = APPLY_PATCH_INSTRUCTIONS.index("*** End Patch", start) + len("*** End Patch")
    example = APPLY_PATCH_INSTRUCTIONS[start:end] + "\n"
    grammar.parse(example)
    assert len(parse_patch(example).hunks) == 3


def test_freeform_tool_shape():
    tool = APPLY_PATCH_FREEFORM_TOOL
    assert tool["type"] == "custom"
    assert tool["name"] == "apply_patch"
    assert tool["format"] == {
        "type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_LARK_GRAMMAR
    }
    assert len(tool["description"]) > 100
    json.dumps(tool)


def test_json_tool_shape():
    tool = APPLY_PATCH_JSON_TOOL
    assert tool["type"] == "function"
    assert tool["name"] == "apply_patch"
    params = tool["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["input"]
    assert params["properties"]["input"]["type"] == "string"
    assert list(params["properties"]) == ["input"]
    json.dumps(tool)
