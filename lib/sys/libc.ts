/**
 * Typed wrappers for the namespace, mount and process system calls, made
 * from Node through koffi (loaded on first use, so importing this module
 * costs nothing).
 *
 * **The thread caveat.** Node is multithreaded: besides the main thread
 * that runs JavaScript there are V8 platform threads and libuv's thread
 * pool, which does the `fs` work. A namespace change applies to the calling
 * thread only, so:
 *
 * - `unshare()` and `setns()` called here move Node's main thread alone;
 *   `fs.readFile` (run on a libuv pool thread) still sees the old mount
 *   namespace, the old root and the old cwd;
 * - the kernel refuses `unshare(CLONE_NEWUSER)` (EINVAL) and `setns()` into
 *   a user namespace (EINVAL) or a mount namespace (EINVAL) from a process
 *   that has more than one thread, which Node always has.
 *
 * That is why tsrun's runtime never calls these from Node: TypeScript
 * compiles a plan and the single-threaded C helper `tsrun-init` executes it
 * (see `lib/runtime/run-plan.ts` and `examples/`). The wrappers exist for
 * teaching (watch the kernel rule happen), and for single-purpose tools
 * that know the caveat, e.g. reading `gethostname()` or signalling through a
 * pidfd. Every failure throws {@link SysError} with the errno and its name.
 * @module
 */
import { koffi } from './koffi.js';
import { constants as osConstants } from 'node:os';
import { SysError } from '../errors.js';

/** `clone(2)`/`unshare(2)` flags for namespaces (include/uapi/linux/sched.h). */
export const CLONE = {
  NEWTIME: 0x00000080,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  /** Unshare the filesystem attributes (root, cwd, umask): needed with `CLONE_NEWUSER`. */
  FS: 0x00000200,
  FILES: 0x00000400,
} as const;

/** `umount2(2)` flags. */
export const MNT = {
  FORCE: 0x1,
  /** Lazy unmount: detach now, clean up when no longer busy. */
  DETACH: 0x2,
  EXPIRE: 0x4,
  NOFOLLOW: 0x8,
} as const;

/** A few `prctl(2)` options (include/uapi/linux/prctl.h). */
export const PR = {
  SET_PDEATHSIG: 1,
  GET_PDEATHSIG: 2,
  GET_DUMPABLE: 3,
  SET_DUMPABLE: 4,
  GET_KEEPCAPS: 7,
  SET_KEEPCAPS: 8,
  SET_NAME: 15,
  GET_NAME: 16,
  CAPBSET_READ: 23,
  SET_CHILD_SUBREAPER: 36,
  GET_CHILD_SUBREAPER: 37,
  SET_NO_NEW_PRIVS: 38,
  GET_NO_NEW_PRIVS: 39,
} as const;

/** System call numbers of the calls glibc has no wrapper for (or only recent glibc has). */
const SYSCALLS: Record<string, { pivot_root: number; pidfd_open: number; pidfd_send_signal: number }> = {
  // pidfd_* came after the unified syscall table: the same number on every architecture.
  x64: { pivot_root: 155, pidfd_open: 434, pidfd_send_signal: 424 },
  arm64: { pivot_root: 41, pidfd_open: 434, pidfd_send_signal: 424 },
  riscv64: { pivot_root: 41, pidfd_open: 434, pidfd_send_signal: 424 },
  loong64: { pivot_root: 41, pidfd_open: 434, pidfd_send_signal: 424 },
  arm: { pivot_root: 218, pidfd_open: 434, pidfd_send_signal: 424 },
  s390x: { pivot_root: 217, pidfd_open: 434, pidfd_send_signal: 424 },
  ppc64: { pivot_root: 203, pidfd_open: 434, pidfd_send_signal: 424 },
};

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(osConstants.errno).map(([name, n]) => [n as number, name]),
);

/** The name of an errno number (`EINVAL`), or `errno N` when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

type Fn = (...args: unknown[]) => unknown;

interface Libc {
  unshare: Fn;
  setns: Fn;
  mount: Fn;
  umount2: Fn;
  sethostname: Fn;
  gethostname: Fn;
  getpid: Fn;
  prctl: Fn;
  syscallPaths: Fn;
  syscallPidfdOpen: Fn;
  syscallPidfdSignal: Fn;
}

let libc: Libc | undefined;

function lib(): Libc {
  if (libc) return libc;
  const l = koffi().load('libc.so.6');
  const f = (proto: string) => l.func(proto) as unknown as Fn;
  libc = {
    unshare: f('int unshare(int flags)'),
    setns: f('int setns(int fd, int nstype)'),
    mount: f('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: f('int umount2(const char *target, int flags)'),
    sethostname: f('int sethostname(const char *name, size_t len)'),
    gethostname: f('int gethostname(_Out_ uint8_t *name, size_t len)'),
    getpid: f('int getpid()'),
    prctl: f('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
    // syscall(2) is variadic in C; glibc's is assembly that reads integer
    // registers, so fixed prototypes with integer and pointer arguments are
    // call-compatible.
    syscallPaths: f('long syscall(long nr, const char *a, const char *b)'),
    syscallPidfdOpen: f('long syscall(long nr, int pid, unsigned int flags)'),
    syscallPidfdSignal: f('long syscall(long nr, int pidfd, int sig, void *info, unsigned int flags)'),
  };
  return libc;
}

function nr(name: 'pivot_root' | 'pidfd_open' | 'pidfd_send_signal'): number {
  const table = SYSCALLS[process.arch];
  if (!table) throw new SysError(name, 38, 'ENOSYS');
  return table[name];
}

/** Throws SysError with the current errno when `r` is negative. */
function check(r: unknown, syscall: string, path?: string): number {
  const n = Number(r);
  if (n < 0) {
    const errno = koffi().errno();
    throw new SysError(syscall, errno, errnoName(errno), path);
  }
  return n;
}

/**
 * `unshare(2)`: moves the **calling thread** into new namespaces.
 *
 * Thread caveat: from Node this is Node's main thread only; libuv's pool
 * threads (all `fs` calls) stay where they were. The kernel refuses
 * `CLONE_NEWUSER` from a multithreaded process with EINVAL, and so it always
 * does from Node: the rule behind tsrun's C helper. `CLONE_NEWUTS` would
 * succeed, and then `os.hostname()` and `sethostname()` would disagree with
 * code on other threads. tsrun's runtime never calls this.
 * @param flags `CLONE.*` flags, or-ed.
 * @throws SysError (EINVAL for CLONE_NEWUSER from Node, EPERM without CAP_SYS_ADMIN)
 */
export function unshare(flags: number): void {
  check(lib().unshare(flags), 'unshare');
}

/**
 * `setns(2)`: moves the **calling thread** into the namespace an fd refers
 * to (`/proc/<pid>/ns/<kind>` opened with `fs.openSync`).
 *
 * Thread caveat: from Node this moves the main thread only. Joining a user
 * or a mount namespace fails with EINVAL in a multithreaded process, so from
 * Node it always fails; joining a network or UTS namespace succeeds but
 * leaves libuv's threads (DNS lookups, `fs`) behind. tsrun's runtime never
 * calls this: the helper joins namespaces with `JOIN_NS` steps instead.
 * @param nstype a `CLONE.*` flag the fd must match, or 0 for any.
 */
export function setns(fd: number, nstype = 0): void {
  check(lib().setns(fd, nstype), 'setns');
}

/**
 * `mount(2)`. Mount points are per mount namespace, not per thread, so a
 * mount made from Node lands in the mount namespace Node is in: usually the
 * host's. That is safe only for tools that mean to change the host.
 * @param flags `MS_*` flags (see `spec.MS`).
 */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check(lib().mount(source, target, fstype, flags, data), 'mount', target);
}

/** `umount2(2)`: unmounts `target` in the caller's mount namespace. `flags`: `MNT.*`. */
export function umount2(target: string, flags = 0): void {
  check(lib().umount2(target, flags), 'umount2', target);
}

/**
 * `pivot_root(2)`: makes `newRoot` the root mount of the **caller's mount
 * namespace** and puts the old root at `putOld` (`pivot_root(".", ".")`
 * stacks the old root on the new one, ready for `umount2(".", MNT.DETACH)`).
 *
 * Thread caveat: it changes the root and cwd of every thread that had the
 * old root, but Node cannot be in a fresh mount namespace of its own (see
 * {@link setns}), so from Node it would pivot the host: only call it in a
 * process built for the purpose. tsrun's helper does it in the container
 * init (`PIVOT_ROOT` step).
 */
export function pivotRoot(newRoot: string, putOld: string): void {
  check(lib().syscallPaths(nr('pivot_root'), newRoot, putOld), 'pivot_root', newRoot);
}

/**
 * `sethostname(2)`: sets the hostname of the **caller's UTS namespace**. From
 * Node, that is the host's unless this thread unshared CLONE_NEWUTS, and
 * only this thread would see the new one: a tool calling it changes the
 * machine's name.
 */
export function sethostname(name: string): void {
  const b = Buffer.from(name);
  check(lib().sethostname(name, b.length), 'sethostname');
}

/** `gethostname(2)`: the hostname of the calling thread's UTS namespace. Safe from Node. */
export function gethostname(): string {
  const buf = Buffer.alloc(257);
  check(lib().gethostname(buf, buf.length), 'gethostname');
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

/** `getpid(2)`, straight from the kernel (equal to `process.pid`). Safe from Node. */
export function getpid(): number {
  return Number(lib().getpid());
}

/**
 * `pidfd_open(2)`: an fd that refers to a process, not to a pid number, so
 * a signal sent through it can never reach a process that reused the pid.
 * Safe from Node; close the fd with `fs.closeSync`.
 */
export function pidfdOpen(pid: number, flags = 0): number {
  return check(lib().syscallPidfdOpen(nr('pidfd_open'), pid, flags), 'pidfd_open');
}

/**
 * `pidfd_send_signal(2)`: signals the process a pidfd refers to. Safe from
 * Node. `signal` is a number (`os.constants.signals.SIGTERM`).
 */
export function pidfdSendSignal(pidfd: number, signal: number): void {
  check(lib().syscallPidfdSignal(nr('pidfd_send_signal'), pidfd, signal, null, 0), 'pidfd_send_signal');
}

/**
 * `prctl(2)` with integer arguments; returns the call's result.
 *
 * Thread caveat: most options are per thread (`PR_SET_NAME`,
 * `PR_SET_NO_NEW_PRIVS`, `PR_CAPBSET_DROP`, `PR_SET_KEEPCAPS`), so from Node
 * they change the main thread only, while the `GET_*` queries are safe.
 * @param option a `PR.*` option.
 */
export function prctl(option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
  return check(lib().prctl(option, arg2, arg3, arg4, arg5), 'prctl');
}

/** Whether the calling thread has no_new_privs set (`PR_GET_NO_NEW_PRIVS`). */
export function getNoNewPrivs(): boolean {
  return prctl(PR.GET_NO_NEW_PRIVS) === 1;
}

/** Whether the process is dumpable (`PR_GET_DUMPABLE`): tsrun-init clears it before joining a container. */
export function getDumpable(): boolean {
  return prctl(PR.GET_DUMPABLE) !== 0;
}
