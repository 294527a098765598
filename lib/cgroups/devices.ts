/**
 * Device access rules (`linux.resources.devices`): validation, the standard
 * allow list, and the v1 `devices.allow`/`devices.deny` lines. The v2 eBPF
 * program is built from the same normalized rules in `device-program.ts`.
 */
import { CgroupError } from '../errors.js';
import type { DeviceCgroupRule } from '../spec/types.js';

/** A rule with wildcards made explicit: major/minor -1 means any. */
export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  major: number;
  minor: number;
  /** Subset of "rwm", in that order. */
  access: string;
}

/**
 * The devices every container may use: the character devices runtimes create
 * in /dev (null, zero, full, random, urandom, tty, console, ptmx) plus every
 * pts slave (major 136). The runtime prepends these to the config's rules.
 */
export const DEFAULT_DEVICE_RULES: readonly Readonly<DeviceCgroupRule>[] = Object.freeze(([
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // /dev/full
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // /dev/random
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // /dev/urandom
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // /dev/tty
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // /dev/console
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // /dev/pts/*
] as DeviceCgroupRule[]).map((r) => Object.freeze(r)));

function wildcard(n: number | null | undefined, field: string): number {
  if (n === undefined || n === null || n === -1) return -1;
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new CgroupError(`${field}: invalid device number ${n}`, { field, value: String(n) });
  }
  return n;
}

/** Validate one OCI rule and make its wildcards explicit. */
export function normalizeDeviceRule(rule: DeviceCgroupRule, index: number): DeviceRule {
  const base = `linux.resources.devices[${index}]`;
  if (typeof rule.allow !== 'boolean') {
    throw new CgroupError(`${base}.allow: must be true or false`, { field: `${base}.allow` });
  }
  const type = rule.type ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') {
    throw new CgroupError(`${base}.type: must be a, b or c, not ${JSON.stringify(type)}`, { field: `${base}.type`, value: String(type) });
  }
  const accessIn = rule.access ?? 'rwm';
  if (!/^[rwm]*$/.test(accessIn) || accessIn === '') {
    throw new CgroupError(`${base}.access: must be a non-empty subset of "rwm", not ${JSON.stringify(accessIn)}`, {
      field: `${base}.access`,
      value: accessIn,
    });
  }
  const access = ['r', 'w', 'm'].filter((c) => accessIn.includes(c)).join('');
  return {
    allow: rule.allow,
    type,
    major: wildcard(rule.major, `${base}.major`),
    minor: wildcard(rule.minor, `${base}.minor`),
    access,
  };
}

/** The v1 rule text: `c 1:3 rwm`, `a *:* rwm`; type `a` always means everything. */
export function deviceRuleV1Line(rule: DeviceRule): string {
  if (rule.type === 'a') return 'a';
  const n = (x: number) => (x < 0 ? '*' : String(x));
  return `${rule.type} ${n(rule.major)}:${n(rule.minor)} ${rule.access}`;
}
