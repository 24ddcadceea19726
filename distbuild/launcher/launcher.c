/*
 * codex launcher: the first bytes of the single-file `codex`.
 *
 * The file is this small static program followed by a zstd-compressed tree (the frozen
 * program, its libraries and, on Linux, the C library and its loader) and a 40-byte trailer.
 * A freezer's own one-file mode unpacks on every run (150-400 ms); we unpack once per
 * version+payload into the user cache directory and afterwards only check a stamp file and
 * exec the unpacked program, so a warm start costs one stat() and one execve().
 *
 * Environment contract (see distbuild/README.md): the launcher changes no variable of the
 * user's environment. It adds CODEX_LAUNCHER_PATH (the path of this file; the frozen entry
 * point takes it out again) and CODEX_ORIG_<NAME> copies of the user's loader variables.
 * The unpacked program finds its libraries through DT_RPATH and its loader through a
 * PT_INTERP path patched in at unpack time, so no LD_LIBRARY_PATH is ever set.
 *
 * Build-time defines: CODEX_VERSION, PAYLOAD_ID (16 hex digits), PROGRAM_REL (the program's
 * path inside the tree), INTERP_REL (the bundled loader's path inside the tree, "" for none).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>
#include <zstd.h>
#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif

#ifndef CODEX_VERSION
#error "CODEX_VERSION must be defined"
#endif
#ifndef PAYLOAD_ID
#error "PAYLOAD_ID must be defined"
#endif
#ifndef PROGRAM_REL
#error "PROGRAM_REL must be defined"
#endif
#ifndef INTERP_REL
#define INTERP_REL ""
#endif

#define TRAILER_MAGIC "CODEXPK\001"
#define TRAILER_SIZE 40 /* magic[8] payload_offset[8] payload_size[8] id[16] */
#define RECORD_HEADER 27 /* kind[1] mode[4] path_len[2] size[8] patch_offset[8] patch_cap[4] */
#define STAMP_NAME ".codex-unpacked"
#define NO_PATCH UINT64_MAX
#define MAX_CANDIDATES 8
#define DAMAGED (-2)

static const char *prog_name = "codex";

static void die(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "%s: ", prog_name);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(127);
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Path of this file: needed to read the payload and to tell the program who launched it. */
static int self_path(char *out, size_t cap, const char *argv0) {
#ifdef __APPLE__
    char raw[PATH_MAX];
    uint32_t rsize = sizeof raw;
    (void)cap; /* realpath writes at most PATH_MAX bytes; callers pass PATH_MAX */
    if (_NSGetExecutablePath(raw, &rsize) == 0 && realpath(raw, out)) return 0;
#else
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n > 0) {
        out[n] = '\0';
        return 0;
    }
#endif
    /* No /proc: resolve argv[0] the way the shell did. */
    if (strchr(argv0, '/')) return realpath(argv0, out) ? 0 : -1;
    const char *path = getenv("PATH");
    if (!path) return -1;
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        char cand[PATH_MAX];
        if (snprintf(cand, sizeof cand, "%.*s/%s", (int)len, path, argv0) < (int)sizeof cand &&
            access(cand, X_OK) == 0 && realpath(cand, out))
            return 0;
        path += len + (end ? 1 : 0);
    }
    return -1;
}

/* The user's loader variables, saved as CODEX_ORIG_<NAME> (absent: no CODEX_ORIG_<NAME>).
 * We change none of them, but a frozen program cannot tell whether a bootloader did, so
 * codex/child_env.py user_environ() restores exactly these for the commands codex runs. */
static void save_loader_vars(void) {
    static const char *const names[] = {"LD_LIBRARY_PATH",      "LD_PRELOAD",
                                        "DYLD_LIBRARY_PATH",    "DYLD_FRAMEWORK_PATH",
                                        "DYLD_FALLBACK_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES",
                                        NULL};
    for (int i = 0; names[i]; i++) {
        char saved[64];
        snprintf(saved, sizeof saved, "CODEX_ORIG_%s", names[i]);
        const char *value = getenv(names[i]);
        if (value)
            setenv(saved, value, 1);
        else
            unsetenv(saved);
    }
}

/* ---- candidate unpack directories ------------------------------------------------------ */

struct candidate {
    char base[PATH_MAX]; /* parent, created 0700 if missing */
    int private_tmp;     /* a shared temp dir: the base must be ours and private */
};

static int add_candidate(struct candidate *c, int n, int private_tmp, const char *fmt,
                         const char *a, const char *b) {
    if (n >= MAX_CANDIDATES || !a || !*a) return n;
    if (snprintf(c[n].base, sizeof c[n].base, fmt, a, b) >= (int)sizeof c[n].base) return n;
    c[n].private_tmp = private_tmp;
    return n + 1;
}

/* The user cache dir first (what platformdirs' user_cache_dir("codex") gives), then private
 * directories in the temp locations, for a read-only or missing home. */
static int candidates(struct candidate *c) {
    int n = 0;
    char uid[32];
    snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
    n = add_candidate(c, n, 0, "%s%s", getenv("CODEX_UNPACK_DIR"), "");
#ifdef __APPLE__
    n = add_candidate(c, n, 0, "%s/Library/Caches/%s", getenv("HOME"), "codex");
#else
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/')
        n = add_candidate(c, n, 0, "%s/%s", xdg, "codex");
    else
        n = add_candidate(c, n, 0, "%s/.cache/%s", getenv("HOME"), "codex");
#endif
    const char *tmpdir = getenv("TMPDIR");
    if (tmpdir && tmpdir[0] == '/') n = add_candidate(c, n, 1, "%s/codex-%s", tmpdir, uid);
    n = add_candidate(c, n, 1, "%s/codex-%s", "/tmp", uid);
    n = add_candidate(c, n, 1, "%s/codex-%s", "/var/tmp", uid);
    n = add_candidate(c, n, 1, "%s/codex-%s", "/dev/shm", uid);
    return n;
}

static int mkdirs(char *path, mode_t mode) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, mode);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -1;
    }
    if (mkdir(path, mode) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* A base in a shared temp dir must be a real directory owned by us and closed to others,
 * or another user could plant a program we would run. */
static int base_is_safe(const struct candidate *c) {
    struct stat st;
    if (lstat(c->base, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    if (!c->private_tmp) return 1;
    return st.st_uid == getuid() && (st.st_mode & 077) == 0;
}

/* ---- payload reading ------------------------------------------------------------------- */

struct reader {
    int fd;
    uint64_t pos, end;
    ZSTD_DStream *ds;
    unsigned char in[1 << 17];
    ZSTD_inBuffer ib;
    int frame_done;
};

/* Read exactly n decompressed bytes. */
static int zread(struct reader *r, void *dst, size_t n) {
    ZSTD_outBuffer ob = {dst, n, 0};
    while (ob.pos < ob.size) {
        if (r->ib.pos == r->ib.size) {
            if (r->pos >= r->end) return -1;
            size_t want = sizeof r->in;
            if (want > r->end - r->pos) want = (size_t)(r->end - r->pos);
            ssize_t got = pread(r->fd, r->in, want, (off_t)r->pos);
            if (got <= 0) return -1;
            r->pos += (uint64_t)got;
            r->ib.src = r->in;
            r->ib.size = (size_t)got;
            r->ib.pos = 0;
        }
        size_t rc = ZSTD_decompressStream(r->ds, &ob, &r->ib);
        if (ZSTD_isError(rc)) return -1;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int safe_rel(const char *rel) {
    if (rel[0] == '/' || rel[0] == '\0') return 0;
    for (const char *p = rel; *p;) {
        if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0')) return 0;
        const char *s = strchr(p, '/');
        if (!s) break;
        p = s + 1;
    }
    return 1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Remove what first runs that were killed mid-unpack left in `base` (.unpack-<id>-<pid> of
 * a process that no longer exists), so an interrupted first run costs no disk for good. */
static void clean_abandoned(const char *base) {
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, ".unpack-", 8) != 0 && strncmp(e->d_name, ".stale-", 7) != 0)
            continue;
        const char *dash = strrchr(e->d_name, '-');
        long pid = dash ? strtol(dash + 1, NULL, 10) : 0;
        if (pid <= 0 || pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", base, e->d_name) < (int)sizeof path)
                rm_tree(path);
        }
    }
    closedir(d);
}

/* Unpack the payload of `self` into `tmp`, patching each marked file's loader path so it
 * names `interp` (the loader's final location). Returns 0, -1 with a reason in `why` for a
 * problem of the directory, or DAMAGED when the file itself is bad (no place will do). */
static int unpack(const char *self, const char *tmp, const char *interp, const char **why) {
    static struct reader r;
    unsigned char trailer[TRAILER_SIZE];
    int rc = -1;
    r.fd = open(self, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) {
        *why = "cannot read the launcher file";
        return -1;
    }
    off_t size = lseek(r.fd, 0, SEEK_END);
    if (size < TRAILER_SIZE ||
        pread(r.fd, trailer, TRAILER_SIZE, size - TRAILER_SIZE) != TRAILER_SIZE ||
        memcmp(trailer, TRAILER_MAGIC, 8) != 0 || memcmp(trailer + 24, PAYLOAD_ID, 16) != 0) {
        *why = "the file is damaged (no payload trailer); download it again";
        close(r.fd);
        return DAMAGED;
    }
    r.pos = le64(trailer + 8);
    r.end = r.pos + le64(trailer + 16);
    r.ds = ZSTD_createDStream();
    ZSTD_initDStream(r.ds);
    r.ib.src = r.in;
    r.ib.size = r.ib.pos = 0;
    static unsigned char buf[1 << 17];
    char path[PATH_MAX];
    size_t tmp_len = strlen(tmp);
    for (;;) {
        unsigned char h[RECORD_HEADER];
        if (zread(&r, h, sizeof h) != 0) goto damaged;
        char kind = (char)h[0];
        if (kind == 'e') break;
        mode_t mode = le32(h + 1) & 07777;
        size_t plen = (size_t)h[5] | (size_t)h[6] << 8;
        uint64_t fsize = le64(h + 7), patch_off = le64(h + 15);
        uint32_t patch_cap = le32(h + 23);
        if (tmp_len + 1 + plen >= sizeof path) {
            *why = "path too long";
            goto out;
        }
        memcpy(path, tmp, tmp_len);
        path[tmp_len] = '/';
        if (zread(&r, path + tmp_len + 1, plen) != 0) goto damaged;
        path[tmp_len + 1 + plen] = '\0';
        if (!safe_rel(path + tmp_len + 1)) goto damaged;
        if (kind == 'd') {
            if (mkdir(path, 0755) != 0 && errno != EEXIST) goto io;
        } else if (kind == 'l') {
            char target[PATH_MAX];
            if (fsize >= sizeof target || zread(&r, target, (size_t)fsize) != 0) goto damaged;
            target[fsize] = '\0';
            if (symlink(target, path) != 0) goto io;
        } else if (kind == 'f') {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode ? mode : 0644);
            if (fd < 0) goto io;
            for (uint64_t left = fsize; left;) {
                size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
                if (zread(&r, buf, n) != 0) {
                    close(fd);
                    goto damaged;
                }
                if (write_all(fd, buf, n) != 0) {
                    close(fd);
                    goto io;
                }
                left -= n;
            }
            if (patch_off != NO_PATCH) {
                size_t ilen = strlen(interp);
                if (ilen + 1 > patch_cap) {
                    close(fd);
                    *why = "the unpack path is too long for the program's loader path";
                    goto out;
                }
                memset(buf, 0, patch_cap);
                memcpy(buf, interp, ilen);
                if (pwrite(fd, buf, patch_cap, (off_t)patch_off) != (ssize_t)patch_cap) {
                    close(fd);
                    goto io;
                }
            }
            if (close(fd) != 0) goto io;
        } else {
            goto damaged;
        }
    }
    rc = 0;
    goto out;
damaged:
    *why = "the file is damaged (its payload does not decompress); download it again";
    rc = DAMAGED;
    goto out;
io:
    *why = strerror(errno);
out:
    ZSTD_freeDStream(r.ds);
    close(r.fd);
    return rc;
}

/* Unpack into <base>/<version>-<id> through a private temp dir renamed into place, so a
 * concurrent first run or an interrupted one never leaves a half tree behind the stamp. */
static int install(const struct candidate *c, const char *dir, const char *self,
                   const char **why) {
    char tmp[PATH_MAX], interp[PATH_MAX], stamp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/.unpack-%s-%ld", c->base, PAYLOAD_ID, (long)getpid()) >=
        (int)sizeof tmp) {
        *why = "path too long";
        return -1;
    }
    if (snprintf(interp, sizeof interp, "%s/%s", dir, INTERP_REL) >= (int)sizeof interp) {
        *why = "path too long";
        return -1;
    }
    clean_abandoned(c->base);
    if (mkdir(tmp, 0755) != 0) {
        *why = strerror(errno);
        return -1;
    }
    int rc = unpack(self, tmp, interp, why);
    if (rc != 0) {
        rm_tree(tmp);
        return rc;
    }
    if (snprintf(stamp, sizeof stamp, "%s/%s", tmp, STAMP_NAME) >= (int)sizeof stamp) {
        *why = "path too long";
        rm_tree(tmp);
        return -1;
    }
    int fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, CODEX_VERSION " " PAYLOAD_ID "\n",
                            sizeof(CODEX_VERSION " " PAYLOAD_ID "\n") - 1) != 0) {
        *why = strerror(errno);
        if (fd >= 0) close(fd);
        rm_tree(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, dir) == 0) return 0;
    int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) {
        /* Another first run won the race: its tree is as good as ours. A tree without its
         * stamp is a broken leftover: move it aside and put ours in its place. */
        char dir_stamp[PATH_MAX], stale[PATH_MAX];
        struct stat st;
        if (snprintf(dir_stamp, sizeof dir_stamp, "%s/%s", dir, STAMP_NAME) <
                (int)sizeof dir_stamp &&
            stat(dir_stamp, &st) == 0) {
            rm_tree(tmp);
            return 0;
        }
        if (snprintf(stale, sizeof stale, "%s/.stale-%s-%ld", c->base, PAYLOAD_ID,
                     (long)getpid()) < (int)sizeof stale &&
            rename(dir, stale) == 0) {
            rm_tree(stale);
            if (rename(tmp, dir) == 0) return 0;
        }
        err = errno;
    }
    rm_tree(tmp);
    *why = strerror(err);
    return -1;
}

/* Returns only on failure, with errno set. */
static void run(const char *dir, char **argv) {
    static char prog[PATH_MAX];
    if (snprintf(prog, sizeof prog, "%s/%s", dir, PROGRAM_REL) >= (int)sizeof prog) {
        errno = ENAMETOOLONG;
        return;
    }
    argv[0] = prog; /* the freezers locate their files from argv[0] / /proc/self/exe */
    execv(prog, argv);
}

int main(int argc, char **argv) {
    (void)argc;
    char self[PATH_MAX];
    const char *why = "no usable directory";
    const char *last_dir = "";
    static char dir[PATH_MAX];
    struct candidate c[MAX_CANDIDATES];
    if (argv[0] && *argv[0]) {
        const char *slash = strrchr(argv[0], '/');
        prog_name = slash ? slash + 1 : argv[0];
    }
    if (self_path(self, sizeof self, argv[0] ? argv[0] : "codex") != 0)
        die("cannot find my own file (%s%s)", "no /proc and not found on PATH", "");
    setenv("CODEX_LAUNCHER_PATH", self, 1);
    save_loader_vars();
    int n = candidates(c);
    for (int i = 0; i < n; i++) {
        char stamp[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/%s-%s", c[i].base, CODEX_VERSION, PAYLOAD_ID) >=
            (int)sizeof dir)
            continue;
        if (snprintf(stamp, sizeof stamp, "%s/%s", dir, STAMP_NAME) >= (int)sizeof stamp) continue;
        last_dir = c[i].base;
        struct stat st;
        if (stat(stamp, &st) == 0 && base_is_safe(&c[i])) {
            run(dir, argv);
            if (errno != ENOENT) { /* noexec mount or similar: try the next place */
                why = strerror(errno);
                continue;
            }
            /* Part of the tree was deleted (a cache cleaner): unpack it afresh. */
            char old[PATH_MAX];
            if (snprintf(old, sizeof old, "%s/.stale-%s-%ld", c[i].base, PAYLOAD_ID,
                         (long)getpid()) < (int)sizeof old &&
                rename(dir, old) == 0)
                rm_tree(old);
        }
        if (mkdirs(c[i].base, 0700) != 0) {
            why = strerror(errno);
            continue;
        }
        if (!base_is_safe(&c[i])) {
            why = "directory is not private to this user";
            continue;
        }
#ifdef ST_NOEXEC /* Linux; elsewhere the failing execve below moves us on */
        struct statvfs vfs;
        if (statvfs(c[i].base, &vfs) == 0 && (vfs.f_flag & ST_NOEXEC)) {
            why = "mounted noexec";
            continue;
        }
#endif
        int rc = install(&c[i], dir, self, &why);
        if (rc == DAMAGED) die("%s (%s)", why, self);
        if (rc != 0) continue;
        run(dir, argv);
        why = strerror(errno);
    }
    die("cannot unpack and run the program (last tried %s: %s); set CODEX_UNPACK_DIR to a "
        "writable directory on an exec-enabled filesystem",
        last_dir, why);
    return 127;
}
