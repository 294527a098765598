/*
 * What a hostile image runs (static, copied into the rootfs as /attacker).
 *   attacker exe SECONDS   for SECONDS, scan /proc for other processes: try
 *       to open /proc/P/exe for writing (directly and re-opened through an
 *       O_PATH fd), and for every process whose comm starts with "memfd:" or
 *       "tsrun" (the helper joining the container) stop it, then try
 *       PTRACE_ATTACH, open /proc/P/fd and readlink /proc/P/cwd, then let it
 *       go (the test's host-side "tsrun-joiner" control counts as a helper).
 *       Prints one line per finding, with the pid and comm, and a summary:
 *       "scanned N helpers H exe-writes W helper-access A".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int try_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = write(fd, "", 0);
	close(fd);
	printf("WRITE-OPEN %s n=%zd\n", path, n);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "exe"))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	double end = now() + atof(argv[2]);
	int self = getpid();
	long scanned = 0, helpers = 0, writes = 0, access_ok = 0;
	static char seen[1 << 22];
	while (now() < end) {
		DIR *d = opendir("/proc");
		if (!d)
			return 1;
		struct dirent *e;
		while ((e = readdir(d))) {
			int pid = atoi(e->d_name);
			if (pid <= 0 || pid == self || pid >= (int)sizeof(seen))
				continue;
			char p[96], comm[64] = "";
			snprintf(p, sizeof(p), "/proc/%d/comm", pid);
			int cf = open(p, O_RDONLY | O_CLOEXEC);
			if (cf >= 0) {
				ssize_t n = read(cf, comm, sizeof(comm) - 1);
				comm[n > 0 ? n : 0] = 0;
				comm[strcspn(comm, "\n")] = 0;
				close(cf);
			}
			int helper = !strncmp(comm, "memfd:", 6) || !strncmp(comm, "tsrun", 5);
			if (seen[pid] && !helper)
				continue;
			if (!seen[pid])
				scanned++;
			seen[pid] = 1;
			if (helper) {
				/* Freeze it so the checks below see the joining process, not a race. */
				if (kill(pid, SIGSTOP) == 0) {
					/* kill() returns before the stop: wait until it is really stopped. */
					for (int w = 0; w < 200; w++) {
						char st[256] = "";
						snprintf(p, sizeof(p), "/proc/%d/stat", pid);
						int sf = open(p, O_RDONLY | O_CLOEXEC);
						if (sf < 0)
							break;
						ssize_t sn = read(sf, st, sizeof(st) - 1);
						close(sf);
						st[sn > 0 ? sn : 0] = 0;
						char *rp = strrchr(st, ')');
						if (rp && (rp[2] == 'T' || rp[2] == 't' || rp[2] == 'Z'))
							break;
						struct timespec ts = { 0, 500000 };
						nanosleep(&ts, NULL);
					}
					/* Stopped after it exec'd the container program: not the helper any more. */
					char again[64] = "";
					snprintf(p, sizeof(p), "/proc/%d/comm", pid);
					int cf2 = open(p, O_RDONLY | O_CLOEXEC);
					if (cf2 >= 0) {
						ssize_t n2 = read(cf2, again, sizeof(again) - 1);
						again[n2 > 0 ? n2 : 0] = 0;
						again[strcspn(again, "\n")] = 0;
						close(cf2);
					}
					char ex[512];
					snprintf(p, sizeof(p), "/proc/%d/exe", pid);
					ssize_t xl = readlink(p, ex, sizeof(ex) - 1);
					ex[xl > 0 ? xl : 0] = 0;
					/* Past execve's point of no return (a new mm, comm not yet updated) it is the container program. */
					if (strcmp(again, comm) || (xl > 0 && !strstr(ex, "memfd:") && !strstr(ex, "tsrun-joiner"))) {
						kill(pid, SIGCONT);
						continue;
					}
					helpers++;
					printf("HELPER %d %s\n", pid, comm);
					int acc = 0;
					if (ptrace(PTRACE_ATTACH, pid, 0, 0) == 0) {
						printf("PTRACE-ATTACH %d %s\n", pid, comm);
						waitpid(pid, NULL, __WALL);
						ptrace(PTRACE_DETACH, pid, 0, 0);
						acc = 1;
					}
					snprintf(p, sizeof(p), "/proc/%d/fd", pid);
					DIR *fd = opendir(p);
					if (fd) {
						struct dirent *f;
						char l[96], t[512];
						while ((f = readdir(fd))) {
							snprintf(l, sizeof(l), "%s/%s", p, f->d_name);
							ssize_t n = readlink(l, t, sizeof(t) - 1);
							if (n > 0) {
								t[n] = 0;
								printf("FD %d %s %s -> %s\n", pid, comm, f->d_name, t);
								acc = 1;
							}
						}
						closedir(fd);
					}
					char t[512];
					snprintf(p, sizeof(p), "/proc/%d/cwd", pid);
					ssize_t n = readlink(p, t, sizeof(t) - 1);
					if (n > 0) {
						t[n] = 0;
						printf("CWD %d %s %s\n", pid, comm, t);
						acc = 1;
					}
					snprintf(p, sizeof(p), "/proc/%d/exe", pid);
					n = readlink(p, t, sizeof(t) - 1);
					if (n > 0) {
						t[n] = 0;
						printf("EXE %d %s %s\n", pid, comm, t);
						acc = 1;
					}
					access_ok += acc;
					writes += try_write(p);
					kill(pid, SIGCONT);
				}
				continue;
			}
			snprintf(p, sizeof(p), "/proc/%d/exe", pid);
			writes += try_write(p);
			int o = open(p, O_PATH | O_CLOEXEC);
			if (o >= 0) {
				char q[64];
				snprintf(q, sizeof(q), "/proc/self/fd/%d", o);
				writes += try_write(q);
				close(o);
			}
		}
		closedir(d);
	}
	printf("scanned %ld helpers %ld exe-writes %ld helper-access %ld\n", scanned, helpers, writes, access_ok);
	return 0;
}
