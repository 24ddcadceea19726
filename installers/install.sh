#!/bin/sh
# Install the codex binary for this machine from a GitHub release.
#
#   curl -fsSL https://github.com/OWNER/REPO/releases/latest/download/install.sh | sh
#   sh install.sh --version 0.2.0
#
# Environment: CODEX_VERSION (default: latest), CODEX_INSTALL_DIR (default: ~/.local/bin),
# CODEX_RELEASE_BASE_URL (the folder holding the release's assets; overrides GitHub),
# CODEX_INSTALL_ARCH (the CPU to install for, as `uname -m` names it: x86_64 or aarch64;
# default this machine's, e.g. to install onto a disk another machine will boot).
# The release's repository is filled in by installers/install_sh.py from
# codex/release_settings.py when this file is copied to dist/install.sh.
set -eu

REPO="@GITHUB_REPO@"

say() { printf '%s\n' "$*" >&2; }
die() { say "install.sh: error: $*"; exit 1; }

usage() {
    cat <<EOF
Usage: install.sh [--version VERSION] [--dir DIR]

Downloads the codex release archive for this machine, checks it against the release's
SHA256SUMS, and installs it as DIR/codex (default ~/.local/bin/codex).

  --version VERSION   release to install, e.g. 0.2.0 (default: \$CODEX_VERSION or latest)
  --dir DIR           where to install (default: \$CODEX_INSTALL_DIR or ~/.local/bin)
  --arch ARCH         CPU to install for: x86_64 or aarch64 (default: \$CODEX_INSTALL_ARCH
                      or this machine's)
  -h, --help          show this help
EOF
}

version="${CODEX_VERSION:-latest}"
install_dir="${CODEX_INSTALL_DIR:-${HOME:?HOME is not set}/.local/bin}"
arch_override="${CODEX_INSTALL_ARCH:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
        --version=*) version="${1#--version=}"; shift ;;
        --dir) [ $# -ge 2 ] || die "--dir needs a value"; install_dir="$2"; shift 2 ;;
        --dir=*) install_dir="${1#--dir=}"; shift ;;
        --arch) [ $# -ge 2 ] || die "--arch needs a value"; arch_override="$2"; shift 2 ;;
        --arch=*) arch_override="${1#--arch=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
version="${version#v}"

detect_triple() {
    os=$(uname -s)
    arch=${arch_override:-$(uname -m)}
    case "$arch" in
        x86_64|amd64) arch=x86_64 ;;
        arm64|aarch64) arch=aarch64 ;;
        *) die "no codex build for CPU $arch (builds exist for x86_64 and arm64)" ;;
    esac
    case "$os" in
        Linux) echo "$arch-unknown-linux-musl" ;;
        Darwin)
            # A shell under Rosetta reports x86_64 on an Apple silicon Mac: take the native build.
            if [ -z "$arch_override" ] && [ "$arch" = x86_64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
                arch=aarch64
            fi
            echo "$arch-apple-darwin" ;;
        *) die "no codex build for $os (use the npm package or a release archive)" ;;
    esac
}

download() {  # url file
    if command -v curl >/dev/null 2>&1; then
        if [ -t 2 ]; then
            curl -fL --retry 3 --progress-bar -o "$2" "$1"
        else
            curl -fsSL --retry 3 -o "$2" "$1"
        fi
    elif command -v wget >/dev/null 2>&1; then
        if [ -t 2 ]; then
            wget -O "$2" "$1"
        else
            wget -q -O "$2" "$1"
        fi
    else
        die "need curl or wget to download"
    fi || die "download failed: $1"
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        die "need sha256sum or shasum to verify the download"
    fi
}

triple=$(detect_triple)
asset="codex-$triple.tar.gz"
if [ -n "${CODEX_RELEASE_BASE_URL:-}" ]; then
    base="${CODEX_RELEASE_BASE_URL%/}"
else
    case "$REPO" in @*) die "this copy of install.sh has no repository; use the release's install.sh or set CODEX_RELEASE_BASE_URL" ;; esac
    if [ "$version" = latest ]; then
        base="https://github.com/$REPO/releases/latest/download"
    else
        base="https://github.com/$REPO/releases/download/v$version"
    fi
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t codex-install)
staged=""
cleanup() {
    rm -rf "$tmp"
    if [ -n "$staged" ]; then rm -f "$staged"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "codex: downloading $asset ($version) from $base"
download "$base/$asset" "$tmp/$asset"
download "$base/SHA256SUMS" "$tmp/SHA256SUMS"

expected=$(awk -v name="$asset" '$2 == name || $2 == "*" name { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || die "SHA256SUMS has no entry for $asset"
actual=$(sha256_of "$tmp/$asset")
if [ "$actual" != "$expected" ]; then
    die "checksum mismatch for $asset: expected $expected, got $actual; nothing was installed"
fi

mkdir "$tmp/unpacked"
tar -xzf "$tmp/$asset" -C "$tmp/unpacked" || die "cannot unpack $asset"
binary="$tmp/unpacked/codex-$triple"
[ -f "$binary" ] || die "$asset does not hold codex-$triple"
chmod 755 "$binary"
if ! new_version=$("$binary" --version 2>&1); then
    # Installing for another CPU (--arch) is allowed to produce a file this machine cannot run.
    if [ -n "$arch_override" ] && [ "$(uname -m)" != "${triple%%-*}" ]; then
        say "codex: note: the $triple file does not run on this $(uname -m) machine (not checked)"
        new_version="codex ($triple)"
    else
        die "the downloaded codex does not run on this machine: $new_version"
    fi
fi

mkdir -p "$install_dir" || die "cannot create $install_dir"
# Copy next to the target, then rename over it: a running or concurrent codex never sees a
# half-written file.
staged="$install_dir/.codex.install.$$"
cp "$binary" "$staged" || die "cannot write to $install_dir"
chmod 755 "$staged"
mv -f "$staged" "$install_dir/codex" || die "cannot replace $install_dir/codex"
staged=""

say "codex: installed $new_version to $install_dir/codex"
case ":${PATH:-}:" in
    *":$install_dir:"*) ;;
    *)
        line="export PATH=\"$install_dir:\$PATH\""
        case "${SHELL:-}" in
            */zsh) rc="$HOME/.zshrc" ;;
            */bash) rc="$HOME/.bashrc" ;;
            */fish) rc="$HOME/.config/fish/config.fish"; line="fish_add_path \"$install_dir\"" ;;
            *) rc="your shell's start-up file" ;;
        esac
        say "codex: $install_dir is not on your PATH; add this line to $rc:"
        say "  $line" ;;
esac
