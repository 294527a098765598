/*
 * A --console-socket receiver for the security tests: listens on argv[1],
 * takes one connection, receives the pty master (SCM_RIGHTS) and copies
 * everything read from it to argv[2] until the pty closes.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	alarm(60);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strncpy(a.sun_path, argv[1], sizeof(a.sun_path) - 1);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0)
		return 1;
	printf("listening\n");
	fflush(stdout);
	int c = accept(ls, NULL, NULL);
	char buf[4096];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr al;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	if (recvmsg(c, &m, 0) < 0)
		return 1;
	int master = -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&master, CMSG_DATA(cm), sizeof(int));
	FILE *out = fopen(argv[2], "w");
	ssize_t n;
	while ((n = read(master, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, out);
		fflush(out);
	}
	fclose(out);
	return 0;
}
