"""The UI's pure parts: sanitising, streamed Markdown, rendering, trust edits, prompts,
history, the file finder, the command-line dispatch."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from codex.cli import _wants_interactive, build_interactive_parser
from codex.tui import custom_prompts, file_search, history, trust
from codex.tui.markdown_stream import MarkdownStream
from codex.tui.render import Renderer, visible
from codex.tui.sanitize import sanitize


@pytest.mark.parametrize("raw, shown", [
    ("a\x1b[31mred\x1b[0m", "ared"),
    ("x\x1b]0;new title\x07y", "xy"),
    ("x\x1b]52;c;Zm9v\x1b\\y", "xy"),  # clipboard write (OSC 52, ST-terminated)
    ("\x1b[2J\x1b[Hcleared", "cleared"),
    ("50%\r100%", "100%"),
    ("ab\bc", "ac"),
    ("tab\there", "tab here"),
    ("c1\x9b2Jx", "c1x"),
    ("\x1bPqdcs\x1b\\after", "after"),
    ("wide 中文 ok", "wide 中文 ok"),
])
def test_sanitize_removes_control_sequences(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown


def _stream(src: str, step: int = 1) -> list[str]:
    s = MarkdownStream()
    chunks = []
    for i in range(0, len(src), step):
        s.push(src[i:i + step])
        c = s.commit()
        if c:
            chunks.append(c.source)
    last = s.commit(final=True)
    if last:
        chunks.append(last.source)
    return chunks


def test_stream_commits_only_complete_lines() -> None:
    s = MarkdownStream()
    s.push("hello wor")
    assert s.commit() is None
    assert s.tail() == "hello wor"
    s.push("ld\nnext")
    c = s.commit()
    assert c is not None and c.source == "hello world\n"
    assert s.tail() == "next"


def test_stream_code_fence_chunks_reopen_the_fence() -> None:
    chunks = _stream("```python\nx = 1\ny = 2\n```\nafter\n")
    assert all(c.startswith("```python\n") for c in chunks[:-1])
    assert all(c.rstrip().endswith("```") for c in chunks[:-1])
    assert chunks[-1] == "after\n"
    code = "".join(c.split("\n", 1)[1].rsplit("```", 1)[0] for c in chunks[:-1])
    assert code == "x = 1\ny = 2\n"


def test_stream_holds_table_rows_and_list_items_until_known_complete() -> None:
    s = MarkdownStream()
    s.push("| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert s.commit() is None  # the table may go on
    s.push("done\n")
    c = s.commit()
    assert c is not None and "| 1 | 2 |" in c.source


def test_streamed_rendering_shows_the_same_lines_as_whole_rendering() -> None:
    # Blank lines between blocks may differ (a chunk cannot know what rich would put between
    # it and the next block); every text line is the same and in the same order.
    src = ("# Title\nfirst line\nsecond line\n\n- one\n- two\n\n```sh\nls -la\necho hi\n```\n"
           "\nend **bold**\n")
    r = Renderer(color_system=None)
    whole = [visible(x) for x in r.markdown(src, 60)]
    streamed: list[str] = []
    s = MarkdownStream()
    for ch in src:
        s.push(ch)
        c = s.commit()
        if c:
            if c.blank_before:
                streamed.append("")
            streamed += [visible(x) for x in r.markdown(c.source, 60)]
    c = s.commit(final=True)
    if c:
        streamed += [visible(x) for x in r.markdown(c.source, 60)]
    assert [x.rstrip() for x in streamed if x.strip()] == [x.rstrip() for x in whole
                                                            if x.strip()]


def test_rendered_lines_have_no_trailing_padding() -> None:
    r = Renderer()
    for line in r.markdown("short\n\n- item\n", 80):
        assert visible(line) == visible(line).rstrip()


def test_wide_characters_fit_the_width() -> None:
    from rich.cells import cell_len

    r = Renderer(color_system=None)
    for line in r.markdown("中文字符 " * 30 + "\n", 40):
        assert cell_len(visible(line)) <= 40


def test_trust_record_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    original = ('# top comment\nmodel = "o3"   # inline comment\n\n[profiles.fast]\n'
                'model = "mini"\n')
    cfg.write_text(original)
    trust.record(tmp_path, Path("/work/my proj"), trust.TrustLevel.TRUSTED)
    text = cfg.read_text()
    assert text.startswith(original)
    assert tomllib.loads(text)["projects"]["/work/my proj"]["trust_level"] == "trusted"
    trust.record(tmp_path, Path("/work/my proj"), trust.TrustLevel.UNTRUSTED)
    assert tomllib.loads(cfg.read_text())["projects"]["/work/my proj"]["trust_level"] == \
        "untrusted"
    assert cfg.read_text().count("[projects.") == 1


def test_custom_prompt_arguments() -> None:
    t = "Fix $1 in $2. All: $ARGUMENTS. Missing: [$3]"
    assert custom_prompts.expand(t, 'bug "src/a b.py"') == \
        'Fix bug in src/a b.py. All: bug "src/a b.py". Missing: []'


def test_custom_prompt_named_arguments_and_escapes() -> None:
    t = "Review $FILE for $FOCUS; cost $$5, not $5."
    assert custom_prompts.expand(t, 'FILE=src/a.py FOCUS="error handling"') == \
        "Review src/a.py for error handling; cost $5, not ."
    with pytest.raises(custom_prompts.PromptArgsError, match="missing FOCUS"):
        custom_prompts.expand(t, "FILE=a.py")
    with pytest.raises(custom_prompts.PromptArgsError, match="KEY=value"):
        custom_prompts.expand(t, "a.py")
    assert custom_prompts.expand("no placeholders, $ alone", "ignored") == \
        "no placeholders, $ alone"


def test_custom_prompt_front_matter_and_placeholders(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "rev.md").write_text(
        "---\ndescription: Review a file\nargument-hint: FILE=<path>\n---\nReview $FILE\n")
    (tmp_path / "prompts" / "pos.md").write_text("Fix $1 now\n")
    (tmp_path / "prompts" / "all.md").write_text("Do $ARGUMENTS\n")
    (tmp_path / "prompts" / "plain.md").write_text("Just do it, costs $$1\n")
    found = {p.name: p for p in custom_prompts.discover(tmp_path)}
    rev = found["prompts:rev"]
    assert (rev.description, rev.argument_hint, rev.named) == (
        "Review a file", "FILE=<path>", ("FILE",))
    assert custom_prompts.load(rev) == "Review $FILE\n"
    assert [n for n, p in sorted(found.items()) if p.takes_arguments] == [
        "prompts:all", "prompts:pos", "prompts:rev"]


def test_custom_prompts_are_discovered(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "fix.md").write_text("Fix the thing\nmore\n")
    (tmp_path / "prompts" / "notes.txt").write_text("ignored")
    found = custom_prompts.discover(tmp_path)
    assert [p.name for p in found] == ["prompts:fix"]
    assert found[0].description == "Fix the thing"


def test_history_round_trip_skips_torn_lines(tmp_path: Path) -> None:
    history.append(tmp_path, "s1", "first")
    history.append(tmp_path, "s1", "second\nline")
    with (tmp_path / "history.jsonl").open("a") as f:
        f.write('{"torn": \n')
    history.append(tmp_path, "s2", "third")
    assert history.load(tmp_path) == ["first", "second\nline", "third"]
    rec = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[0])
    assert set(rec) == {"session_id", "ts", "text"}


def test_file_finder_respects_gitignore_without_git(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no git: the fallback walk
    (tmp_path / ".gitignore").write_text("build/\n*.log\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.py").write_text("")
    (tmp_path / "debug.log").write_text("")
    files = file_search.list_files(tmp_path)
    assert "src/main.py" in files
    assert not any(f.startswith("build/") or f.endswith(".log") for f in files)
    assert file_search.rank("mainpy", files)[0] == "src/main.py"


@pytest.mark.parametrize("argv, interactive", [
    ([], True), (["fix the bug"], True), (["-m", "o3", "fix it"], True),
    (["exec", "hi"], False), (["resume", "--last"], False), (["--help"], False),
    (["-c", "model=x", "doctor"], False), (["-c", "model=x"], True),
])
def test_dispatch_chooses_the_interactive_ui(argv: list[str], interactive: bool) -> None:
    assert _wants_interactive(argv) is interactive


def test_interactive_flags_parse() -> None:
    a = build_interactive_parser().parse_args(["-a", "untrusted", "-s", "read-only", "hi"])
    assert (a.approval, a.sandbox, a.prompt) == ("untrusted", "read-only", "hi")


def test_a_replayed_command_does_not_show_the_models_sandbox_note() -> None:
    from codex.tui.replay import recorded_result

    out = ("Chunk ID: 1\nWall time: 0.1 seconds\nProcess exited with code 1\nOutput:\n"
           "touch: cannot touch 'foo.txt': Permission denied\n\nNote: the read-only sandbox "
           "denied this command (approval policy `untrusted`: it cannot be rerun outside the "
           "sandbox).")
    res = recorded_result(out)
    assert res.exit_code == 1 and res.status == "failed"
    assert res.output == "touch: cannot touch 'foo.txt': Permission denied"
    kept = recorded_result("Process exited with code 0\nOutput:\nNote: the sandbox is fine\n")
    assert kept.output == "Note: the sandbox is fine\n"  # only the appended note goes
