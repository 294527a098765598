/*
 * tsrun-init: executes a plan compiled by tsrun (PROTOCOL.md).
 *
 * P (this process, in the host) closes inherited fds, re-executes itself from
 * a sealed memfd, reads and validates the whole plan, runs the steps before
 * CLONE, clones C, writes the user namespace maps, reports C's pid and then
 * either exits (detached) or stays C's parent (attached). C runs every step
 * after CLONE up to execve and talks to Node on the inherited sync fd.
 */
#include "tsrun.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

void doing(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static void die_startup(int sync_fd, int err, const char *what)
{
	char d[256];
	snprintf(d, sizeof(d), "tsrun-init: %s", what);
	if (sync_fd >= 0)
		send_error(sync_fd, NO_STEP, err, d);
	fprintf(stderr, "%s: %s\n", d, strerror(err));
	_exit(1);
}

/*
 * CVE-2019-5736: a container process can open /proc/<pid>/exe of the helper
 * once it is in the container; if that is the on-disk binary it can be
 * rewritten. Run from a sealed memfd copy instead; a sealed /proc/self/exe
 * means this is already the copy.
 */
static void reexec_from_sealed_memfd(int sync_fd, char **argv, char **envp)
{
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		die_startup(sync_fd, errno, "open /proc/self/exe");
	int seals = fcntl(self, F_GET_SEALS);
	if (seals >= 0 && (seals & SEALS) == SEALS) {
		close(self);
		return;
	}
	int mfd = memfd_create("tsrun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL) /* kernels before 6.3 know no MFD_EXEC */
		mfd = memfd_create("tsrun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		die_startup(sync_fd, errno, "memfd_create");
	struct stat st;
	if (fstat(self, &st) < 0)
		die_startup(sync_fd, errno, "fstat /proc/self/exe");
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			die_startup(sync_fd, n < 0 ? errno : EIO, "copy /proc/self/exe to a memfd");
	}
	close(self);
	if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
		die_startup(sync_fd, errno, "seal the memfd copy");
	fexecve(mfd, argv, envp);
	die_startup(sync_fd, errno, "execute the sealed memfd copy");
}

/* The host's /dev/null, checked to be the 1:3 character device (CVE-2025-31133). */
static int open_host_devnull(void)
{
	int fd = open("/dev/null", O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
		close(fd);
		errno = ENODEV;
		return -1;
	}
	return fd;
}

/*
 * A bind mount's source must be a mount of the caller's own mount namespace,
 * and C has a new one: P's /dev/null fd points into the host's. So C opens
 * its copy of the host's /dev/null before the first step changes anything
 * and checks it is the very inode P verified.
 */
static int reopen_devnull(struct ctx *c)
{
	int fd = open_host_devnull();
	if (fd < 0)
		return -1;
	struct stat a, b;
	if (fstat(fd, &a) < 0 || fstat(c->devnull_fd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		close(fd);
		errno = ENODEV;
		return -1;
	}
	close(c->devnull_fd);
	c->devnull_fd = fd;
	return 0;
}

static int plan_uses_op(const struct plan *plan, uint32_t first, uint16_t op)
{
	for (uint32_t i = first; i < plan->count; i++)
		if (plan->steps[i].op == op)
			return 1;
	return 0;
}

static int read_cap_last_cap(int proc_fd)
{
	int fd = openat(proc_fd, "sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 40; /* CAP_CHECKPOINT_RESTORE, the last one known at the time of writing */
	char b[16] = { 0 };
	ssize_t n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n > 0 ? atoi(b) : 40;
}

static int read_plan(struct ctx *c, uint8_t **buf, size_t *len)
{
	uint16_t type;
	if (msg_recv(c->sync_fd, &type, buf, len, PLAN_MAX_BYTES) < 0)
		return -1;
	if (type != MSG_PLAN) {
		free(*buf);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/*
 * The process model needs exactly one CLONE with every P step before it and
 * every C step after it; anything else is refused before the first step runs.
 */
static int check_shape(const struct plan *plan, uint32_t *clone_at, char *err, size_t errlen)
{
	uint32_t at = NO_STEP;
	for (uint32_t i = 0; i < plan->count; i++) {
		const struct op_sig *sig = op_lookup(plan->steps[i].op);
		if (plan->steps[i].op == OP_CLONE) {
			if (at != NO_STEP) {
				snprintf(err, errlen, "step %u: a second CLONE", i);
				return -1;
			}
			at = i;
		} else if ((sig->who == 'P') != (at == NO_STEP)) {
			snprintf(err, errlen, "step %u (%s): a %c step %s CLONE", i, sig->name, sig->who,
				 sig->who == 'P' ? "after" : "before");
			return -1;
		}
	}
	if (at == NO_STEP) {
		snprintf(err, errlen, "the plan has no CLONE step");
		return -1;
	}
	*clone_at = at;
	return 0;
}

static int write_proc_file(struct ctx *c, pid_t pid, const char *name, const char *value)
{
	char path[64];
	snprintf(path, sizeof(path), "%d/%s", (int)pid, name);
	doing(c, "write %s to /proc/%d/%s", value, (int)pid, name);
	int fd = openat(c->proc_fd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

static int join_ns(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 1);
	doing(c, "join namespace \"%s\"", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = setns(fd, (int)arg_u64(s, 0));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static int new_timens(struct ctx *c, const struct step *s)
{
	doing(c, "unshare the time namespace");
	if (unshare(CLONE_NEWTIME) < 0)
		return -1;
	const char *offsets = arg_str(s, 0);
	if (!*offsets)
		return 0;
	doing(c, "write the time offsets to /proc/self/timens_offsets");
	int fd = openat(c->proc_fd, "self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, offsets, strlen(offsets));
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

static int exec_fifo(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 0);
	doing(c, "mkfifo \"%s\"", path);
	if (mkfifo(path, 0622) < 0)
		return -1;
	/* mkfifo's mode passes through the umask: chmod so a non-root container user can open it. */
	doing(c, "chmod \"%s\"", path);
	if (chmod(path, 0622) < 0)
		return -1;
	doing(c, "open \"%s\"", path);
	int fd = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	c->fifo_fd = fd;
	return 0;
}

static int run_p_step(struct ctx *c, const struct step *s)
{
	switch (s->op) {
	case OP_RLIMIT: return step_rlimit(c, s);
	case OP_OOM_SCORE_ADJ: return step_oom_score_adj(c, s);
	case OP_JOIN_NS: return join_ns(c, s);
	case OP_NEW_TIMENS: return new_timens(c, s);
	case OP_EXEC_FIFO: return exec_fifo(c, s);
	case OP_CONSOLE_SOCKET: return step_console_socket(c, s);
	case OP_CONSOLE_PROXY: return step_console_proxy(c, s);
	case OP_SECCOMP_LISTENER: return step_seccomp_listener(c, s);
	case OP_IDMAP_TREE: return step_idmap_tree(c, s);
	case OP_ID_MAP_TOOLS: return step_map_tools(c, s);
	case OP_USER_MAPS:
		c->uid_map = arg_str(s, 0);
		c->gid_map = arg_str(s, 1);
		c->setgroups = arg_str(s, 2);
		return 0;
	}
	errno = EINVAL;
	doing(c, "run op %u in the helper", s->op);
	return -1;
}

static int run_c_step(struct ctx *c, const struct step *s)
{
	switch (s->op) {
	case OP_ROOTFS: return step_rootfs(c, s);
	case OP_MOUNT: return step_mount(c, s);
	case OP_MKNOD: return step_mknod(c, s);
	case OP_SYMLINK: return step_symlink(c, s);
	case OP_SYNC: return step_sync(c, s);
	case OP_HOOK: return step_hook(c, s);
	case OP_PIVOT_ROOT: return step_pivot_root(c);
	case OP_CHROOT: return step_chroot(c);
	case OP_MASK_PATH: return step_mask_path(c, s);
	case OP_READONLY_PATH: return step_readonly_path(c, s);
	case OP_SYSCTL: return step_sysctl(c, s);
	case OP_HOSTNAME: {
		const char *n = arg_str(s, 0);
		doing(c, "sethostname \"%s\"", n);
		return sethostname(n, strlen(n));
	}
	case OP_DOMAINNAME: {
		const char *n = arg_str(s, 0);
		doing(c, "setdomainname \"%s\"", n);
		return setdomainname(n, strlen(n));
	}
	case OP_REMOUNT_ROOT_RO: return step_remount_root_ro(c);
	case OP_ROOT_PROPAGATION: return step_root_propagation(c, s);
	case OP_CWD: return step_cwd(c, s);
	case OP_UMASK:
		umask((mode_t)(arg_u64(s, 0) & 0777));
		return 0;
	case OP_PERSONALITY:
		doing(c, "personality 0x%llx", (unsigned long long)arg_u64(s, 0));
		return personality((unsigned long)arg_u64(s, 0)) < 0 ? -1 : 0;
	case OP_NO_NEW_PRIVS:
		doing(c, "prctl(PR_SET_NO_NEW_PRIVS)");
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	case OP_CAP_BOUNDING: return step_cap_bounding(c, s);
	case OP_USER: return step_user(c, s);
	case OP_CAPS: return step_caps(c, s);
	case OP_SECCOMP: return step_seccomp(c, s);
	case OP_RESOLVE_EXEC: return step_resolve_exec(c, s);
	case OP_WAIT_START: return step_wait_start(c);
	case OP_EXEC: return step_exec(c, s);
	case OP_SETSID:
		doing(c, "setsid");
		return setsid() < 0 ? -1 : 0;
	case OP_CONSOLE: return step_console(c, s);
	case OP_SESSION_KEYRING: return step_session_keyring(c, s);
	case OP_MOUNT_TREE: return step_mount_tree(c, s);
	}
	errno = EINVAL;
	doing(c, "run op %u in the container", s->op);
	return -1;
}

static const int FORWARDED[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
static volatile pid_t forward_to;

static void forward_signal(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

static void set_forwarding(int on)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = on ? forward_signal : SIG_DFL;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(FORWARDED) / sizeof(FORWARDED[0]); i++)
		sigaction(FORWARDED[i], &sa, NULL);
}

/* C: waits for P's go-ahead, then runs its steps; returns only on failure. */
static void run_container(struct ctx *c, const struct plan *plan, uint32_t first, int go_fd, int newuser)
{
	set_forwarding(0);
	char go;
	ssize_t n;
	do
		n = read(go_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(1); /* P failed before letting C go and has reported it */
	close(go_fd);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* it may have been dumpable for newuidmap (do_clone) */
	/*
	 * A process born in a new user namespace keeps its host ids, which the
	 * new maps do not cover (it shows as the overflow id): it becomes root of
	 * its namespace explicitly, or files it creates fail with EOVERFLOW.
	 */
	if (newuser && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		send_error(c->sync_fd, NO_STEP, errno, "become root of the new user namespace (setresuid/setresgid 0)");
		_exit(1);
	}
	/*
	 * Only masks need the host's /dev/null in the new mount namespace. An exec
	 * plan has joined the container's mount namespace, where "/dev/null" is
	 * the container's own (another inode): reopening there must not happen.
	 */
	if (plan_uses_op(plan, first, OP_MASK_PATH) && reopen_devnull(c) < 0) {
		send_error(c->sync_fd, NO_STEP, errno, "reopen the host's /dev/null in the container's mount namespace");
		_exit(1);
	}
	for (uint32_t i = first; i < plan->count; i++) {
		c->detail[0] = 0;
		if (run_c_step(c, &plan->steps[i]) < 0) {
			send_error(c->sync_fd, i, errno, c->detail);
			_exit(1);
		}
	}
	send_error(c->sync_fd, NO_STEP, EINVAL, "the plan ended without EXEC");
	_exit(1);
}

static int write_user_maps(struct ctx *c, pid_t pid)
{
	if (c->setgroups && *c->setgroups && write_proc_file(c, pid, "setgroups", c->setgroups) < 0)
		return -1;
	if (c->uid_map && *c->uid_map) {
		if (c->newuidmap && *c->newuidmap ? run_map_tool(c, c->newuidmap, pid, c->uid_map) < 0
						  : write_proc_file(c, pid, "uid_map", c->uid_map) < 0)
			return -1;
	}
	if (c->gid_map && *c->gid_map) {
		if (c->newgidmap && *c->newgidmap ? run_map_tool(c, c->newgidmap, pid, c->gid_map) < 0
						  : write_proc_file(c, pid, "gid_map", c->gid_map) < 0)
			return -1;
	}
	return 0;
}

int wait_attached(struct ctx *c, pid_t pid)
{
	int status;
	pid_t r;
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return 1;
	msg_send_u32(c->sync_fd, MSG_EXIT, (uint32_t)status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * CLONE: a raw clone(2) without a new stack behaves like fork. C then never
 * calls into glibc functions that rely on its cached thread id (raise, abort).
 */
static int do_clone(struct ctx *c, const struct plan *plan, uint32_t at)
{
	const struct step *s = &plan->steps[at];
	uint64_t flags = arg_u64(s, 0) | SIGCHLD;
	int detached = arg_u64(s, 1) != 0;
	if (detached)
		flags |= CLONE_PARENT;
	int go[2];
	doing(c, "create the start pipe");
	if (pipe2(go, O_CLOEXEC) < 0)
		return -1;
	if (!detached)
		set_forwarding(1);
	fflush(NULL);
	/*
	 * An unprivileged P (and newuidmap/newgidmap, which check that the caller
	 * owns /proc/<C>) can write C's maps only if /proc/<C> is owned by the
	 * caller, which a non-dumpable process's is not (it shows as root): C is
	 * born dumpable and turns non-dumpable as soon as P lets it go, before
	 * any step.
	 */
	if ((flags & CLONE_NEWUSER) && geteuid() != 0)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	doing(c, "clone(0x%llx)", (unsigned long long)flags);
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)flags, NULL, NULL, NULL, 0);
	if (pid != 0)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(go[1]);
		/* P's end of the terminal proxy: C only sends on its own. */
		if (c->proxy_sock >= 0) {
			close(c->proxy_sock);
			c->proxy_sock = -1;
		}
		run_container(c, plan, at + 1, go[0], (flags & CLONE_NEWUSER) != 0);
	}
	close(go[0]);
	/* C has its copy of the console socket; P's must not keep the receiver from seeing EOF. */
	if (c->console_sock >= 0) {
		close(c->console_sock);
		c->console_sock = -1;
	}
	/* Only C hands the seccomp listener on: the agent must see the connection close after its one message. */
	if (c->listener_sock >= 0) {
		close(c->listener_sock);
		c->listener_sock = -1;
	}
	forward_to = pid;
	if (write_user_maps(c, pid) < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		errno = e;
		return -1;
	}
	/* PID goes first, so Node sees it before any message of C. */
	doing(c, "send PID");
	if (msg_send_u32(c->sync_fd, MSG_PID, (uint32_t)pid) < 0 || write(go[1], "g", 1) != 1) {
		int e = errno;
		kill(pid, SIGKILL);
		errno = e;
		return -1;
	}
	close(go[1]);
	if (detached)
		_exit(0);
	_exit(c->proxy_sock >= 0 ? proxy_attached(c, pid) : wait_attached(c, pid));
}

static int helper_main(int argc, char **argv, char **envp)
{
	(void)argc;
	const char *fd_env = getenv("_TSRUN_SYNC_FD");
	char *end = NULL;
	long sync_fd = fd_env ? strtol(fd_env, &end, 10) : -1;
	if (!fd_env || *end || sync_fd < 3 || sync_fd > 65535 || fcntl((int)sync_fd, F_GETFD) < 0) {
		fprintf(stderr, "tsrun-init: _TSRUN_SYNC_FD must name an open fd >= 3 (tsrun-init is started by tsrun)\n");
		return 2;
	}
	/*
	 * Nothing inherited by accident may reach a container: fds 3..sync-1 are
	 * the preserved ones. A proxied terminal's resize channel (CONSOLE_PROXY)
	 * may follow the sync socket, named by _TSRUN_RESIZE_FD; it is kept open
	 * across the re-exec below and close-on-exec after it.
	 */
	const char *rz = getenv("_TSRUN_RESIZE_FD");
	int resize_fd = rz && atol(rz) == sync_fd + 1 ? (int)sync_fd + 1 : -1;
	close_range((unsigned)(resize_fd >= 0 ? resize_fd : sync_fd) + 1, ~0U, 0);
	reexec_from_sealed_memfd((int)sync_fd, argv, envp);
	/* CVE-2016-9962: no ptrace or /proc/<pid>/fd access from the container while we hold host fds. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	unsetenv("_TSRUN_SYNC_FD");
	unsetenv("_TSRUN_RESIZE_FD");
	if (resize_fd >= 0 && fcntl(resize_fd, F_SETFD, FD_CLOEXEC) < 0)
		resize_fd = -1;

	static struct ctx c = { .root_fd = -1, .fifo_fd = -1, .sysctl_proc_fd = -1, .devnull_fd = -1, .listener_sock = -1 };
	c.sync_fd = (int)sync_fd;
	c.console_sock = -1;
	c.proxy_sock = -1;
	c.resize_fd = -1;
	c.startup_resize_fd = resize_fd;
	c.proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c.proc_fd < 0)
		die_startup(c.sync_fd, errno, "open /proc");
	c.devnull_fd = open_host_devnull();
	if (c.devnull_fd < 0)
		die_startup(c.sync_fd, errno, "open the host's /dev/null (must be the 1:3 character device)");
	c.cap_last_cap = read_cap_last_cap(c.proc_fd);

	uint8_t *buf;
	size_t len;
	if (read_plan(&c, &buf, &len) < 0)
		die_startup(c.sync_fd, errno, "read the PLAN message");
	struct plan plan;
	char err[512];
	uint32_t clone_at;
	if (plan_decode(buf, len, &plan, err, sizeof(err)) < 0 || check_shape(&plan, &clone_at, err, sizeof(err)) < 0) {
		char d[600];
		snprintf(d, sizeof(d), "invalid plan: %s", err);
		send_error(c.sync_fd, NO_STEP, EINVAL, d);
		return 1;
	}
	for (uint32_t i = 0; i < plan.count; i++)
		if (plan.steps[i].op == OP_ROOTFS)
			c.has_rootfs = 1;
	for (uint32_t i = 0; i < clone_at; i++) {
		c.detail[0] = 0;
		if (run_p_step(&c, &plan.steps[i]) < 0) {
			send_error(c.sync_fd, i, errno, c.detail);
			return 1;
		}
	}
	c.detail[0] = 0;
	do_clone(&c, &plan, clone_at);
	send_error(c.sync_fd, clone_at, errno, c.detail);
	return 1;
}

int main(int argc, char **argv, char **envp)
{
	if (argc == 2 && strcmp(argv[1], "--decode") == 0)
		return decode_main(0);
	if (argc == 2 && strcmp(argv[1], "--decode-stream") == 0)
		return decode_main(1);
	return helper_main(argc, argv, envp);
}
