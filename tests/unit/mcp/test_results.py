"""CallToolResult → the model's tool output (spec: text joined, images as parts, structured
content as JSON, isError → failed)."""

from __future__ import annotations

import json

from codex.mcp.results import failure, map_result


def test_text_parts_are_joined() -> None:
    out = map_result({"content": [{"type": "text", "text": "one"},
                                  {"type": "text", "text": "two"}]})
    assert out.text == "one\ntwo" and out.success and out.parts is None
    assert out.for_model() == "one\ntwo"


def test_structured_content_is_the_output_as_json() -> None:
    structured = {"timezone": "UTC", "is_dst": False}
    out = map_result({"content": [{"type": "text", "text": json.dumps(structured, indent=2)}],
                      "structuredContent": structured})
    assert json.loads(out.text) == structured
    assert out.text == json.dumps(structured)  # once, not twice


def test_is_error_fails_the_call_but_keeps_the_text() -> None:
    out = map_result({"content": [{"type": "text", "text": "no such repo"}], "isError": True})
    assert not out.success and out.text == "no such repo"


def test_images_become_input_image_parts_where_the_wire_allows() -> None:
    result = {"content": [{"type": "text", "text": "a chart"},
                          {"type": "image", "data": "iVBORw0=", "mimeType": "image/png"}]}
    out = map_result(result)
    assert out.for_model() == [
        {"type": "input_text", "text": "a chart"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0="}]
    chat = map_result(result, images=False)
    assert chat.for_model() == "a chart\n[image: image/png]"


def test_other_content_kinds_are_described() -> None:
    out = map_result({"content": [
        {"type": "audio", "data": "AA==", "mimeType": "audio/wav"},
        {"type": "resource_link", "uri": "file:///a.txt", "name": "a.txt"},
        {"type": "resource", "resource": {"uri": "file:///b", "text": "body of b"}},
        {"type": "resource", "resource": {"uri": "file:///c", "blob": "AA==",
                                          "mimeType": "application/pdf"}}]})
    assert out.text.splitlines() == ["[audio: audio/wav]", "[resource link: file:///a.txt (a.txt)]",
                                     "body of b", "[binary resource: file:///c (application/pdf)]"]


def test_failure() -> None:
    out = failure("tool call timed out after 2 s")
    assert not out.success and out.for_model() == "tool call timed out after 2 s"
