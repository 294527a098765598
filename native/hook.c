/*
 * HOOK: runs a createContainer or startContainer hook from inside the
 * container's namespaces, with the state JSON (from the last CONTINUE) on its
 * stdin, and kills it with SIGKILL once its timeout has passed.
 */
#include "tsrun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_hook_child(int in, const char *path, char **argv, char **env)
{
	if (dup2(in, 0) < 0)
		_exit(127);
	/* A hook gets stdio only: no sync fd, no fifo, nothing of the helper. */
	close_range(3, ~0U, 0);
	signal(SIGPIPE, SIG_DFL);
	execve(path, argv, env);
	_exit(127);
}

/* Feeds the state to the hook and waits for it, all within the deadline (-1: none). */
static int feed_and_wait(int out, int pidfd, const uint8_t *state, size_t len, long long deadline)
{
	size_t off = 0;
	for (;;) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = out, .events = POLLOUT } };
		int timeout = -1;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return -1;
			timeout = left > 1000000 ? 1000000 : (int)left;
		}
		int n = poll(p, out >= 0 ? 2 : 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -2;
		if (p[0].revents)
			return 0;
		if (out >= 0 && p[1].revents) {
			ssize_t w = off < len ? write(out, state + off, len - off) : 0;
			if (w > 0)
				off += (size_t)w;
			/* All written, or the hook closed its stdin: it gets EOF from here on. */
			if (off >= len || (w < 0 && errno != EAGAIN && errno != EINTR)) {
				close(out);
				out = -1;
			}
		}
	}
}

int step_hook(struct ctx *c, const struct step *s)
{
	const char *path = arg_str(s, 0);
	uint64_t timeout = arg_u64(s, 3);
	char **argv = arg_strs(s, 1, NULL), **env = arg_strs(s, 2, NULL);
	int pipefd[2] = { -1, -1 }, pidfd = -1, r = -1, status = 0;
	pid_t pid = -1;
	doing(c, "hook \"%s\"", path);
	if (!argv || !env || pipe2(pipefd, O_CLOEXEC) < 0)
		goto out;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0)
		run_hook_child(pipefd[0], path, argv, env);
	close(pipefd[0]);
	pipefd[0] = -1;
	fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	long long deadline = timeout ? now_ms() + (long long)(timeout > 86400000ULL ? 86400000ULL : timeout) * 1000 : -1;
	int fr = feed_and_wait(pipefd[1], pidfd, c->state, c->state_len, deadline);
	pipefd[1] = -1; /* closed by feed_and_wait or below */
	if (fr == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		pid = -1;
		doing(c, "hook \"%s\": killed after its timeout of %llu seconds", path, (unsigned long long)timeout);
		errno = ETIMEDOUT;
		goto out;
	}
	if (waitpid(pid, &status, 0) < 0)
		goto out;
	pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		r = 0;
	} else {
		if (WIFEXITED(status))
			doing(c, "hook \"%s\": exit status %d", path, WEXITSTATUS(status));
		else
			doing(c, "hook \"%s\": killed by signal %d", path, WTERMSIG(status));
		errno = ECHILD;
	}
out:;
	int e = errno;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	free(argv);
	free(env);
	signal(SIGPIPE, SIG_DFL);
	errno = e;
	return r;
}
