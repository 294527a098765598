/*
 * A minimal seccomp agent for the security tests: listens on argv[1], takes
 * one connection, receives the container process state and the listener fd
 * (SCM_RIGHTS), writes the state to argv[2], then answers every notification
 * with -argv[3] (an errno) until no process uses the filter, and appends
 * "notifications N nr <first syscall number>" to argv[2].
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	alarm(90);
	int answer = atoi(argv[3]);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strncpy(a.sun_path, argv[1], sizeof(a.sun_path) - 1);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0) {
		perror("bind");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	int c = accept(ls, NULL, NULL);
	if (c < 0)
		return 1;
	static char buf[1 << 20];
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr al;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return 1;
	buf[n] = 0;
	int fd = -1, nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		}
	/* One message, then the sender closes: a second read sees EOF. */
	char extra;
	ssize_t more = read(c, &extra, 1);
	FILE *out = fopen(argv[2], "w");
	fprintf(out, "%s\n", buf);
	fprintf(out, "fds %d more %zd\n", nfds, more);
	fflush(out);
	char link[64], target[128] = "";
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t tl = readlink(link, target, sizeof(target) - 1);
	if (tl > 0)
		target[tl] = 0;
	fprintf(out, "fd %s\n", target);
	fflush(out);
	int count = 0, first = -1;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			break;
		if (p.revents & POLLIN) {
			struct seccomp_notif req;
			struct seccomp_notif_resp resp;
			memset(&req, 0, sizeof(req));
			if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
				continue;
			memset(&resp, 0, sizeof(resp));
			resp.id = req.id;
			resp.error = -answer;
			ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
			if (first < 0)
				first = req.data.nr;
			count++;
		} else if (p.revents & (POLLHUP | POLLERR)) {
			break;
		}
	}
	fprintf(out, "notifications %d nr %d\n", count, first);
	fclose(out);
	return 0;
}
