"""The `codex` command line: version, usage errors, global options, completion, doctor."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codex import __version__
from tests.conftest import run_codex


def test_version() -> None:
    r = run_codex(["--version"])
    assert r.returncode == 0
    assert r.stdout == f"codex-cli {__version__}\n"
    assert r.stderr == ""


# `codex bogus` is the interactive UI with the prompt "bogus": an unknown option is the error.
@pytest.mark.parametrize("argv", [["--bogus"], ["-a", "sometimes"], ["doctor", "--nope"],
                                  ["completion", "tcsh"], ["-c"], ["exec-server", "--listen"]])
def test_usage_errors_exit_2_with_reason_and_usage(argv: list[str]) -> None:
    r = run_codex(argv)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert "error:" in lines[0]
    assert any(line.startswith("usage:") for line in lines)
    assert r.stdout == ""


def test_bad_override_is_usage_error(codex_home: Path) -> None:
    r = run_codex(["-c", "novalue", "doctor"])
    assert r.returncode == 2
    assert "expected KEY=VALUE" in r.stderr


def test_global_options_before_and_after_subcommand(codex_home: Path) -> None:
    (codex_home / "config.toml").write_text('[profiles.p1]\nmodel = "m-p1"\n')
    for argv in (["-p", "p1", "-c", "model_verbosity=low", "doctor", "--json"],
                 ["doctor", "--json", "-p", "p1", "-c", "model_verbosity=low"]):
        r = run_codex(argv)
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["config"]["model"] == {"value": "m-p1", "source": "profile:p1"}
        assert info["config"]["model_verbosity"] == {"value": "low", "source": "-c"}


def test_cd_option(tmp_path: Path, codex_home: Path) -> None:
    r = run_codex(["-C", str(tmp_path / "missing"), "doctor"])
    assert r.returncode == 2 and "cannot change to directory" in r.stderr


def test_doctor_reports_platform(codex_home: Path) -> None:
    r = run_codex(["doctor", "--json"])
    info = json.loads(r.stdout)
    assert info["version"] == __version__
    assert info["target_triple"].endswith(("unknown-linux-musl", "apple-darwin",
                                           "pc-windows-msvc"))
    assert info["codex_home"] == str(codex_home)
    assert info["config"]["sandbox_mode"]["source"] == "default"
    text = run_codex(["doctor"]).stdout
    assert "target triple" in text and "effective configuration" in text


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str, tmp_path: Path) -> None:
    r = run_codex(["completion", shell])
    assert r.returncode == 0, r.stderr
    script = r.stdout
    listen = "-l listen" if shell == "fish" else "--listen"
    for word in ("exec-server", listen, "doctor", "output-schema"):
        assert word in script
    if shell == "bash":
        f = tmp_path / "codex.bash"
        f.write_text(script)
        subprocess.run(["bash", "-n", str(f)], check=True)
        # Drive the function like bash would and see real candidates come back.
        probe = (f"source {f}; COMP_WORDS=(codex exec-ser); COMP_CWORD=1; _codex; "
                 'printf "%s\\n" "${COMPREPLY[@]}"')
        out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["exec-server"]
        probe = (f"source {f}; COMP_WORDS=(codex completion ''); COMP_CWORD=2; _codex; "
                 'printf "%s\\n" "${COMPREPLY[@]}"')
        out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        assert {"bash", "zsh", "fish"} <= set(out.stdout.split())
        # A global option's value is not the subcommand: `codex -c k=v ex<TAB>`.
        probe = (f"source {f}; COMP_WORDS=(codex -c model=o3 -C /tmp ex); COMP_CWORD=5; "
                 '_codex; printf "%s\\n" "${COMPREPLY[@]}"')
        out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["exec", "exec-server"]
    elif shell == "zsh" and shutil.which("zsh"):
        f = tmp_path / "_codex"
        f.write_text(script)
        subprocess.run(["zsh", "-n", str(f)], check=True)
    elif shell == "fish" and shutil.which("fish"):
        f = tmp_path / "codex.fish"
        f.write_text(script)
        subprocess.run(["fish", "--no-execute", str(f)], check=True)
        # A global option's value is not the subcommand: `codex -c k=v ex<TAB>`.
        probe = f"source {f}; complete -C 'codex -c model=o3 -C /tmp ex'"
        out = subprocess.run(["fish", "-c", probe], capture_output=True, text=True, check=True)
        assert [line.split("\t")[0] for line in out.stdout.splitlines()] == ["exec",
                                                                         "exec-server"]


def test_version_imports_nothing_heavy() -> None:
    # The import graph is a property of the source, so this runs the checkout even when the
    # suite targets a packaged binary (whose start-up bench/packaged.py measures).
    r = subprocess.run([sys.executable, "-m", "codex", "--version"],
                       capture_output=True, text=True, env={"PYTHONPROFILEIMPORTTIME": "1",
                                                             "PATH": "/usr/bin:/bin"})
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines()
                if line.startswith("import time:")}
    heavy = {m for m in imported if m.split(".")[0] in
             {"requests", "urllib3", "websockets", "asyncio", "ptyprocess", "http", "ssl",
              "json", "tomllib", "platformdirs"}
             or m.startswith(("codex.core", "codex.exec_server", "codex.unified_exec"))}
    assert heavy == set(), heavy
    assert "codex.cli" in imported


@pytest.mark.parametrize("argv", [["doctor"], ["exec", "hi"], ["mcp", "list"],
                                  ["sandbox", "--", "true"], []])
def test_a_deleted_current_directory_is_one_error_line(tmp_path: Path, argv: list[str]) -> None:
    import shlex

    from tests.conftest import codex_cmd

    script = (f"mkdir {tmp_path}/gone && cd {tmp_path}/gone && rmdir {tmp_path}/gone && "
              f"exec {shlex.join([*codex_cmd(), *argv])} </dev/null")
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "CODEX_HOME": str(tmp_path / "home"),
                            "HOME": str(tmp_path)})
    assert r.returncode == 1, r
    assert r.stderr == ("codex: error: the current directory does not exist any more (was it "
                        "deleted?); cd to another one or pass -C DIR\n"), r.stderr
