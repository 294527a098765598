/*
 * The container process itself: limits, identity, capabilities, seccomp,
 * working directory, console, the program to run, and the sync points.
 */
#include "tsrun.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#define DEVPTS_SUPER_MAGIC 0x1cd1

int step_rlimit(struct ctx *c, const struct step *s)
{
	uint64_t res = arg_u64(s, 0);
	struct rlimit rl = { .rlim_cur = arg_u64(s, 1), .rlim_max = arg_u64(s, 2) };
	doing(c, "setrlimit(%llu, %llu, %llu)", (unsigned long long)res, (unsigned long long)rl.rlim_cur,
	      (unsigned long long)rl.rlim_max);
	return setrlimit((__rlimit_resource_t)res, &rl);
}

int step_oom_score_adj(struct ctx *c, const struct step *s)
{
	char v[32];
	snprintf(v, sizeof(v), "%lld", (long long)arg_u64(s, 0));
	doing(c, "write %s to /proc/self/oom_score_adj", v);
	int fd = openat(c->proc_fd, "self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, v, strlen(v));
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

int step_cwd(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 0);
	doing(c, "chdir \"%s\"", path);
	int fd = open_in_root_create(c, path, 0, 0);
	if (fd < 0)
		return -1;
	int r = fchdir(fd);
	int e = errno;
	close(fd);
	errno = e;
	if (r < 0)
		return -1;
	/*
	 * CVE-2024-21626: a cwd reached through a leaked host fd lies outside
	 * the container's root, and getcwd then reports "(unreachable)".
	 */
	char buf[PATH_MAX];
	doing(c, "chdir \"%s\": verify the working directory is inside the container", path);
	if (!getcwd(buf, sizeof(buf)))
		return -1;
	if (buf[0] != '/') {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

static int parse_gid(const char *s, gid_t *out)
{
	if (!*s)
		return -1;
	unsigned long long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
		if (v > 0xffffffffULL)
			return -1;
	}
	*out = (gid_t)v;
	return 0;
}

int step_user(struct ctx *c, const struct step *s)
{
	uint64_t uid = arg_u64(s, 0), gid = arg_u64(s, 1), do_setgroups = arg_u64(s, 3);
	doing(c, "prctl(PR_SET_KEEPCAPS)");
	/* Keep the permitted set across the uid change: CAPS sets the final sets next. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -1;
	if (do_setgroups) {
		uint32_t n;
		char **list = arg_strs(s, 2, &n);
		gid_t *gids = calloc(n ? n : 1, sizeof(gid_t));
		if (!list || !gids) {
			free(list);
			free(gids);
			return -1;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (parse_gid(list[i], &gids[i]) < 0) {
				doing(c, "setgroups: \"%s\" is not a group id", list[i]);
				free(list);
				free(gids);
				errno = EINVAL;
				return -1;
			}
		}
		doing(c, "setgroups (%u groups)", n);
		int r = setgroups(n, gids);
		free(list);
		free(gids);
		if (r < 0)
			return -1;
	}
	doing(c, "setresgid(%llu)", (unsigned long long)gid);
	if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
		return -1;
	doing(c, "setresuid(%llu)", (unsigned long long)uid);
	return setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid);
}

int step_caps(struct ctx *c, const struct step *s)
{
	uint64_t eff = arg_u64(s, 0), prm = arg_u64(s, 1), inh = arg_u64(s, 2), amb = arg_u64(s, 3);
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2] = {
		{ .effective = (uint32_t)eff, .permitted = (uint32_t)prm, .inheritable = (uint32_t)inh },
		{ .effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(prm >> 32), .inheritable = (uint32_t)(inh >> 32) },
	};
	doing(c, "capset(effective 0x%llx, permitted 0x%llx, inheritable 0x%llx)", (unsigned long long)eff,
	      (unsigned long long)prm, (unsigned long long)inh);
	if (syscall(SYS_capset, &h, d) < 0)
		return -1;
	doing(c, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -1;
	for (int cap = 0; cap <= c->cap_last_cap && cap < 64; cap++) {
		if (!(amb & (1ULL << cap)))
			continue;
		doing(c, "prctl(PR_CAP_AMBIENT_RAISE, %d)", cap);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return -1;
	}
	return 0;
}

int step_cap_bounding(struct ctx *c, const struct step *s)
{
	uint64_t keep = arg_u64(s, 0);
	for (int cap = 0; cap <= c->cap_last_cap && cap < 64; cap++) {
		if (keep & (1ULL << cap))
			continue;
		doing(c, "prctl(PR_CAPBSET_DROP, %d)", cap);
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -1;
	}
	return 0;
}

static int connect_unix(const char *path);

/*
 * SECCOMP_LISTENER (P, before the clone and any join, like a console socket):
 * connects to listenerPath in the host; C inherits the socket.
 */
int step_seccomp_listener(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 0);
	doing(c, "seccomp: connect to the listener socket \"%s\"", path);
	int fd = connect_unix(path);
	if (fd < 0)
		return -1;
	c->listener_parts = arg_strs(s, 1, &c->listener_nparts);
	if (!c->listener_parts) {
		close(fd);
		return -1;
	}
	c->listener_sock = fd;
	return 0;
}

/* The state JSON: the parts joined with pid in decimal. */
static char *listener_message(struct ctx *c, long pid, size_t *len)
{
	char num[24];
	int nl = snprintf(num, sizeof(num), "%ld", pid);
	size_t total = 0;
	for (uint32_t i = 0; i < c->listener_nparts; i++)
		total += strlen(c->listener_parts[i]) + (i ? (size_t)nl : 0);
	char *m = malloc(total + 1);
	if (!m)
		return NULL;
	size_t off = 0;
	for (uint32_t i = 0; i < c->listener_nparts; i++) {
		if (i) {
			memcpy(m + off, num, (size_t)nl);
			off += (size_t)nl;
		}
		size_t pl = strlen(c->listener_parts[i]);
		memcpy(m + off, c->listener_parts[i], pl);
		off += pl;
	}
	m[off] = 0;
	*len = off;
	return m;
}

/*
 * The sender: a child sharing this process's fd table (CLONE_FILES) but not
 * its seccomp filter, started before the filter is loaded. It waits until
 * the predicted fd number is the seccomp listener, then sends the state JSON
 * with the listener (SCM_RIGHTS) in one message, closes the socket and the
 * listener (for both: the table is shared) and exits. The process that
 * loaded the filter makes no syscall the hand-over depends on, so a profile
 * that notifies sendmsg, write or wait4 cannot deadlock it.
 */
static pid_t start_listener_sender(struct ctx *c, int *predicted)
{
	char self[32];
	ssize_t n = readlinkat(c->proc_fd, "self", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	long pid = strtol(self, NULL, 10); /* in the host's pid namespace: proc_fd is the host's procfs */
	size_t mlen;
	char *msg = listener_message(c, pid, &mlen);
	if (!msg)
		return -1;
	/* seccomp() returns the lowest free fd: find it now (nothing opens an fd until then). */
	int probe = fcntl(c->sync_fd, F_DUPFD_CLOEXEC, 0);
	if (probe < 0) {
		free(msg);
		return -1;
	}
	close(probe);
	*predicted = probe;
	fflush(NULL);
	pid_t child = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_FILES | SIGCHLD), NULL, NULL, NULL, 0);
	if (child < 0) {
		free(msg);
		return -1;
	}
	if (child > 0) {
		free(msg);
		return child;
	}
	char link[64], target[64];
	snprintf(link, sizeof(link), "self/fd/%d", probe);
	for (int i = 0;; i++) {
		ssize_t tl = readlinkat(c->proc_fd, link, target, sizeof(target) - 1);
		if (tl > 0) {
			target[tl] = 0;
			if (strcmp(target, "anon_inode:seccomp notify") == 0)
				break;
		}
		if (i >= 60000) /* a minute: the parent kills us sooner if seccomp() fails */
			_exit(ETIMEDOUT);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	struct iovec iov = { .iov_base = msg, .iov_len = mlen };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &probe, sizeof(int));
	ssize_t sent = sendmsg(c->listener_sock, &mh, MSG_NOSIGNAL);
	if (sent != (ssize_t)mlen)
		_exit(sent < 0 && errno > 1 && errno < 256 ? errno : ECONNABORTED);
	/*
	 * Close both in the shared fd table, so the agent sees EOF and the loader
	 * holds no listener, whatever its next (possibly notified) syscall does.
	 */
	close(c->listener_sock);
	close(probe);
	_exit(0);
}

int step_seccomp(struct ctx *c, const struct step *s)
{
	struct arg a;
	step_arg(s, 1, &a);
	uint64_t flags = arg_u64(s, 0);
	int e;
	doing(c, "seccomp(SECCOMP_SET_MODE_FILTER, 0x%llx, %u instructions)", (unsigned long long)flags,
	      a.len / (unsigned)sizeof(struct sock_filter));
	if (a.len == 0 || a.len % sizeof(struct sock_filter) || a.len / sizeof(struct sock_filter) > USHRT_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* The filter must be aligned for the kernel's copy: the plan buffer gives no such promise. */
	struct sock_filter *code = malloc(a.len);
	if (!code)
		return -1;
	memcpy(code, a.data, a.len);
	struct sock_fprog prog = { .len = (unsigned short)(a.len / sizeof(struct sock_filter)), .filter = code };
	int predicted = -1;
	pid_t sender = -1;
	if (c->listener_sock >= 0 && (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)) {
		doing(c, "seccomp: start the listener sender");
		sender = start_listener_sender(c, &predicted);
		if (sender < 0) {
			e = errno;
			free(code);
			errno = e;
			return -1;
		}
	}
	doing(c, "seccomp(SECCOMP_SET_MODE_FILTER, 0x%llx, %u instructions)", (unsigned long long)flags,
	      a.len / (unsigned)sizeof(struct sock_filter));
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)flags, &prog);
	e = errno;
	free(code);
	if (r < 0 || (sender > 0 && r != predicted)) {
		/* Not loaded, or the listener is not where the sender looks: it must not wait for it. */
		if (sender > 0) {
			kill(sender, SIGKILL);
			waitpid(sender, NULL, 0);
		}
		if (r >= 0) {
			doing(c, "seccomp: the listener is fd %ld, not the expected %d", r, predicted);
			e = EBADF;
		}
		errno = e;
		return -1;
	}
	if (sender > 0) {
		/*
		 * From here on any syscall may be a notified one: the sender has no
		 * filter and hands the listener on by itself, so a supervisor can
		 * answer whatever this process does next (sendmsg included).
		 */
		int status;
		pid_t w;
		do
			w = waitpid(sender, &status, 0);
		while (w < 0 && errno == EINTR);
		if (w == sender && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			doing(c, "seccomp: send the listener fd and the state to the listener socket (sender status 0x%x)", status);
			errno = WIFEXITED(status) && WEXITSTATUS(status) != 1 ? WEXITSTATUS(status) : ECONNABORTED;
			return -1;
		}
		/* The sender closed both in the shared table (or, if wait4 was denied, they are close-on-exec). */
		c->listener_sock = -1;
		return 0;
	}
	/* The container program never holds the listener. */
	if (r > 0)
		close((int)r);
	return 0;
}

static int is_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EACCES;
		return -1;
	}
	return access(path, X_OK);
}

static int not_found(struct ctx *c, const char *name, int err)
{
	/* podman and containerd match this exact wording to report a missing program. */
	doing(c, "exec: \"%s\": executable file not found in $PATH", name);
	errno = err;
	return -1;
}

/* A path that exists but cannot be executed: runc's (Go's LookPath) wording, which podman maps to 126. */
static int not_executable(struct ctx *c, const char *name)
{
	doing(c, "exec: \"%s\": permission denied", name);
	errno = EACCES;
	return -1;
}

int step_resolve_exec(struct ctx *c, const struct step *s)
{
	const char *name = arg_str(s, 0), *path = arg_str(s, 1);
	if (!*name)
		return not_found(c, name, ENOENT);
	if (strchr(name, '/')) {
		if (is_executable(name) < 0)
			return errno == EACCES ? not_executable(c, name) : not_found(c, name, ENOENT);
		free(c->exec_path);
		c->exec_path = strdup(name);
		return c->exec_path ? 0 : -1;
	}
	int seen_eacces = 0;
	size_t nl = strlen(name);
	const char *p = path;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t dl = end ? (size_t)(end - p) : strlen(p);
		char *cand = malloc(dl + nl + 3);
		if (!cand)
			return -1;
		/* An empty PATH entry means the working directory, as in execvp. */
		if (dl == 0)
			snprintf(cand, dl + nl + 3, "./%s", name);
		else
			snprintf(cand, dl + nl + 3, "%.*s/%s", (int)dl, p, name);
		if (is_executable(cand) == 0) {
			free(c->exec_path);
			c->exec_path = cand;
			return 0;
		}
		if (errno == EACCES)
			seen_eacces = 1;
		free(cand);
		if (!end)
			break;
		p = end + 1;
	}
	return not_found(c, name, seen_eacces ? EACCES : ENOENT);
}

int step_wait_start(struct ctx *c)
{
	doing(c, "send READY");
	if (msg_send(c->sync_fd, MSG_READY, NULL, 0) < 0)
		return -1;
	if (c->fifo_fd < 0)
		return 0;
	/* Blocks until `tsrun start` opens the fifo for reading. */
	char p[32];
	/* Through the host procfs handle: the container's /proc may be anything the image put there. */
	snprintf(p, sizeof(p), "self/fd/%d", c->fifo_fd);
	doing(c, "open the exec fifo");
	int fd;
	do
		fd = openat(c->proc_fd, p, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	doing(c, "write to the exec fifo");
	ssize_t n = write(fd, "0", 1);
	int e = errno;
	close(fd);
	close(c->fifo_fd);
	c->fifo_fd = -1;
	errno = e;
	return n == 1 ? 0 : -1;
}

int step_exec(struct ctx *c, const struct step *s)
{
	uint32_t argc;
	char **argv = arg_strs(s, 0, &argc);
	char **env = arg_strs(s, 1, NULL);
	uint64_t keep = arg_u64(s, 2);
	if (!argv || !env)
		return -1;
	if (argc == 0) {
		doing(c, "execve: no program");
		errno = EINVAL;
		return -1;
	}
	const char *prog = c->exec_path ? c->exec_path : argv[0];
	/*
	 * CVE-2024-21626: nothing but stdio and the preserved fds may reach
	 * the program. Close-on-exec rather than close, so the sync fd still
	 * works to report a failed execve.
	 */
	doing(c, "close_range(%llu, CLOSE_RANGE_CLOEXEC)", (unsigned long long)keep);
	if (keep < 3 || keep > UINT_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (close_range((unsigned)keep, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return -1;
	doing(c, "execve \"%s\"", prog);
	execve(prog, argv, env);
	return -1;
}

int step_sync(struct ctx *c, const struct step *s)
{
	uint64_t point = arg_u64(s, 0);
	doing(c, "sync point %llu: send SYNC", (unsigned long long)point);
	if (msg_send_u32(c->sync_fd, MSG_SYNC, (uint32_t)point) < 0)
		return -1;
	doing(c, "sync point %llu: wait for CONTINUE", (unsigned long long)point);
	uint16_t type;
	uint8_t *payload;
	size_t len;
	if (msg_recv(c->sync_fd, &type, &payload, &len, PLAN_MAX_BYTES) < 0)
		return -1;
	if (type != MSG_CONTINUE) {
		free(payload);
		errno = EPROTO;
		return -1;
	}
	free(c->state);
	c->state = payload;
	c->state_len = len;
	return 0;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int send_master(int sock, int master)
{
	char payload[] = "/dev/ptmx";
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) - 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The container's ptmx, checked to be on a devpts: a planted file or link is refused. */
static int open_ptmx(struct ctx *c)
{
	int fd = open_in_root(c, "/dev/pts/ptmx", O_RDWR | O_NOCTTY, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return -1;
	struct statfs fs;
	if (fstatfs(fd, &fs) < 0 || fs.f_type != DEVPTS_SUPER_MAGIC) {
		close(fd);
		errno = ENODEV;
		return -1;
	}
	return fd;
}

/* dev/console becomes an empty file to bind the peer on, whatever the image put there (CVE-2025-52565). */
static int console_target(struct ctx *c)
{
	int dev = open_in_root_create(c, "/dev", 0, 0);
	if (dev < 0)
		return -1;
	int fd = -1;
	struct stat st;
	if (fstatat(dev, "console", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) &&
	    unlinkat(dev, "console", S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		goto out;
	int f = openat(dev, "console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (f < 0)
		goto out;
	close(f);
	fd = openat(dev, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
out:;
	int e = errno;
	close(dev);
	errno = e;
	return fd;
}

/*
 * CONSOLE_SOCKET (P, before the clone and any JOIN_NS): connects to the
 * console socket in the host, where its path means what the caller meant
 * (an exec helper that joined the container's mount namespace, or a C in a
 * new user namespace, could not reach it). C inherits it for CONSOLE.
 */
int step_console_socket(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 0);
	doing(c, "console: connect to \"%s\"", path);
	int fd = connect_unix(path);
	if (fd < 0)
		return -1;
	if (c->console_sock >= 0)
		close(c->console_sock);
	c->console_sock = fd;
	return 0;
}

int step_console(struct ctx *c, const struct step *s)
{
	const char *sockpath = arg_str(s, 0);
	uint64_t rows = arg_u64(s, 1), cols = arg_u64(s, 2);
	int master = -1, peer = -1, sock = -1, target = -1, r = -1;
	doing(c, "console: open the container's \"/dev/pts/ptmx\"");
	master = open_ptmx(c);
	if (master < 0)
		goto out;
	int unlock = 0;
	doing(c, "console: unlock the pty");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		goto out;
	/* The peer comes from the master itself, never from a /dev/pts/N path (CVE-2025-52565). */
	doing(c, "console: ioctl(TIOCGPTPEER)");
	peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (peer < 0)
		goto out;
	if (rows || cols) {
		struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
		doing(c, "console: set the size %llux%llu", (unsigned long long)cols, (unsigned long long)rows);
		if (ioctl(peer, TIOCSWINSZ, &ws) < 0)
			goto out;
	}
	/* Only a new container gets its /dev/console: an exec leaves the container's alone. */
	if (c->has_rootfs) {
		doing(c, "console: bind the pty on \"/dev/console\"");
		target = console_target(c);
		if (target < 0)
			goto out;
		char src[32];
		snprintf(src, sizeof(src), "/proc/self/fd/%d", peer);
		if (mount_on_fd(src, target, NULL, MS_BIND, NULL) < 0)
			goto out;
	}
	if (*sockpath) {
		doing(c, "console: connect to \"%s\"", sockpath);
		sock = connect_unix(sockpath);
	} else {
		doing(c, "console: use the socket CONSOLE_SOCKET connected");
		sock = c->console_sock;
		c->console_sock = -1;
		if (sock < 0)
			errno = EBADF;
	}
	if (sock < 0)
		goto out;
	doing(c, "console: send the pty master to the console socket");
	if (send_master(sock, master) < 0)
		goto out;
	doing(c, "console: make the pty the stdio and the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(peer, fd) < 0)
			goto out;
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		goto out;
	r = 0;
out:;
	int e = errno;
	if (master >= 0)
		close(master);
	if (peer >= 0)
		close(peer);
	if (sock >= 0)
		close(sock);
	if (target >= 0)
		close(target);
	errno = e;
	return r;
}

/*
 * SESSION_KEYRING: a session keyring of the container's own. The caller's
 * session keyring (a login's, the engine's) is inherited across clone, and
 * every key in it would be reachable from the container; runc does the same
 * unless --no-new-keyring. An exec joins the container's keyring by name.
 * The keyring is made searchable by its owner's uid, which the process may
 * no longer have after the user switch (runc's permission change).
 */
#define TSRUN_KEYCTL_GET_KEYRING_ID 0
#define TSRUN_KEYCTL_JOIN_SESSION_KEYRING 1
#define TSRUN_KEYCTL_SETPERM 5
#define TSRUN_KEYCTL_DESCRIBE 6
#define TSRUN_KEY_USR_SEARCH 0x00080000u

int step_session_keyring(struct ctx *c, const struct step *s)
{
	const char *name = arg_str(s, 0);
	doing(c, "keyctl(KEYCTL_JOIN_SESSION_KEYRING, \"%s\")", name);
	long id = syscall(SYS_keyctl, TSRUN_KEYCTL_JOIN_SESSION_KEYRING, name, 0L, 0L, 0L);
	if (id < 0)
		return errno == ENOSYS ? 0 : -1; /* ENOSYS: a kernel built without keyrings */
	char desc[512];
	doing(c, "keyctl(KEYCTL_DESCRIBE, %ld)", id);
	long n = syscall(SYS_keyctl, TSRUN_KEYCTL_DESCRIBE, id, desc, (long)sizeof(desc) - 1, 0L);
	if (n < 0)
		return -1;
	desc[n < (long)sizeof(desc) ? n : (long)sizeof(desc) - 1] = 0;
	/* "type;uid;gid;perm;description": perm is the fourth field, in hex. */
	char *p = desc;
	for (int field = 0; field < 3 && p; field++) {
		p = strchr(p, ';');
		if (p)
			p++;
	}
	if (!p) {
		errno = EINVAL;
		return -1;
	}
	unsigned long perm = strtoul(p, NULL, 16);
	doing(c, "keyctl(KEYCTL_SETPERM, %ld, 0x%lx)", id, perm | TSRUN_KEY_USR_SEARCH);
	return syscall(SYS_keyctl, TSRUN_KEYCTL_SETPERM, id, perm | TSRUN_KEY_USR_SEARCH, 0L, 0L) < 0 ? -1 : 0;
}
