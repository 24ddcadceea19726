"""All-or-nothing under failure: make each disk operation of a real apply fail in turn (as a
full disk or a vanished directory would) and check the tree is byte-identical every time."""

from __future__ import annotations

import errno
import os

import pytest

from codex.core.apply_patch import PatchError, apply_patch

from .conftest import snapshot

# The calls the commit step makes that change the disk (or fail like a full disk would).
MUTATING = ("open", "write", "mkdir", "chmod", "link", "replace", "rename")

FILES = {"keep.txt": "k\n", "edit.txt": "1\n2\n3\n", "doomed.txt": "bye\n",
         "mv/src.txt": "s\n", "over.txt": "old\n"}
PATCH = "\n".join([
    "*** Begin Patch",
    "*** Add File: brand/new/file.txt", "+n",
    "*** Add File: over.txt", "+overwritten",
    "*** Update File: edit.txt", "@@", " 1", "-2", "+two", " 3",
    "*** Delete File: doomed.txt",
    "*** Update File: mv/src.txt", "*** Move to: mv2/deep/dst.txt", "-s", "+t",
    "*** End Patch",
])


class _Injector:
    """Counts the mutating os calls and makes the `fail_at`-th one raise ENOSPC."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_at: int | None) -> None:
        self.calls = 0
        self.fail_at = fail_at
        for name in MUTATING:
            monkeypatch.setattr(os, name, self._wrap(getattr(os, name)))

    def _wrap(self, real):
        def call(*args, **kwargs):
            self.calls += 1
            if self.calls == self.fail_at:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[0]))
            return real(*args, **kwargs)
        return call


def test_every_single_failure_point_leaves_the_tree_untouched(tmp_path_factory, monkeypatch):
    def fresh():
        root = tmp_path_factory.mktemp("tree")
        for rel, text in FILES.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        return root

    probe = fresh()
    with monkeypatch.context() as m:
        counter = _Injector(m, None)
        apply_patch(PATCH, probe)
    total = counter.calls
    after = snapshot(probe)
    assert total >= 15  # stage (open/write/chmod/mkdir) and swap (link/replace/rename) steps

    refused = 0
    for fail_at in range(1, total + 1):
        root = fresh()
        before = snapshot(root)
        with monkeypatch.context() as m:
            _Injector(m, fail_at)
            try:
                apply_patch(PATCH, root)
            except PatchError as exc:
                refused += 1
                assert exc.code == "apply_failed", fail_at
                assert "No space left on device" in str(exc)
                assert "codex-" not in str(exc)  # our temp names are no one's business
                assert str(tmp_path_factory.getbasetemp()) not in str(exc)
                assert snapshot(root) == before, f"changed when call {fail_at}/{total} failed"
            else:
                # Only a failed hard link is survivable (the backup is copied instead).
                assert snapshot(root) == after, f"wrong result when call {fail_at} failed"
    assert refused >= total - 2
