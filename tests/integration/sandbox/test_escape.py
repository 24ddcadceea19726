"""The sandbox escape suite (issue 6 acceptance), run for real through `codex sandbox`.

Every attack must fail under workspace-write while the legitimate action next to it succeeds.
"Outside" lives under the repository's build/ directory, or /var/tmp when the checkout itself
sits in /tmp (a CI clone may): never under /tmp or $TMPDIR, which workspace-write may write.
As root, each test also runs as an unprivileged user (nobody, through setpriv) with the
outside tree world-writable, so only the sandbox stands in the way.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from codex.sandbox import is_sandbox_denial
from tests.conftest import codex_cmd
from tests.support.paths import outside_parent
from tests.support.signals import SIGPIPE_BIT, inherited_sigign, sigign_of

ORIGINAL = "original\n"
NOBODY = 65534
_SETPRIV = shutil.which("setpriv")
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class Arena:
    base: Path
    ws: Path  # the workspace (cwd of every run)
    outside: Path  # a directory outside every writable root
    victim: Path  # an outside file the attacks try to change
    tmpdir: Path  # $TMPDIR of the runs (under /tmp)
    env: dict[str, str]
    prefix: list[str]  # how the run is started ([] or setpriv to nobody)
    python: str  # an interpreter the sandboxed user can run

    def run(self, *cmd: str, mode: str = "workspace-write", flags: tuple[str, ...] = (),
            env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = dict(self.env)
        full_env.update(env or {})
        return subprocess.run(
            [*self.prefix, *codex_cmd(), "sandbox", "-s", mode, *flags, "--", *cmd],
            cwd=self.ws, env=full_env, capture_output=True, text=True, timeout=timeout,
        )

    def sh(self, script: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run("sh", "-c", script, **kw)  # type: ignore[arg-type]

    def victim_untouched(self) -> bool:
        return self.victim.read_text() == ORIGINAL


def _runners() -> list[object]:
    unpriv_reason = ("already unprivileged: the plain run is the unprivileged case"
                     if os.geteuid() != 0 else "setpriv (util-linux) is not installed")
    return [
        pytest.param([], id="as-is"),
        pytest.param(
            [_SETPRIV or "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"],
            id="unprivileged",
            marks=pytest.mark.skipif(os.geteuid() != 0 or _SETPRIV is None,
                                     reason=unpriv_reason),
        ),
    ]


@pytest.fixture(params=_runners())
def arena(request: pytest.FixtureRequest) -> Iterator[Arena]:
    base = outside_parent() / "codex-sandbox-tests" / uuid.uuid4().hex[:12]
    ws, outside = base / "ws", base / "outside"
    # Not pytest's tmp_path: its parent is private to root, and nobody must reach these.
    tmp_root = Path(tempfile.mkdtemp(prefix="codex-sandbox-test-", dir="/tmp"))
    tmpdir = tmp_root / "tmpdir"
    home = tmp_root / "codex-home"
    for d in (ws, outside, tmpdir, home, ws / ".git" / "hooks"):
        d.mkdir(parents=True)
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (ws / ".git" / "config").write_text("[core]\n")
    victim = outside / "victim.txt"
    victim.write_text(ORIGINAL)
    # World-writable, so for the unprivileged run only the sandbox can refuse.
    for p in (base, ws, outside, tmpdir, home, tmp_root, *ws.joinpath(".git").rglob("*"),
              ws / ".git"):
        p.chmod(0o777 if p.is_dir() else 0o666)
    victim.chmod(0o666)
    env = dict(os.environ, CODEX_HOME=str(home), TMPDIR=str(tmpdir), LC_ALL="C",
               PATH=_SYSTEM_PATH)
    env.pop("CODEX_SANDBOX_SIMULATE_NO_LANDLOCK", None)
    env.pop("CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI", None)
    python = sys.executable
    if request.param:
        # Ours may live under /root (closed to nobody); setpriv can start it, but a command
        # inside cannot, so the sandboxed user gets the system's.
        python = shutil.which("python3", path=_SYSTEM_PATH) or sys.executable
    yield Arena(base, ws, outside, victim, tmpdir, env, request.param, python)
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(tmp_root, ignore_errors=True)


def denied(r: subprocess.CompletedProcess[str]) -> bool:
    """The command ran and the sandbox (not codex, not a missing file) stopped it."""
    return (r.returncode not in (0, 125, 126, 127) and "codex: error" not in r.stderr
            and is_sandbox_denial(r.returncode, r.stdout + r.stderr))


def test_write_outside_the_roots_fails_inside_succeeds(arena: Arena) -> None:
    bad = arena.sh(f"echo pwned > {arena.outside}/new.txt")
    assert denied(bad) and "Permission denied" in bad.stderr
    assert not (arena.outside / "new.txt").exists()
    bad = arena.sh(f"echo pwned >> {arena.victim}")
    assert denied(bad) and arena.victim_untouched()
    bad = arena.run("truncate", "-s", "0", str(arena.victim))
    assert denied(bad) and arena.victim_untouched()
    bad = arena.run("rm", "-f", str(arena.victim))
    assert denied(bad) and arena.victim_untouched()

    ok = arena.sh("echo fine > inside.txt && mkdir -p a/b && echo deep > a/b/c.txt")
    assert ok.returncode == 0, ok.stderr
    assert (arena.ws / "inside.txt").read_text() == "fine\n"
    assert (arena.ws / "a/b/c.txt").read_text() == "deep\n"


def test_tmp_and_tmpdir_are_writable(arena: Arena) -> None:
    name = f"codex-sandbox-test-{uuid.uuid4().hex}"
    ok = arena.sh(f'echo t > "$TMPDIR/{name}" && echo t > /tmp/{name}')
    assert ok.returncode == 0, ok.stderr
    assert (arena.tmpdir / name).read_text() == "t\n"
    Path("/tmp", name).unlink()


def test_symlink_in_workspace_pointing_outside(arena: Arena) -> None:
    (arena.ws / "dirlink").symlink_to(arena.outside)
    (arena.ws / "filelink").symlink_to(arena.victim)
    bad = arena.sh("echo pwned > dirlink/new.txt")
    assert denied(bad) and not (arena.outside / "new.txt").exists()
    bad = arena.sh("echo pwned > filelink")
    assert denied(bad) and arena.victim_untouched()
    # Made inside the sandbox, the same trick fails the same way.
    bad = arena.sh(f"ln -s {arena.victim} mine && echo pwned > mine")
    assert denied(bad) and arena.victim_untouched()

    (arena.ws / "real.txt").write_text("x")
    (arena.ws / "real.txt").chmod(0o666)
    (arena.ws / "goodlink").symlink_to(arena.ws / "real.txt")
    ok = arena.sh("echo via-link > goodlink && cat dirlink/victim.txt")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ORIGINAL  # reading outside is allowed
    assert (arena.ws / "real.txt").read_text() == "via-link\n"


def test_hardlink_to_an_outside_file(arena: Arena) -> None:
    bad = arena.sh(f"ln {arena.victim} hl && echo pwned > hl")
    assert denied(bad)
    assert not (arena.ws / "hl").exists() and arena.victim_untouched()

    ok = arena.sh("echo mine > own.txt && ln own.txt own-link && echo more >> own-link")
    assert ok.returncode == 0, ok.stderr
    assert (arena.ws / "own.txt").read_text() == "mine\nmore\n"


def test_mv_of_an_outside_file_into_the_workspace(arena: Arena) -> None:
    bad = arena.run("mv", str(arena.victim), "stolen.txt")
    assert denied(bad)
    assert arena.victim_untouched()  # still there, unchanged: it was not moved

    ok = arena.sh("mkdir -p sub && echo m > sub/m.txt && mv sub/m.txt moved.txt")
    assert ok.returncode == 0, ok.stderr
    assert (arena.ws / "moved.txt").read_text() == "m\n"
    assert not (arena.ws / "sub/m.txt").exists()


def test_git_dir_of_the_workspace_stays_read_only(arena: Arena) -> None:
    git = arena.ws / ".git"
    for attack in ("echo '[evil]' >> .git/config",
                   "echo 'touch /pwned' > .git/hooks/post-commit",
                   "rm -f .git/HEAD",
                   "mv .git moved-git",
                   "rm -rf .git",
                   "ln .git/config cfg-link && echo evil >> cfg-link"):
        bad = arena.sh(attack)
        if attack.startswith("mv"):  # a mount point cannot be renamed: EBUSY
            assert bad.returncode != 0 and "busy" in bad.stderr, attack
        else:
            assert denied(bad), attack
    assert (git / "config").read_text() == "[core]\n"
    assert (git / "HEAD").exists() and not (git / "hooks/post-commit").exists()
    assert not (arena.ws / "moved-git").exists()

    ok = arena.sh("cat .git/HEAD && echo code > main.py && mkdir -p pkg/.gitkeep-dir")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "ref: refs/heads/main\n"


def test_git_file_pointing_to_a_gitdir_in_the_workspace(arena: Arena) -> None:
    # A worktree/submodule layout: `.git` is a file naming the real git directory.
    (arena.ws / ".git" / "config").unlink()
    (arena.ws / ".git" / "HEAD").unlink()
    shutil.rmtree(arena.ws / ".git")
    gitdir = arena.ws / "modules" / "gd"
    gitdir.mkdir(parents=True)
    (gitdir / "HEAD").write_text("ref: refs/heads/main\n")
    (arena.ws / ".git").write_text(f"gitdir: {gitdir}\n")
    for p in (arena.ws / "modules", gitdir):
        p.chmod(0o777)
    for p in (gitdir / "HEAD", arena.ws / ".git"):
        p.chmod(0o666)
    bad = arena.sh("echo evil > modules/gd/HEAD")
    assert denied(bad)
    bad = arena.sh("echo 'gitdir: /elsewhere' > .git")
    assert denied(bad)
    assert (gitdir / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (arena.ws / ".git").read_text() == f"gitdir: {gitdir}\n"

    ok = arena.sh("echo fine > modules/notes.txt")
    assert ok.returncode == 0, ok.stderr


def test_grandchild_processes_are_confined(arena: Arena) -> None:
    bad = arena.sh(f"sh -c 'sh -c \"touch {arena.outside}/gc\"'")
    assert denied(bad) and not (arena.outside / "gc").exists()
    # A detached grandchild (new session, parent already gone) is confined too.
    bad = arena.run("setsid", "--wait", "sh", "-c", f"touch {arena.outside}/detached")
    assert denied(bad) and not (arena.outside / "detached").exists()

    ok = arena.sh("sh -c 'sh -c \"touch gc\"'")
    assert ok.returncode == 0 and (arena.ws / "gc").exists()


def _connect_script(python: str, port: int) -> list[str]:
    return [python, "-c",
            f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=20); "
            "print('connected')"]


def test_network_off_blocks_tcp_and_allow_network_permits_it(arena: Arena) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(30)
        port = listener.getsockname()[1]

        bad = arena.run(*_connect_script(arena.python, port))
        assert denied(bad) and "connected" not in bad.stdout

        ok = arena.run(*_connect_script(arena.python, port), flags=("--allow-network",))
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout == "connected\n"
        conn, _ = listener.accept()  # the connection really arrived here
        conn.close()


def test_unix_sockets_are_closed_without_network_and_come_back_with_it(arena: Arena) -> None:
    # Issue 15: a daemon's socket is an outside door; tests/hardening has the whole class.
    path = arena.tmpdir / "s.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        path.chmod(0o777)
        listener.listen(1)
        listener.settimeout(30)
        script = (f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({str(path)!r}); "
                  "s.sendall(b'hello'); s.close()")
        bad = arena.run(arena.python, "-c", script)
        assert denied(bad) and "Permission denied" in bad.stderr
        ok = arena.run(arena.python, "-c", script, flags=("--allow-network",))
        assert ok.returncode == 0, ok.stderr
        conn, _ = listener.accept()
        with conn:
            assert conn.recv(16) == b"hello"


def test_read_only_refuses_writes_to_cwd_and_tmp(arena: Arena) -> None:
    name = f"codex-ro-{uuid.uuid4().hex}"
    for target in (f"{arena.ws}/ro.txt", f"/tmp/{name}", f"{arena.tmpdir}/{name}"):
        bad = arena.sh(f"echo x > {target}", mode="read-only")
        assert denied(bad), target
        assert not Path(target).exists()
    ok = arena.sh(f"cat {arena.victim} && ls . > /dev/null", mode="read-only")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ORIGINAL


def test_danger_full_access_allows_everything(arena: Arena) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(30)
        port = listener.getsockname()[1]
        r = arena.sh(f"echo over > {arena.victim} && echo x >> .git/config && "
                     f"{shlex.join(_connect_script(arena.python, port))}",
                     mode="danger-full-access")
        assert r.returncode == 0, r.stderr
        listener.accept()[0].close()
    assert arena.victim.read_text() == "over\n"
    assert (arena.ws / ".git/config").read_text() == "[core]\nx\n"


def test_exit_status_is_passed_through(arena: Arena) -> None:
    assert arena.sh("exit 7").returncode == 7
    missing = arena.run("no-such-command-for-codex")
    assert missing.returncode == 127 and "command not found" in missing.stderr


@pytest.mark.parametrize("mode", ["workspace-write", "read-only"])
def test_kernel_without_landlock_refuses_to_run(arena: Arena, mode: str) -> None:
    r = arena.sh("touch ran.txt", mode=mode, env={"CODEX_SANDBOX_SIMULATE_NO_LANDLOCK": "1"})
    assert r.returncode == 125
    assert "sandbox unavailable" in r.stderr and "Landlock" in r.stderr
    assert not (arena.ws / "ran.txt").exists()  # never ran, not even unsandboxed

    old = arena.sh("touch ran.txt", mode=mode, env={"CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI": "2"})
    assert old.returncode == 125 and "ABI 2" in old.stderr
    assert not (arena.ws / "ran.txt").exists()

    # The unsandboxed mode needs no Landlock.
    ok = arena.sh("touch ran.txt", mode="danger-full-access",
                  env={"CODEX_SANDBOX_SIMULATE_NO_LANDLOCK": "1"})
    assert ok.returncode == 0 and (arena.ws / "ran.txt").exists()


def test_extra_writable_roots_from_flag_and_config(arena: Arena) -> None:
    extra = arena.base / "extra"
    (extra / ".git").mkdir(parents=True)
    conf_root = arena.base / "from-config"
    conf_root.mkdir()
    for p in (extra, extra / ".git", conf_root):
        p.chmod(0o777)
    bad = arena.sh(f"touch {extra}/f")
    assert denied(bad) and not (extra / "f").exists()

    ok = arena.run("touch", f"{extra}/f", flags=("--writable-root", str(extra)))
    assert ok.returncode == 0, ok.stderr
    bad = arena.run("touch", f"{extra}/.git/f", flags=("--writable-root", str(extra)))
    assert denied(bad) and not (extra / ".git/f").exists()

    home = Path(arena.env["CODEX_HOME"])
    (home / "config.toml").write_text(
        f"[sandbox_workspace_write]\nwritable_roots = [{str(conf_root)!r}]\n")
    (home / "config.toml").chmod(0o644)
    ok = arena.run("touch", f"{conf_root}/g")
    assert ok.returncode == 0, ok.stderr
    bad = arena.run("touch", f"{extra}/h")
    assert denied(bad)


def test_command_sees_the_callers_environment_and_cwd(arena: Arena) -> None:
    r = arena.sh('printf "%s|%s" "$CODEX_SANDBOX_PROBE" "$(pwd)"',
                 env={"CODEX_SANDBOX_PROBE": "kept"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"kept|{arena.ws}"


def test_dev_shm_is_private_and_usable(arena: Arena) -> None:
    name = f"codex-sandbox-{uuid.uuid4().hex}"
    script = ("import multiprocessing, sys; multiprocessing.Lock(); "
              f"open('/dev/shm/{name}', 'w').write('x'); print('ok')")
    ok = arena.run(arena.python, "-c", script)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "ok\n"
    assert not Path("/dev/shm", name).exists()  # the machine's /dev/shm was never touched
    bad = arena.run(arena.python, "-c", script, mode="read-only")
    assert bad.returncode != 0 and not Path("/dev/shm", name).exists()


NO_USERNS = {"CODEX_SANDBOX_SIMULATE_NO_USERNS": "1"}


def test_without_user_namespaces_seccomp_and_landlock_still_hold(arena: Arena) -> None:
    # Where no namespace can be made (user namespaces disabled, or inside another sandbox) the
    # network is cut by seccomp and .git is kept read-only by Landlock alone.
    (arena.ws / "sub").mkdir()
    (arena.ws / "sub").chmod(0o777)
    (arena.ws / "top.txt").write_text("top\n")
    (arena.ws / "top.txt").chmod(0o666)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(30)
        port = listener.getsockname()[1]
        bad = arena.run(*_connect_script(arena.python, port), env=NO_USERNS)
        assert denied(bad) and "connected" not in bad.stdout
        ok = arena.run(*_connect_script(arena.python, port), flags=("--allow-network",),
                       env=NO_USERNS)
        assert ok.returncode == 0 and ok.stdout == "connected\n", ok.stderr
        listener.accept()[0].close()

    for attack in ("echo '[evil]' >> .git/config", "echo x > .git/hooks/post-commit",
                   "rm -f .git/HEAD", f"echo pwned > {arena.outside}/new.txt",
                   f"echo pwned >> {arena.victim}"):
        bad = arena.sh(attack, env=NO_USERNS)
        assert denied(bad), attack
    assert (arena.ws / ".git/config").read_text() == "[core]\n"
    assert (arena.ws / ".git/HEAD").exists() and arena.victim_untouched()

    ok = arena.sh("echo more >> top.txt && mkdir -p sub/deep && echo n > sub/deep/new.txt && "
                  "mv sub/deep/new.txt sub/moved.txt", env=NO_USERNS)
    assert ok.returncode == 0, ok.stderr
    assert (arena.ws / "top.txt").read_text() == "top\nmore\n"
    assert (arena.ws / "sub/moved.txt").read_text() == "n\n"
    # The documented price: no new entries directly in a root that holds a .git.
    assert denied(arena.sh("touch new-at-top.txt", env=NO_USERNS))


def test_a_sandbox_inside_a_sandbox(arena: Arena) -> None:
    if arena.prefix:
        pytest.skip("the inner codex is this interpreter, which nobody cannot reach")
    inner = shlex.join([*codex_cmd(), "sandbox", "-s", "read-only", "--", "sh", "-c",
                        "echo inner; touch inner.txt"])
    r = arena.sh(inner)
    assert r.stdout == "inner\n" and denied(r), r.stderr
    assert not (arena.ws / "inner.txt").exists()


def test_command_starts_with_default_signal_dispositions(arena: Arena) -> None:
    # The helper is Python, which ignores SIGPIPE; the command must not inherit that.
    r = arena.sh("yes | head -n 1; cat /proc/self/status")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("y\n")
    mask = sigign_of(r.stdout)
    assert mask == inherited_sigign() and not mask & SIGPIPE_BIT, hex(mask)


def test_command_gets_the_environment_as_given_not_as_python_changed_it(arena: Arena) -> None:
    # Under the C locale Python's start-up sets LC_CTYPE=C.UTF-8 in its own environment
    # (PEP 538); the helper is Python, the command must not see that.
    env = {"PATH": _SYSTEM_PATH, "CODEX_HOME": arena.env["CODEX_HOME"],
           "TMPDIR": str(arena.tmpdir), "CODEX_SANDBOX_PROBE": "a b"}
    r = subprocess.run([*arena.prefix, *codex_cmd(), "sandbox", "--", "env"], cwd=arena.ws,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    seen = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert "LC_CTYPE" not in seen and "LC_ALL" not in seen and "LANG" not in seen
    assert seen["CODEX_SANDBOX_PROBE"] == "a b" and seen["PATH"] == _SYSTEM_PATH


@pytest.mark.parametrize("abi", ["3", "5"])
def test_oldest_supported_abis_enforce_the_same(arena: Arena, abi: str) -> None:
    # The rights each ABI can handle differ (no IOCTL_DEV before 5, no signal scoping before
    # 6); the policy must hold with the smallest set we accept.
    env = {"CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI": abi}
    for attack in (f"echo pwned >> {arena.victim}", f"truncate -s 0 {arena.victim}",
                   f"ln {arena.victim} hl", f"mv {arena.victim} stolen",
                   "echo x >> .git/config"):
        assert denied(arena.sh(attack, env=env)), attack
    assert arena.victim_untouched()
    ok = arena.sh("echo a > new.txt && mkdir d && mv new.txt d/ && ln d/new.txt l && "
                  "truncate -s 0 l && echo ok > /dev/null", env=env)
    assert ok.returncode == 0, ok.stderr
    assert (arena.ws / "d/new.txt").read_text() == ""
