/**
 * Checks an OCI seccomp profile and turns it into the values libseccomp
 * takes, without touching libseccomp: every problem is reported at once as a
 * {@link SpecError} naming the field.
 */
import { SpecError, type SpecIssue } from '../errors.js';
import type { Seccomp } from '../spec/types.js';
import {
  ACTIONS_WITH_ERRNO,
  SECCOMP_ACTION_VALUES,
  SECCOMP_ARCH_NAMES,
  SECCOMP_FLAG_VALUES,
  SECCOMP_MAX_ARGS,
  SECCOMP_OPERATOR_VALUES,
} from './seccomp-tables.js';

/** One argument comparison, as `struct scmp_arg_cmp` wants it. */
export interface ArgComparison {
  index: number;
  op: number;
  /** For MASKED_EQ the mask, otherwise the value compared with. */
  datumA: bigint;
  /** For MASKED_EQ the value the masked argument must equal; 0 otherwise. */
  datumB: bigint;
}

/** One `syscalls[i]` entry, checked. */
export interface CheckedRule {
  /** `linux.seccomp.syscalls[i]`. */
  field: string;
  names: string[];
  actionName: string;
  /** The full SECCOMP_RET_* value, errno data included. */
  action: number;
  /**
   * The comparisons, grouped into the rules libseccomp gets: one group when
   * every argument index is distinct (the comparisons are ANDed), one group
   * per comparison as soon as an index repeats (runc's compatibility
   * behaviour: the comparisons are ORed; opencontainers/runc#2735).
   */
  ruleArgs: ArgComparison[][];
}

/** A profile that passed every check. */
export interface CheckedProfile {
  defaultActionName: string;
  defaultAction: number;
  /** Spec architecture names, deduplicated. */
  architectures: string[];
  /** SECCOMP_FILTER_FLAG_* bits the profile asks for (before the kernel probe). */
  requestedFlags: number;
  rules: CheckedRule[];
  /** Some rule uses SCMP_ACT_NOTIFY. */
  notify: boolean;
  warnings: string[];
}

const UINT64_MAX = (1n << 64n) - 1n;

function list(values: Iterable<string>): string {
  return [...values].join(', ');
}

function errnoValue(v: unknown, field: string, issues: SpecIssue[]): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    issues.push({ field, message: `must be an integer from 0 to 65535, got ${JSON.stringify(v)}` });
    return undefined;
  }
  return v;
}

function datum(v: unknown, field: string, issues: SpecIssue[], warnings: string[]): bigint {
  if (typeof v === 'bigint' && v >= 0n && v <= UINT64_MAX) return v;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    issues.push({ field, message: `must be an unsigned 64-bit integer, got ${JSON.stringify(v)}` });
    return 0n;
  }
  if (!Number.isSafeInteger(v)) {
    // JSON.parse has already rounded it; compare with what is left, but say so.
    warnings.push(`${field}: ${v} is above 2^53 and may have lost precision when the JSON was parsed`);
  }
  const b = BigInt(v);
  if (b > UINT64_MAX) {
    issues.push({ field, message: `must be an unsigned 64-bit integer, got ${v}` });
    return 0n;
  }
  return b;
}

/** The SECCOMP_RET_* value of an action name with its errno data. */
export function actionValue(name: string, errnoRet: number | undefined): number {
  const base = SECCOMP_ACTION_VALUES[name]!;
  if (!ACTIONS_WITH_ERRNO.has(name)) return base;
  // runc's default for both ERRNO and TRACE is EPERM.
  return (base | ((errnoRet ?? 1) & 0xffff)) >>> 0;
}

/**
 * Check `profile` (found at `field` in the config) and return the values to
 * compile; throws a {@link SpecError} listing every problem.
 */
export function checkProfile(profile: Seccomp, field = 'linux.seccomp'): CheckedProfile {
  const issues: SpecIssue[] = [];
  const warnings: string[] = [];
  if (profile === null || typeof profile !== 'object') {
    throw new SpecError([{ field, message: 'must be an object' }]);
  }

  const actionNames = Object.keys(SECCOMP_ACTION_VALUES);
  const checkAction = (name: unknown, at: string): name is string => {
    if (typeof name === 'string' && name in SECCOMP_ACTION_VALUES) return true;
    issues.push({ field: at, message: `unknown action ${JSON.stringify(name)}; valid: ${list(actionNames)}` });
    return false;
  };

  let defaultAction = 0;
  const defaultActionName = profile.defaultAction;
  const defaultErrno = errnoValue(profile.defaultErrnoRet, `${field}.defaultErrnoRet`, issues);
  if (checkAction(defaultActionName, `${field}.defaultAction`)) {
    if (defaultActionName === 'SCMP_ACT_NOTIFY') {
      // The process that would receive the listener fd is the one the filter
      // stops on its very next syscall.
      issues.push({ field: `${field}.defaultAction`, message: 'SCMP_ACT_NOTIFY cannot be the default action' });
    }
    if (defaultErrno !== undefined && !ACTIONS_WITH_ERRNO.has(defaultActionName)) {
      warnings.push(`${field}.defaultErrnoRet: ignored, ${defaultActionName} takes no errno`);
    }
    defaultAction = actionValue(defaultActionName, defaultErrno);
  }

  const architectures: string[] = [];
  if (profile.architectures !== undefined) {
    if (!Array.isArray(profile.architectures)) {
      issues.push({ field: `${field}.architectures`, message: 'must be an array of architecture names' });
    } else {
      profile.architectures.forEach((a, i) => {
        if (typeof a === 'string' && SECCOMP_ARCH_NAMES.includes(a)) {
          if (!architectures.includes(a)) architectures.push(a);
        } else {
          issues.push({
            field: `${field}.architectures[${i}]`,
            message: `unknown architecture ${JSON.stringify(a)}; valid: ${list(SECCOMP_ARCH_NAMES)}`,
          });
        }
      });
    }
  }

  let requestedFlags = 0;
  if (profile.flags !== undefined) {
    if (!Array.isArray(profile.flags)) {
      issues.push({ field: `${field}.flags`, message: 'must be an array of flag names' });
    } else {
      profile.flags.forEach((f, i) => {
        const v = typeof f === 'string' ? SECCOMP_FLAG_VALUES[f] : undefined;
        if (v === undefined) {
          issues.push({
            field: `${field}.flags[${i}]`,
            message: `unknown flag ${JSON.stringify(f)}; valid: ${list(Object.keys(SECCOMP_FLAG_VALUES))}`,
          });
        } else requestedFlags |= v;
      });
    }
  }

  const rules: CheckedRule[] = [];
  let notify = false;
  const syscalls = profile.syscalls ?? [];
  if (!Array.isArray(syscalls)) {
    issues.push({ field: `${field}.syscalls`, message: 'must be an array' });
  } else {
    syscalls.forEach((s, i) => {
      const at = `${field}.syscalls[${i}]`;
      if (s === null || typeof s !== 'object') {
        issues.push({ field: at, message: 'must be an object' });
        return;
      }
      let names: string[] = [];
      if (!Array.isArray(s.names) || s.names.some((n) => typeof n !== 'string')) {
        issues.push({ field: `${at}.names`, message: 'must be an array of syscall names' });
      } else {
        names = s.names;
        if (names.length === 0) warnings.push(`${at}.names: empty, the entry matches nothing`);
      }
      const errnoRet = errnoValue(s.errnoRet, `${at}.errnoRet`, issues);
      const actionOk = checkAction(s.action, `${at}.action`);
      if (actionOk && errnoRet !== undefined && !ACTIONS_WITH_ERRNO.has(s.action)) {
        warnings.push(`${at}.errnoRet: ignored, ${s.action} takes no errno`);
      }
      const comparisons: ArgComparison[] = [];
      const seen = new Set<number>();
      let repeated = false;
      if (s.args !== undefined && s.args !== null) {
        if (!Array.isArray(s.args)) {
          issues.push({ field: `${at}.args`, message: 'must be an array' });
        } else {
          s.args.forEach((a, j) => {
            const aat = `${at}.args[${j}]`;
            if (a === null || typeof a !== 'object') {
              issues.push({ field: aat, message: 'must be an object' });
              return;
            }
            const index = a.index;
            if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= SECCOMP_MAX_ARGS) {
              issues.push({ field: `${aat}.index`, message: `must be an integer from 0 to ${SECCOMP_MAX_ARGS - 1}, got ${JSON.stringify(index)}` });
              return;
            }
            const op = typeof a.op === 'string' ? SECCOMP_OPERATOR_VALUES[a.op] : undefined;
            if (op === undefined) {
              issues.push({
                field: `${aat}.op`,
                message: `unknown operator ${JSON.stringify(a.op)}; valid: ${list(Object.keys(SECCOMP_OPERATOR_VALUES))}`,
              });
              return;
            }
            const datumA = datum(a.value, `${aat}.value`, issues, warnings);
            const masked = a.op === 'SCMP_CMP_MASKED_EQ';
            const datumB = a.valueTwo === undefined || a.valueTwo === null ? 0n : datum(a.valueTwo, `${aat}.valueTwo`, issues, warnings);
            if (seen.has(index)) repeated = true;
            seen.add(index);
            // libseccomp ignores datum_b for every operator but MASKED_EQ.
            comparisons.push({ index, op, datumA, datumB: masked ? datumB : 0n });
          });
        }
      }
      if (!actionOk) return;
      const action = actionValue(s.action, errnoRet);
      if (s.action === 'SCMP_ACT_NOTIFY' && names.length > 0) notify = true;
      const ruleArgs = comparisons.length === 0 ? [[]] : repeated ? comparisons.map((c) => [c]) : [comparisons];
      rules.push({ field: at, names, actionName: s.action, action, ruleArgs });
    });
  }

  if (notify && !profile.listenerPath) {
    warnings.push(`${field}.listenerPath: not set, so no one will answer SCMP_ACT_NOTIFY; those syscalls will fail with ENOSYS`);
  }
  if (issues.length > 0) throw new SpecError(issues);
  return { defaultActionName, defaultAction, architectures, requestedFlags, rules, notify, warnings };
}
