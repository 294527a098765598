/*
 * The terminal of an attached container without a console socket (`tsrun
 * run` or `tsrun exec -t` in the foreground, the library's `terminal`
 * option): C allocates the pty in the container's devpts (CONSOLE, as for a
 * console socket) and sends the master to P over a socketpair; P, which stays
 * C's parent anyway, copies its own stdin to the master and the master to its
 * stdout until C exits. When P's stdin is a terminal it is put in raw mode
 * (the container's pty does the line editing and turns ^C into SIGINT) and
 * restored at the end; its size is copied to the pty at the start and on
 * every SIGWINCH (Node forwards it: P runs in a session of its own). A
 * resize channel (fd, records of rows:u16 cols:u16) sets the size for
 * callers whose stdin is not a terminal.
 */
#include "tsrun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int wake_pipe[2] = { -1, -1 };

static void wake(int sig)
{
	int e = errno;
	char b = sig == SIGCHLD ? 'C' : 'W';
	if (write(wake_pipe[1], &b, 1) < 0) {
		/* full: a wake-up is already pending */
	}
	errno = e;
}

int step_console_proxy(struct ctx *c, const struct step *s)
{
	int sv[2];
	doing(c, "terminal proxy: socketpair for the pty master");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (c->console_sock >= 0)
		close(c->console_sock);
	c->console_sock = sv[1]; /* C's end: CONSOLE sends the master on it */
	c->proxy_sock = sv[0];
	uint64_t resize = arg_u64(s, 0);
	if (resize) {
		doing(c, "terminal proxy: resize channel fd %llu (kept at startup: _TSRUN_RESIZE_FD)", (unsigned long long)resize);
		if (c->startup_resize_fd < 0 || resize != (uint64_t)c->startup_resize_fd) {
			errno = EBADF;
			return -1;
		}
		c->resize_fd = c->startup_resize_fd;
	}
	return 0;
}

static int recv_master(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1; /* C exited (or failed) before its CONSOLE step */
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS || h->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof(fd));
	return fd;
}

static int write_all_fd(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd w = { .fd = fd, .events = POLLOUT };
			poll(&w, 1, -1);
			continue;
		}
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void copy_size(int from_tty, int master)
{
	struct winsize ws;
	if (ioctl(from_tty, TIOCGWINSZ, &ws) == 0 && (ws.ws_row || ws.ws_col))
		ioctl(master, TIOCSWINSZ, &ws);
}

/* Reads what the master has left (non-blocking) and writes it out. */
static void drain(int master)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all_fd(1, buf, (size_t)n) < 0)
			return;
	}
}

int proxy_attached(struct ctx *c, pid_t pid)
{
	int master = recv_master(c->proxy_sock);
	close(c->proxy_sock);
	c->proxy_sock = -1;
	int status = 0, reaped = 0;
	if (master < 0 || pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		goto wait_plain;
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);

	struct termios saved;
	int raw = isatty(0) && tcgetattr(0, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(0, TCSANOW, &t);
		copy_size(0, master);
	}
	struct sigaction sa = { 0 };
	sa.sa_handler = wake;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL); /* resizes the pty instead of being forwarded */

	int in_open = 1, master_open = 1, resize_open = c->resize_fd >= 0;
	char buf[4096];
	while (!reaped) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			reaped = 1;
			break;
		}
		struct pollfd fds[4] = {
			{ .fd = wake_pipe[0], .events = POLLIN },
			{ .fd = master_open ? master : -1, .events = POLLIN },
			{ .fd = in_open ? 0 : -1, .events = POLLIN },
			{ .fd = resize_open ? c->resize_fd : -1, .events = POLLIN },
		};
		if (poll(fds, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents) {
			char w[64];
			ssize_t n;
			while ((n = read(wake_pipe[0], w, sizeof(w))) > 0)
				for (ssize_t i = 0; i < n; i++)
					if (w[i] == 'W' && raw)
						copy_size(0, master);
		}
		if (fds[1].revents) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n > 0)
				write_all_fd(1, buf, (size_t)n);
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				master_open = 0; /* EIO: every peer fd is closed */
		}
		if (fds[2].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n > 0) {
				write_all_fd(master, buf, (size_t)n);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				in_open = 0;
				/* No terminal in front: pass the end of input on as the pty's EOF character. */
				struct termios mt;
				if (!raw && tcgetattr(master, &mt) == 0)
					write_all_fd(master, (const char *)&mt.c_cc[VEOF], 1);
			}
		}
		if (fds[3].revents) {
			uint8_t rec[4];
			ssize_t n = read(c->resize_fd, rec, sizeof(rec));
			if (n == 4) {
				struct winsize ws = { .ws_row = (unsigned short)(rec[0] | rec[1] << 8), .ws_col = (unsigned short)(rec[2] | rec[3] << 8) };
				ioctl(master, TIOCSWINSZ, &ws);
			} else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				resize_open = 0;
			}
		}
	}
	if (master_open)
		drain(master);
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	close(master);
	if (reaped) {
		msg_send_u32(c->sync_fd, MSG_EXIT, (uint32_t)status);
		return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	}
wait_plain:
	return wait_attached(c, pid);
}
