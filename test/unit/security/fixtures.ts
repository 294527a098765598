/**
 * Seccomp fixtures: a default-deny allow-list profile in the style of
 * container engines' defaults (written for these tests), and a tiny C
 * loader that installs a compiled program the way tsrun-init does.
 */
import type { Seccomp } from '../../../lib/spec/types.js';

/** Syscalls an ordinary program (shell, coreutils, glibc start-up) needs, and more. */
const ALLOWED = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'capget', 'capset', 'chdir', 'chmod', 'chown',
  'chown32', 'clock_adjtime', 'clock_getres', 'clock_gettime', 'clock_nanosleep', 'close', 'close_range', 'connect',
  'copy_file_range', 'creat', 'dup', 'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_pwait',
  'epoll_pwait2', 'epoll_wait', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit', 'exit_group', 'faccessat',
  'faccessat2', 'fadvise64', 'fallocate', 'fanotify_mark', 'fchdir', 'fchmod', 'fchmodat', 'fchown', 'fchownat',
  'fcntl', 'fcntl64', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fork', 'fremovexattr', 'fsetxattr', 'fstat',
  'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'futex', 'futex_waitv', 'futimesat',
  'get_robust_list', 'get_thread_area', 'getcpu', 'getcwd', 'getdents', 'getdents64', 'getegid', 'geteuid', 'getgid',
  'getgroups', 'getitimer', 'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom',
  'getresgid', 'getresuid', 'getrlimit', 'getrusage', 'getsid', 'getsockname', 'getsockopt', 'gettid', 'gettimeofday',
  'getuid', 'getxattr', 'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'io_cancel',
  'io_destroy', 'io_getevents', 'io_setup', 'io_submit', 'ioctl', 'ioprio_get', 'ioprio_set', 'kill', 'lchown',
  'lgetxattr', 'link', 'linkat', 'listen', 'listxattr', 'llistxattr', 'lremovexattr', 'lseek', 'lsetxattr', 'lstat',
  'lstat64', 'madvise', 'membarrier', 'memfd_create', 'mincore', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'mlock',
  'mlock2', 'mlockall', 'mmap', 'mmap2', 'mprotect', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive',
  'mq_timedsend', 'mq_unlink', 'mremap', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall',
  'munmap', 'nanosleep', 'newfstatat', 'open', 'openat', 'openat2', 'pause', 'pidfd_open', 'pidfd_send_signal', 'pipe',
  'pipe2', 'poll', 'ppoll', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64', 'pselect6', 'pwrite64', 'pwritev',
  'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'recvfrom', 'recvmmsg', 'recvmsg',
  'remap_file_pages', 'removexattr', 'rename', 'renameat', 'renameat2', 'restart_syscall', 'rmdir', 'rseq',
  'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend',
  'rt_sigtimedwait', 'rt_tgsigqueueinfo', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity',
  'sched_getattr', 'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_setaffinity',
  'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp', 'select', 'semctl', 'semget',
  'semop', 'semtimedop', 'send', 'sendfile', 'sendmmsg', 'sendmsg', 'sendto', 'set_robust_list', 'set_thread_area',
  'set_tid_address', 'setfsgid', 'setfsuid', 'setgid', 'setgroups', 'setitimer', 'setpgid', 'setpriority',
  'setregid', 'setresgid', 'setresuid', 'setreuid', 'setrlimit', 'setsid', 'setsockopt', 'setuid', 'setxattr',
  'shmat', 'shmctl', 'shmdt', 'shmget', 'shutdown', 'sigaltstack', 'signalfd', 'signalfd4', 'socket', 'socketcall',
  'socketpair', 'splice', 'stat', 'stat64', 'statfs', 'statfs64', 'statx', 'symlink', 'symlinkat', 'sync',
  'sync_file_range', 'syncfs', 'sysinfo', 'tee', 'tgkill', 'time', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_settime', 'timerfd_create', 'timerfd_gettime', 'timerfd_settime',
  'times', 'tkill', 'truncate', 'umask', 'uname', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimes', 'vfork',
  'wait4', 'waitid', 'write', 'writev', 'arch_prctl', 'modify_ldt',
  // Newer than libseccomp 2.5.4 or made up: skipped with a warning, never fatal.
  'cachestat', 'fchmodat2', 'map_shadow_stack', 'tsrun_no_such_syscall',
];

/** The default-deny profile: EPERM for anything not listed, namespaces only through argument checks. */
export function defaultLikeProfile(): Seccomp {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: ALLOWED, action: 'SCMP_ACT_ALLOW' },
      // A query (0xffffffff) and the personalities programs commonly set;
      // several comparisons on one index, so each is its own rule (ORed).
      {
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 0x20000, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 0x20008, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' },
        ],
      },
      // clone without any CLONE_NEW* flag (mask of the namespace bits).
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      // clone3 hides its flags in a struct: ENOSYS makes glibc fall back to clone.
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    ],
  };
}

/**
 * The loader: reads BPF bytes from a file, sets no_new_privs (so no
 * privilege is needed), loads the filter with seccomp(2) and the given
 * flags, closes any notify listener (its syscalls then fail with ENOSYS),
 * then either execs a command or makes one syscall and prints
 * "<return> <errno>".
 *
 *   loader PROG FLAGS --exec CMD [ARGS...]
 *   loader PROG FLAGS --call NAME [A0 [A1 [A2]]]
 */
export const LOADER_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

static long nr_of(const char *name)
{
	if (!strcmp(name, "umask")) return SYS_umask;
	if (!strcmp(name, "getpriority")) return SYS_getpriority;
	if (!strcmp(name, "personality")) return SYS_personality;
	if (!strcmp(name, "acct")) return SYS_acct;
	if (!strcmp(name, "getppid")) return SYS_getppid;
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s PROG FLAGS --exec CMD... | --call NAME [ARGS...]\n", argv[0]);
		return 2;
	}
	static unsigned char buf[65536];
	FILE *f = fopen(argv[1], "rb");
	if (!f) { perror("open program"); return 2; }
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (len == 0 || len % sizeof(struct sock_filter)) { fprintf(stderr, "bad program length %zu\n", len); return 2; }
	unsigned int flags = (unsigned int)strtoul(argv[2], NULL, 0);
	int call = !strcmp(argv[3], "--call");
	long nr = call ? nr_of(argv[4]) : 0;
	unsigned long long a[3] = { 0, 0, 0 };
	for (int i = 0; call && i < 3 && 5 + i < argc; i++)
		a[i] = strtoull(argv[5 + i], NULL, 0);
	if (nr < 0) { fprintf(stderr, "unknown call %s\n", argv[4]); return 2; }
	struct sock_fprog prog = { .len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = (struct sock_filter *)buf };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("prctl"); return 3; }
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0) { fprintf(stderr, "seccomp: %s\n", strerror(errno)); return 4; }
	if (r > 0)
		close((int)r);
	if (call) {
		errno = 0;
		long v = syscall(nr, a[0], a[1], a[2]);
		printf("%ld %d\n", v, v < 0 ? errno : 0);
		return 0;
	}
	execvp(argv[4], argv + 4);
	fprintf(stderr, "exec %s: %s\n", argv[4], strerror(errno));
	return 127;
}
`;
