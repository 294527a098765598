/*
 * Id mapping work the helper (P) does in the host, before the clone:
 *
 * - IDMAP_TREE: an idmapped copy of a bind source. mount_setattr(MOUNT_ATTR_IDMAP)
 *   needs CAP_SYS_ADMIN over the source's superblock (the host's user
 *   namespace), which the container init no longer has once it is in its own
 *   user namespace. So P clones the source tree (open_tree OPEN_TREE_CLONE),
 *   idmaps the detached copy with a user namespace that carries the mount's
 *   mapping, and keeps the fd; C inherits it and attaches it with move_mount
 *   (MOUNT_TREE), inside the container's root.
 * - ID_MAP_TOOLS: an unprivileged caller can write only a single mapping of
 *   its own id; several ranges (from /etc/subuid and /etc/subgid) go through
 *   the setuid newuidmap/newgidmap, which P runs for C's pid.
 */
#include "tsrun.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

static int write_map_file(int proc_fd, pid_t pid, const char *name, const char *value)
{
	char path[64];
	snprintf(path, sizeof(path), "%d/%s", (int)pid, name);
	int fd = openat(proc_fd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
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

/*
 * A user namespace whose maps are uid_map/gid_map: a child is cloned into a
 * new user namespace and waits; its maps are written, its namespace opened,
 * and it is killed.
 */
static int userns_with_maps(struct ctx *c, const char *uid_map, const char *gid_map)
{
	int hold[2];
	if (pipe2(hold, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, 0);
	if (pid < 0) {
		int e = errno;
		close(hold[0]);
		close(hold[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		char b;
		close(hold[1]);
		while (read(hold[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	int fd = -1, e = 0;
	if (write_map_file(c->proc_fd, pid, "uid_map", uid_map) < 0 || write_map_file(c->proc_fd, pid, "gid_map", gid_map) < 0) {
		e = errno;
	} else {
		char path[64];
		snprintf(path, sizeof(path), "%d/ns/user", (int)pid);
		fd = openat(c->proc_fd, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			e = errno;
	}
	close(hold[1]);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	errno = e;
	return fd;
}

int step_idmap_tree(struct ctx *c, const struct step *s)
{
	const char *source = arg_str(s, 0), *uid_map = arg_str(s, 1), *gid_map = arg_str(s, 2);
	uint64_t recursive = arg_u64(s, 3); /* bit 0: the whole tree (rbind), bit 1: idmap every mount of it (ridmap) */
	doing(c, "idmap \"%s\": create a user namespace with the mount's mapping", source);
	int userns = userns_with_maps(c, uid_map, gid_map);
	if (userns < 0)
		return -1;
	doing(c, "idmap \"%s\": clone the source tree (open_tree)", source);
	int tree = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive & 1 ? AT_RECURSIVE : 0));
	if (tree < 0) {
		int e = errno;
		close(userns);
		errno = e;
		return -1;
	}
	doing(c, "idmap \"%s\": mount_setattr(MOUNT_ATTR_IDMAP)", source);
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
	int r = mount_setattr(tree, "", AT_EMPTY_PATH | (recursive & 2 ? AT_RECURSIVE : 0), &attr, sizeof(attr));
	int e = errno;
	close(userns);
	if (r < 0) {
		close(tree);
		errno = e;
		return -1;
	}
	int *more = realloc(c->trees, (c->ntrees + 1) * sizeof(int));
	if (!more) {
		close(tree);
		errno = ENOMEM;
		return -1;
	}
	c->trees = more;
	c->trees[c->ntrees++] = tree;
	return 0;
}

int step_map_tools(struct ctx *c, const struct step *s)
{
	c->newuidmap = arg_str(s, 0);
	c->newgidmap = arg_str(s, 1);
	return 0;
}

/*
 * Runs `tool <pid> <inside> <outside> <count>...` (the map's lines as
 * arguments) with its stderr captured for the error detail.
 */
int run_map_tool(struct ctx *c, const char *tool, pid_t pid, const char *map)
{
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	char *copy = strdup(map);
	if (!copy)
		return -1;
	size_t cap = 8, n = 0;
	char **argv = malloc(cap * sizeof(char *));
	if (!argv) {
		free(copy);
		return -1;
	}
	argv[n++] = (char *)tool;
	argv[n++] = pidbuf;
	for (char *save = NULL, *tok = strtok_r(copy, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (n + 2 > cap) {
			cap *= 2;
			char **more = realloc(argv, cap * sizeof(char *));
			if (!more) {
				free(argv);
				free(copy);
				errno = ENOMEM;
				return -1;
			}
			argv = more;
		}
		argv[n++] = tok;
	}
	argv[n] = NULL;
	doing(c, "run %s for pid %d", tool, (int)pid);
	int err[2];
	if (pipe2(err, O_CLOEXEC) < 0) {
		free(argv);
		free(copy);
		return -1;
	}
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(err[0]);
		close(err[1]);
		free(argv);
		free(copy);
		errno = e;
		return -1;
	}
	if (child == 0) {
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		dup2(err[1], 2);
		close_range(3, ~0U, 0);
		char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
		execve(tool, argv, envp);
		dprintf(2, "cannot execute %s: %s", tool, strerror(errno));
		_exit(127);
	}
	close(err[1]);
	char out[512];
	size_t got = 0;
	for (;;) {
		ssize_t k = read(err[0], out + got, sizeof(out) - 1 - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == sizeof(out) - 1)
			break;
	}
	out[got] = 0;
	close(err[0]);
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	while (got && (out[got - 1] == '\n' || out[got - 1] == ' '))
		out[--got] = 0;
	char joined[512] = "";
	size_t off = 0;
	for (size_t i = 0; argv[i] && off < sizeof(joined) - 1; i++)
		off += (size_t)snprintf(joined + off, sizeof(joined) - off, "%s%s", i ? " " : "", argv[i]);
	free(argv);
	free(copy);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	doing(c, "%s failed (%s %d): %s", joined, WIFEXITED(status) ? "exit status" : "signal",
	      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), got ? out : "no message");
	errno = EPERM;
	return -1;
}
