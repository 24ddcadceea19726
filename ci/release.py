"""The release pipeline as steps: plan, build, smoke, package, sign, publish-npm, update-cask.

Each step runs alone (the workflows call them one by one); `--dry-run` runs every step that
can run on this machine without secrets: it builds the host target, packages, publishes the
npm packages to a local Verdaccio registry, installs them from it like a user, and renders the
cask. Everything lands in dist/. Run it from the checkout: `python -m ci.release ...`.

The dry run packages every Linux target whose frozen archive is in the prebuilt folder
(default dist/): the host's, built if missing, and Linux arm64 when `make dist
TARGET=aarch64-unknown-linux-musl` made it (its smoke run goes through qemu-user).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from codex import __version__, platform_info, release_settings
from installers.targets import SUMS_NAME, TARGETS, Target, sha256_file, target

ROOT = Path(__file__).resolve().parent.parent

PY = sys.executable
TAG_RE = re.compile(r"^v(\d+\.\d+\.\d+)(-(alpha|beta)\.\d+)?$")
ASSET_PATTERNS = ("codex-*.tar.gz", "codex-*.zst", "codex-*.zip", "install.sh")


def log(msg: str) -> None:
    print(f"release: {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    log("$ " + " ".join(str(c) for c in cmd))
    kw.setdefault("cwd", ROOT)  # `python -m` finds the checkout's modules from there
    return subprocess.run(cmd, check=True, **kw)


def npm_dist_tag(version: str) -> str:
    return "alpha" if "-" in version else "latest"


# -- plan ---------------------------------------------------------------------------------------

def plan(tag: str | None, github_output: bool) -> dict:
    version = __version__
    if tag is not None:
        m = TAG_RE.match(tag)
        if not m:
            raise SystemExit(f"tag {tag!r} is not v<major>.<minor>.<patch>[-alpha.N|-beta.N]")
        if tag[1:] != version:
            raise SystemExit(f"tag {tag} does not match the project version {version} "
                             "(codex/__init__.py); bump the version or fix the tag")
    info = {
        "version": version,
        "prerelease": "-" in version,
        "npm_dist_tag": npm_dist_tag(version),
        "npm_package": release_settings.NPM_PACKAGE,
        "github_repo": release_settings.GITHUB_REPO,
        "homebrew_tap": release_settings.HOMEBREW_TAP,
        "targets": [{"target": t.triple, "runner": t.runner, "required": t.required}
                    for t in TARGETS],
    }
    print(json.dumps(info, indent=2))
    out = os.environ.get("GITHUB_OUTPUT")
    if github_output and out:
        with open(out, "a") as f:
            for key in ("version", "npm_dist_tag", "npm_package", "homebrew_tap"):
                f.write(f"{key}={info[key]}\n")
            f.write(f"prerelease={str(info['prerelease']).lower()}\n")
    return info


# -- build / smoke ------------------------------------------------------------------------------

def host_target() -> Target:
    return target(platform_info.target_triple())


def _assets_of(tgt: Target, folder: Path) -> list[Path]:
    return [p for p in (folder / tgt.archive_name, folder / tgt.zst_name) if p.is_file()]


def emulated_here(tgt: Target) -> bool:
    """A Linux target of another CPU: built and run here under qemu-user."""
    from distbuild.build import is_emulated

    return platform_info.target_triple() != tgt.triple and is_emulated(tgt.triple)


def build(tgt: Target, dist: Path, prebuilt: Path | None, allow_standin: bool) -> None:
    """Freeze and archive `tgt` (on its own runner, or here under qemu-user) into dist/."""
    if tgt != host_target() and not emulated_here(tgt):
        raise SystemExit(f"{tgt.triple} is built on its runner ({tgt.runner}), not here")
    dist.mkdir(parents=True, exist_ok=True)
    source = prebuilt
    if source is None:
        run([PY, "-m", "distbuild.build", "--target", tgt.triple, "--smoke"])
        source = ROOT / "dist"
    found = _assets_of(tgt, source)
    from ci import standin

    if found and not _archive_is_standin(found[0], tgt):
        for p in found:
            if p.resolve() != (dist / p.name).resolve():
                shutil.copyfile(p, dist / p.name)
        log(f"build: {tgt.archive_name} from {source}")
        return
    if not allow_standin:
        raise SystemExit(f"no frozen build of {tgt.triple} in {source} "
                         "(distbuild.build did not produce it)")
    standin.write_archives(dist, tgt, standin.standin_program())
    log(f"build: NOTE no frozen binary in {source}; staged a stand-in that runs this checkout "
        "(dry run only, never published)")


def _binary_of(archive: Path, tgt: Target) -> bytes:
    from installers.npm.build_packages import extract_binary

    return extract_binary(archive.parent, tgt)


def _archive_is_standin(archive: Path, tgt: Target) -> bool:
    from ci.standin import is_standin

    return is_standin(_binary_of(archive, tgt))


def smoke(tgt: Target, dist: Path) -> None:
    """Unpack the archive like a user and run the binary: --version, then exec-server.
    Another Linux CPU's binary runs through qemu-user."""
    from distbuild import binfmt

    arch = tgt.triple.split("-", 1)[0]
    with binfmt.registered(arch) if emulated_here(tgt) else contextlib.nullcontext():
        _smoke(tgt, dist)


def _smoke(tgt: Target, dist: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / ("codex.exe" if tgt.windows else "codex")
        exe.write_bytes(_binary_of(dist / tgt.archive_name, tgt))
        exe.chmod(0o755)
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                             timeout=120, check=True).stdout.strip()
        if out != f"codex-cli {__version__}":
            raise SystemExit(f"smoke: `codex --version` printed {out!r}")
        log(f"smoke: {tgt.triple}: {out}")
        session = ('{"jsonrpc":"2.0","id":1,"method":"initialize",'
                   '"params":{"clientName":"release-smoke"}}\n')
        r = subprocess.run([str(exe), "exec-server", "--listen", "stdio"], input=session,
                           capture_output=True, text=True, timeout=120)
        first = r.stdout.splitlines()[0] if r.stdout else ""
        try:
            reply = json.loads(first)
        except ValueError:
            reply = {}
        if reply.get("id") != 1 and importlib.util.find_spec("codex.exec_server.cli") is None:
            log("smoke: exec-server SKIPPED (this checkout has no codex/exec_server/cli.py yet)")
            return
        if reply.get("id") != 1 or "result" not in reply:
            raise SystemExit(f"smoke: exec-server did not answer initialize "
                             f"(exit {r.returncode}): {first or r.stderr.strip()[-500:]}")
        log(f"smoke: {tgt.triple}: exec-server answered initialize")


# -- package ------------------------------------------------------------------------------------

def release_assets(dist: Path) -> list[Path]:
    found = {p for pattern in ASSET_PATTERNS for p in dist.glob(pattern) if p.is_file()}
    return sorted(found)


def write_sums(dist: Path) -> Path:
    lines = [f"{sha256_file(p)}  {p.name}\n" for p in release_assets(dist)]
    out = dist / SUMS_NAME
    out.write_text("".join(lines))
    return out


def package(dist: Path, allow_missing: bool) -> None:
    """npm tarballs, install.sh and SHA256SUMS for whatever archives dist/ holds, then the cask."""
    if not allow_missing:
        missing = [t.archive_name for t in TARGETS if t.required
                   and not (dist / t.archive_name).is_file()]
        if missing:
            raise SystemExit(f"package: missing {', '.join(missing)} in {dist}")
    run([PY, "-m", "installers.install_sh", "--out", str(dist / "install.sh")])
    sums = write_sums(dist)
    log(f"package: {sums} over {len(release_assets(dist))} assets")
    run([PY, "-m", "installers.npm.build_packages", "--dist", str(dist)])
    render_cask(dist, allow_missing)


def render_cask(dist: Path, allow_missing: bool) -> Path:
    out = dist / "homebrew" / "codex.rb"
    cmd = [PY, "-m", "installers.homebrew.render_cask",
           "--sums", str(dist / SUMS_NAME), "--out", str(out)]
    run(cmd + (["--allow-missing"] if allow_missing else []))
    return out


# -- sign ---------------------------------------------------------------------------------------

def sign(dist: Path) -> None:
    """Keyless cosign bundles for every asset: only inside GitHub Actions with an OIDC token."""
    if not (shutil.which("cosign") and os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")):
        log("sign: SKIPPED (needs cosign and a GitHub OIDC token; a dry run has neither)")
        return
    for asset in [*release_assets(dist), dist / SUMS_NAME]:
        run(["cosign", "sign-blob", "--yes", "--bundle", f"{asset}.sigstore", str(asset)])


def macos_sign(tgt: Target, dist: Path) -> None:
    """Developer ID codesign + notarization of a target's binary, then re-archive it.

    Runs only when the signing secrets are present; a fork's or a dry run skips and says so.
    """
    needed = ("APPLE_CERTIFICATE_P12", "APPLE_CERTIFICATE_PASSWORD", "APPLE_SIGNING_IDENTITY",
              "APPLE_NOTARY_KEY", "APPLE_NOTARY_KEY_ID", "APPLE_NOTARY_ISSUER")
    absent = [k for k in needed if not os.environ.get(k)]
    if absent:
        log(f"macos-sign: SKIPPED (secrets not set: {', '.join(absent)})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / tgt.binary_name
        binary.write_bytes(_binary_of(dist / tgt.archive_name, tgt))
        binary.chmod(0o755)
        run([str(ROOT / "ci" / "macos_sign.sh"), str(binary)])
        run([PY, "-m", "distbuild.archive", str(binary), "--out", str(dist)])


def github_release(dist: Path, tag: str) -> None:
    """Upload every asset, SHA256SUMS and the cosign bundles; a rerun replaces them."""
    files = [*release_assets(dist), dist / SUMS_NAME, *sorted(dist.glob("*.sigstore"))]
    names = [str(p) for p in files]
    repo = ["--repo", release_settings.GITHUB_REPO]
    if subprocess.run(["gh", "release", "view", tag, *repo], capture_output=True).returncode == 0:
        run(["gh", "release", "upload", tag, *names, "--clobber", *repo])
        return
    pre = ["--prerelease"] if "-" in tag else []
    run(["gh", "release", "create", tag, *names, "--verify-tag", "--title", tag,
         "--generate-notes", *pre, *repo])


# -- publish-npm --------------------------------------------------------------------------------

def _published(name: str, version: str, env: dict[str, str]) -> bool:
    r = subprocess.run(["npm", "view", f"{name}@{version}", "version"], capture_output=True,
                       text=True, env=env)
    return r.returncode == 0 and r.stdout.strip() == version


def refuse_standins(dist: Path) -> None:
    """Stop if any platform tarball carries the dry run's stand-in instead of a real build."""
    import tarfile

    from ci.standin import is_standin

    manifest = json.loads((dist / "npm" / "manifest.json").read_text())
    for p in manifest["platforms"]:
        exe = "codex.exe" if target(p["triple"]).windows else "codex"
        with tarfile.open(dist / "npm" / p["tarball"], "r:gz") as tar:
            f = tar.extractfile(f"package/vendor/{p['triple']}/bin/{exe}")
            if f is None or is_standin(f.read(256)):
                raise SystemExit(f"refusing to publish {p['tarball']}: it carries a stand-in, "
                                 "not a frozen build of " + p["triple"])


def publish_npm(dist: Path, env: dict[str, str] | None = None) -> None:
    """Platform versions first, root last; a version already there counts as published."""
    env = dict(os.environ if env is None else env)
    manifest = json.loads((dist / "npm" / "manifest.json").read_text())
    name = manifest["name"]
    for entry in manifest["publish"]:
        tarball = dist / "npm" / entry["tarball"]
        version = entry["version"]
        tag = entry["tag"] or npm_dist_tag(manifest["version"])
        if _published(name, version, env):
            log(f"publish-npm: {name}@{version} already published")
            continue
        cmd = ["npm", "publish", str(tarball), "--tag", tag, "--access", "public"]
        if env.get("GITHUB_ACTIONS") and env.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
            cmd.append("--provenance")  # links each version to the workflow run that built it
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            if "previously published" in r.stderr or "EPUBLISHCONFLICT" in r.stderr:
                log(f"publish-npm: {name}@{version} already published (raced)")
                continue
            raise SystemExit(f"npm publish {tarball.name} failed:\n{r.stderr}")
        log(f"publish-npm: {name}@{version} (tag {tag})")


# -- update-cask --------------------------------------------------------------------------------

def update_cask(dist: Path, tap_dir: Path | None, push: bool, allow_missing: bool) -> None:
    cask = render_cask(dist, allow_missing)
    if tap_dir is None:
        log(f"update-cask: rendered {cask} (no --tap-dir: not committed)")
        return
    dest = tap_dir / "Casks" / "codex.rb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cask, dest)
    run(["git", "-C", str(tap_dir), "add", "Casks/codex.rb"])
    if subprocess.run(["git", "-C", str(tap_dir), "diff", "--cached", "--quiet"]).returncode == 0:
        log("update-cask: the tap already has this cask")
        return
    run(["git", "-C", str(tap_dir), "-c", "user.name=codex-release", "-c",
         "user.email=codex-release@users.noreply.github.com", "commit", "-m",
         f"codex {__version__}"])
    if push:
        run(["git", "-C", str(tap_dir), "push"])


# -- dry run ------------------------------------------------------------------------------------

def extra_linux_targets(source: Path) -> list[Target]:
    """Linux targets of another CPU with a frozen (not stand-in) archive in `source`, when
    this machine can run them (qemu-user through binfmt_misc)."""
    from distbuild import binfmt

    return [t for t in TARGETS if t != host_target() and emulated_here(t)
            and (source / t.archive_name).is_file()
            and not _archive_is_standin(source / t.archive_name, t)
            and binfmt.available(t.triple.split("-", 1)[0])]


def check_npm_install_for(tgt: Target, reg, tmp: Path) -> None:
    """Install from the registry as a `tgt.npm_cpu` machine would (npm --cpu) and check that
    the platform package npm chose holds that target's binary, which runs (under qemu)."""
    from distbuild import binfmt

    env = dict(reg.npm_env(), npm_config_cpu=tgt.npm_cpu, npm_config_os=tgt.npm_os)
    prefix = tmp / f"prefix-{tgt.npm_suffix}"
    run(["npm", "install", "-g", "--prefix", str(prefix), release_settings.NPM_PACKAGE],
        env=env, capture_output=True)
    alias = f"{release_settings.NPM_PACKAGE}-{tgt.npm_suffix}"
    binary = (prefix / "lib" / "node_modules" / release_settings.NPM_PACKAGE / "node_modules"
              / alias / "vendor" / tgt.triple / "bin" / "codex")
    arch = tgt.triple.split("-", 1)[0]
    if not binary.is_file() or binfmt.elf_machine(binary) != arch:
        raise SystemExit(f"dry run: npm --cpu={tgt.npm_cpu} did not install {alias} with an "
                         f"{arch} binary at {binary}")
    with binfmt.registered(arch):
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=300, check=True).stdout.strip()
    log(f"dry run: npm --cpu={tgt.npm_cpu} installed {alias}; its {arch} binary ran: {out}")


def dry_run(dist: Path, prebuilt: Path | None) -> None:
    plan(None, github_output=False)
    host = host_target()
    extra = extra_linux_targets(prebuilt or ROOT / "dist")
    targets = [host, *extra]
    # Leftovers of other targets would end up in SHA256SUMS, the npm packages and the cask.
    keep = {name for t in targets for name in (t.archive_name, t.zst_name)}
    for old in release_assets(dist):
        if old.name not in keep:
            old.unlink()
    build(host, dist, prebuilt, allow_standin=True)
    for tgt in extra:
        build(tgt, dist, prebuilt or ROOT / "dist", allow_standin=False)
    if not extra:
        log("dry run: NOTE packaging the host target only: no Linux arm64 archive in "
            f"{prebuilt or ROOT / 'dist'} (make dist TARGET=aarch64-unknown-linux-musl)")
    log(f"dry run: packaging {', '.join(t.triple for t in targets)}")
    for tgt in targets:
        smoke(tgt, dist)
    package(dist, allow_missing=True)
    sign(dist)
    from ci import local_registry

    with tempfile.TemporaryDirectory(prefix="codex-dry-run-") as tmp, \
            local_registry.running(Path(tmp) / "registry") as reg:
        env = reg.npm_env()
        publish_npm(dist, env)
        publish_npm(dist, env)  # a rerun of the step must succeed too
        prefix = Path(tmp) / "prefix"
        run(["npm", "install", "-g", "--prefix", str(prefix), release_settings.NPM_PACKAGE],
            env=env, capture_output=True)
        shim = prefix / ("codex.cmd" if host.windows else "bin/codex")
        out = subprocess.run([str(shim), "--version"], capture_output=True, text=True,
                             env=env, timeout=120, check=True).stdout.strip()
        if out != f"codex-cli {__version__}":
            raise SystemExit(f"dry run: installed codex printed {out!r}")
        log(f"dry run: installed from {reg.url} and ran: {out}")
        for tgt in extra:
            check_npm_install_for(tgt, reg, Path(tmp))
    update_cask(dist, None, push=False, allow_missing=True)
    log(f"dry run: done; results in {dist}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="staging folder (dist/)")
    ap.add_argument("--dry-run", action="store_true",
                    help="run every step possible on this host, publishing to a local registry")
    ap.add_argument("--prebuilt", type=Path,
                    help="take the host archives from this folder instead of building")
    steps = ap.add_subparsers(dest="step", metavar="STEP")
    p = steps.add_parser("plan", help="check the tag, print version, dist-tag and targets")
    p.add_argument("--tag", help="the pushed tag, e.g. v0.2.0")
    p.add_argument("--github-output", action="store_true", help="also write $GITHUB_OUTPUT")
    for name, text in (("build", "freeze and archive one target"),
                       ("smoke", "run a target's archived binary")):
        p = steps.add_parser(name, help=text)
        p.add_argument("--target", default=None, help="triple (default: this host)")
    p = steps.add_parser("package", help="npm tarballs, install.sh, SHA256SUMS, cask")
    p.add_argument("--allow-missing", action="store_true", help="not all targets are required")
    steps.add_parser("sign", help="cosign bundles for every asset (GitHub OIDC)")
    p = steps.add_parser("macos-sign", help="codesign + notarize a build when secrets exist")
    p.add_argument("--target", default=None, help="triple (default: this host)")
    p = steps.add_parser("setup", help="install the project with its build tools into this Python")
    p.add_argument("--target", default=None, help="triple to build (default: this host)")
    p = steps.add_parser("github-release", help="create the GitHub Release (or add to it)")
    p.add_argument("--tag", required=True)
    p = steps.add_parser("publish-npm", help="publish dist/npm (platforms first, idempotent)")
    p.add_argument("--registry", help="registry URL (default: npm's configuration)")
    p = steps.add_parser("update-cask", help="render the cask and commit it to a tap checkout")
    p.add_argument("--tap-dir", type=Path, help=f"checkout of {release_settings.HOMEBREW_TAP}")
    p.add_argument("--push", action="store_true", help="git push the tap afterwards")
    p.add_argument("--allow-missing", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    dist = args.dist.resolve()
    if args.dry_run:
        if args.step:
            ap.error("--dry-run runs every step; give no STEP")
        dry_run(dist, args.prebuilt)
        return 0
    if args.step is None:
        ap.error("give a STEP or --dry-run")
    if args.step == "plan":
        plan(args.tag, args.github_output)
    elif args.step == "build":
        tgt = target(args.target) if args.target else host_target()
        build(tgt, dist, args.prebuilt, allow_standin=False)
    elif args.step == "smoke":
        smoke(target(args.target) if args.target else host_target(), dist)
    elif args.step == "package":
        package(dist, args.allow_missing)
    elif args.step == "sign":
        sign(dist)
    elif args.step == "macos-sign":
        macos_sign(target(args.target) if args.target else host_target(), dist)
    elif args.step == "setup":
        run([PY, "-m", "pip", "install", "-e", f"{ROOT}[dev,build]"])
        # Compilers and the build venv the build wants (qemu and mmdebstrap for --target
        # of another Linux CPU).
        run([PY, "-m", "distbuild.build_deps",
             *(["--target", args.target] if args.target else [])])
    elif args.step == "github-release":
        github_release(dist, args.tag)
    elif args.step == "publish-npm":
        env = dict(os.environ)
        if args.registry:
            env["npm_config_registry"] = args.registry
        refuse_standins(dist)
        publish_npm(dist, env)
    elif args.step == "update-cask":
        update_cask(dist, args.tap_dir, args.push, args.allow_missing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
