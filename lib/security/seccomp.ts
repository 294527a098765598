/**
 * Compiles an OCI seccomp profile (config-linux.md "Seccomp") to classic BPF
 * in the host process with libseccomp, so that tsrun-init only has to hand
 * ready bytes to seccomp(SECCOMP_SET_MODE_FILTER) before execve.
 *
 * libseccomp and koffi are loaded on the first compilation that misses the
 * cache, never at import time.
 */
import type { Seccomp } from '../spec/types.js';
import { SpecError, type SpecIssue } from '../errors.js';
import {
  errnoName,
  exportProgram,
  kernelAcceptsFlags,
  kernelHasAction,
  libseccompPath,
  loadLibseccomp,
  SeccompUnavailableError,
  type FilterContext,
  type Libseccomp,
} from './libseccomp.js';
import { checkProfile, type ArgComparison, type CheckedProfile } from './seccomp-profile.js';
import { cacheEnvironment, profileHash, readCache, writeCache } from './seccomp-cache.js';
import {
  SECCOMP_ACTION_VALUES,
  SECCOMP_ARCH_NAMES,
  SECCOMP_FILTER_FLAG,
  SECCOMP_FLAG_VALUES,
  SECCOMP_OPERATOR_VALUES,
  SECCOMP_RET,
  libseccompArchName,
  probeSetFor,
} from './seccomp-tables.js';
import { endianness } from 'node:os';

export { SeccompUnavailableError } from './libseccomp.js';
export { SECCOMP_FILTER_FLAG } from './seccomp-tables.js';

/** A profile compiled for seccomp(2). */
export interface CompiledSeccomp {
  /** `struct sock_filter[]`, 8 bytes per instruction, native byte order. */
  program: Uint8Array;
  /**
   * SECCOMP_FILTER_FLAG_* to pass to seccomp(2): the profile's flags the
   * running kernel supports, plus NEW_LISTENER when `notify` is set (with
   * TSYNC_ESRCH when TSYNC is also asked for, as the kernel requires).
   */
  flags: number;
  /**
   * The profile uses SCMP_ACT_NOTIFY: loading returns a listener fd that
   * must reach `listenerPath`, or the notified syscalls fail with ENOSYS
   * once the helper closes it.
   */
  notify: boolean;
  /** Things skipped or adjusted (unknown syscall names, unsupported flags), each naming its field. */
  warnings: string[];
  /** The program came from `cacheDir` without calling libseccomp. */
  cached: boolean;
}

/** Options of {@link compileSeccomp}. */
export interface CompileSeccompOptions {
  /** Directory of compiled programs keyed by the profile's content hash. */
  cacheDir?: string;
  /** libseccomp to load instead of `$TSRUN_LIBSECCOMP` or `libseccomp.so.2`. */
  libraryPath?: string;
  /** Where the profile sits in the config, for error fields (default `linux.seccomp`). */
  field?: string;
}

// errno values libseccomp returns negated.
const EEXIST = 17;

/** `struct scmp_arg_cmp[]`: u32 arg, u32 op, u64 datum_a, u64 datum_b (24 bytes, 8-aligned). */
function encodeComparisons(args: ArgComparison[]): Buffer | null {
  if (args.length === 0) return null;
  const buf = Buffer.alloc(24 * args.length);
  const le = endianness() === 'LE';
  args.forEach((a, i) => {
    const o = 24 * i;
    if (le) {
      buf.writeUInt32LE(a.index, o);
      buf.writeUInt32LE(a.op, o + 4);
      buf.writeBigUInt64LE(a.datumA, o + 8);
      buf.writeBigUInt64LE(a.datumB, o + 16);
    } else {
      buf.writeUInt32BE(a.index, o);
      buf.writeUInt32BE(a.op, o + 4);
      buf.writeBigUInt64BE(a.datumA, o + 8);
      buf.writeBigUInt64BE(a.datumB, o + 16);
    }
  });
  return buf;
}

let flagSupport: Map<number, boolean> | undefined;

/** Which SECCOMP_FILTER_FLAG_* bits the running kernel accepts (probed once per process). */
function kernelFlagSupport(): Map<number, boolean> {
  if (flagSupport) return flagSupport;
  flagSupport = new Map();
  for (const bit of Object.values(SECCOMP_FILTER_FLAG)) flagSupport.set(bit, kernelAcceptsFlags(probeSetFor(bit)));
  return flagSupport;
}

function flagName(bit: number): string {
  return Object.entries(SECCOMP_FLAG_VALUES).find(([, v]) => v === bit)?.[0] ?? `0x${bit.toString(16)}`;
}

/** The flags to pass to seccomp(2) for what the profile asks and what the kernel supports. */
function resolveFlags(requested: number, notify: boolean, field: string, warnings: string[]): number {
  const supported = kernelFlagSupport();
  let flags = 0;
  for (const bit of Object.values(SECCOMP_FLAG_VALUES)) {
    if (!(requested & bit)) continue;
    if (supported.get(bit)) flags |= bit;
    else warnings.push(`${field}.flags: ${flagName(bit)} is not supported by this kernel, ignored`);
  }
  const F = SECCOMP_FILTER_FLAG;
  if (flags & F.WAIT_KILLABLE_RECV && !notify) {
    // The kernel rejects it without a listener.
    flags &= ~F.WAIT_KILLABLE_RECV;
    warnings.push(`${field}.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored, no rule uses SCMP_ACT_NOTIFY`);
  }
  if (notify) {
    flags |= F.NEW_LISTENER;
    if (flags & F.TSYNC) {
      // TSYNC with NEW_LISTENER is only accepted together with TSYNC_ESRCH.
      if (supported.get(F.TSYNC_ESRCH)) flags |= F.TSYNC_ESRCH;
      else {
        flags &= ~F.TSYNC;
        warnings.push(`${field}.flags: SECCOMP_FILTER_FLAG_TSYNC ignored, this kernel cannot combine it with a notify listener`);
      }
    }
  }
  return flags;
}

/** Build the libseccomp filter for a checked profile and export it. */
function build(lib: Libseccomp, p: CheckedProfile, field: string): { program: Uint8Array; notify: boolean; warnings: string[] } {
  const issues: SpecIssue[] = [];
  const warnings: string[] = [];
  const ctx: FilterContext | null = lib.init(p.defaultAction);
  if (!ctx) {
    throw new SpecError([
      { field: `${field}.defaultAction`, message: `libseccomp ${lib.version} refused ${p.defaultActionName} as the default action (not supported by this kernel?)` },
    ]);
  }
  let notify = false;
  try {
    p.architectures.forEach((name) => {
      const token = lib.archResolveName(libseccompArchName(name));
      const at = `${field}.architectures[${p.architectures.indexOf(name)}]`;
      if (token === 0) {
        issues.push({ field: at, message: `${name} is not supported by libseccomp ${lib.version}` });
        return;
      }
      const r = lib.archAdd(ctx, token);
      // The native architecture is already in a new filter.
      if (r < 0 && -r !== EEXIST) issues.push({ field: at, message: `seccomp_arch_add(${name}): ${errnoName(r)}` });
    });
    for (const rule of p.rules) {
      if (rule.action === p.defaultAction) {
        // libseccomp refuses a rule that only restates the default (EACCES).
        if (rule.names.length > 0) warnings.push(`${rule.field}: action equals the default action, skipped`);
        continue;
      }
      rule.names.forEach((name, k) => {
        const nr = lib.syscallResolveName(name);
        if (nr === -1) {
          // runc ignores names its libseccomp does not know, so profiles can
          // list syscalls newer than the host's library.
          warnings.push(`${rule.field}.names[${k}]: unknown syscall ${JSON.stringify(name)}, skipped`);
          return;
        }
        for (const args of rule.ruleArgs) {
          const r = lib.ruleAddArray(ctx, rule.action, nr, args.length, encodeComparisons(args));
          if (r < 0) {
            const why = -r === EEXIST ? ': an earlier rule has the same syscall and arguments with another action' : '';
            issues.push({ field: `${rule.field}.names[${k}]`, message: `seccomp_rule_add(${name}): ${errnoName(r)}${why}` });
            return;
          }
        }
        if (rule.actionName === 'SCMP_ACT_NOTIFY') notify = true;
      });
    }
    if (issues.length > 0) throw new SpecError(issues);
    const program = exportProgram(lib, ctx);
    if (program.length === 0 || program.length % 8 !== 0) {
      throw new Error(`seccomp_export_bpf produced ${program.length} bytes, not whole instructions`);
    }
    return { program, notify, warnings };
  } finally {
    lib.release(ctx);
  }
}

/**
 * Compile an OCI seccomp profile to the BPF program and flags for seccomp(2).
 *
 * Throws {@link SpecError} for invalid names or values (every problem at
 * once, each naming its field) and {@link SeccompUnavailableError} when
 * libseccomp cannot be loaded. Unknown syscall names are skipped with a
 * warning, as runc does.
 */
export function compileSeccomp(profile: Seccomp, opts: CompileSeccompOptions = {}): CompiledSeccomp {
  const field = opts.field ?? 'linux.seccomp';
  const checked = checkProfile(profile, field);
  let key: string | undefined;
  let env: string | undefined;
  if (opts.cacheDir) {
    key = profileHash(profile);
    env = `${cacheEnvironment(libseccompPath(opts.libraryPath))}|${field}`;
    const hit = readCache(opts.cacheDir, key, env);
    if (hit) return { ...hit, cached: true };
  }
  const lib = loadLibseccomp(opts.libraryPath);
  const built = build(lib, checked, field);
  const warnings = [...checked.warnings, ...built.warnings];
  const flags = resolveFlags(checked.requestedFlags, built.notify, field, warnings);
  const result: CompiledSeccomp = { program: built.program, flags, notify: built.notify, warnings, cached: false };
  if (opts.cacheDir && key && env) {
    try {
      writeCache(opts.cacheDir, key, env, result);
    } catch (err) {
      result.warnings.push(`seccomp cache ${opts.cacheDir}: not written: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return result;
}

/** The seccomp part of `tsrun features` (runtime-spec features.md). */
export interface SeccompFeatures {
  /** libseccomp could be loaded. */
  enabled: boolean;
  /** Actions this runtime compiles and the kernel implements. */
  actions: string[];
  operators: string[];
  /** Architectures the loaded libseccomp can put in a filter. */
  archs: string[];
  /** Flags a profile may name. */
  knownFlags: string[];
  /** Flags the running kernel accepts. */
  supportedFlags: string[];
  /** libseccomp's version, `major.minor.micro`. */
  version?: string;
}

/** What seccomp support this host has; never throws for a missing libseccomp (`enabled: false`). */
export function seccompFeatures(opts: { libraryPath?: string } = {}): SeccompFeatures {
  const knownFlags = Object.keys(SECCOMP_FLAG_VALUES);
  let lib: Libseccomp;
  try {
    lib = loadLibseccomp(opts.libraryPath);
  } catch (err) {
    if (err instanceof SeccompUnavailableError) {
      return { enabled: false, actions: [], operators: [], archs: [], knownFlags, supportedFlags: [] };
    }
    throw err;
  }
  const kernelRet = (name: string): number => (name === 'SCMP_ACT_NOTIFY' ? SECCOMP_RET.USER_NOTIF : SECCOMP_ACTION_VALUES[name]!);
  const support = kernelFlagSupport();
  return {
    enabled: true,
    actions: Object.keys(SECCOMP_ACTION_VALUES).filter((a) => kernelHasAction(kernelRet(a))),
    operators: Object.keys(SECCOMP_OPERATOR_VALUES),
    archs: SECCOMP_ARCH_NAMES.filter((a) => lib.archResolveName(libseccompArchName(a)) !== 0),
    knownFlags,
    supportedFlags: knownFlags.filter((f) => support.get(SECCOMP_FLAG_VALUES[f]!) === true),
    version: lib.version,
  };
}
