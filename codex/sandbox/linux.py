"""Linux enforcement: Landlock for files, a fresh network namespace for the network.

`apply_to_self(policy, cwd)` restricts the *calling* process; the caller then execs the command,
so the restriction covers the command and every descendant (Landlock domains, namespaces and
seccomp filters are inherited across fork and exec and cannot be left). It is called by
`codex sandbox` in the process that is about to become the command, i.e. between the
spawner's fork and the command's exec.

The steps, in this order (each needs the previous one's privileges):
1. Namespaces. Network off -> a new network namespace: it holds only a loopback interface of its
   own, so every IP protocol (TCP, UDP, raw) reaches nothing, with no per-architecture syscall
   table to keep right. As non-root this needs a user namespace (mapping just our own uid);
   root creates it directly and keeps its ordinary file permissions. workspace-write also gets
   a mount namespace. Fallback, where no namespace can be had (user namespaces disabled, e.g.
   by Ubuntu's AppArmor restriction, or already inside a codex sandbox): the socket filter of
   step 4 refuses every socket family instead.
2. `.git` carve-out. Landlock only grants: a rule on a writable root covers everything below it
   and nothing can be subtracted. So we grant the whole root and, in the private mount
   namespace, bind-mount each protected path read-only onto itself: writes there fail with
   EROFS, renaming or deleting it fails with EBUSY (a mount point), hard links out of it fail
   with EXDEV (another mount). The command cannot unmount it: Landlock denies every mount and
   umount to a restricted process. Without a mount namespace (the fallback) we grant per entry
   instead (write_rules): every entry of the root but `.git` gets the write rule, the root
   itself none, so `.git` stays read-only at the price that new entries cannot be made directly
   in that root. Limits: only `ROOT/.git` of each writable root (and the git dir a `.git` file
   points to) is protected, not repositories nested deeper or created later; hard links into
   `.git` made before the sandbox started are ordinary files.
   workspace-write also gets an empty private tmpfs on /dev/shm (POSIX shared memory and
   semaphores, e.g. Python's multiprocessing locks, need a writable one; the machine's own
   stays out of reach). Not in the fallback, where /dev/shm is read-only.
3. Root only: drop dangerous capabilities (modules, raw I/O, mknod, admin, ptrace, ...) from
   the bounding set, so the command, exec'd as root, does not get them back.
4. `PR_SET_NO_NEW_PRIVS`: no set-uid/file-capability gains after exec (Landlock and seccomp
   need it too). Then, with the network off, a seccomp filter on socket creation (see
   socket_filter): no new unix-domain socket at all, so no daemon's socket outside is
   reachable, pathname (found through the filesystem, which a network namespace does not
   separate: a container engine's or an agent's socket would be a full escape) or abstract;
   only IP and netlink sockets inside the namespace, connected socketpairs, and no io_uring.
5. Landlock: read and execute everywhere; read/write/ioctl on the terminal and null devices;
   everything except making device nodes under each writable root (none in read-only).
   REFER (ABI 2) lets renames and links inside the roots work and stops links that would give
   an outside file write access; TRUNCATE (ABI 3) closes truncate(2) on outside files;
   IOCTL_DEV (ABI 5) is granted only on the terminal devices; signal scoping (ABI 6) keeps the
   command from signalling processes outside the sandbox, and with the network off abstract
   unix sockets outside are scoped away too.

What closing unix sockets costs (network off only): a command cannot reach any local daemon
(docker/podman, ssh-agent, gpg-agent, D-Bus, X11/Wayland, systemd, a database's socket, nscd:
glibc falls back to files) nor serve a unix socket of its own (e.g. Python's multiprocessing
`forkserver` start method or `Manager`, a test suite's unix-socket fixtures; TCP on the
sandbox's own loopback still works for those). Pipes, PTYs and socketpair(2) between a program
and its children (subprocess, asyncio) are unaffected. Whoever needs a daemon gets it back the
same way as the network: `sandbox_workspace_write.network_access = true` (or `--allow-network`)
lifts the filter with the namespace, and so does `danger-full-access`; a single command can
be run outside the sandbox by an approved escalation (`sandbox_permissions:
"require_escalated"`, never granted in a headless `codex exec`).

Known limits: path rules judge the path used, not the file: a hard link that already existed
when the sandbox started, from inside a writable root to a file outside, is a writable name of
that outside file (Landlock sees a path under the root; links made inside the sandbox are
refused by REFER). The same holds for a bind mount of an outside directory into a root. Output
may be written to other terminals the user owns (/dev/pts is granted so commands can open PTYs;
injecting input needs CAP_SYS_ADMIN, which the command never has). A 32-bit (compat) program
cannot run with the network off: the socket filter refuses every syscall of a foreign ABI.

We require Landlock ABI >= 3: below it truncate(2) of any file the user owns is not restricted,
which would make "read-only" untrue. Nothing here ever falls back to running unsandboxed: a
missing feature raises SandboxUnavailable.

Testing hooks, honoured always because they never weaken the sandbox:
`CODEX_SANDBOX_SIMULATE_NO_LANDLOCK=1` behaves as a kernel without Landlock (refuses);
`CODEX_SANDBOX_SIMULATE_LANDLOCK_ABI=N` caps the detected ABI at N (refuses below 3);
`CODEX_SANDBOX_SIMULATE_NO_USERNS=1` takes the no-namespace fallback (seccomp for every socket
family + per-entry Landlock), which enforces the same policy.
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
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
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
_PR_CAPBSET_READ = 23
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
    1,  # DAC_OVERRIDE (not DAC_READ_SEARCH: it grants open_by_handle_at, a way around paths)
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
    if not policy.full_network and seccomp_arch() is None:
        raise SandboxUnavailable(
            "sandbox unavailable: with the network off, codex closes unix sockets (and, without "
            "user namespaces, the network) with a seccomp filter, which it does not have for "
            f"{os.uname().machine}; the command was not run (network_access = true, or "
            "-s danger-full-access, runs without it)"
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
    if policy.mode == WORKSPACE_WRITE:
        flags |= _CLONE_NEWNS
    isolated = True
    if flags:
        isolated = _enter_namespaces(libc, flags, is_root)
        if isolated:
            if protected:
                _protect(libc, protected)
            if flags & _CLONE_NEWNS and _private_shm(libc):
                roots = [*roots, _SHM]
            if flags & _CLONE_NEWNET:
                _loopback_up()
    if is_root:
        _drop_capabilities(libc)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _fail("prctl(PR_SET_NO_NEW_PRIVS)")
    if not policy.full_network:
        _install_socket_filter(libc, namespaced_network=isolated)
    # Without the mount namespace, `.git` is kept read-only by Landlock alone (see write_rules).
    _landlock(libc, abi, roots, [] if isolated else protected,
              scope_abstract_sockets=not policy.full_network)


def _enter_namespaces(libc: ctypes.CDLL, flags: int, is_root: bool) -> bool:
    """Enter fresh namespaces for `flags`; False when user namespaces are not to be had (the
    caller then isolates the network with seccomp instead, and protects .git by Landlock)."""
    if os.environ.get("CODEX_SANDBOX_SIMULATE_NO_USERNS") == "1":
        return False
    # Root makes the namespaces directly (keeping its ordinary file permissions); a root that
    # lacks CAP_SYS_ADMIN (e.g. already inside one of our sandboxes) goes the unprivileged way.
    if not (is_root and libc.unshare(flags) == 0):
        uid, gid = os.geteuid(), os.getegid()
        # Inside another Landlock sandbox the uid map cannot be written, and a user namespace
        # without one would leave us unable to create files: find out before unsharing.
        try:
            os.close(os.open("/proc/self/uid_map", os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            return False
        if libc.unshare(flags | _CLONE_NEWUSER) != 0:
            if ctypes.get_errno() in (errno.EPERM, errno.EACCES, errno.ENOSPC, errno.EINVAL,
                                      errno.EUSERS):
                return False
            raise _fail("unshare (user namespace)")
        # Map only ourselves: inside we are the same uid, with no power over anything else.
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
            _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
        except OSError as e:
            raise SandboxUnavailable(
                f"sandbox unavailable: cannot set up the user namespace ({e.strerror}); the "
                "command was not run"
            ) from None
    # Without this our read-only binds could propagate back to the host's mounts.
    if flags & _CLONE_NEWNS and libc.mount(None, b"/", None, _MS_REC | _MS_SLAVE, None) != 0:
        raise _fail("making the mount namespace private")
    return True


_SHM = "/dev/shm"


def _private_shm(libc: ctypes.CDLL) -> bool:
    # POSIX shared memory and semaphores (Python's multiprocessing locks) live in /dev/shm,
    # which the whole machine shares. Rather than open it, give the command an empty one of its
    # own in its mount namespace. Without it those calls fail, which is safe.
    if not os.path.isdir(_SHM):
        return False
    return libc.mount(b"tmpfs", _SHM.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                      b"mode=1777,size=64m") == 0


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


# statvfs f_flag bits (Linux values, spelled out so this module imports on any platform).
_ST_TO_MS = ((2, _MS_NOSUID), (4, _MS_NODEV), (8, _MS_NOEXEC), (1024, _MS_NOATIME),
             (2048, _MS_NODIRATIME), (4096, _MS_RELATIME))


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
    import _socket  # the C module: `socket` costs ~3 ms of start-up we pay per command
    import fcntl

    try:
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    except OSError:
        return
    try:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
    except OSError:
        pass
    finally:
        s.close()


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        # Skip what is kept, and what is already gone (inside another codex sandbox).
        if cap in _KEEP_CAPS or libc.prctl(_PR_CAPBSET_READ, cap, 0, 0, 0) != 1:
            continue
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise _fail(f"dropping capability {cap}")


# -- seccomp: local sockets, and the network where no namespace can be had ------------------
# Installed whenever the network is off. With a network namespace (the usual case) IP sockets
# are harmless (they reach only the namespace's own loopback), so socket(2) is allowed for
# AF_INET, AF_INET6 and AF_NETLINK (also namespaced) and refused for every other family:
# AF_UNIX above all, because a pathname unix socket is found through the filesystem, not the
# namespace, so a daemon's socket outside (a container engine's, an agent's) would otherwise be
# one connect(2) away; and families that are not namespaced (AF_VSOCK reaches the hypervisor).
# Without a namespace (the fallback) socket(2) is refused for every family.
# socketpair(2) stays allowed for AF_UNIX SOCK_STREAM and SOCK_SEQPACKET: such a pair is
# connected at birth and cannot be pointed elsewhere (a SOCK_DGRAM one could sendto(2) any
# socket path, so it is refused). Refused too: io_uring (it can create and connect sockets
# without socket(2)), x32 syscalls, and every syscall of a foreign ABI (32-bit compat: its
# numbering differs and socketcall(2) hides its arguments from the filter).
# Why not decide per path: seccomp sees only a pointer to the address, never the path (and
# reading it would race with the caller); Landlock up to ABI 7 restricts binding a socket file
# (MAKE_SOCK) and abstract sockets (scoping, ABI 6) but not connecting to a pathname socket.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_NR_SOCKET = {"x86_64": 41, "aarch64": 198}
_NR_SOCKETPAIR = {"x86_64": 53, "aarch64": 199}
_NR_IO_URING_SETUP = 425  # the same on both
_X32_SYSCALL_BIT = 0x40000000
_AF_UNIX = 1
_AF_INET = 2
_AF_INET6 = 10
_AF_NETLINK = 16
NAMESPACED_FAMILIES = (_AF_INET, _AF_INET6, _AF_NETLINK)
_SOCK_STREAM = 1
_SOCK_SEQPACKET = 5
_SOCK_TYPE_FLAGS = 0o4000 | 0o2000000  # SOCK_NONBLOCK | SOCK_CLOEXEC (x86_64 and aarch64)
_BPF_LD_W_ABS = 0x20
_BPF_ALU_AND_K = 0x54
_BPF_JEQ_K = 0x15
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_PR_SET_SECCOMP = 22
_PR_GET_SECCOMP = 21
_SECCOMP_MODE_FILTER = 2
# struct seccomp_data: nr, arch, instruction pointer, then args[] (low words, little-endian).
_OFF_NR, _OFF_ARCH, _OFF_ARG0, _OFF_ARG1 = 0, 4, 16, 24


def seccomp_arch() -> str | None:
    """This machine's architecture when we have a seccomp filter for it, else None."""
    machine = os.uname().machine
    return machine if machine in _AUDIT_ARCH else None


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


# A program with named jump targets: (code, jt, jf, k, label) where jt/jf name the label of a
# later instruction (None: the next one); `_assemble` turns them into BPF's forward offsets.
_Ins = tuple[int, "str | None", "str | None", int, "str | None"]


def _assemble(prog: list[_Ins]) -> list[tuple[int, int, int, int]]:
    where = {label: i for i, (*_rest, label) in enumerate(prog) if label is not None}

    def offset(i: int, target: str | None) -> int:
        if target is None:
            return 0
        jump = where[target] - i - 1
        if not 0 <= jump < 256:
            raise ValueError(f"seccomp jump to {target} out of range")
        return jump

    return [(code, offset(i, jt), offset(i, jf), k)
            for i, (code, jt, jf, k, _label) in enumerate(prog)]


def socket_filter(arch: str, *, namespaced_network: bool) -> list[tuple[int, int, int, int]]:
    """The BPF program (code, jt, jf, k) that keeps a process on `arch` from every socket that
    could reach outside: see the comment above. `namespaced_network` says whether the process
    has a network namespace of its own (then IP and netlink sockets stay allowed)."""
    deny = _SECCOMP_RET_ERRNO | errno.EACCES
    prog: list[_Ins] = [
        (_BPF_LD_W_ABS, None, None, _OFF_ARCH, None),
        (_BPF_JEQ_K, None, "deny", _AUDIT_ARCH[arch], None),
        (_BPF_LD_W_ABS, None, None, _OFF_NR, None),
    ]
    if arch == "x86_64":
        prog.append((_BPF_JSET_K, "deny", None, _X32_SYSCALL_BIT, None))
    prog += [
        (_BPF_JEQ_K, "deny", None, _NR_IO_URING_SETUP, None),
        (_BPF_JEQ_K, "socket", None, _NR_SOCKET[arch], None),
        (_BPF_JEQ_K, "socketpair", "allow", _NR_SOCKETPAIR[arch], None),
        (_BPF_LD_W_ABS, None, None, _OFF_ARG0, "socket"),
    ]
    families = NAMESPACED_FAMILIES if namespaced_network else ()
    prog += [(_BPF_JEQ_K, "allow", None, family, None) for family in families]
    prog += [
        (_BPF_RET_K, None, None, deny, None),
        (_BPF_LD_W_ABS, None, None, _OFF_ARG0, "socketpair"),
        (_BPF_JEQ_K, None, "deny", _AF_UNIX, None),
        (_BPF_LD_W_ABS, None, None, _OFF_ARG1, None),
        (_BPF_ALU_AND_K, None, None, 0xFFFFFFFF & ~_SOCK_TYPE_FLAGS, None),
        (_BPF_JEQ_K, "allow", None, _SOCK_STREAM, None),
        (_BPF_JEQ_K, "allow", None, _SOCK_SEQPACKET, None),
        (_BPF_RET_K, None, None, deny, "deny"),
        (_BPF_RET_K, None, None, _SECCOMP_RET_ALLOW, "allow"),
    ]
    return _assemble(prog)


def _install_socket_filter(libc: ctypes.CDLL, *, namespaced_network: bool) -> None:
    arch = seccomp_arch()
    if arch is None:
        if namespaced_network:
            raise SandboxUnavailable(
                "sandbox unavailable: with the network off, unix sockets outside the sandbox "
                f"are closed by a seccomp filter, which codex does not have for "
                f"{os.uname().machine}; the command was not run")
        raise SandboxUnavailable(
            "sandbox unavailable: no network namespace could be made (user namespaces are "
            f"disabled) and codex has no seccomp filter for {os.uname().machine}; the command "
            "was not run"
        )
    prog = socket_filter(arch, namespaced_network=namespaced_network)
    arr = (_SockFilter * len(prog))(*(_SockFilter(*ins) for ins in prog))
    fprog = _SockFprog(len(prog), arr)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise _fail("installing the seccomp socket filter")


# -- Landlock -------------------------------------------------------------------------------

class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_FILE_ONLY = (ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE
              | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV)


def write_rules(root: str, rights: int, carve_out: list[str]) -> list[tuple[str, int]]:
    """(path, rights) rules granting `rights` under `root` except beneath `carve_out`.

    Landlock cannot subtract, so a root holding a protected path gets no write rule itself;
    each of its entries does (recursing towards the protected path), and the protected path
    none. The price: entries cannot be created, removed or renamed directly in the root or in
    the directories on the way to the protected path."""
    inside = [c for c in carve_out if c == root or c.startswith(root.rstrip("/") + "/")]
    if not inside:
        return [(root, rights)]
    if root in inside:
        return []
    rules = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        if entry.is_symlink():
            continue  # a write through it lands where it points, judged there
        if entry.is_dir(follow_symlinks=False):
            rules += write_rules(entry.path, rights, inside)
        elif entry.path not in inside:
            rules.append((entry.path, rights & _FILE_ONLY))
    return rules


def _landlock(libc: ctypes.CDLL, abi: int, roots: list[str], carve_out: list[str], *,
              scope_abstract_sockets: bool) -> None:
    handled = handled_fs_rights(abi)
    scoped = 0
    if abi >= 6:
        # Signals always; abstract unix sockets too when the network is off (the socket filter
        # already refuses new unix sockets: this also covers one inherited unconnected).
        scoped = SCOPE_SIGNAL | (SCOPE_ABSTRACT_UNIX_SOCKET if scope_abstract_sockets else 0)
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
            for path, rights in write_rules(root, write, carve_out):
                _add_rule(libc, fd, path, rights, missing_ok=True)
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
