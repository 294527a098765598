/**
 * The steps tsrun-init can execute: their numbers, where they run and their
 * arguments, mirroring the table in native/PROTOCOL.md (and native/plan.h).
 */

export type ArgType = 'u64' | 'str' | 'strs' | 'bytes';

export interface OpSignature {
  readonly code: number;
  /** `P`: the helper, in the host, before the clone. `C`: the container init. */
  readonly who: 'P' | 'C';
  readonly args: readonly (readonly [name: string, type: ArgType])[];
  /** The system calls the step makes, for `tsrun plan --explain`. */
  readonly syscall: string;
}

/**
 * Every step the helper can execute: its wire code, who runs it (P, in the
 * host, or C, the container init), its typed arguments and its system calls.
 * native/plan.c holds the same table; native/PROTOCOL.md describes each op.
 */
export const OPS = {
  RLIMIT: { code: 1, who: 'P', args: [['resource', 'u64'], ['soft', 'u64'], ['hard', 'u64']], syscall: 'setrlimit' },
  OOM_SCORE_ADJ: { code: 2, who: 'P', args: [['value', 'u64']], syscall: 'write /proc/self/oom_score_adj' },
  JOIN_NS: { code: 3, who: 'P', args: [['nstype', 'u64'], ['path', 'str']], syscall: 'open + setns' },
  NEW_TIMENS: { code: 4, who: 'P', args: [['offsets', 'str']], syscall: 'unshare(CLONE_NEWTIME) + write /proc/self/timens_offsets' },
  EXEC_FIFO: { code: 5, who: 'P', args: [['path', 'str']], syscall: 'mkfifo + open(O_PATH)' },
  USER_MAPS: { code: 6, who: 'P', args: [['uidMap', 'str'], ['gidMap', 'str'], ['setgroups', 'str']], syscall: 'write /proc/<pid>/{setgroups,uid_map,gid_map}' },
  CLONE: { code: 7, who: 'P', args: [['flags', 'u64'], ['detached', 'u64']], syscall: 'clone' },
  SECCOMP_LISTENER: { code: 8, who: 'P', args: [['path', 'str'], ['state', 'strs']], syscall: 'socket + connect (listenerPath)' },
  CONSOLE_SOCKET: { code: 9, who: 'P', args: [['path', 'str']], syscall: 'socket + connect (--console-socket)' },
  CONSOLE_PROXY: { code: 10, who: 'P', args: [['resizeFd', 'u64']], syscall: 'socketpair; after the clone recvmsg(SCM_RIGHTS) + poll/read/write (tcsetattr raw, TIOCSWINSZ)' },
  IDMAP_TREE: { code: 16, who: 'P', args: [['source', 'str'], ['uidMap', 'str'], ['gidMap', 'str'], ['recursive', 'u64']], syscall: 'clone(CLONE_NEWUSER) + open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP)' },
  ID_MAP_TOOLS: { code: 17, who: 'P', args: [['newuidmap', 'str'], ['newgidmap', 'str']], syscall: 'fork + execve newuidmap/newgidmap (at CLONE)' },
  ROOTFS: { code: 20, who: 'C', args: [['propagation', 'u64'], ['rootfs', 'str']], syscall: 'mount(MS_REC|MS_SLAVE) + mount(MS_BIND|MS_REC) + open(O_PATH)' },
  MOUNT: {
    code: 21,
    who: 'C',
    args: [['source', 'str'], ['dest', 'str'], ['fstype', 'str'], ['flags', 'u64'], ['data', 'str'], ['propagation', 'u64'], ['attrSet', 'u64'], ['attrClr', 'u64'], ['kind', 'u64']],
    syscall: 'openat2(RESOLVE_IN_ROOT) + mount',
  },
  MKNOD: { code: 22, who: 'C', args: [['path', 'str'], ['type', 'u64'], ['major', 'u64'], ['minor', 'u64'], ['mode', 'u64'], ['uid', 'u64'], ['gid', 'u64']], syscall: 'mknodat + fchownat' },
  SYMLINK: { code: 23, who: 'C', args: [['target', 'str'], ['path', 'str']], syscall: 'symlinkat' },
  SYNC: { code: 24, who: 'C', args: [['point', 'u64']], syscall: 'write + read (sync socket)' },
  HOOK: { code: 25, who: 'C', args: [['path', 'str'], ['args', 'strs'], ['env', 'strs'], ['timeout', 'u64'], ['kind', 'u64']], syscall: 'fork + execve' },
  PIVOT_ROOT: { code: 26, who: 'C', args: [], syscall: 'pivot_root(".", ".") + umount2(MNT_DETACH)' },
  CHROOT: { code: 27, who: 'C', args: [], syscall: 'mount(MS_MOVE) + chroot' },
  MASK_PATH: { code: 28, who: 'C', args: [['path', 'str']], syscall: 'mount (/dev/null bind or read-only tmpfs)' },
  READONLY_PATH: { code: 29, who: 'C', args: [['path', 'str']], syscall: 'open_tree + mount_setattr(MOUNT_ATTR_RDONLY) + move_mount' },
  SYSCTL: { code: 30, who: 'C', args: [['key', 'str'], ['value', 'str']], syscall: 'fsopen("proc") + openat2 + write' },
  HOSTNAME: { code: 31, who: 'C', args: [['name', 'str']], syscall: 'sethostname' },
  DOMAINNAME: { code: 32, who: 'C', args: [['name', 'str']], syscall: 'setdomainname' },
  REMOUNT_ROOT_RO: { code: 33, who: 'C', args: [], syscall: 'mount(MS_REMOUNT|MS_BIND|MS_RDONLY)' },
  ROOT_PROPAGATION: { code: 34, who: 'C', args: [['flags', 'u64']], syscall: 'mount(NULL, "/", NULL, flags)' },
  CWD: { code: 35, who: 'C', args: [['path', 'str']], syscall: 'mkdir + chdir + getcwd' },
  UMASK: { code: 36, who: 'C', args: [['mask', 'u64']], syscall: 'umask' },
  PERSONALITY: { code: 37, who: 'C', args: [['persona', 'u64']], syscall: 'personality' },
  NO_NEW_PRIVS: { code: 38, who: 'C', args: [], syscall: 'prctl(PR_SET_NO_NEW_PRIVS)' },
  CAP_BOUNDING: { code: 39, who: 'C', args: [['keep', 'u64']], syscall: 'prctl(PR_CAPBSET_DROP)' },
  USER: { code: 40, who: 'C', args: [['uid', 'u64'], ['gid', 'u64'], ['additionalGids', 'strs'], ['setgroups', 'u64']], syscall: 'setgroups + setresgid + setresuid' },
  CAPS: { code: 41, who: 'C', args: [['effective', 'u64'], ['permitted', 'u64'], ['inheritable', 'u64'], ['ambient', 'u64']], syscall: 'capset + prctl(PR_CAP_AMBIENT_RAISE)' },
  SECCOMP: { code: 42, who: 'C', args: [['flags', 'u64'], ['program', 'bytes']], syscall: 'seccomp(SECCOMP_SET_MODE_FILTER)' },
  RESOLVE_EXEC: { code: 43, who: 'C', args: [['name', 'str'], ['path', 'str']], syscall: 'faccessat (PATH lookup)' },
  WAIT_START: { code: 44, who: 'C', args: [], syscall: 'open(exec.fifo, O_WRONLY) + write' },
  EXEC: { code: 45, who: 'C', args: [['argv', 'strs'], ['env', 'strs'], ['keepFds', 'u64']], syscall: 'close_range + execve' },
  SETSID: { code: 46, who: 'C', args: [], syscall: 'setsid' },
  SESSION_KEYRING: { code: 48, who: 'C', args: [['name', 'str']], syscall: 'keyctl(KEYCTL_JOIN_SESSION_KEYRING) + keyctl(KEYCTL_SETPERM)' },
  CONSOLE: { code: 47, who: 'C', args: [['socket', 'str'], ['rows', 'u64'], ['cols', 'u64']], syscall: 'open(pts/ptmx) + ioctl(TIOCGPTPEER) + sendmsg(SCM_RIGHTS)' },
  MOUNT_TREE: { code: 60, who: 'C', args: [['tree', 'u64'], ['dest', 'str'], ['flags', 'u64'], ['propagation', 'u64'], ['attrSet', 'u64'], ['attrClr', 'u64'], ['kind', 'u64']], syscall: 'openat2(RESOLVE_IN_ROOT) + move_mount + mount(MS_REMOUNT|MS_BIND)' },
} as const satisfies Record<string, OpSignature>;

/** The name of a plan step's operation, e.g. `'MOUNT'`. */
export type OpName = keyof typeof OPS;

type ArgValue<T extends ArgType> = T extends 'u64' ? bigint | number : T extends 'str' ? string : T extends 'strs' ? readonly string[] : Uint8Array;

/** The named arguments of one op, typed from its signature. */
export type OpArgs<N extends OpName> = {
  [A in (typeof OPS)[N]['args'][number] as A[0]]: ArgValue<A[1]>;
};

/** Sync points (the `SYNC` step's argument and the `SYNC` message's payload). */
export const SYNC_POINTS = {
  /** Node runs the prestart and createRuntime hooks, then answers CONTINUE with the state. */
  CREATE_RUNTIME: 1,
  /**
   * An exec into a paused container (`--ignore-paused`): the process waits
   * here, in place of WAIT_START, while Node moves it into the frozen cgroup,
   * so it cannot exec (and finish) before it is in the cgroup.
   */
  JOIN_CGROUP: 2,
} as const;

/** Message types on the sync socket. */
export const MSG = {
  PID: 1,
  SYNC: 2,
  CONTINUE: 3,
  READY: 4,
  ERROR: 5,
  EXIT: 6,
  /** Node -> P: the encoded plan (the first and only message P reads before the clone). */
  PLAN: 7,
} as const;
export type MsgName = keyof typeof MSG;

export const PLAN_MAGIC = 0x31505354;
export const PLAN_MAX_BYTES = 256 * 1024 * 1024;
export const PLAN_MAX_STEPS = 1_000_000;
export const STRLIST_MAX = 4_000_000;
/** Step index in an ERROR message that does not point at a step. */
export const NO_STEP = 0xffffffff;

const byCode = new Map<number, OpName>(Object.entries(OPS).map(([name, sig]) => [sig.code, name as OpName]));

/** The op name for a numeric code, or undefined. */
export function opName(code: number): OpName | undefined {
  return byCode.get(code);
}
