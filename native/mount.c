/*
 * The container's filesystem: rootfs, mounts, device nodes, symlinks, masks,
 * read-only paths, pivot_root/chroot and sysctls.
 *
 * Everything in a rootfs (and in any volume shared with another container) is
 * hostile and may change between two syscalls. So every path inside the root
 * is resolved with openat2(RESOLVE_IN_ROOT) from the root fd, checked with
 * fstat, and acted on through its fd (/proc/self/fd/N, move_mount,
 * mount_setattr): CVE-2021-30465 (symlink swap on a mount destination),
 * CVE-2019-18837 (symlink resolution escaping the rootfs), CVE-2019-19921
 * (/proc as a symlink). procfs and sysfs go one step further: they are made
 * as detached mounts whose fds are kept ("pinned"), and the masks and
 * read-only paths under them resolve beneath those fds, so no rename in the
 * rootfs between the mount and the masks can leave a procfs unmasked.
 */
#include "tsrun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PROPAGATION_FLAGS (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

int root_fd(struct ctx *c)
{
	/* Before ROOTFS (an exec plan has none) in-root paths resolve from "/". */
	if (c->root_fd < 0)
		c->root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return c->root_fd;
}

int open_in_root(struct ctx *c, const char *path, int flags, uint64_t resolve)
{
	int dir = root_fd(c);
	if (dir < 0)
		return -1;
	/* RESOLVE_IN_ROOT: "..", absolute symlinks and "/" all stop at the root fd. */
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, dir, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

static const char *fdpath(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

static int close_keep_errno(int fd)
{
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return -1;
}

/* Creates one missing entry (directory, or file when file=1) named name in dir fd. */
static int create_entry(int dirfd, const char *name, int file)
{
	if (file) {
		int f = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (f < 0)
			return errno == EEXIST ? 0 : -1;
		close(f);
		return 0;
	}
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * mkdir -p inside the root: each missing component is created with
 * mkdirat() on an in-root fd of its parent, so a symlink planted anywhere on
 * the way resolves inside the rootfs, never on the host.
 */
int open_in_root_create(struct ctx *c, const char *path, int file, int nofollow)
{
	int last_flags = O_PATH | (nofollow ? O_NOFOLLOW : 0);
	int fd = open_in_root(c, path, last_flags, 0);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	size_t len = strlen(path);
	char *buf = malloc(len + 2);
	if (!buf)
		return -1;
	memcpy(buf, path, len + 1);
	size_t pos = 0;
	while (pos < len) {
		while (buf[pos] == '/')
			pos++;
		if (!buf[pos])
			break;
		size_t start = pos;
		while (buf[pos] && buf[pos] != '/')
			pos++;
		int last = buf[pos + strspn(buf + pos, "/")] == 0;
		char saved = buf[pos];
		buf[pos] = 0;
		fd = open_in_root(c, buf, last ? last_flags : O_PATH, 0);
		if (fd < 0 && errno == ENOENT) {
			char savedc = buf[start];
			buf[start] = 0;
			int parent = open_in_root(c, start ? buf : "/", O_PATH | O_DIRECTORY, 0);
			buf[start] = savedc;
			if (parent < 0 || create_entry(parent, buf + start, last && file) < 0) {
				close_keep_errno(parent);
				free(buf);
				return -1;
			}
			close(parent);
			fd = open_in_root(c, buf, last ? last_flags : O_PATH, 0);
		}
		buf[pos] = saved;
		if (fd < 0 || last) {
			free(buf);
			return fd;
		}
		close(fd);
	}
	free(buf);
	/* Only slashes: the root itself. */
	return open_in_root(c, "/", O_PATH, 0);
}

int mount_on_fd(const char *source, int target_fd, const char *fstype, unsigned long flags, const char *data)
{
	char t[32];
	return mount(source && *source ? source : NULL, fdpath(target_fd, t), fstype && *fstype ? fstype : NULL, flags,
		     data && *data ? data : NULL);
}

/*
 * In a user namespace the kernel locks the nosuid/nodev/noexec/rdonly/atime
 * flags an outer mount has: a remount that would clear them fails with EPERM.
 * Retry once with the flags the mount already has.
 */
static unsigned long locked_flags(int fd, const char *path)
{
	struct statfs st;
	if ((fd >= 0 ? fstatfs(fd, &st) : statfs(path, &st)) < 0)
		return 0;
	unsigned long f = 0;
	if (st.f_flags & ST_NOSUID)
		f |= MS_NOSUID;
	if (st.f_flags & ST_NODEV)
		f |= MS_NODEV;
	if (st.f_flags & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (st.f_flags & ST_RDONLY)
		f |= MS_RDONLY;
	if (st.f_flags & ST_NOATIME)
		f |= MS_NOATIME;
	if (st.f_flags & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (st.f_flags & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int remount_bind(int fd, const char *path, unsigned long flags)
{
	char t[32];
	const char *target = fd >= 0 ? fdpath(fd, t) : path;
	unsigned long base = MS_REMOUNT | MS_BIND;
	if (mount(NULL, target, NULL, base | flags, NULL) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	return mount(NULL, target, NULL, base | flags | locked_flags(fd, path), NULL);
}

int step_rootfs(struct ctx *c, const struct step *s)
{
	uint64_t propagation = arg_u64(s, 0);
	const char *rootfs = arg_str(s, 1);
	/* Mount events must not travel back to the host: change / before any mount. */
	doing(c, "set the propagation of \"/\"");
	if (propagation && mount(NULL, "/", NULL, (unsigned long)propagation, NULL) < 0)
		return -1;
	doing(c, "open the rootfs \"%s\"", rootfs);
	int fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* pivot_root needs the new root to be a mount point: bind it onto itself. */
	doing(c, "bind the rootfs \"%s\" onto itself", rootfs);
	char t[32];
	fdpath(fd, t);
	if (mount(t, t, NULL, MS_BIND | MS_REC, NULL) < 0)
		return close_keep_errno(fd);
	close(fd);
	doing(c, "open the rootfs \"%s\"", rootfs);
	fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (c->root_fd >= 0)
		close(c->root_fd);
	c->root_fd = fd;
	return 0;
}

/*
 * What a mount just made looks like, to find it again by name for what
 * mount(2) cannot do in the same call (a bind's flags, propagation,
 * mount_setattr). A bind is known by its root inode (the source's); a new
 * filesystem by being a mount root of its type, on top of the destination's
 * own mount.
 */
struct made_mount {
	int by_inode;
	dev_t dev;
	ino_t ino;
	long magic;	  /* statfs f_type of a new filesystem; 0: not checked */
	uint64_t under;	  /* mount id of the destination before the mount */
};

static long fs_magic(const char *fstype)
{
	static const struct {
		const char *name;
		long magic;
	} known[] = { { "tmpfs", 0x01021994 }, { "devpts", 0x1cd1 }, { "mqueue", 0x19800202 }, { "cgroup", 0x27e0eb },
		      { "cgroup2", 0x63677270 }, { "proc", 0x9fa0 }, { "sysfs", 0x62656572 } };
	for (size_t i = 0; fstype && i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(fstype, known[i].name))
			return known[i].magic;
	return 0;
}

/*
 * The destination found again by name after a mount on it, accepted only if
 * it is the mount just made. The name belongs to the rootfs, which may be a
 * volume another container renames in: with the destination of a read-only
 * bind swapped with another volume's between the bind and the remount, the
 * remount made the other volume read-only and the bind stayed writable (66
 * of 100 containers could write a read-only host directory; found by
 * test/security/races.test.ts with a renameat2 RENAME_EXCHANGE loop). Now
 * that fails the container instead.
 */
static int reopen_made(struct ctx *c, const char *dest, const struct made_mount *m)
{
	int fd = open_in_root(c, dest, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return -1;
	int same;
	if (m->by_inode) {
		struct stat st;
		same = fstat(fd, &st) == 0 && st.st_dev == m->dev && st.st_ino == m->ino;
	} else {
		struct statfs sf;
		struct statx sx;
		same = statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) == 0 && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) &&
		       sx.stx_mnt_id != m->under && (m->magic == 0 || (fstatfs(fd, &sf) == 0 && sf.f_type == m->magic));
	}
	if (!same) {
		close(fd);
		snprintf(c->detail, DETAIL_MAX, "\"%s\" is no longer the mount just made on it: it was renamed or swapped during set-up (the rootfs or a volume shared with another container)", dest);
		errno = EBUSY;
		return -1;
	}
	return fd;
}

/* Records the destination's mount id, for a new filesystem's made_mount. */
static int made_fs(int dest_fd, const char *fstype, struct made_mount *m)
{
	struct statx sx;
	if (statx(dest_fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0)
		return -1;
	*m = (struct made_mount){ .by_inode = 0, .magic = fs_magic(fstype), .under = sx.stx_mnt_id };
	return 0;
}

/* Records the root inode a bind of `fd` (a source, or a detached tree) will have. */
static int made_bind(int fd, const char *path, struct made_mount *m)
{
	struct stat st;
	if (fd >= 0 ? fstat(fd, &st) < 0 : !path || stat(path, &st) < 0)
		return -1;
	*m = (struct made_mount){ .by_inode = 1, .dev = st.st_dev, .ino = st.st_ino };
	return 0;
}

static int check_dest(int fd, const char *fstype)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	/* Mounting "on" a symlink would follow it at mount time: refuse it outright. */
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	/* CVE-2019-19921 and its repeats: procfs and sysfs only on an ordinary directory. */
	if ((!strcmp(fstype, "proc") || !strcmp(fstype, "sysfs")) && !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int mount_after(struct ctx *c, const char *dest, const struct made_mount *m, uint64_t propagation, uint64_t attr_set, uint64_t attr_clr)
{
	if (propagation) {
		int fd = reopen_made(c, dest, m);
		if (fd < 0)
			return -1;
		if (mount_on_fd(NULL, fd, NULL, (unsigned long)propagation, NULL) < 0)
			return close_keep_errno(fd);
		close(fd);
	}
	if (attr_set || attr_clr) {
		int fd = reopen_made(c, dest, m);
		if (fd < 0)
			return -1;
		struct mount_attr attr = { .attr_set = attr_set, .attr_clr = attr_clr };
		if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
			return close_keep_errno(fd);
		close(fd);
	}
	return 0;
}

/* mount(2)'s per-mount flags as fsmount(2) attributes (the superblock ones go to fsconfig). */
static unsigned int mount_attrs_of(unsigned long flags)
{
	unsigned int a = 0;
	if (flags & MS_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (flags & MS_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (flags & MS_NODIRATIME)
		a |= MOUNT_ATTR_NODIRATIME;
	if (flags & MS_NOATIME)
		a |= MOUNT_ATTR_NOATIME;
	else if (flags & MS_STRICTATIME)
		a |= MOUNT_ATTR_STRICTATIME;
	return a;
}

/*
 * A new procfs or sysfs as a detached mount (fsopen, fsconfig, fsmount), not
 * yet attached: its fd is the handle masks and read-only paths use later.
 * mount(2) on the destination would leave only a name to find it by again,
 * and the rootfs (or a volume shared with another container) can swap that
 * name between the mount and the masks: with /proc renamed away at that
 * moment, a mask found nothing, was skipped, and the container got an
 * unmasked procfs with a writable core_pattern (CVE-2019-19921,
 * CVE-2023-27561; found by the race test in test/security/races.test.ts).
 */
static int new_mount(struct ctx *c, const char *source, const char *dest, const char *fstype, unsigned long flags, const char *data)
{
	doing(c, "mount \"%s\" on \"%s\": fsopen(\"%s\")", source, dest, fstype);
	int fs = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	doing(c, "mount \"%s\" on \"%s\": source", source, dest);
	if (source && *source && fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return close_keep_errno(fs);
	static const struct {
		unsigned long flag;
		const char *name;
	} sb_flags[] = { { MS_RDONLY, "ro" }, { MS_SYNCHRONOUS, "sync" }, { MS_DIRSYNC, "dirsync" }, { MS_LAZYTIME, "lazytime" }, { MS_MANDLOCK, "mand" } };
	for (size_t i = 0; i < sizeof(sb_flags) / sizeof(sb_flags[0]); i++) {
		doing(c, "mount \"%s\" on \"%s\": option \"%s\"", source, dest, sb_flags[i].name);
		if ((flags & sb_flags[i].flag) && fsconfig(fs, FSCONFIG_SET_FLAG, sb_flags[i].name, NULL, 0) < 0)
			return close_keep_errno(fs);
	}
	if (data && *data) {
		char *copy = strdup(data), *save = NULL;
		if (!copy)
			return close_keep_errno(fs);
		for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
			doing(c, "mount \"%s\" on \"%s\": option \"%s\"", source, dest, opt);
			char *eq = strchr(opt, '=');
			int r;
			if (eq) {
				*eq = 0;
				r = fsconfig(fs, FSCONFIG_SET_STRING, opt, eq + 1, 0);
			} else {
				r = fsconfig(fs, FSCONFIG_SET_FLAG, opt, NULL, 0);
			}
			if (r < 0) {
				int e = errno;
				free(copy);
				close(fs);
				errno = e;
				return -1;
			}
		}
		free(copy);
	}
	doing(c, "mount \"%s\" on \"%s\"", source, dest);
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return close_keep_errno(fs);
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, mount_attrs_of(flags));
	close_keep_errno(fs);
	return mnt;
}

/* Propagation and mount_setattr attributes, on a mount's own fd. */
static int set_mount_attrs(int mnt, uint64_t propagation, uint64_t attr_set, uint64_t attr_clr)
{
	if (propagation) {
		struct mount_attr p = { .propagation = propagation & PROPAGATION_FLAGS };
		if (mount_setattr(mnt, "", AT_EMPTY_PATH | (propagation & MS_REC ? AT_RECURSIVE : 0), &p, sizeof(p)) < 0)
			return -1;
	}
	if (attr_set || attr_clr) {
		struct mount_attr a = { .attr_set = attr_set, .attr_clr = attr_clr };
		if (mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
			return -1;
	}
	return 0;
}

static int pin_mount(struct ctx *c, const char *dest, int mnt)
{
	int *fds = realloc(c->pin_fds, (c->npins + 1) * sizeof(int));
	if (!fds)
		return -1;
	c->pin_fds = fds;
	char **dests = realloc(c->pin_dests, (c->npins + 1) * sizeof(char *));
	if (!dests)
		return -1;
	c->pin_dests = dests;
	/* Compared with mask paths as "/proc": one leading slash, none trailing. */
	while (*dest == '/')
		dest++;
	char *d = malloc(strlen(dest) + 2);
	if (!d)
		return -1;
	d[0] = '/';
	strcpy(d + 1, dest);
	for (size_t n = strlen(d); n > 1 && d[n - 1] == '/'; n--)
		d[n - 1] = 0;
	c->pin_fds[c->npins] = mnt;
	c->pin_dests[c->npins++] = d;
	return 0;
}

/*
 * A mask or read-only path: beneath the procfs or sysfs mount it names (the
 * longest destination that is a prefix, the latest of equals), else in the
 * root. Beneath a pinned mount "missing" can only mean the kernel has no
 * such file.
 */
static int open_protected(struct ctx *c, const char *path)
{
	const char *p = path;
	while (p[0] == '/' && p[1] == '/')
		p++;
	int best = -1;
	size_t best_len = 0;
	for (uint32_t i = 0; i < c->npins; i++) {
		size_t n = strlen(c->pin_dests[i]);
		if (n >= best_len && !strncmp(p, c->pin_dests[i], n) && p[n] == '/') {
			best = (int)i;
			best_len = n;
		}
	}
	if (best < 0)
		return open_in_root(c, path, O_PATH, 0);
	const char *rest = p + best_len;
	while (*rest == '/')
		rest++;
	if (!*rest)
		return open_in_root(c, path, O_PATH, 0);
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	int fd;
	do
		fd = (int)syscall(SYS_openat2, c->pin_fds[best], rest, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

int step_mount(struct ctx *c, const struct step *s)
{
	const char *source = arg_str(s, 0), *dest = arg_str(s, 1), *fstype = arg_str(s, 2), *data = arg_str(s, 4);
	unsigned long flags = (unsigned long)arg_u64(s, 3) & ~(unsigned long)PROPAGATION_FLAGS;
	uint64_t propagation = arg_u64(s, 5), attr_set = arg_u64(s, 6), attr_clr = arg_u64(s, 7), kind = arg_u64(s, 8);
	doing(c, "mount \"%s\" on \"%s\": create or open the destination", source, dest);
	int fd = open_in_root_create(c, dest, kind == 1, 1);
	if (fd < 0)
		return -1;
	doing(c, "mount \"%s\" on \"%s\": check the destination", source, dest);
	if (check_dest(fd, fstype) < 0)
		return close_keep_errno(fd);
	doing(c, "mount \"%s\" on \"%s\"", source, dest);
	struct made_mount made;
	if (flags & MS_BIND && !(flags & MS_REMOUNT)) {
		if (made_bind(-1, source, &made) < 0)
			return close_keep_errno(fd);
		/* A bind ignores every flag but MS_REC: apply the others with a remount of the new mount. */
		if (mount_on_fd(source, fd, NULL, flags & (MS_BIND | MS_REC), NULL) < 0)
			return close_keep_errno(fd);
		close(fd);
		unsigned long rest = flags & ~(unsigned long)(MS_BIND | MS_REC);
		if (rest) {
			doing(c, "remount \"%s\" on \"%s\"", source, dest);
			fd = reopen_made(c, dest, &made);
			if (fd < 0 || remount_bind(fd, NULL, rest) < 0)
				return close_keep_errno(fd);
			close(fd);
		}
	} else if (!strcmp(fstype, "proc") || !strcmp(fstype, "sysfs")) {
		int mnt = new_mount(c, source, dest, fstype, flags, data);
		if (mnt < 0)
			return close_keep_errno(fd);
		doing(c, "mount \"%s\" on \"%s\"", source, dest);
		if (move_mount(mnt, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
			close_keep_errno(fd);
			return close_keep_errno(mnt);
		}
		close(fd);
		doing(c, "set propagation and attributes of \"%s\"", dest);
		if (set_mount_attrs(mnt, propagation, attr_set, attr_clr) < 0 || pin_mount(c, dest, mnt) < 0)
			return close_keep_errno(mnt);
		return 0;
	} else {
		/* A remount changes the mount already there: it is found again by its root inode. */
		if ((flags & MS_REMOUNT ? made_bind(fd, NULL, &made) : made_fs(fd, fstype, &made)) < 0 ||
		    mount_on_fd(source, fd, fstype, flags, data) < 0)
			return close_keep_errno(fd);
		close(fd);
	}
	doing(c, "set propagation and attributes of \"%s\"", dest);
	return mount_after(c, dest, &made, propagation, attr_set, attr_clr);
}

/* Splits an in-root path into an fd of its (created if missing) parent and the last component. */
static int open_parent(struct ctx *c, const char *path, char **name_out, char **copy_out)
{
	char *copy = strdup(path);
	if (!copy)
		return -1;
	size_t len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = 0;
	char *slash = strrchr(copy, '/');
	char *name = slash ? slash + 1 : copy;
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		free(copy);
		errno = EINVAL;
		return -1;
	}
	int fd;
	if (!slash) {
		fd = open_in_root(c, "/", O_PATH | O_DIRECTORY, 0);
	} else {
		*slash = 0;
		fd = open_in_root_create(c, *copy ? copy : "/", 0, 0);
	}
	if (fd < 0) {
		free(copy);
		return -1;
	}
	*name_out = name;
	*copy_out = copy;
	return fd;
}

/* EPERM from mknod (user namespace): bind the host's node of the same path instead. */
static int bind_host_node(int pfd, const char *name, const char *path, uint64_t type)
{
	if (strncmp(path, "/dev/", 5) != 0) {
		errno = EPERM;
		return -1;
	}
	int host = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (host < 0)
		return -1;
	struct stat st;
	if (fstat(host, &st) < 0 || (st.st_mode & S_IFMT) != type) {
		close(host);
		errno = EPERM;
		return -1;
	}
	if (create_entry(pfd, name, 1) < 0)
		return close_keep_errno(host);
	int target = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return close_keep_errno(host);
	char src[32];
	int r = mount_on_fd(fdpath(host, src), target, NULL, MS_BIND, NULL);
	int e = errno;
	close(host);
	close(target);
	errno = e;
	return r;
}

static int same_node(int pfd, const char *name, uint64_t type, dev_t dev)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if ((st.st_mode & S_IFMT) != type || (type != S_IFIFO && st.st_rdev != dev)) {
		errno = EEXIST;
		return -1;
	}
	return 0;
}

/* Owner and mode through an O_PATH fd of the new node: the name could be swapped meanwhile. */
static int set_owner_mode(int pfd, const char *name, uint64_t type, uint64_t mode, uint64_t uid, uint64_t gid)
{
	int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type) {
		close(fd);
		errno = EEXIST;
		return -1;
	}
	char p[32];
	if (fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH) < 0 || chmod(fdpath(fd, p), (mode_t)(mode & 07777)) < 0)
		return close_keep_errno(fd);
	close(fd);
	return 0;
}

int step_mknod(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 0);
	uint64_t type = arg_u64(s, 1), mode = arg_u64(s, 4), uid = arg_u64(s, 5), gid = arg_u64(s, 6);
	dev_t dev = makedev((unsigned)arg_u64(s, 2), (unsigned)arg_u64(s, 3));
	doing(c, "mknod \"%s\"", path);
	if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO) {
		errno = EINVAL;
		return -1;
	}
	char *name, *copy;
	int pfd = open_parent(c, path, &name, &copy);
	if (pfd < 0)
		return -1;
	int r = 0;
	if (mknodat(pfd, name, (mode_t)(type | (mode & 07777)), dev) < 0) {
		if (errno == EEXIST)
			r = same_node(pfd, name, type, dev);
		else if (errno == EPERM) {
			doing(c, "bind the host's \"%s\" (mknod is not permitted)", path);
			r = bind_host_node(pfd, name, path, type);
			goto out;
		} else
			r = -1;
	}
	if (r == 0)
		r = set_owner_mode(pfd, name, type, mode, uid, gid);
out:
	close_keep_errno(pfd);
	free(copy);
	return r;
}

int step_symlink(struct ctx *c, const struct step *s)
{
	const char *target = arg_str(s, 0), *path = arg_str(s, 1);
	doing(c, "symlink \"%s\" -> \"%s\"", path, target);
	char *name, *copy;
	int pfd = open_parent(c, path, &name, &copy);
	if (pfd < 0)
		return -1;
	int r = symlinkat(target, pfd, name);
	if (r < 0 && errno == EEXIST) {
		/* An existing link with the same target is fine (an image may ship /dev/fd). */
		size_t tl = strlen(target);
		char *buf = malloc(tl + 2);
		ssize_t n = buf ? readlinkat(pfd, name, buf, tl + 2) : -1;
		r = n == (ssize_t)tl && memcmp(buf, target, tl) == 0 ? 0 : -1;
		free(buf);
		errno = EEXIST;
	}
	close_keep_errno(pfd);
	free(copy);
	return r;
}

int step_pivot_root(struct ctx *c)
{
	doing(c, "open the old root");
	int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old_root < 0)
		return -1;
	doing(c, "pivot_root into the rootfs");
	if (fchdir(root_fd(c)) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) {
		int e = errno;
		close(old_root);
		errno = e;
		return -1;
	}
	/*
	 * pivot_root(".", ".") stacks the old root on the new one: no put_old
	 * directory in the image needed. mount(2) resolves "." to the mount the
	 * cwd is on, which is still the new root: making "." a slave here would
	 * turn every container mount into a slave and erase its own propagation
	 * (an rshared volume would stop propagating). Step onto the old root first.
	 */
	int r = fchdir(old_root);
	int e = errno;
	close(old_root);
	if (r < 0) {
		errno = e;
		return -1;
	}
	/* The old root must not propagate the detach to the host's mounts. */
	doing(c, "make the old root a slave");
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return -1;
	doing(c, "detach the old root");
	if (umount2(".", MNT_DETACH) < 0)
		return -1;
	if (chdir("/") < 0)
		return -1;
	close(c->root_fd);
	c->root_fd = -1;
	return root_fd(c) < 0 ? -1 : 0;
}

static void unescape_mountinfo(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
}

static int by_length_desc(const void *a, const void *b)
{
	return (int)strlen(*(char *const *)b) - (int)strlen(*(char *const *)a);
}

/*
 * --no-pivot keeps the old root under the chroot, in the container's mount
 * namespace: a host procfs or sysfs left there lets the container mount a
 * fresh, unmasked procfs from a new user namespace (the kernel allows it when
 * a fully visible one exists). Detach every mount that is neither the rootfs,
 * below it, nor one of its ancestors (runc's msMoveRoot does the same).
 */
static int detach_outside_rootfs(struct ctx *c)
{
	char self[64], root[4096];
	snprintf(self, sizeof(self), "self/fd/%d", c->root_fd);
	ssize_t rl = readlinkat(c->proc_fd, self, root, sizeof(root) - 1);
	if (rl <= 0)
		return -1;
	root[rl] = 0;
	int fd = openat(c->proc_fd, "self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			close(fd);
			return -1;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	close(fd);
	buf[len] = 0;
	size_t n = 0, max = 0;
	char **points = NULL;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *f = line;
		for (int i = 0; i < 4 && f; i++) {
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		if (!f)
			continue;
		char *end = strchr(f, ' ');
		if (end)
			*end = 0;
		unescape_mountinfo(f);
		size_t fl = strlen(f), rlen = strlen(root);
		int under = fl >= rlen && !strncmp(f, root, rlen) && (f[rlen] == 0 || f[rlen] == '/');
		int ancestor = fl < rlen && !strncmp(root, f, fl) && (root[fl] == '/' || fl == 1);
		if (under || ancestor)
			continue;
		if (n == max) {
			max = max ? max * 2 : 64;
			char **p = realloc(points, max * sizeof(*points));
			if (!p)
				break;
			points = p;
		}
		points[n++] = f;
	}
	qsort(points, n, sizeof(*points), by_length_desc);
	for (size_t i = 0; i < n; i++)
		umount2(points[i], MNT_DETACH); /* one may already be gone with its parent */
	free(points);
	free(buf);
	return 0;
}

int step_chroot(struct ctx *c)
{
	doing(c, "detach the mounts outside the rootfs");
	if (detach_outside_rootfs(c) < 0)
		return -1;
	doing(c, "move the rootfs onto \"/\" and chroot");
	if (fchdir(root_fd(c)) < 0)
		return -1;
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return -1;
	if (chroot(".") < 0 || chdir("/") < 0)
		return -1;
	close(c->root_fd);
	c->root_fd = -1;
	return root_fd(c) < 0 ? -1 : 0;
}

int step_mask_path(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 0);
	doing(c, "mask \"%s\"", path);
	int fd = open_protected(c, path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return close_keep_errno(fd);
	int r;
	if (S_ISDIR(st.st_mode)) {
		r = mount_on_fd("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
	} else {
		/* The host's /dev/null, verified 1:3 at startup, never the container's (CVE-2025-31133). */
		char src[32];
		r = mount_on_fd(fdpath(c->devnull_fd, src), fd, NULL, MS_BIND, NULL);
	}
	close_keep_errno(fd);
	return r;
}

int step_readonly_path(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 0);
	doing(c, "make \"%s\" read-only", path);
	int fd = open_protected(c, path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/* A detached recursive copy is made read-only, then moved on top: no path string is used. */
	int tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0)
		return close_keep_errno(fd);
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	int r = mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr));
	if (r == 0)
		r = move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	close_keep_errno(tree);
	close_keep_errno(fd);
	return r;
}

/* CVE-2025-52881: sysctls go through a procfs instance of our own, not through any /proc the container can reach. */
static int private_procfs(struct ctx *c)
{
	if (c->sysctl_proc_fd >= 0)
		return c->sysctl_proc_fd;
	int fs = fsopen("proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return close_keep_errno(fs);
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	close_keep_errno(fs);
	c->sysctl_proc_fd = mnt;
	return mnt;
}

int step_sysctl(struct ctx *c, const struct step *s)
{
	const char *key = arg_str(s, 0), *value = arg_str(s, 1);
	doing(c, "sysctl \"%s\": mount a private procfs", key);
	int proc = private_procfs(c);
	if (proc < 0)
		return -1;
	size_t kl = strlen(key);
	char *path = malloc(kl + 5);
	if (!path)
		return -1;
	memcpy(path, "sys/", 4);
	for (size_t i = 0; i <= kl; i++)
		path[4 + i] = key[i] == '.' ? '/' : key[i];
	doing(c, "sysctl \"%s\": open /proc/%s", key, path);
	struct open_how how = {
		.flags = O_WRONLY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int fd = (int)syscall(SYS_openat2, proc, path, &how, sizeof(how));
	free(path);
	if (fd < 0)
		return -1;
	doing(c, "sysctl \"%s\": write \"%s\"", key, value);
	ssize_t n = write(fd, value, strlen(value));
	close_keep_errno(fd);
	return n < 0 ? -1 : 0;
}

int step_remount_root_ro(struct ctx *c)
{
	doing(c, "remount \"/\" read-only");
	return remount_bind(-1, "/", MS_RDONLY);
}

int step_root_propagation(struct ctx *c, const struct step *s)
{
	uint64_t flags = arg_u64(s, 0);
	doing(c, "set the propagation of \"/\" to 0x%llx", (unsigned long long)flags);
	return mount(NULL, "/", NULL, (unsigned long)flags, NULL);
}

/*
 * MOUNT_TREE: attaches a detached mount P prepared (IDMAP_TREE) at dest in
 * the root, then applies the remaining flags with a bind remount, and the
 * propagation and recursive attributes, as MOUNT does for a bind.
 */
int step_mount_tree(struct ctx *c, const struct step *s)
{
	uint64_t tree = arg_u64(s, 0);
	const char *dest = arg_str(s, 1);
	unsigned long flags = (unsigned long)arg_u64(s, 2) & ~(unsigned long)(PROPAGATION_FLAGS | MS_BIND | MS_REC | MS_REMOUNT);
	uint64_t propagation = arg_u64(s, 3), attr_set = arg_u64(s, 4), attr_clr = arg_u64(s, 5), kind = arg_u64(s, 6);
	doing(c, "attach idmapped mount %llu on \"%s\"", (unsigned long long)tree, dest);
	if (tree >= c->ntrees) {
		errno = EINVAL;
		return -1;
	}
	doing(c, "attach idmapped mount on \"%s\": create or open the destination", dest);
	int fd = open_in_root_create(c, dest, kind == 1, 1);
	if (fd < 0)
		return -1;
	if (check_dest(fd, "") < 0)
		return close_keep_errno(fd);
	struct made_mount made;
	if (made_bind(c->trees[tree], NULL, &made) < 0)
		return close_keep_errno(fd);
	doing(c, "attach idmapped mount on \"%s\" (move_mount)", dest);
	if (move_mount(c->trees[tree], "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return close_keep_errno(fd);
	close(fd);
	close(c->trees[tree]);
	c->trees[tree] = -1;
	if (flags) {
		doing(c, "remount the idmapped mount on \"%s\"", dest);
		fd = reopen_made(c, dest, &made);
		if (fd < 0 || remount_bind(fd, NULL, flags) < 0)
			return close_keep_errno(fd);
		close(fd);
	}
	doing(c, "set propagation and attributes of \"%s\"", dest);
	return mount_after(c, dest, &made, propagation, attr_set, attr_clr);
}
