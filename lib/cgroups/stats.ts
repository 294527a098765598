/**
 * Stats in the shape of runc's `events` data. Missing files read as zero:
 * a controller that is not mounted reports nothing rather than failing.
 */
import { join } from 'node:path';
import { MAX_UINT64 } from './convert.js';
import type { BlkioEntry, CgroupFs, CgroupStats, MemoryEntry } from './types.js';

/** USER_HZ: cpuacct.stat counts ticks of 1/100 s. */
const USER_HZ = 100;

function emptyMemoryEntry(): MemoryEntry {
  return { limit: 0, usage: 0, max: 0, failcnt: 0 };
}

/** Empty stats: every number zero, every list empty. */
export function emptyStats(): CgroupStats {
  return {
    cpu: {
      usage: { total: 0, percpu: [], percpu_kernel: [], percpu_user: [], kernel: 0, user: 0 },
      throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 },
    },
    memory: { cache: 0, usage: emptyMemoryEntry(), swap: emptyMemoryEntry(), kernel: emptyMemoryEntry(), kernelTCP: emptyMemoryEntry(), raw: {} },
    pids: { current: 0, limit: 0 },
    blkio: {
      ioServiceBytesRecursive: [],
      ioServicedRecursive: [],
      ioQueueRecursive: [],
      ioServiceTimeRecursive: [],
      ioWaitTimeRecursive: [],
      ioMergedRecursive: [],
      ioTimeRecursive: [],
      sectorsRecursive: [],
    },
    hugetlb: {},
  };
}

/** Reads that tolerate missing files. */
class Reader {
  constructor(private readonly fs: CgroupFs) {}
  text(dir: string | undefined, file: string): string | undefined {
    if (dir === undefined) return undefined;
    try {
      return this.fs.read(join(dir, file));
    } catch {
      return undefined;
    }
  }
  /** A single number; "max" (v2) reads as MaxUint64 like runc reports it. */
  num(dir: string | undefined, file: string): number {
    const t = this.text(dir, file)?.trim();
    if (t === undefined || t === '') return 0;
    if (t === 'max') return MAX_UINT64;
    const n = Number(t);
    return Number.isFinite(n) ? n : 0;
  }
  /** `key value` lines (memory.stat, cpu.stat, memory.events, ...). */
  keyed(dir: string | undefined, file: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const line of (this.text(dir, file) ?? '').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k && v !== undefined && /^-?[0-9]+$/.test(v)) out[k] = Number(v);
    }
    return out;
  }
  list(dir: string | undefined, file: string): number[] {
    return (this.text(dir, file) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  }
  files(dir: string | undefined): string[] {
    if (dir === undefined) return [];
    try {
      return this.fs.list(dir);
    } catch {
      return [];
    }
  }
}

/** `8:0 Read 4096` lines of the v1 blkio files. */
function blkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^([0-9]+):([0-9]+) (\S+) ([0-9]+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/** v1: controller -> directory. */
export function readStatsV1(paths: Record<string, string>, fs: CgroupFs, unified?: string): CgroupStats {
  const r = new Reader(fs);
  const s = emptyStats();
  const acct = paths['cpuacct'];
  const cpuStat = r.keyed(acct ?? paths['cpu'], 'cpuacct.stat');
  s.cpu.usage.total = r.num(acct, 'cpuacct.usage');
  s.cpu.usage.percpu = r.list(acct, 'cpuacct.usage_percpu');
  s.cpu.usage.percpu_kernel = r.list(acct, 'cpuacct.usage_percpu_sys');
  s.cpu.usage.percpu_user = r.list(acct, 'cpuacct.usage_percpu_user');
  s.cpu.usage.user = ((cpuStat['user'] ?? 0) * 1e9) / USER_HZ;
  s.cpu.usage.kernel = ((cpuStat['system'] ?? 0) * 1e9) / USER_HZ;
  const thr = r.keyed(paths['cpu'], 'cpu.stat');
  s.cpu.throttling = { periods: thr['nr_periods'] ?? 0, throttledPeriods: thr['nr_throttled'] ?? 0, throttledTime: thr['throttled_time'] ?? 0 };

  const mem = paths['memory'];
  const entry = (prefix: string): MemoryEntry => ({
    usage: r.num(mem, `${prefix}.usage_in_bytes`),
    max: r.num(mem, `${prefix}.max_usage_in_bytes`),
    failcnt: r.num(mem, `${prefix}.failcnt`),
    limit: r.num(mem, `${prefix}.limit_in_bytes`),
  });
  s.memory.raw = r.keyed(mem, 'memory.stat');
  s.memory.cache = s.memory.raw['total_cache'] ?? s.memory.raw['cache'] ?? 0;
  s.memory.usage = entry('memory');
  s.memory.swap = entry('memory.memsw');
  s.memory.kernel = entry('memory.kmem');
  s.memory.kernelTCP = entry('memory.kmem.tcp');

  const pids = paths['pids'];
  const pmax = r.text(pids, 'pids.max')?.trim();
  s.pids = { current: r.num(pids, 'pids.current'), limit: pmax === undefined || pmax === 'max' ? 0 : Number(pmax) };

  const blk = paths['blkio'];
  // CFQ's blkio.io_* are gone; the throttle files count every I/O.
  s.blkio.ioServiceBytesRecursive = blkioV1(r.text(blk, 'blkio.io_service_bytes_recursive') ?? r.text(blk, 'blkio.throttle.io_service_bytes_recursive'));
  s.blkio.ioServicedRecursive = blkioV1(r.text(blk, 'blkio.io_serviced_recursive') ?? r.text(blk, 'blkio.throttle.io_serviced_recursive'));
  s.blkio.ioQueueRecursive = blkioV1(r.text(blk, 'blkio.io_queued_recursive'));
  s.blkio.ioServiceTimeRecursive = blkioV1(r.text(blk, 'blkio.io_service_time_recursive'));
  s.blkio.ioWaitTimeRecursive = blkioV1(r.text(blk, 'blkio.io_wait_time_recursive'));
  s.blkio.ioMergedRecursive = blkioV1(r.text(blk, 'blkio.io_merged_recursive'));
  s.blkio.ioTimeRecursive = blkioV1(r.text(blk, 'blkio.time_recursive'));
  s.blkio.sectorsRecursive = blkioV1(r.text(blk, 'blkio.sectors_recursive'));

  const hug = paths['hugetlb'];
  if (hug !== undefined) {
    for (const f of r.files(hug)) {
      const m = /^hugetlb\.([0-9]+[KMG]B)\.usage_in_bytes$/.exec(f);
      if (!m) continue;
      const size = m[1]!;
      s.hugetlb[size] = {
        usage: r.num(hug, f),
        max: r.num(hug, `hugetlb.${size}.max_usage_in_bytes`),
        failcnt: r.num(hug, `hugetlb.${size}.failcnt`),
      };
    }
  } else if (unified !== undefined) {
    s.hugetlb = readHugetlbV2(r, unified);
  }
  return s;
}

function readHugetlbV2(r: Reader, dir: string): CgroupStats['hugetlb'] {
  const out: CgroupStats['hugetlb'] = {};
  for (const f of r.files(dir)) {
    const m = /^hugetlb\.([0-9]+[KMG]B)\.current$/.exec(f);
    if (!m) continue;
    const size = m[1]!;
    // v2 keeps no peak; runc reports the usage as max there too.
    const usage = r.num(dir, f);
    out[size] = { usage, max: usage, failcnt: r.keyed(dir, `hugetlb.${size}.events`)['max'] ?? 0 };
  }
  return out;
}

/** io.stat keys to the op names runc reports. */
const IO_OPS: [string, string, 'bytes' | 'ios'][] = [
  ['rbytes', 'Read', 'bytes'],
  ['wbytes', 'Write', 'bytes'],
  ['dbytes', 'Discard', 'bytes'],
  ['rios', 'Read', 'ios'],
  ['wios', 'Write', 'ios'],
  ['dios', 'Discard', 'ios'],
];

/** v2: one directory. */
export function readStatsV2(dir: string, fs: CgroupFs): CgroupStats {
  const r = new Reader(fs);
  const s = emptyStats();
  const cpu = r.keyed(dir, 'cpu.stat');
  s.cpu.usage.total = (cpu['usage_usec'] ?? 0) * 1000;
  s.cpu.usage.user = (cpu['user_usec'] ?? 0) * 1000;
  s.cpu.usage.kernel = (cpu['system_usec'] ?? 0) * 1000;
  s.cpu.throttling = { periods: cpu['nr_periods'] ?? 0, throttledPeriods: cpu['nr_throttled'] ?? 0, throttledTime: (cpu['throttled_usec'] ?? 0) * 1000 };

  s.memory.raw = r.keyed(dir, 'memory.stat');
  s.memory.cache = s.memory.raw['file'] ?? 0;
  const events = r.keyed(dir, 'memory.events');
  s.memory.usage = { usage: r.num(dir, 'memory.current'), max: r.num(dir, 'memory.peak'), limit: r.num(dir, 'memory.max'), failcnt: events['max'] ?? 0 };
  // runc reports v2 swap as memory+swap, the v1 meaning.
  const swapCur = r.num(dir, 'memory.swap.current');
  const swapMax = r.num(dir, 'memory.swap.max');
  s.memory.swap = {
    usage: swapCur + s.memory.usage.usage,
    max: r.num(dir, 'memory.swap.peak'),
    limit: swapMax === MAX_UINT64 || s.memory.usage.limit === MAX_UINT64 ? MAX_UINT64 : swapMax + s.memory.usage.limit,
    failcnt: r.keyed(dir, 'memory.swap.events')['max'] ?? 0,
  };
  s.memory.kernel.usage = (s.memory.raw['kernel'] ?? 0);

  const pmax = r.text(dir, 'pids.max')?.trim();
  s.pids = { current: r.num(dir, 'pids.current'), limit: pmax === undefined || pmax === 'max' ? 0 : Number(pmax) };

  for (const line of (r.text(dir, 'io.stat') ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^([0-9]+):([0-9]+)$/.exec(dev ?? '');
    if (!m) continue;
    const vals = Object.fromEntries(kv.map((p) => p.split('=') as [string, string]));
    for (const [key, op, kind] of IO_OPS) {
      if (vals[key] === undefined) continue;
      const e = { major: Number(m[1]), minor: Number(m[2]), op, value: Number(vals[key]) };
      (kind === 'bytes' ? s.blkio.ioServiceBytesRecursive : s.blkio.ioServicedRecursive).push(e);
    }
  }
  s.hugetlb = readHugetlbV2(r, dir);
  return s;
}
