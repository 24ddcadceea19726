"""The environment of model-run commands (unified-exec spec, "Spawning")."""

from __future__ import annotations

import pytest

from codex.child_env import FORCED_ENV, apply_policy, child_env, force_env, user_environ

FROZEN_ENV = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "LD_LIBRARY_PATH": "/tmp/_MEIabc",
    "LD_LIBRARY_PATH_ORIG": "/opt/lib",
    "DYLD_LIBRARY_PATH": "/tmp/_MEIabc",
    "_PYI_APPLICATION_HOME_DIR": "/tmp/_MEIabc",
    "_PYI_PARENT_PROCESS_LEVEL": "1",
    "_MEIPASS2": "/tmp/_MEIabc",
    "STATICX_BUNDLE_DIR": "/tmp/staticx-x",
    "CODEX_LAUNCHER_PATH": "/usr/local/bin/codex",
}


def test_frozen_restores_original_and_drops_freezer_values() -> None:
    env = user_environ(FROZEN_ENV, frozen=True)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/u", "LD_LIBRARY_PATH": "/opt/lib"}


def test_launcher_originals_win() -> None:
    env = user_environ({"LD_LIBRARY_PATH": "/bundle", "CODEX_ORIG_LD_LIBRARY_PATH": "/mine",
                        "CODEX_ORIG_PYTHONHOME": "", "PYTHONHOME": "/bundle"}, frozen=True)
    assert env == {"LD_LIBRARY_PATH": "/mine", "PYTHONHOME": ""}


def test_not_frozen_keeps_the_users_library_path() -> None:
    env = user_environ({"LD_LIBRARY_PATH": "/mine", "PATH": "/bin"}, frozen=False)
    assert env == {"LD_LIBRARY_PATH": "/mine", "PATH": "/bin"}


def test_policy_inherit_core_none() -> None:
    base = {"PATH": "/bin", "HOME": "/h", "FOO": "1"}
    assert apply_policy(base, {"inherit": "core"}) == {"PATH": "/bin", "HOME": "/h"}
    assert apply_policy(base, {"inherit": "none"}) == {}
    assert apply_policy(base, {}) == base
    with pytest.raises(ValueError, match="inherit"):
        apply_policy(base, {"inherit": "some"})


def test_policy_excludes_set_include_only_in_order() -> None:
    base = {"PATH": "/bin", "OPENAI_API_KEY": "k", "GH_TOKEN": "t", "my_secret_x": "s",
            "AWS_REGION": "eu", "KEEP": "1"}
    env = apply_policy(base, {"ignore_default_excludes": False})
    assert env == {"PATH": "/bin", "AWS_REGION": "eu", "KEEP": "1"}
    env = apply_policy(base, {"exclude": ["aws_*"], "set": {"NEW": "v", "AWS_X": "y"},
                              "include_only": ["PATH", "NEW", "AWS_*"]})
    assert env == {"PATH": "/bin", "NEW": "v", "AWS_X": "y"}


def test_forced_values_and_thread_id() -> None:
    env = child_env({"set": {"TERM": "xterm", "PAGER": "less"}}, "thread-9",
                    environ={"PATH": "/bin", "COLORTERM": "truecolor"})
    for k, v in FORCED_ENV.items():
        assert env[k] == v
    assert env["COLORTERM"] == "" and env["CODEX_THREAD_ID"] == "thread-9"
    assert env["PATH"] == "/bin"
    assert "CODEX_THREAD_ID" not in force_env({}, None)
