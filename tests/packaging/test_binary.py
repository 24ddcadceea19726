"""The packaged single file: runs anywhere its name promises, unpacks once, leaks nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from codex import __version__

pytestmark = pytest.mark.packaging

TIMEOUT = 180


def run(binary: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT)


def unpacked_dirs(env: dict[str, str]) -> list[Path]:
    base = Path(env["XDG_CACHE_HOME"]) / "codex"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.exists() else []


def test_version(binary: Path, cache_env: dict[str, str]) -> None:
    r = run(binary, ["--version"], cache_env)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"codex-cli {__version__}\n", "")


def test_runs_in_an_empty_root(binary: Path, smoke_mod: ModuleType) -> None:
    with smoke_mod.empty_root(binary) as (root, prefix):
        if prefix is None:
            pytest.skip("an empty root needs root or unprivileged user namespaces here")
        r = subprocess.run([*prefix, "/codex", "--version"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"codex-cli {__version__}\n"
        # No HOME in the empty root: it fell back to a private dir in /tmp.
        assert list((root / "tmp").glob(f"codex-*/{__version__}-*/.codex-unpacked"))


def test_unpacks_once_per_version_into_the_user_cache_dir(binary: Path,
                                                          cache_env: dict[str, str]) -> None:
    assert run(binary, ["--version"], cache_env).returncode == 0
    (tree,) = unpacked_dirs(cache_env)
    assert tree.name.startswith(f"{__version__}-")
    stamp = tree / ".codex-unpacked"
    before = stamp.stat()
    assert run(binary, ["--version"], cache_env).returncode == 0
    after = stamp.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert unpacked_dirs(cache_env) == [tree]
    # Only the tree itself is left: no temp dirs of the atomic unpack.
    assert sorted(p.name for p in tree.parent.iterdir()) == [tree.name]


def test_concurrent_first_runs_all_succeed(binary: Path, cache_env: dict[str, str]) -> None:
    procs = [subprocess.Popen([str(binary), "--version"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=cache_env)
             for _ in range(4)]
    results = [p.communicate(timeout=TIMEOUT) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    assert all(out == f"codex-cli {__version__}\n" for out, _ in results)
    (tree,) = unpacked_dirs(cache_env)
    assert sorted(p.name for p in tree.parent.iterdir()) == [tree.name]


def test_deleted_files_in_the_cache_are_unpacked_again(binary: Path,
                                                      cache_env: dict[str, str]) -> None:
    assert run(binary, ["--version"], cache_env).returncode == 0
    (tree,) = unpacked_dirs(cache_env)
    (tree / "codex").unlink()  # what an over-eager cache cleaner does
    r = run(binary, ["--version"], cache_env)
    assert r.returncode == 0, r.stderr
    assert (tree / "codex").exists()


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_file_says_so(binary: Path, cache_env: dict[str, str], tmp_path: Path,
                              damage: str) -> None:
    damaged = tmp_path / "codex"
    data = bytearray(binary.read_bytes())
    if damage == "truncated":  # an interrupted download: no trailer
        del data[-1000:]
    else:  # bytes flipped in the middle of the compressed tree, trailer intact
        middle = len(data) // 2
        data[middle:middle + 4096] = bytes(b ^ 0x5A for b in data[middle:middle + 4096])
    damaged.write_bytes(bytes(data))
    damaged.chmod(0o755)
    r = run(damaged, ["--version"], cache_env)
    assert r.returncode == 127
    assert "damaged" in r.stderr and "download" in r.stderr
    assert r.stdout == ""
    # Nothing half-unpacked is left behind to be mistaken for a tree later.
    assert unpacked_dirs(cache_env) == []


def _noexec_mount_prefix(noexec_dir: Path) -> list[str] | None:
    unshare = shutil.which("unshare")
    if not unshare:
        return None
    base = [unshare, "--mount", "--fork"] if os.geteuid() == 0 else [
        unshare, "--user", "--map-root-user", "--mount", "--fork"]
    script = 'mount -t tmpfs -o noexec,mode=0700 tmpfs "$0" && exec "$@"'
    probe = subprocess.run([*base, "sh", "-c", script, str(noexec_dir), "true"],
                           capture_output=True)
    return [*base, "sh", "-c", script, str(noexec_dir)] if probe.returncode == 0 else None


def test_noexec_cache_or_tmp_falls_back(binary: Path, cache_env: dict[str, str],
                                        tmp_path: Path) -> None:
    """A noexec mount where we would unpack must not break start-up."""
    noexec = tmp_path / "noexec"
    noexec.mkdir()
    prefix = _noexec_mount_prefix(noexec)
    if prefix is None:
        pytest.skip("mounting a noexec tmpfs needs root or unprivileged user namespaces")
    fallback = tmp_path / "exec-tmp"
    fallback.mkdir(mode=0o700)
    env = dict(cache_env, XDG_CACHE_HOME=str(noexec), TMPDIR=str(fallback))
    r = subprocess.run([*prefix, str(binary), "--version"], capture_output=True, text=True,
                       env=env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"codex-cli {__version__}\n"
    assert list(fallback.glob(f"codex-{os.geteuid()}/{__version__}-*/.codex-unpacked"))


def test_ca_bundle_is_inside_the_frozen_app(binary: Path, cache_env: dict[str, str]) -> None:
    r = run(binary, ["doctor", "--json"], cache_env)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["frozen"] is True
    assert info["executable"] == str(binary)
    (tree,) = unpacked_dirs(cache_env)
    bundle = Path(info["ca_bundle"])
    assert bundle.is_relative_to(tree)
    assert bundle.read_text().count("BEGIN CERTIFICATE") > 50


def test_exec_server_stdio_pty_session(binary: Path, cache_env: dict[str, str],
                                       smoke_mod: ModuleType) -> None:
    if not smoke_mod.has_subcommand("codex.exec_server.cli"):
        pytest.skip("codex exec-server is not merged into this branch yet")
    out, code = smoke_mod.exec_server_pty_session(binary, cache_env)
    assert code == 0
    assert "/dev/pts/" in out and "smoke-pty-ok" in out


def test_child_command_sees_no_freezer_variables(binary: Path, cache_env: dict[str, str],
                                                 smoke_mod: ModuleType) -> None:
    if not (smoke_mod.has_subcommand("codex.sandbox.cli")
            and smoke_mod.has_subcommand("codex.child_env")):
        pytest.skip("codex sandbox and codex/child_env.py (restores the launcher's CODEX_ORIG_*"
                    " values for children) are not both merged into this branch yet")
    env = dict(cache_env, LD_LIBRARY_PATH="/user/lib/path")
    r = run(binary, ["sandbox", "-s", "danger-full-access", "--", "env", "-0"], env)
    assert r.returncode == 0, r.stderr
    child = dict(item.split("=", 1) for item in r.stdout.split("\0") if "=" in item)
    assert smoke_mod.freezer_vars(child, env) == []
    assert child["LD_LIBRARY_PATH"] == "/user/lib/path"


def test_unified_exec_command_from_the_frozen_binary(binary: Path, cache_env: dict[str, str],
                                                     smoke_mod: ModuleType,
                                                     tmp_path: Path) -> None:
    if not (smoke_mod.has_subcommand("codex.exec_cmd")
            and smoke_mod.has_subcommand("codex.unified_exec.manager")):
        pytest.skip("`codex exec` and unified_exec are not merged into this branch yet")
    env = dict(cache_env, LD_LIBRARY_PATH="/user/lib/path")
    output, stderr = smoke_mod.unified_exec_command(binary, env, tmp_path)
    assert smoke_mod.UNIFIED_MARK in output, stderr
    assert "/dev/pts/" in output
    child = smoke_mod.env_from_output(output)
    assert child.get("LD_LIBRARY_PATH") == "/user/lib/path"
    assert smoke_mod.freezer_vars(child, env) == []


def test_broken_and_abandoned_unpacks_are_repaired(binary: Path,
                                                   cache_env: dict[str, str]) -> None:
    assert run(binary, ["--version"], cache_env).returncode == 0
    (tree,) = unpacked_dirs(cache_env)
    # A tree that lost its stamp and program, and the temp dir of a first run that was
    # killed mid-unpack (its pid is gone: a child we started and reaped).
    (tree / ".codex-unpacked").unlink()
    (tree / "codex").unlink()
    dead = subprocess.Popen(["true"])
    dead.wait()
    abandoned = tree.parent / f".unpack-{tree.name.split('-', 1)[1]}-{dead.pid}"
    abandoned.mkdir()
    (abandoned / "partial").write_bytes(b"x" * 1000)
    r = run(binary, ["--version"], cache_env)
    assert r.returncode == 0, r.stderr
    assert (tree / ".codex-unpacked").exists() and (tree / "codex").exists()
    assert sorted(p.name for p in tree.parent.iterdir()) == [tree.name]
