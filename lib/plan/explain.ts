/**
 * The teaching view of a plan: `tsrun plan` prints one line per step with the
 * config field behind it; `--explain` adds the system calls with their
 * arguments and one sentence on why the step is there.
 */
import { NAMESPACES, MS, RLIMITS } from '../spec/tables.js';
import { OPS, type OpName } from './ops.js';
import type { Plan, PlanStep } from './types.js';

const CLONE_NAMES = Object.entries(NAMESPACES).map(([type, ns]) => ({ type, flag: ns.flag, name: `CLONE_NEW${type === 'mount' ? 'NS' : type === 'network' ? 'NET' : type.toUpperCase()}` }));

function cloneFlagNames(flags: number): string {
  const names = CLONE_NAMES.filter((c) => (flags & c.flag) !== 0).map((c) => c.name);
  return names.length ? names.join('|') : '0';
}

const MS_NAMES: [string, number][] = Object.entries(MS);
function msFlagNames(flags: number): string {
  const names = MS_NAMES.filter(([, v]) => (flags & v) === v).map(([k]) => `MS_${k}`);
  return names.length ? names.join('|') : '0';
}

function octal(n: bigint | number): string {
  return '0' + Number(n).toString(8);
}

function q(s: string): string {
  return JSON.stringify(s);
}

/** A short human description of what a step does with its arguments. */
export function describeStep(s: PlanStep): string {
  switch (s.op) {
    case 'RLIMIT': {
      const v = (x: bigint | number) => (BigInt(x) === (1n << 64n) - 1n ? 'unlimited' : String(x));
      const name = Object.entries(RLIMITS).find(([, n]) => n === Number(s.args.resource))?.[0] ?? `resource ${s.args.resource}`;
      return `${name} soft=${v(s.args.soft)} hard=${v(s.args.hard)}`;
    }
    case 'OOM_SCORE_ADJ': return `${s.args.value}`;
    case 'JOIN_NS': return `${cloneFlagNames(Number(s.args.nstype))} ${s.args.path}`;
    case 'NEW_TIMENS': return s.args.offsets.trim().replace(/\n/g, '; ') || 'no offsets';
    case 'EXEC_FIFO': return s.args.path;
    case 'CONSOLE_SOCKET': return s.args.path;
    case 'SESSION_KEYRING': return s.args.name;
    case 'CONSOLE_PROXY': return Number(s.args.resizeFd) ? `resize channel fd ${s.args.resizeFd}` : 'sizes from the helper\'s terminal';
    case 'SECCOMP_LISTENER': return `${s.args.path} (state ${s.args.state.join('<pid>').length} bytes)`;
    case 'USER_MAPS': return `uid_map ${q(s.args.uidMap.trim())} gid_map ${q(s.args.gidMap.trim())}${s.args.setgroups ? ` setgroups ${s.args.setgroups}` : ''}`;
    case 'IDMAP_TREE': return `${q(s.args.source)} uid_map ${q(s.args.uidMap.trim())} gid_map ${q(s.args.gidMap.trim())}${Number(s.args.recursive) ? ' (recursive)' : ''}`;
    case 'ID_MAP_TOOLS': return `uid_map by ${s.args.newuidmap || '(direct write)'}, gid_map by ${s.args.newgidmap || '(direct write)'}`;
    case 'CLONE': return `${cloneFlagNames(Number(s.args.flags))}${Number(s.args.detached) ? ' |CLONE_PARENT' : ''}`;
    case 'ROOTFS': return `${s.args.rootfs} (/ propagation ${msFlagNames(Number(s.args.propagation))})`;
    case 'MOUNT': {
      const a = s.args;
      const parts = [`${q(a.source)} on ${a.dest}`];
      if (a.fstype) parts.push(`type ${a.fstype}`);
      parts.push(`flags ${msFlagNames(Number(a.flags))}`);
      if (a.data) parts.push(`data ${q(a.data)}`);
      if (Number(a.propagation)) parts.push(`then ${msFlagNames(Number(a.propagation))}`);
      if (Number(a.attrSet) || Number(a.attrClr)) parts.push(`then mount_setattr(set 0x${Number(a.attrSet).toString(16)}, clear 0x${Number(a.attrClr).toString(16)})`);
      return parts.join(', ');
    }
    case 'MOUNT_TREE': {
      const a = s.args;
      const parts = [`idmapped tree ${a.tree} on ${a.dest}`];
      if (Number(a.flags)) parts.push(`flags ${msFlagNames(Number(a.flags))}`);
      if (Number(a.propagation)) parts.push(`then ${msFlagNames(Number(a.propagation))}`);
      if (Number(a.attrSet) || Number(a.attrClr)) parts.push(`then mount_setattr(set 0x${Number(a.attrSet).toString(16)}, clear 0x${Number(a.attrClr).toString(16)})`);
      return parts.join(', ');
    }
    case 'MKNOD': {
      const t = Number(s.args.type) === 0o060000 ? 'b' : Number(s.args.type) === 0o010000 ? 'p' : 'c';
      return `${s.args.path} ${t} ${s.args.major}:${s.args.minor} mode ${octal(s.args.mode)} owner ${s.args.uid}:${s.args.gid}`;
    }
    case 'SYMLINK': return `${s.args.path} -> ${s.args.target}`;
    case 'SYNC': return `point ${s.args.point}`;
    case 'HOOK': return `${s.args.path} ${JSON.stringify(s.args.args)}${Number(s.args.timeout) ? ` timeout ${s.args.timeout}s` : ''}`;
    case 'PIVOT_ROOT':
    case 'CHROOT':
    case 'REMOUNT_ROOT_RO':
    case 'NO_NEW_PRIVS':
    case 'WAIT_START':
    case 'SETSID':
      return '';
    case 'MASK_PATH':
    case 'READONLY_PATH':
      return s.args.path;
    case 'SYSCTL': return `${s.args.key}=${s.args.value}`;
    case 'HOSTNAME':
    case 'DOMAINNAME':
      return q(s.args.name);
    case 'ROOT_PROPAGATION': return msFlagNames(Number(s.args.flags));
    case 'CWD': return s.args.path;
    case 'UMASK': return octal(s.args.mask);
    case 'PERSONALITY': return `0x${Number(s.args.persona).toString(16)}`;
    case 'CAP_BOUNDING': return `keep 0x${BigInt(s.args.keep).toString(16)}`;
    case 'USER': return `uid ${s.args.uid} gid ${s.args.gid}${s.args.additionalGids.length ? ` groups ${s.args.additionalGids.join(',')}` : ''}`;
    case 'CAPS': return `eff 0x${BigInt(s.args.effective).toString(16)} prm 0x${BigInt(s.args.permitted).toString(16)} inh 0x${BigInt(s.args.inheritable).toString(16)} amb 0x${BigInt(s.args.ambient).toString(16)}`;
    case 'SECCOMP': return `${s.args.program.length / 8} BPF instructions, flags 0x${Number(s.args.flags).toString(16)}`;
    case 'RESOLVE_EXEC': return `${q(s.args.name)} in PATH ${q(s.args.path)}`;
    case 'EXEC': return `${JSON.stringify(s.args.argv)} (${s.args.env.length} env vars, fds >= ${s.args.keepFds} closed)`;
    case 'CONSOLE': return `${s.args.socket || 'the CONSOLE_SOCKET or CONSOLE_PROXY socket'}${Number(s.args.rows) ? ` size ${s.args.cols}x${s.args.rows}` : ''}`;
  }
}

/** Where a step runs, in words. */
function where(op: OpName): string {
  return OPS[op].who === 'P' ? 'helper' : 'init';
}

/**
 * Formats a plan, one step per line: index, where it runs, op, config field
 * and arguments. With `explain`, each step also gets the system calls it
 * makes and why it is there.
 */
export function formatPlan(plan: Plan, opts: { explain?: boolean } = {}): string {
  const lines: string[] = [];
  const width = String(plan.steps.length).length;
  for (const [i, s] of plan.steps.entries()) {
    const idx = String(i).padStart(width);
    const desc = describeStep(s);
    lines.push(`${idx}  ${where(s.op).padEnd(6)} ${s.op.padEnd(16)} ${s.field.padEnd(28)} ${desc}`.trimEnd());
    if (opts.explain) {
      lines.push(`${' '.repeat(width)}  ${' '.repeat(6)} syscall: ${OPS[s.op].syscall}`);
      lines.push(`${' '.repeat(width)}  ${' '.repeat(6)} why: ${s.why}`);
    }
  }
  return lines.join('\n') + '\n';
}
