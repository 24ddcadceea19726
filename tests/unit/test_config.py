"""Config precedence, profiles, -c parsing and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex.config import ConfigError, load_config, parse_override
from codex.errors import UsageError
from tests.conftest import run_codex


def write(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text)


def test_defaults_without_file(codex_home: Path) -> None:
    cfg = load_config(home=codex_home)
    assert cfg["model_provider"] == "openai"
    assert cfg.sources["model"] == "default"
    assert cfg.provider()["base_url"] == "https://api.openai.com/v1"


def test_precedence_file_profile_override_flag(codex_home: Path) -> None:
    write(codex_home, """
model = "from-file"
approval_policy = "never"
profile = "fast"
[profiles.fast]
model = "from-profile"
sandbox_mode = "workspace-write"
""")
    cfg = load_config(home=codex_home)
    assert cfg["model"] == "from-profile"
    assert cfg.sources["model"] == "profile:fast"
    assert cfg["approval_policy"] == "never" and cfg.sources["approval_policy"] == "config.toml"

    cfg = load_config(home=codex_home, overrides=["model=from-c"])
    assert cfg["model"] == "from-c" and cfg.sources["model"] == "-c"

    cfg = load_config(home=codex_home, overrides=["model=from-c"], flags={"model": "from-flag"})
    assert cfg["model"] == "from-flag" and cfg.sources["model"] == "flag"
    # A flag left unset (None) does not override anything.
    cfg = load_config(home=codex_home, flags={"model": None})
    assert cfg["model"] == "from-profile"


def test_profile_flag_beats_profile_key(codex_home: Path) -> None:
    write(codex_home, """
profile = "a"
[profiles.a]
model = "A"
[profiles.b]
model = "B"
""")
    assert load_config(home=codex_home)["model"] == "A"
    assert load_config(home=codex_home, profile="b")["model"] == "B"
    assert load_config(home=codex_home, overrides=["profile=b"])["model"] == "B"
    with pytest.raises(ConfigError, match="profile 'zzz' not found"):
        load_config(home=codex_home, profile="zzz")


@pytest.mark.parametrize(("text", "key", "value"), [
    ("model=o3", ["model"], "o3"),
    ('model="o3"', ["model"], "o3"),
    ("project_doc_max_bytes=4096", ["project_doc_max_bytes"], 4096),
    ("sandbox_workspace_write.network_access=true", ["sandbox_workspace_write",
                                                     "network_access"], True),
    ('sandbox_workspace_write.writable_roots=["/a", "/b"]',
     ["sandbox_workspace_write", "writable_roots"], ["/a", "/b"]),
    ("shell_environment_policy.set={A = 1}", ["shell_environment_policy", "set"], {"A": 1}),
    ("model=gpt 5 with spaces", ["model"], "gpt 5 with spaces"),
    ("x.y=", ["x", "y"], ""),
])
def test_parse_override(text: str, key: list[str], value: object) -> None:
    assert parse_override(text) == (key, value)


@pytest.mark.parametrize("bad", ["novalue", "=x", "a..b=1"])
def test_parse_override_rejects(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_override(bad)


def test_dotted_override_merges_into_table(codex_home: Path) -> None:
    write(codex_home, """
[sandbox_workspace_write]
writable_roots = ["/data"]
""")
    cfg = load_config(home=codex_home, overrides=["sandbox_workspace_write.network_access=true"])
    assert cfg.get("sandbox_workspace_write.writable_roots") == ["/data"]
    assert cfg.get("sandbox_workspace_write.network_access") is True
    assert cfg.sources["sandbox_workspace_write.network_access"] == "-c"
    assert cfg.sources["sandbox_workspace_write.writable_roots"] == "config.toml"


def test_malformed_toml_names_file_line_column(codex_home: Path) -> None:
    write(codex_home, 'model = "ok"\napproval_policy = \n')
    with pytest.raises(ConfigError) as e:
        load_config(home=codex_home)
    assert f"{codex_home / 'config.toml'}:2:" in str(e.value)
    r = run_codex(["doctor"], env={"CODEX_HOME": str(codex_home)})
    assert r.returncode == 1
    assert r.stdout == ""
    assert "config.toml:2:" in r.stderr and "invalid TOML" in r.stderr


REAL_CODEX_CONFIG = """
model = "gpt-5-codex"
model_provider = "azure"
approval_policy = "on-request"
sandbox_mode = "workspace-write"
model_reasoning_effort = "high"
notify = ["notify-send", "Codex"]
hide_agent_reasoning = true
disable_response_storage = true

[model_providers.azure]
name = "Azure"
base_url = "https://example.openai.azure.com/openai"
env_key = "AZURE_OPENAI_API_KEY"
query_params = { api-version = "2025-04-01-preview" }
wire_api = "responses"

[mcp_servers.docs]
command = "npx"
args = ["-y", "some-mcp-server"]

[tui]
notifications = true

[projects."/home/me/src/app"]
trust_level = "trusted"

[history]
persistence = "save-all"

[features]
web_search_request = true
"""


def test_real_codex_config_loads_and_warns_once(codex_home: Path) -> None:
    write(codex_home, REAL_CODEX_CONFIG)
    cfg = load_config(home=codex_home, warn_unknown=False)
    assert cfg.provider()["base_url"] == "https://example.openai.azure.com/openai"
    assert cfg.provider()["request_max_retries"] == 4  # inherited default
    assert "tui" in cfg.unknown_keys and "mcp_servers" not in cfg.unknown_keys
    # Unknown keys are kept, not dropped.
    assert cfg.get("tui") is not None
    assert cfg.mcp_servers()["docs"].transport.command == "npx"
    r = run_codex(["doctor", "--json"], env={"CODEX_HOME": str(codex_home)})
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("ignoring config keys") == 1
    assert "tui" in r.stderr


def test_invalid_enum_value_is_a_clear_error(codex_home: Path) -> None:
    write(codex_home, 'sandbox_mode = "yolo"\n')
    with pytest.raises(ConfigError, match="invalid sandbox_mode 'yolo'"):
        load_config(home=codex_home)


def test_non_boolean_network_access_is_an_error_not_open_network(codex_home: Path) -> None:
    write(codex_home, '[sandbox_workspace_write]\nnetwork_access = "false"\n')
    with pytest.raises(ConfigError, match="invalid sandbox_workspace_write.network_access"):
        load_config(home=codex_home)
    write(codex_home, "")
    # `False` is not TOML, so -c would pass it on as the (truthy) string "False".
    r = run_codex(["-c", "sandbox_workspace_write.network_access=False", "sandbox", "-s",
                   "workspace-write", "--", "true"], env={"CODEX_HOME": str(codex_home)})
    assert r.returncode != 0
    assert "invalid sandbox_workspace_write.network_access 'False'" in r.stderr
    cfg = load_config(home=codex_home, overrides=["sandbox_workspace_write.network_access=true"])
    assert cfg.get("sandbox_workspace_write.network_access") is True


@pytest.mark.parametrize("text, key", [
    ('ignore_default_excludes = "false"', "ignore_default_excludes"),
    ('exclude = "*KEY*"', "exclude"),
    ("include_only = [1]", "include_only"),
])
def test_shell_environment_policy_types_are_checked(codex_home: Path, text: str,
                                                    key: str) -> None:
    write(codex_home, f"[shell_environment_policy]\n{text}\n")
    with pytest.raises(ConfigError, match=f"invalid shell_environment_policy.{key} "):
        load_config(home=codex_home)
    write(codex_home, '[shell_environment_policy]\nexclude = ["*KEY*"]\n'
                      "ignore_default_excludes = false\n")
    assert load_config(home=codex_home).get("shell_environment_policy.exclude") == ["*KEY*"]


def test_openai_base_url_env(codex_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert load_config(home=codex_home).provider()["base_url"] == "http://127.0.0.1:9/v1"


# -- a trusted project's .codex/config.toml (spec mcp.md "Config") ------------------------------
def _project(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".codex").mkdir()
    (repo / ".codex" / "config.toml").write_text('model = "from-project"\n'
                                                 'model_reasoning_effort = "low"\n')
    sub = repo / "pkg" / "sub"
    (sub / ".codex").mkdir(parents=True)
    (sub / ".codex" / "config.toml").write_text('model_reasoning_effort = "high"\n'
                                                '[projects."/elsewhere"]\n'
                                                'trust_level = "trusted"\n')
    return repo, sub


def _trust(home: Path, folder: Path, level: str = "trusted") -> None:
    write(home, f'model = "from-user"\n[projects."{folder.resolve()}"]\n'
                f'trust_level = "{level}"\n')


def test_an_unknown_or_untrusted_project_config_is_ignored(codex_home: Path,
                                                           tmp_path: Path) -> None:
    repo, sub = _project(tmp_path)
    cfg = load_config(home=codex_home, cwd=sub)
    assert cfg["model"] != "from-project" and cfg.project_files == []
    _trust(codex_home, repo, "untrusted")
    cfg = load_config(home=codex_home, cwd=sub)
    assert cfg["model"] == "from-user" and cfg.project_files == []


def test_a_trusted_project_layers_its_files_root_first(codex_home: Path,
                                                       tmp_path: Path) -> None:
    repo, sub = _project(tmp_path)
    _trust(codex_home, repo)
    cfg = load_config(home=codex_home, cwd=sub)
    assert cfg.project_files == [repo.resolve() / ".codex" / "config.toml",
                                 sub.resolve() / ".codex" / "config.toml"]
    assert cfg["model"] == "from-project"  # over the user's file
    assert cfg.sources["model"] == str(repo.resolve() / ".codex" / "config.toml")
    assert cfg["model_reasoning_effort"] == "high"  # the folder nearer cwd wins
    # A project cannot vouch for other folders.
    assert "/elsewhere" not in cfg["projects"]
    # -c and flags still win over the project.
    cfg = load_config(home=codex_home, cwd=sub, overrides=["model=from-c"])
    assert cfg["model"] == "from-c"
    # From the root, the subfolder's file is not read.
    cfg = load_config(home=codex_home, cwd=repo)
    assert cfg["model_reasoning_effort"] == "low"


def test_a_trusted_project_config_error_names_the_file(codex_home: Path,
                                                       tmp_path: Path) -> None:
    repo, _ = _project(tmp_path)
    (repo / ".codex" / "config.toml").write_text("model = \n")
    _trust(codex_home, repo)
    with pytest.raises(ConfigError, match=r"repo/\.codex/config\.toml:1"):
        load_config(home=codex_home, cwd=repo)


def test_codex_home_inside_the_project_is_not_read_twice(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    home = repo / ".codex"
    home.mkdir()
    _trust(home, repo)
    cfg = load_config(home=home, cwd=repo)
    assert cfg.project_files == [] and cfg.sources["model"] == "config.toml"


def test_trust_of_the_folder_alone_applies_only_its_own_file(codex_home: Path,
                                                             tmp_path: Path) -> None:
    repo, sub = _project(tmp_path)
    write(codex_home, f'[projects."{repo.resolve()}"]\ntrust_level = "untrusted"\n'
                      f'[projects."{sub.resolve()}"]\ntrust_level = "trusted"\n')
    cfg = load_config(home=codex_home, cwd=sub)
    assert cfg.project_files == [sub.resolve() / ".codex" / "config.toml"]
    assert cfg["model"] != "from-project"  # the untrusted root's file is not read


def test_trust_given_with_c_counts_as_the_users_word(codex_home: Path, tmp_path: Path) -> None:
    repo, _ = _project(tmp_path)
    assert "." not in str(repo.resolve())  # -c splits its key at every dot, as Codex's does
    cfg = load_config(home=codex_home, cwd=repo,
                      overrides=[f'projects.{repo.resolve()}.trust_level="trusted"'])
    assert cfg["model"] == "from-project"


def test_a_project_may_choose_the_profile(codex_home: Path, tmp_path: Path) -> None:
    repo, _ = _project(tmp_path)
    (repo / ".codex" / "config.toml").write_text('profile = "fast"\n')
    _trust(codex_home, repo)
    (codex_home / "config.toml").write_text((codex_home / "config.toml").read_text()
                                            + '[profiles.fast]\nmodel = "from-profile"\n')
    cfg = load_config(home=codex_home, cwd=repo)
    assert cfg.profile == "fast" and cfg["model"] == "from-profile"


@pytest.mark.parametrize("bad, message", [
    ("mcp_servers = 5", "invalid mcp_servers 5"),
    ("approval_policy = 5", "invalid approval_policy 5"),
    ('[mcp_servers.half]\nenv = { A = "1" }', "mcp_servers.half"),
])
def test_a_bad_value_from_a_project_file_names_the_file(codex_home: Path, tmp_path: Path,
                                                        bad: str, message: str) -> None:
    repo, _ = _project(tmp_path)
    (repo / ".codex" / "config.toml").write_text(bad + "\n")
    _trust(codex_home, repo)
    with pytest.raises(ConfigError) as e:
        load_config(home=codex_home, cwd=repo)
    assert message in e.value.message
    assert e.value.message.endswith(f"(in {repo.resolve() / '.codex' / 'config.toml'})")


def test_a_project_cannot_redefine_the_users_profiles(codex_home: Path, tmp_path: Path) -> None:
    repo, _ = _project(tmp_path)
    (repo / ".codex" / "config.toml").write_text('profile = "work"\n'
                                                 '[profiles.work]\nmodel = "from-project"\n')
    _trust(codex_home, repo)
    (codex_home / "config.toml").write_text((codex_home / "config.toml").read_text()
                                            + '[profiles.work]\nmodel = "users-work"\n')
    cfg = load_config(home=codex_home, cwd=repo)
    assert cfg.profile == "work" and cfg["model"] == "users-work"


def test_the_trust_question_follows_the_same_rule_as_the_layers(codex_home: Path,
                                                                tmp_path: Path) -> None:
    from codex.tui import trust

    repo, sub = _project(tmp_path)
    write(codex_home, f'[projects."{sub.resolve()}"]\ntrust_level = "trusted"\n')
    cfg = load_config(home=codex_home, cwd=sub)
    assert cfg.project_files  # the subfolder's own entry trusts it ...
    assert not trust.needs_question(cfg.values, cfg.sources, sub)  # ... so nothing is asked
    assert trust.level_for(cfg.values, sub) == (trust.TrustLevel.TRUSTED, sub.resolve())
    assert trust.needs_question(cfg.values, cfg.sources, repo)  # the root has no entry
