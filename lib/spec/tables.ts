/**
 * The tables that the validator, the plan compiler and `tsrun features` all
 * read, so that what tsrun accepts, what it does and what it advertises
 * cannot drift apart.
 */
import type { NamespaceType } from './types.js';

/** mount(2) flags (include/uapi/linux/mount.h), as the plan and `tsrun plan` name them. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** mount_setattr(2) attributes (include/uapi/linux/mount.h), for the recursive `r*` mount options. */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  _ATIME: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  IDMAP: 0x100000,
  NOSYMFOLLOW: 0x200000,
} as const;

/** What one mount option does. */
export type MountOptionEffect =
  /** Sets (clear=false) or clears (clear=true) a mount(2) flag. */
  | { kind: 'flag'; flag: number; clear: boolean }
  /** A propagation change, applied with a separate mount(2) call after the mount. */
  | { kind: 'propagation'; flag: number }
  /** A recursive attribute applied with mount_setattr(AT_RECURSIVE) after the mount. */
  | { kind: 'recursive'; set: number; clear: number }
  /** Options with their own mechanism (idmap, tmpcopyup). */
  | { kind: 'extension'; name: 'idmap' | 'ridmap' | 'tmpcopyup' };

const flag = (f: number, clear = false): MountOptionEffect => ({ kind: 'flag', flag: f, clear });
const prop = (f: number): MountOptionEffect => ({ kind: 'propagation', flag: f });
const rattr = (set: number, clear = 0): MountOptionEffect => ({ kind: 'recursive', set, clear });

/**
 * Every mount option of config.md "Linux mount options": the MUSTs, the
 * SHOULDs (nosymfollow, the recursive r* attributes, idmap) and the MAYs.
 * An option not in this table is passed to mount(2) as filesystem data
 * (`size=64m`, `mode=755`, ...), as the spec says.
 */
export const MOUNT_OPTIONS: Readonly<Record<string, MountOptionEffect>> = {
  async: flag(MS.SYNCHRONOUS, true),
  atime: flag(MS.NOATIME, true),
  bind: flag(MS.BIND),
  defaults: flag(0),
  dev: flag(MS.NODEV, true),
  diratime: flag(MS.NODIRATIME, true),
  dirsync: flag(MS.DIRSYNC),
  exec: flag(MS.NOEXEC, true),
  iversion: flag(MS.I_VERSION),
  lazytime: flag(MS.LAZYTIME),
  loud: flag(MS.SILENT, true),
  mand: flag(MS.MANDLOCK),
  noatime: flag(MS.NOATIME),
  nodev: flag(MS.NODEV),
  nodiratime: flag(MS.NODIRATIME),
  noexec: flag(MS.NOEXEC),
  noiversion: flag(MS.I_VERSION, true),
  nolazytime: flag(MS.LAZYTIME, true),
  nomand: flag(MS.MANDLOCK, true),
  norelatime: flag(MS.RELATIME, true),
  nostrictatime: flag(MS.STRICTATIME, true),
  nosuid: flag(MS.NOSUID),
  nosymfollow: flag(MS.NOSYMFOLLOW),
  rbind: flag(MS.BIND | MS.REC),
  relatime: flag(MS.RELATIME),
  remount: flag(MS.REMOUNT),
  ro: flag(MS.RDONLY),
  rw: flag(MS.RDONLY, true),
  silent: flag(MS.SILENT),
  strictatime: flag(MS.STRICTATIME),
  suid: flag(MS.NOSUID, true),
  symfollow: flag(MS.NOSYMFOLLOW, true),
  sync: flag(MS.SYNCHRONOUS),
  private: prop(MS.PRIVATE),
  rprivate: prop(MS.PRIVATE | MS.REC),
  shared: prop(MS.SHARED),
  rshared: prop(MS.SHARED | MS.REC),
  slave: prop(MS.SLAVE),
  rslave: prop(MS.SLAVE | MS.REC),
  unbindable: prop(MS.UNBINDABLE),
  runbindable: prop(MS.UNBINDABLE | MS.REC),
  rro: rattr(MOUNT_ATTR.RDONLY),
  rrw: rattr(0, MOUNT_ATTR.RDONLY),
  rnosuid: rattr(MOUNT_ATTR.NOSUID),
  rsuid: rattr(0, MOUNT_ATTR.NOSUID),
  rnodev: rattr(MOUNT_ATTR.NODEV),
  rdev: rattr(0, MOUNT_ATTR.NODEV),
  rnoexec: rattr(MOUNT_ATTR.NOEXEC),
  rexec: rattr(0, MOUNT_ATTR.NOEXEC),
  rnodiratime: rattr(MOUNT_ATTR.NODIRATIME),
  rdiratime: rattr(0, MOUNT_ATTR.NODIRATIME),
  rrelatime: rattr(MOUNT_ATTR.RELATIME, MOUNT_ATTR._ATIME),
  rnorelatime: rattr(0, 0),
  rnoatime: rattr(MOUNT_ATTR.NOATIME, MOUNT_ATTR._ATIME),
  ratime: rattr(MOUNT_ATTR.RELATIME, MOUNT_ATTR._ATIME),
  rstrictatime: rattr(MOUNT_ATTR.STRICTATIME, MOUNT_ATTR._ATIME),
  rnostrictatime: rattr(MOUNT_ATTR.RELATIME, MOUNT_ATTR._ATIME),
  rnosymfollow: rattr(MOUNT_ATTR.NOSYMFOLLOW),
  rsymfollow: rattr(0, MOUNT_ATTR.NOSYMFOLLOW),
  idmap: { kind: 'extension', name: 'idmap' },
  ridmap: { kind: 'extension', name: 'ridmap' },
  tmpcopyup: { kind: 'extension', name: 'tmpcopyup' },
};

/**
 * Options that look like flags but are not in the table: these are typos
 * (`noexe`, `rdonly`) more often than filesystem data. Data options carry an
 * `=` or are known filesystem words; see {@link isFilesystemDataOption}.
 */
const FILESYSTEM_DATA_WORDS = new Set([
  'newinstance', 'nr_inodes', 'size', 'mode', 'uid', 'gid', 'ptmxmode', 'gidmapping', 'uidmapping',
  'huge', 'inode64', 'inode32', 'noacl', 'acl', 'user_xattr', 'nouser_xattr', 'errors', 'lowerdir',
  'upperdir', 'workdir', 'index', 'metacopy', 'redirect_dir', 'xino', 'userxattr', 'volatile',
  'hidepid', 'subset', 'context', 'fscontext', 'defcontext', 'rootcontext', 'seclabel', 'cgroup2',
  'nsdelegate', 'memory_recursiveprot', 'discard', 'nodiscard', 'commit', 'data', 'barrier',
  'nobarrier', 'norecovery', 'noload', 'trans', 'sysfs', 'max',
]);

/** True when an option is filesystem data to pass through in mount(2)'s data argument. */
export function isFilesystemDataOption(option: string): boolean {
  if (option.includes('=')) return true;
  return FILESYSTEM_DATA_WORDS.has(option);
}

/** Namespace types with their clone(2) flag and /proc/<pid>/ns file name. */
export const NAMESPACES: Readonly<Record<NamespaceType, { flag: number; procName: string }>> = {
  user: { flag: 0x10000000, procName: 'user' },
  mount: { flag: 0x00020000, procName: 'mnt' },
  pid: { flag: 0x20000000, procName: 'pid' },
  uts: { flag: 0x04000000, procName: 'uts' },
  ipc: { flag: 0x08000000, procName: 'ipc' },
  network: { flag: 0x40000000, procName: 'net' },
  cgroup: { flag: 0x02000000, procName: 'cgroup' },
  time: { flag: 0x00000080, procName: 'time' },
};

/**
 * The order in which namespaces are joined by path: the user namespace first
 * (it grants the capabilities needed for the others), mount last (after it,
 * /proc paths of the host are gone).
 */
export const NAMESPACE_JOIN_ORDER: readonly NamespaceType[] = [
  'user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount',
];

/** Capability names with their numbers (include/uapi/linux/capability.h). */
export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN',
  'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Capability number by name, or undefined for a name this table does not know. */
export function capabilityNumber(name: string): number | undefined {
  const i = CAPABILITIES.indexOf(name);
  return i < 0 ? undefined : i;
}

/** setrlimit(2) resources by their OCI names. */
export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/**
 * Sysctls that belong to a namespace, and which one. A key outside these
 * would change the host, so it is refused (runc's validator does the same).
 */
export const NAMESPACED_SYSCTLS: {
  exact: Readonly<Record<string, NamespaceType>>;
  prefixes: readonly { prefix: string; ns: NamespaceType }[];
} = {
  exact: {
    'kernel.msgmax': 'ipc',
    'kernel.msgmnb': 'ipc',
    'kernel.msgmni': 'ipc',
    'kernel.sem': 'ipc',
    'kernel.shmall': 'ipc',
    'kernel.shmmax': 'ipc',
    'kernel.shmmni': 'ipc',
    'kernel.shm_rmid_forced': 'ipc',
    'kernel.hostname': 'uts',
    'kernel.domainname': 'uts',
  },
  prefixes: [
    { prefix: 'fs.mqueue.', ns: 'ipc' },
    { prefix: 'net.', ns: 'network' },
  ],
};

/** Which namespace a sysctl key needs, or undefined when it is not namespaced. */
export function sysctlNamespace(key: string): NamespaceType | undefined {
  const exact = NAMESPACED_SYSCTLS.exact[key];
  if (exact) return exact;
  return NAMESPACED_SYSCTLS.prefixes.find((p) => key.startsWith(p.prefix))?.ns;
}

/** Hooks of runtime-spec v1.3.0, in lifecycle order. */
export const HOOK_NAMES = [
  'prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop',
] as const;
/** The name of a lifecycle hook, e.g. `'createRuntime'`. */
export type HookName = (typeof HOOK_NAMES)[number];

/** personality(2) domains. */
export const PERSONALITY_DOMAINS: Readonly<Record<string, number>> = {
  LINUX: 0x0000,
  LINUX32: 0x0008,
};

/** Default devices every container gets (runtime-linux.md "Default Devices"). */
export const DEFAULT_DEVICES: readonly { path: string; type: 'c'; major: number; minor: number; fileMode: number }[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666 },
];

/** The /dev symlinks runtime-linux.md requires. */
export const DEV_SYMLINKS: readonly { path: string; target: string }[] = [
  { path: '/dev/fd', target: '/proc/self/fd' },
  { path: '/dev/stdin', target: '/proc/self/fd/0' },
  { path: '/dev/stdout', target: '/proc/self/fd/1' },
  { path: '/dev/stderr', target: '/proc/self/fd/2' },
  { path: '/dev/ptmx', target: 'pts/ptmx' },
];

/** Seccomp actions of config-linux.md "Seccomp" (the schema's enum; a test keeps them equal). */
export const SECCOMP_ACTIONS: readonly string[] = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
];

/** Seccomp argument comparison operators. */
export const SECCOMP_OPERATORS: readonly string[] = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
];

/** Seccomp architectures a profile may name. */
export const SECCOMP_ARCHS: readonly string[] = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
];

/** seccomp(2) filter flags a profile may name. */
export const SECCOMP_FLAGS: readonly string[] = [
  'SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
];
