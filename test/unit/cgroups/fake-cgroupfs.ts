/**
 * A cgroupfs-shaped temporary directory: mkdir populates the control files a
 * kernel would show (per controller, v1 or v2), writes to a file that does
 * not exist fail with ENOENT, keyed files accumulate lines, cgroup.freeze
 * updates cgroup.events, and rmdir refuses a cgroup with children or
 * processes. It lets the manager run unchanged on controllers this host
 * cannot enable (cgroup v2 memory, cpu, io, pids, cpuset, rdma, misc).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { CgroupFs } from '../../../lib/cgroups/index.js';

const HUGE = ['2MB', '1GB'];

export const V2_FILES: Record<string, Record<string, string>> = {
  cpu: { 'cpu.weight': '100', 'cpu.max': 'max 100000', 'cpu.max.burst': '0', 'cpu.idle': '0', 'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '', 'cpuset.cpus.effective': '0-1', 'cpuset.mems.effective': '0' },
  memory: {
    'memory.low': '0', 'memory.min': '0', 'memory.high': 'max', 'memory.max': 'max', 'memory.swap.max': 'max', 'memory.current': '0',
    'memory.swap.current': '0', 'memory.peak': '0', 'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n', 'memory.stat': 'anon 0\nfile 0\n',
    'memory.oom.group': '0',
  },
  io: { 'io.weight': 'default 100', 'io.max': '', 'io.stat': '' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  hugetlb: Object.fromEntries(HUGE.flatMap((s) => [[`hugetlb.${s}.max`, 'max'], [`hugetlb.${s}.rsvd.max`, 'max'], [`hugetlb.${s}.current`, '0'], [`hugetlb.${s}.events`, 'max 0\n']])),
  rdma: { 'rdma.max': '', 'rdma.current': '' },
  misc: { 'misc.max': '', 'misc.current': '' },
};

export const V1_FILES: Record<string, Record<string, string>> = {
  cpu: { 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1', 'cpu.cfs_burst_us': '0', 'cpu.rt_period_us': '1000000', 'cpu.rt_runtime_us': '0', 'cpu.idle': '0', 'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n' },
  cpuacct: { 'cpuacct.usage': '0', 'cpuacct.usage_percpu': '0 0', 'cpuacct.usage_percpu_sys': '0 0', 'cpuacct.usage_percpu_user': '0 0', 'cpuacct.stat': 'user 0\nsystem 0\n' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  memory: {
    'memory.limit_in_bytes': '9223372036854771712', 'memory.memsw.limit_in_bytes': '9223372036854771712', 'memory.soft_limit_in_bytes': '9223372036854771712',
    'memory.swappiness': '60', 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n', 'memory.use_hierarchy': '1',
    'memory.kmem.limit_in_bytes': '9223372036854771712', 'memory.kmem.tcp.limit_in_bytes': '9223372036854771712', 'memory.usage_in_bytes': '0',
    'memory.max_usage_in_bytes': '0', 'memory.failcnt': '0', 'memory.stat': 'cache 0\nrss 0\ntotal_cache 0\n',
  },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm' },
  freezer: { 'freezer.state': 'THAWED' },
  blkio: {
    'blkio.bfq.weight': '100', 'blkio.bfq.weight_device': '', 'blkio.throttle.read_bps_device': '', 'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '', 'blkio.throttle.write_iops_device': '', 'blkio.throttle.io_service_bytes_recursive': '', 'blkio.throttle.io_serviced_recursive': '',
  },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  hugetlb: Object.fromEntries(HUGE.flatMap((s) => [[`hugetlb.${s}.limit_in_bytes`, '9223372036854771712'], [`hugetlb.${s}.usage_in_bytes`, '0'], [`hugetlb.${s}.max_usage_in_bytes`, '0'], [`hugetlb.${s}.failcnt`, '0']])),
  net_cls: { 'net_cls.classid': '0' },
  net_prio: { 'net_prio.ifpriomap': '' },
  rdma: { 'rdma.max': '' },
};

/** Files whose writes add a line instead of replacing the content. */
const APPEND = /^(io\.max|rdma\.max|io\.bfq\.weight|blkio\..*_device|net_prio\.ifpriomap|devices\.(allow|deny)|cgroup\.procs)$/;

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
}
function errno(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

export class FakeCgroupFs implements CgroupFs {
  /** Every write, in order: `path=value`, paths relative to the root. */
  readonly log: string[] = [];
  constructor(readonly root: string, private readonly v2Root?: string) {}

  private isV2(path: string): boolean {
    return this.v2Root !== undefined && (path === this.v2Root || path.startsWith(this.v2Root + '/'));
  }

  /** v1 controllers of the hierarchy holding `path`: the first directory name under the root. */
  private v1Controllers(path: string): string[] {
    const top = relative(this.root, path).split('/')[0] ?? '';
    return top === 'systemd' ? [] : top.split(',');
  }

  /** Make a hierarchy root. */
  initHierarchy(dir: string, v2Controllers?: string[]): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.procs'), '');
    if (v2Controllers) {
      writeFileSync(join(dir, 'cgroup.controllers'), v2Controllers.join(' '));
      writeFileSync(join(dir, 'cgroup.subtree_control'), '');
    } else {
      for (const c of this.v1Controllers(dir)) for (const [f, v] of Object.entries(V1_FILES[c] ?? {})) writeFileSync(join(dir, f), v);
    }
  }

  mkdir(path: string): void {
    mkdirSync(path);
    writeFileSync(join(path, 'cgroup.procs'), '');
    if (this.isV2(path)) {
      const enabled = this.read(join(dirname(path), 'cgroup.subtree_control')).split(/\s+/).filter(Boolean);
      writeFileSync(join(path, 'cgroup.controllers'), enabled.join(' '));
      writeFileSync(join(path, 'cgroup.subtree_control'), '');
      writeFileSync(join(path, 'cgroup.events'), 'populated 0\nfrozen 0\n');
      writeFileSync(join(path, 'cgroup.freeze'), '0');
      writeFileSync(join(path, 'cgroup.kill'), '');
      writeFileSync(join(path, 'cgroup.max.descendants'), 'max');
      writeFileSync(join(path, 'cgroup.max.depth'), 'max');
      for (const c of enabled) for (const [f, v] of Object.entries(V2_FILES[c] ?? {})) writeFileSync(join(path, f), v);
    } else {
      writeFileSync(join(path, 'tasks'), '');
      for (const c of this.v1Controllers(path)) for (const [f, v] of Object.entries(V1_FILES[c] ?? {})) writeFileSync(join(path, f), v);
    }
  }

  rmdir(path: string): void {
    if (!existsSync(path)) throw errno('ENOENT', path);
    if (this.subdirs(path).length > 0) throw errno('ENOTEMPTY', path);
    if (this.read(join(path, 'cgroup.procs')).trim() !== '') throw errno('EBUSY', path);
    rmSync(path, { recursive: true });
  }

  write(path: string, value: string): void {
    if (!existsSync(path)) throw enoent(path);
    this.log.push(`${relative(this.root, path)}=${value}`);
    const name = basename(path);
    const dir = dirname(path);
    if (name === 'cgroup.subtree_control') {
      const available = new Set(this.read(join(dir, 'cgroup.controllers')).split(/\s+/).filter(Boolean));
      const on = new Set(this.read(path).split(/\s+/).filter(Boolean));
      for (const tok of value.split(/\s+/).filter(Boolean)) {
        const c = tok.slice(1);
        if (!available.has(c)) throw errno('ENOENT', path);
        if (tok.startsWith('+')) on.add(c);
        else on.delete(c);
      }
      writeFileSync(path, [...on].join(' '));
      // Children see the change at once: their controller files appear.
      for (const child of this.subdirs(dir)) {
        for (const c of on) {
          for (const [f, v] of Object.entries(V2_FILES[c] ?? {})) if (!existsSync(join(dir, child, f))) writeFileSync(join(dir, child, f), v);
        }
      }
      return;
    }
    if (name === 'cgroup.freeze') {
      writeFileSync(path, value);
      writeFileSync(join(dir, 'cgroup.events'), `populated 0\nfrozen ${value.trim() === '1' ? 1 : 0}\n`);
      return;
    }
    if (APPEND.test(name)) appendFileSync(path, value + '\n');
    else writeFileSync(path, value);
  }

  read(path: string): string {
    // A v2 child's controllers are whatever its parent enables, right now.
    if (basename(path) === 'cgroup.controllers' && this.isV2(dirname(path)) && dirname(path) !== this.v2Root) {
      return readFileSync(join(dirname(dirname(path)), 'cgroup.subtree_control'), 'utf8');
    }
    return readFileSync(path, 'utf8');
  }
  exists(path: string): boolean {
    return existsSync(path);
  }
  subdirs(path: string): string[] {
    return readdirSync(path).filter((n) => statSync(join(path, n)).isDirectory());
  }
  list(path: string): string[] {
    return readdirSync(path);
  }
}
