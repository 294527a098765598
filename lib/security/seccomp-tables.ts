/**
 * The names an OCI seccomp profile may use and what they mean to the kernel
 * and to libseccomp. Pure data: no FFI, so validation and cache look-ups can
 * run without loading koffi.
 */

/** SECCOMP_RET_* values (linux/seccomp.h); the low 16 bits carry ERRNO/TRACE data. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** Profile action name to its SECCOMP_RET_* base value. */
export const SECCOMP_ACTION_VALUES: Readonly<Record<string, number>> = {
  // runtime-spec: SCMP_ACT_KILL is libseccomp's historical name for kill-thread.
  SCMP_ACT_KILL: SECCOMP_RET.KILL_THREAD,
  SCMP_ACT_KILL_THREAD: SECCOMP_RET.KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: SECCOMP_RET.KILL_PROCESS,
  SCMP_ACT_TRAP: SECCOMP_RET.TRAP,
  SCMP_ACT_ERRNO: SECCOMP_RET.ERRNO,
  SCMP_ACT_TRACE: SECCOMP_RET.TRACE,
  SCMP_ACT_ALLOW: SECCOMP_RET.ALLOW,
  SCMP_ACT_LOG: SECCOMP_RET.LOG,
  SCMP_ACT_NOTIFY: SECCOMP_RET.USER_NOTIF,
};

/** Actions whose value carries `errnoRet` (the errno, or the tracer's data). */
export const ACTIONS_WITH_ERRNO: ReadonlySet<string> = new Set(['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE']);

/** Operator name to libseccomp's `enum scmp_compare`. */
export const SECCOMP_OPERATOR_VALUES: Readonly<Record<string, number>> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

/**
 * Architecture names of the spec. libseccomp's own name is the part after
 * `SCMP_ARCH_` in lower case; whether the loaded libseccomp knows it is
 * asked at compile time (LoongArch, m68k and SuperH need 2.6).
 */
export const SECCOMP_ARCH_NAMES: readonly string[] = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
];

/** The name libseccomp's `seccomp_arch_resolve_name` takes for a spec architecture. */
export function libseccompArchName(specName: string): string {
  return specName.slice('SCMP_ARCH_'.length).toLowerCase();
}

/** SECCOMP_FILTER_FLAG_* values (linux/seccomp.h). */
export const SECCOMP_FILTER_FLAG = {
  TSYNC: 1,
  LOG: 2,
  SPEC_ALLOW: 4,
  NEW_LISTENER: 8,
  TSYNC_ESRCH: 16,
  WAIT_KILLABLE_RECV: 32,
} as const;

/** Flag names a profile may list, with their values. */
export const SECCOMP_FLAG_VALUES: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: SECCOMP_FILTER_FLAG.TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG.LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG.SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV,
};

/** The flag set to probe so that the kernel judges `flag` alone (it rejects some flags on their own). */
export function probeSetFor(flag: number): number {
  // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
  return flag === SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV ? flag | SECCOMP_FILTER_FLAG.NEW_LISTENER : flag;
}

/** seccomp_data.args has six slots. */
export const SECCOMP_MAX_ARGS = 6;
