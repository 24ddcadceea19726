"""Linux enforcement: Landlock for files, a fresh network namespace for the network.

`apply_to_self(policy, cwd)` restricts the *calling* process; the caller then execs the command,
so the restriction covers the command and every descendant (Landlock domains and namespaces are
inherited across fork and exec and cannot be left). It is called by `codex sandbox` in the
process that is about to become the command, i.e. between fork and exec of the spawner.

The steps, in this order (each needs the previous one's privileges):
1. Namespaces. Network off -> a new network namespace: it holds only a loopback interface of its
   own, so every IP protocol (TCP, UDP, raw, sockets made through io_uring) reaches nothing, and
   no per-architecture syscall filter is needed. Pathname AF_UNIX sockets keep working (they
   are found through the filesystem, not the namespace); abstract ones stay inside. We chose
   this over seccomp-denying `socket(AF_INET*)` because a namespace covers all protocols and
   syscalls at once, and seccomp filters must track every architecture and every new syscall
   that creates sockets. As non-root the namespace needs a user namespace (mapping just our own
   uid); as root we create it directly, so root keeps its ordinary file permissions.
   workspace-write with a `.git` to protect -> also a mount namespace (see step 2).
2. `.git` carve-out. Landlock only grants; a rule on a writable root covers everything below
   it and nothing can be subtracted. Granting per top-level entry instead would forbid
   creating new files directly in the root. So we grant the whole root and, in a private mount
   namespace, bind-mount each protected path read-only onto itself: writes there fail with
   EROFS, renaming or deleting it fails with EBUSY (it is a mount point), hard links out of it
   fail with EXDEV (another mount). The sandboxed command cannot unmount it: Landlock denies
   every mount/umount to a restricted process. Limits: only `ROOT/.git` of each writable root
   (and the git dir a `.git` file points to) is protected, not repositories nested deeper or
   created later; hard links into `.git` made before the sandbox started are ordinary files.
3. Root only: drop dangerous capabilities (modules, raw I/O, mknod, admin, ptrace, ...) from
   the bounding set, so the command, exec'd as root, does not get them back.
4. `PR_SET_NO_NEW_PRIVS`: no set-uid/file-capability gains after exec (Landlock needs it too).
5. Landlock: read and execute everywhere; read/write/ioctl on the terminal and null devices;
   everything except making device nodes under each writable root (none in read-only).
   REFER (ABI 2) lets renames and links inside the roots work and stops links that would give
   an outside file write access; TRUNCATE (ABI 3) closes truncate(2) on outside files;
   IOCTL_DEV (ABI 5) is granted only on the terminal devices; signal scoping (ABI 6) keeps the
   command from signalling processes outside the sandbox.

We require Landlock ABI >= 3: below it truncate(2) of any file the user owns is not restricted,
which would make "read-only" untrue. Nothing here ever falls back to running unsandboxed: a
missing feature raises SandboxUnavailable.

Testing hooks (they can only make the sandbox refuse, never weaken it, so they are honoured
always): `CODEX_SANDBOX_SIMULATE_NO_LANDLOCK=1` behaves as a kernel without Landlock;
`CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI=N` caps the detected ABI at N.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Mapping

from codex.sandbox.errors import SandboxUnavailable
from codex.sandbox.policy import WORKSPACE_WRITE, SandboxPolicy, protected_paths

MIN_LANDLOCK_ABI = 3

# Same numbers on every architecture (these syscalls postdate the unified numbering).
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
_LANDLOCK_RULE_PATH_BENEATH = 1

# Filesystem access rights, with the ABI that introduced them.
ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13  # ABI 2
ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3
ACCESS_FS_IOCTL_DEV = 1 << 15  # ABI 5
SCOPE_SIGNAL = 1 << 1  # ABI 6

_FS_ABI1 = (1 << 13) - 1


def handled_fs_rights(abi: int) -> int:
    """Every filesystem right the kernel of this ABI can restrict."""
    rights = _FS_ABI1
    if abi >= 2:
        rights |= ACCESS_FS_REFER
    if abi >= 3:
        rights |= ACCESS_FS_TRUNCATE
    if abi >= 5:
        rights |= ACCESS_FS_IOCTL_DEV
    return rights


_READ = ACCESS_FS_EXECUTE | ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR
_FILE_RW = ACCESS_FS_READ_FILE | ACCESS_FS_WRITE_FILE | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV
# Devices every shell idiom needs (`>/dev/null`, `tty`, a PTY opened by the command itself).
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
            "/dev/ptmx", "/dev/pts")

# Linux constants (linux/sched.h, linux/mount.h, linux/prctl.h, linux/sockios.h).
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_NOATIME = 1024
_MS_NODIRATIME = 2048
_MS_BIND = 4096
_MS_REC = 16384
_MS_SLAVE = 1 << 19
_MS_RELATIME = 1 << 21
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1

# Capabilities root keeps inside the sandbox: ordinary file ownership and permission handling,
# uid/gid changes, signals, low ports. Everything else (modules, raw I/O, mknod, sys/net admin,
# ptrace, time, boot, file capabilities, BPF, ...) is dropped from the bounding set.
_KEEP_CAPS = frozenset({
    0,  # CHOWN
    1,  # DAC_OVERRIDE
    2,  # DAC_READ_SEARCH
    3,  # FOWNER
    4,  # FSETID
    5,  # KILL
    6,  # SETGID
    7,  # SETUID
    10,  # NET_BIND_SERVICE
    29,  # AUDIT_WRITE
})


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_void_p]
    libc.unshare.argtypes = [ctypes.c_int]
    return libc


def _fail(what: str) -> SandboxUnavailable:
    err = ctypes.get_errno()
    return SandboxUnavailable(f"sandbox: {what} failed: {os.strerror(err)} (errno {err})")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    if os.environ.get("CODEX_SANDBOX_SIMULATE_NO_LANDLOCK") == "1":
        return 0
    libc = _libc()
    v = libc.syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                     ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    abi = max(int(v), 0)
    cap = os.environ.get("CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI")
    if cap is not None and cap.strip().isdigit():
        abi = min(abi, int(cap))
    return abi


def check_available(policy: SandboxPolicy) -> None:
    """Raise SandboxUnavailable when this kernel cannot enforce `policy` (cheap, no changes)."""
    if policy.full_disk_write and policy.full_network:
        return
    abi = landlock_abi()
    if abi == 0:
        raise SandboxUnavailable(
            f"sandbox unavailable: the {policy.mode} sandbox needs Landlock, which this Linux "
            "kernel does not offer (it needs Linux 6.2 or newer with Landlock enabled, e.g. "
            "`lsm=landlock,...` on the kernel command line); the command was not run. Use "
            "`-s danger-full-access` only if this machine is itself an isolated sandbox."
        )
    if abi < MIN_LANDLOCK_ABI:
        raise SandboxUnavailable(
            f"sandbox unavailable: this kernel offers Landlock ABI {abi}, the {policy.mode} "
            f"sandbox needs ABI {MIN_LANDLOCK_ABI} (Linux 6.2 or newer) to stop truncation of "
            "files outside the writable roots; the command was not run."
        )
    if os.geteuid() != 0 and _needs_namespaces(policy):
        _check_user_namespaces()


def _needs_namespaces(policy: SandboxPolicy) -> bool:
    return not policy.full_network or policy.mode == WORKSPACE_WRITE


def _check_user_namespaces() -> None:
    for path, bad in (("/proc/sys/kernel/unprivileged_userns_clone", "0"),
                      ("/proc/sys/user/max_user_namespaces", "0")):
        try:
            with open(path) as f:
                value = f.read().strip()
        except OSError:
            continue
        if value == bad:
            raise SandboxUnavailable(
                "sandbox unavailable: network isolation and the .git carve-out need user "
                f"namespaces, which are disabled here ({path} = {value}); the command was not "
                "run. Enable them, or run codex as root."
            )


def apply_to_self(policy: SandboxPolicy, cwd: str,
                  env: Mapping[str, str] | None = None) -> None:
    """Restrict this process (and all it will exec and fork) to `policy`.

    Must be called single-threaded, right before exec. Raises SandboxUnavailable, leaving the
    process possibly half-restricted: the caller must then exit, never exec."""
    if policy.full_disk_write and policy.full_network:
        return
    check_available(policy)
    abi = landlock_abi()
    roots = policy.effective_writable_roots(cwd, env)
    protected = [p for r in roots for p in protected_paths(r, roots)]
    libc = _libc()
    is_root = os.geteuid() == 0

    flags = 0
    if not policy.full_network:
        flags |= _CLONE_NEWNET
    if protected:
        flags |= _CLONE_NEWNS
    if flags:
        _enter_namespaces(libc, flags, is_root)
        if protected:
            _protect(libc, protected)
        if flags & _CLONE_NEWNET:
            _loopback_up()
    if is_root:
        _drop_capabilities(libc)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _fail("prctl(PR_SET_NO_NEW_PRIVS)")
    _landlock(libc, abi, roots)


def _enter_namespaces(libc: ctypes.CDLL, flags: int, is_root: bool) -> None:
    if is_root:
        if libc.unshare(flags) != 0:
            raise _fail("unshare (network/mount namespace)")
    else:
        uid, gid = os.geteuid(), os.getegid()
        if libc.unshare(flags | _CLONE_NEWUSER) != 0:
            err = ctypes.get_errno()
            raise SandboxUnavailable(
                "sandbox unavailable: cannot create a user namespace for network isolation and "
                f"the .git carve-out ({os.strerror(err)}); the command was not run. User "
                "namespaces may be disabled for unprivileged users on this system."
            )
        # Map only ourselves: inside we are the same uid, with no power over anything else.
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
            _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
        except OSError as e:
            raise SandboxUnavailable(
                f"sandbox unavailable: cannot set up the user namespace ({e.strerror})"
            ) from None
    # Without this our read-only binds could propagate back to the host's mounts.
    if flags & _CLONE_NEWNS and libc.mount(None, b"/", None, _MS_REC | _MS_SLAVE, None) != 0:
        raise _fail("making the mount namespace private")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


_ST_TO_MS = ((os.ST_NOSUID, _MS_NOSUID), (os.ST_NODEV, _MS_NODEV), (os.ST_NOEXEC, _MS_NOEXEC),
             (os.ST_NOATIME, _MS_NOATIME), (os.ST_NODIRATIME, _MS_NODIRATIME),
             (os.ST_RELATIME, _MS_RELATIME))


def _protect(libc: ctypes.CDLL, paths: list[str]) -> None:
    for p in paths:
        bp = os.fsencode(p)
        if libc.mount(bp, bp, None, _MS_BIND | _MS_REC, None) != 0:
            raise _fail(f"bind-mounting {p} read-only")
        # A remount must repeat the flags the mount already has (in a user namespace the
        # kernel refuses to clear locked ones such as nosuid).
        st = os.statvfs(p)
        keep = 0
        for st_flag, ms_flag in _ST_TO_MS:
            if st.f_flag & st_flag:
                keep |= ms_flag
        if libc.mount(None, bp, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | keep, None) != 0:
            raise _fail(f"remounting {p} read-only")


def _loopback_up() -> None:
    # A namespace's own loopback lets sandboxed test suites talk to servers they start
    # themselves; it reaches nothing outside. Failure only costs that convenience.
    import fcntl
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            req = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
            fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
    except OSError:
        pass


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        if cap in _KEEP_CAPS:
            continue
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            raise _fail(f"dropping capability {cap}")


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock(libc: ctypes.CDLL, abi: int, roots: list[str]) -> None:
    handled = handled_fs_rights(abi)
    scoped = SCOPE_SIGNAL if abi >= 6 else 0
    # struct landlock_ruleset_attr grew with the ABI: fs (v1), net (v4), scoped (v6).
    attr = struct.pack("<QQQ", handled, 0, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    buf = ctypes.create_string_buffer(attr[:size], size)
    fd = libc.syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), buf, ctypes.c_size_t(size),
                      ctypes.c_uint32(0))
    if fd < 0:
        raise _fail("landlock_create_ruleset")
    try:
        _add_rule(libc, fd, "/", _READ & handled)
        for dev in _DEVICES:
            rights = _FILE_RW & handled
            if os.path.isdir(dev):
                rights |= ACCESS_FS_READ_DIR
            _add_rule(libc, fd, dev, rights, missing_ok=True)
        write = handled & ~(ACCESS_FS_MAKE_CHAR | ACCESS_FS_MAKE_BLOCK | ACCESS_FS_IOCTL_DEV)
        for root in roots:
            _add_rule(libc, fd, root, write, missing_ok=True)
        if libc.syscall(ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(fd),
                        ctypes.c_uint32(0)) != 0:
            raise _fail("landlock_restrict_self")
    finally:
        os.close(fd)


def _add_rule(libc: ctypes.CDLL, ruleset_fd: int, path: str, rights: int, *,
              missing_ok: bool = False) -> None:
    try:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        if missing_ok:
            return
        raise SandboxUnavailable(f"sandbox: {path} does not exist") from None
    try:
        rule = _PathBeneath(rights, pfd)
        if libc.syscall(ctypes.c_long(_SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset_fd),
                        ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                        ctypes.c_uint32(0)) != 0:
            raise _fail(f"landlock_add_rule({path})")
    finally:
        os.close(pfd)
