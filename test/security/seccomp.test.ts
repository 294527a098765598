/**
 * Seccomp end to end: OCI profiles compiled with libseccomp in the host and
 * loaded by tsrun-init as the last step before execve, checked from inside
 * real containers; SCMP_ACT_NOTIFY hands the listener fd and the container
 * process state to listenerPath.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { compileC, makeMarker, setup, sleep } from './harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const ARCH = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
const EREMOTEIO = 121;

t.test('SCMP_ACT_ERRNO on mkdir: mkdir fails with errnoRet inside, everything else works; Seccomp: 2', async (t) => {
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'mkdir /dev/shm/x; echo "mkdir=$?"; echo hi > /dev/shm/f && cat /dev/shm/f; /probe info'], (c) => {
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCH, syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: EREMOTEIO }] };
  });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'sc-errno']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr + r.stdout, /Remote I\/O error/, 'mkdir failed with errnoRet (EREMOTEIO)');
  t.match(r.stdout, /mkdir=1/);
  t.match(r.stdout, /^hi$/m, 'other syscalls work');
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  t.equal(String(info.seccomp), '2', '/proc/self/status shows Seccomp: 2 (filter mode)');
  t.ok(Number(info.seccompFilters) >= 1);
});

t.test('SCMP_ACT_KILL_PROCESS: the process dies of SIGSYS at the denied syscall', async (t) => {
  const { bundle, state } = await setup(t, ['/bin/mkdir', '/dev/shm/k'], (c) => {
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCH, syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL_PROCESS' }] };
  });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'sc-kill']);
  t.equal(r.code, 128 + 31, `128 + SIGSYS: ${r.stderr}`);
});

/** A default-deny allow-list in the style of Docker's profile (enough for busybox and the probe). */
const ALLOWED = `accept accept4 access alarm arch_prctl bind brk capget capset chdir chmod chown clock_getres clock_gettime
clock_nanosleep clone clone3 close close_range connect dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_wait
eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fchdir fchmod fchmodat fchown fchownat fcntl fdatasync
flock fork fstat fstatfs fsync ftruncate futex getcwd getdents getdents64 getegid geteuid getgid getgroups getitimer getpgid
getpgrp getpid getppid getpriority getrandom getresgid getresuid getrlimit get_robust_list getrusage getsid getsockname
getsockopt gettid gettimeofday getuid getxattr ioctl kill lgetxattr link linkat listen lseek lstat madvise membarrier mmap mprotect
mremap munmap nanosleep newfstatat open openat openat2 pause pipe pipe2 poll ppoll prctl pread64 preadv prlimit64 pselect6 pwrite64
read readlink readlinkat readv recvfrom recvmsg rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait sched_getaffinity sched_yield select sendmsg sendto
set_robust_list set_tid_address setgid setgroups setitimer setresgid setresuid setuid setpgid setsid setsockopt sigaltstack socket socketpair stat statfs statx symlink
symlinkat sysinfo tgkill time times tkill truncate umask uname unlink unlinkat utimensat vfork wait4 waitid write writev`.split(/\s+/);

t.test('a default-deny Docker-like profile runs a shell; what it does not allow fails with EPERM', async (t) => {
  for (const nnp of [true, false]) {
    await t.test(`noNewPrivileges ${nnp}, uid 1000`, async (t) => {
      const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'echo shell-ok; mkdir /dev/shm/d; echo "mkdir=$?"; /probe info'], (c) => {
        c.process.noNewPrivileges = nnp;
        c.process.user = { uid: 1000, gid: 1000 };
        c.mounts.find((m: any) => m.destination === '/dev/shm').options.push('mode=1777');
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCH, syscalls: [{ names: ALLOWED, action: 'SCMP_ACT_ALLOW' }] };
      });
      const r = await state.cli(['run', '--bundle', bundle.dir, `sc-docker-${nnp}`]);
      t.equal(r.code, 0, r.stderr);
      t.match(r.stdout, /^shell-ok$/m);
      t.match(r.stdout, /mkdir=1/, 'mkdir is not in the allow-list');
      t.match(r.stdout + r.stderr, /Operation not permitted/, 'defaultAction ERRNO without defaultErrnoRet is EPERM');
      const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
      t.equal(String(info.seccomp), '2');
      t.equal(info.noNewPrivs, nnp);
      t.equal(info.uid, 1000, 'the filter was loaded before the switch to uid 1000 when no_new_privs is off');
    });
  }
});

/** Starts the agent on a socket in a temp dir; resolves when it listens. */
async function startAgent(t: any, answerErrno: number): Promise<{ socket: string; out: string; done: Promise<number | null> }> {
  const agent = compileC('seccomp-agent', readFileSync(join(repoRoot, 'test', 'security', 'c', 'seccomp-agent.c'), 'utf8'));
  const dir = makeMarker(t, {}).dir;
  const socket = join(dir, 'agent.sock');
  const out = join(dir, 'agent.out');
  const child = spawn(agent, [socket, out, String(answerErrno)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  const done = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', () => reject(new Error('the agent exited before listening')));
  });
  return { socket, out, done };
}

t.test('SCMP_ACT_NOTIFY: the agent gets the process state and the listener fd in one message, and answers', async (t) => {
  const EOPNOTSUPP = 95;
  const agent = await startAgent(t, EOPNOTSUPP);
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'mkdir /dev/shm/n; echo "mkdir=$?"; echo after'], (c) => {
    c.annotations = { 'org.example/test': 'notify' };
    c.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCH, listenerPath: agent.socket, listenerMetadata: 'meta-42',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
    };
  });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'sc-notify'], { timeoutMs: 30_000 });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /mkdir=1/, 'the notified mkdir failed with the agent\'s answer');
  t.match(r.stdout + r.stderr, /not supported/i, 'the errno is the one the agent sent (EOPNOTSUPP)');
  t.match(r.stdout, /^after$/m);
  t.equal(await Promise.race([agent.done, sleep(10_000).then(() => 'timeout')]), 0, 'the agent saw the filter go away and exited');
  const lines = readFileSync(agent.out, 'utf8').split('\n');
  const msg = JSON.parse(lines[0]!);
  t.same(msg.fds, ['seccompFd']);
  t.equal(msg.metadata, 'meta-42');
  t.equal(typeof msg.ociVersion, 'string');
  t.ok(Number.isInteger(msg.pid) && msg.pid > 1, `pid is the host pid of the container process: ${msg.pid}`);
  t.equal(msg.state.id, 'sc-notify');
  t.equal(msg.state.status, 'creating');
  t.equal(msg.state.pid, msg.pid, 'the init is the process');
  t.equal(msg.state.bundle, bundle.dir);
  t.same(msg.state.annotations, { 'org.example/test': 'notify' });
  t.equal(lines[1], 'fds 1 more 0', 'exactly one fd, then the connection is closed');
  t.equal(lines[2], 'fd anon_inode:seccomp notify');
  t.match(lines[3], /^notifications [1-9]\d* nr (83|258)$/, 'mkdir (83) or mkdirat (258) was notified');
});

t.test('SCMP_ACT_NOTIFY on sendmsg (and write, wait4) does not deadlock the helper', async (t) => {
  const agent = await startAgent(t, 1);
  const { bundle, state } = await setup(t, ['/bin/true'], (c) => {
    c.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCH, listenerPath: agent.socket,
      syscalls: [{ names: ['sendmsg', 'sendto', 'wait4'], action: 'SCMP_ACT_NOTIFY' }],
    };
  });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'sc-sendmsg'], { timeoutMs: 30_000 });
  t.notOk(r.timedOut, 'no deadlock');
  t.equal(r.code, 0, r.stderr);
  t.equal(await Promise.race([agent.done, sleep(10_000).then(() => 'timeout')]), 0);
  t.equal(readFileSync(agent.out, 'utf8').split('\n')[2], 'fd anon_inode:seccomp notify');
});

t.test('SCMP_ACT_NOTIFY with a listenerPath nobody listens on fails create cleanly', async (t) => {
  const dir = makeMarker(t, {}).dir;
  const { bundle, state } = await setup(t, ['/bin/true'], (c) => {
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCH, listenerPath: join(dir, 'nobody.sock'), syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
  });
  const r = await state.cli(['create', '--bundle', bundle.dir, 'sc-nolistener']);
  t.not(r.code, 0);
  t.match(r.stderr, /listener socket/);
  t.notOk(existsSync(join(state.root, 'sc-nolistener')), 'nothing left behind');
});
