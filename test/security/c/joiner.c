/*
 * The control of the CVE-2016-9962 test (host side, run as root).
 *   tsrun-joiner PID DUMPABLE MS
 * Joins the user and pid namespaces of PID, the way a runtime's exec helper
 * does, forks a child inside, sets the child's dumpable flag to DUMPABLE and
 * names it "tsrun-joiner-<DUMPABLE>", then keeps it there for MS ms. A
 * container process with CAP_SYS_PTRACE in its user namespace may ptrace that
 * child exactly when it is dumpable: the kernel's credential checks pass
 * (same user namespace, the capability held there), and only the dumpable
 * check stands in the way, as the mm still belongs to the host's namespace.
 * Prints the child's host pid.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	char p[64];
	snprintf(p, sizeof(p), "/proc/%s/ns/user", argv[1]);
	int user = open(p, O_RDONLY | O_CLOEXEC);
	snprintf(p, sizeof(p), "/proc/%s/ns/pid", argv[1]);
	int pid = open(p, O_RDONLY | O_CLOEXEC);
	if (user < 0 || pid < 0 || setns(user, CLONE_NEWUSER) < 0 || setns(pid, CLONE_NEWPID) < 0) {
		perror("join");
		return 1;
	}
	int dumpable = atoi(argv[2]);
	/* The flag first, in the parent too, so the child is never dumpable under the name that says it is not. */
	prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
	pid_t c = fork();
	if (c < 0)
		return 1;
	if (c == 0) {
		char name[16];
		prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
		snprintf(name, sizeof(name), "tsrun-joiner-%d", dumpable);
		prctl(PR_SET_NAME, name, 0, 0, 0);
		long ms = atol(argv[3]);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) < 0)
			;
		_exit(0);
	}
	printf("%d\n", (int)c);
	fflush(stdout);
	int st;
	waitpid(c, &st, 0);
	return 0;
}
