/**
 * Which hierarchies a host has. The mount table is the source of truth (a
 * temp directory cannot be statfs'ed as cgroup2); when it lists no cgroup
 * mount under the root, as for a test's temp directory, the directory shape
 * decides: `cgroup.controllers` marks a cgroup2 hierarchy, `cgroup.procs`
 * without it a v1 one.
 */
import { readFileSync, readdirSync, existsSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CgroupLayout } from './types.js';

/** Default hierarchy root. */
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/** v1 controllers the kernel knows; other super options are mount flags. */
const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio',
  'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc',
]);

/** One cgroup mount from /proc/self/mountinfo. */
export interface CgroupMount {
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  /** v1 controllers (and `name=...`) from the super options; empty for cgroup2. */
  controllers: string[];
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The cgroup and cgroup2 mounts listed in a mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    if (line.trim() === '') continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const fsType = post[0];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const mountPoint = unescapeMountField(pre[4] ?? '');
    const superOpts = (post[2] ?? '').split(',');
    const controllers = fsType === 'cgroup' ? superOpts.filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name=')) : [];
    out.push({ mountPoint, fsType, controllers });
  }
  return out;
}

/** What `detectCgroupLayout` reads; tests inject a fake mount table. */
export interface DetectOptions {
  /**
   * mountinfo text; default /proc/self/mountinfo. Pass '' to decide from the
   * directory shape alone.
   */
  mountinfo?: string;
}

function fromMounts(root: string, mounts: CgroupMount[]): CgroupLayout | undefined {
  const under = mounts.filter((m) => m.mountPoint === root || m.mountPoint.startsWith(root.endsWith('/') ? root : root + '/'));
  if (under.length === 0) return undefined;
  const atRoot = under.find((m) => m.mountPoint === root && m.fsType === 'cgroup2');
  if (atRoot) return { kind: 'v2', root, v1: {}, unified: root };
  const v1: Record<string, string> = {};
  let unified: string | undefined;
  for (const m of under) {
    if (m.fsType === 'cgroup2') unified ??= m.mountPoint;
    // A controller mounted twice: the first mount wins, as in the kernel's own listing order.
    else for (const c of m.controllers) v1[c] ??= m.mountPoint;
  }
  const hasV1 = Object.keys(v1).length > 0;
  if (hasV1 && unified) return { kind: 'hybrid', root, v1, unified };
  if (hasV1) return { kind: 'v1', root, v1 };
  if (unified) return { kind: 'v2', root, v1: {}, unified };
  return undefined;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function fromShape(root: string): CgroupLayout {
  if (!isDir(root)) return { kind: 'none', root, v1: {} };
  if (existsSync(join(root, 'cgroup.controllers'))) return { kind: 'v2', root, v1: {}, unified: root };
  const v1: Record<string, string> = {};
  let unified: string | undefined;
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!isDir(dir)) continue;
    if (existsSync(join(dir, 'cgroup.controllers'))) {
      unified ??= dir;
      continue;
    }
    if (!existsSync(join(dir, 'cgroup.procs'))) continue;
    // `cpu` is often a symlink to `cpu,cpuacct`: the real name lists the controllers.
    let real = dir;
    try {
      real = realpathSync(dir);
    } catch {
      /* keep dir */
    }
    for (const c of basename(real).split(',')) {
      const key = V1_CONTROLLERS.has(c) ? c : `name=${c}`;
      v1[key] ??= real;
    }
  }
  const hasV1 = Object.keys(v1).length > 0;
  if (hasV1 && unified) return { kind: 'hybrid', root, v1, unified };
  if (hasV1) return { kind: 'v1', root, v1 };
  if (unified) return { kind: 'v2', root, v1: {}, unified };
  return { kind: 'none', root, v1: {} };
}

/**
 * Detect the cgroup layout under `root` (default /sys/fs/cgroup): from the
 * mount table when it lists cgroup mounts there, else from the directory shape.
 */
export function detectCgroupLayout(root: string = DEFAULT_CGROUP_ROOT, opts: DetectOptions = {}): CgroupLayout {
  const clean = root.length > 1 ? root.replace(/\/+$/, '') : root;
  let mountinfo = opts.mountinfo;
  if (mountinfo === undefined) {
    try {
      mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      mountinfo = '';
    }
  }
  return fromMounts(clean, parseCgroupMounts(mountinfo)) ?? fromShape(clean);
}
