/**
 * `linux.resources` to cgroup file writes, for v1 or v2. Pure: no file is
 * read, so every value is validated here and an invalid config fails before
 * anything is written. Kernel-dependent choices (bfq vs cfq files, rsvd
 * hugetlb files) are expressed as alternatives or optional writes.
 */
import { CgroupError } from '../errors.js';
import type { Resources, ThrottleDevice } from '../spec/types.js';
import {
  blkioWeightToIoWeight,
  cpuMaxFromQuotaPeriod,
  cpuSharesToWeight,
  limitToV1,
  limitToV2,
  memorySwapToV2,
  PAGE_SIZE_RE,
} from './convert.js';
import { deviceRuleV1Line, normalizeDeviceRule } from './devices.js';
import type { CgroupPlan, CgroupWrite } from './types.js';

const R = 'linux.resources';

function fail(field: string, message: string, value?: unknown): never {
  throw new CgroupError(`${field}: ${message}`, { field, value: value === undefined ? undefined : String(value) });
}

/** An integer (JSON numbers may be fractional), at least `min`. */
function int(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(field, `must be an integer, not ${JSON.stringify(value)}`, value);
  if (value < min) fail(field, `must be ${min === 0 ? 'non-negative' : `at least ${min}`}, not ${value}`, value);
  return value;
}

/** A memory-style limit: non-negative, or -1 for unlimited. */
function limit(value: unknown, field: string): number {
  const n = int(value, field, -1);
  return n;
}

/** cpuset list syntax: `0-3,5,7-8`, ranges ascending. */
export function validateCpuList(list: string, field: string): void {
  const parts = list.split(',');
  for (const p of parts) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(p.trim());
    if (!m) fail(field, `invalid list ${JSON.stringify(list)} (expected e.g. "0-3,5")`, list);
    if (m[2] !== undefined && Number(m[2]) < Number(m[1])) fail(field, `invalid range ${JSON.stringify(p)} in ${JSON.stringify(list)}`, list);
  }
}

function devNo(d: { major: number; minor: number }, field: string): string {
  return `${int(d.major, `${field}.major`, 0)}:${int(d.minor, `${field}.minor`, 0)}`;
}

/** Names the controller a unified key belongs to (`memory.high` -> `memory`, `cgroup.freeze` -> `cgroup`). */
export function unifiedKeyController(key: string): string {
  return key.slice(0, key.indexOf('.'));
}

const UNIFIED_KEY_RE = /^[a-z_]+\.[A-Za-z0-9_.]+$/;

/**
 * Plan the writes for `resources` on cgroup `version`. Throws CgroupError
 * naming the OCI field of the first invalid value. Returns writes (in the
 * order they must happen) and warnings about values that are ignored.
 */
export function planCgroup(resources: Resources, version: 1 | 2): CgroupPlan {
  const writes: CgroupWrite[] = [];
  const warnings: string[] = [];
  const w = (controller: string, file: string, value: string, field: string, extra: Partial<CgroupWrite> = {}) =>
    writes.push({ controller, file, value, field, ...extra });

  // Devices first on v1: deny everything, then the rules in order, so a
  // process never sees a window with the union of the old and new rules.
  if (resources.devices !== undefined) {
    const rules = resources.devices.map((r, i) => normalizeDeviceRule(r, i));
    if (version === 1) {
      w('devices', 'devices.deny', 'a', `${R}.devices`);
      rules.forEach((r, i) => w('devices', r.allow ? 'devices.allow' : 'devices.deny', deviceRuleV1Line(r), `${R}.devices[${i}]`));
    }
  }

  const cpu = resources.cpu;
  if (cpu) {
    const f = `${R}.cpu`;
    // cpuset before anything else: v1 refuses tasks in a cpuset without cpus and mems.
    if (cpu.cpus !== undefined && cpu.cpus !== '') {
      validateCpuList(cpu.cpus, `${f}.cpus`);
      w('cpuset', 'cpuset.cpus', cpu.cpus, `${f}.cpus`);
    }
    if (cpu.mems !== undefined && cpu.mems !== '') {
      validateCpuList(cpu.mems, `${f}.mems`);
      w('cpuset', 'cpuset.mems', cpu.mems, `${f}.mems`);
    }
    if (cpu.shares !== undefined) {
      const shares = int(cpu.shares, `${f}.shares`, 0);
      if (shares !== 0) {
        if (version === 1) w('cpu', 'cpu.shares', String(shares), `${f}.shares`);
        else w('cpu', 'cpu.weight', String(cpuSharesToWeight(shares)), `${f}.shares`);
      }
    }
    const quota = cpu.quota === undefined ? undefined : int(cpu.quota, `${f}.quota`, -1);
    const period = cpu.period === undefined ? undefined : int(cpu.period, `${f}.period`, 0);
    if (version === 1) {
      // Period before quota: the kernel checks quota against the current period.
      if (period !== undefined && period !== 0) w('cpu', 'cpu.cfs_period_us', String(period), `${f}.period`);
      if (quota !== undefined && quota !== 0) w('cpu', 'cpu.cfs_quota_us', String(quota), `${f}.quota`);
    } else {
      const max = cpuMaxFromQuotaPeriod(quota, period);
      if (max !== undefined) w('cpu', 'cpu.max', max, quota !== undefined && quota !== 0 ? `${f}.quota` : `${f}.period`);
    }
    if (cpu.burst !== undefined) {
      const burst = int(cpu.burst, `${f}.burst`, 0);
      w('cpu', version === 1 ? 'cpu.cfs_burst_us' : 'cpu.max.burst', String(burst), `${f}.burst`);
    }
    const rtRuntime = cpu.realtimeRuntime === undefined ? undefined : int(cpu.realtimeRuntime, `${f}.realtimeRuntime`, -1);
    const rtPeriod = cpu.realtimePeriod === undefined ? undefined : int(cpu.realtimePeriod, `${f}.realtimePeriod`, 0);
    if ((rtRuntime ?? 0) !== 0 || (rtPeriod ?? 0) !== 0) {
      if (version === 2) {
        fail(rtRuntime ? `${f}.realtimeRuntime` : `${f}.realtimePeriod`, 'realtime scheduling limits are not available on cgroup v2', rtRuntime ?? rtPeriod);
      }
      if (rtPeriod) w('cpu', 'cpu.rt_period_us', String(rtPeriod), `${f}.realtimePeriod`);
      if (rtRuntime) w('cpu', 'cpu.rt_runtime_us', String(rtRuntime), `${f}.realtimeRuntime`);
    }
    if (cpu.idle !== undefined) {
      const idle = int(cpu.idle, `${f}.idle`, 0);
      if (idle > 1) fail(`${f}.idle`, `must be 0 or 1, not ${idle}`, idle);
      w('cpu', 'cpu.idle', String(idle), `${f}.idle`);
    }
  }

  const mem = resources.memory;
  if (mem) {
    const f = `${R}.memory`;
    const lim = mem.limit === undefined ? undefined : limit(mem.limit, `${f}.limit`);
    const swap = mem.swap === undefined ? undefined : limit(mem.swap, `${f}.swap`);
    if (mem.reservation !== undefined) {
      const v = limit(mem.reservation, `${f}.reservation`);
      if (version === 1) w('memory', 'memory.soft_limit_in_bytes', limitToV1(v), `${f}.reservation`);
      else w('memory', 'memory.low', limitToV2(v), `${f}.reservation`);
    }
    if (version === 1) {
      if (lim !== undefined && swap !== undefined && swap >= 0 && lim >= 0 && swap < lim) {
        fail(`${f}.swap`, `memory+swap (${swap}) must not be below memory.limit (${lim})`, swap);
      }
      // The applier swaps these two when the kernel refuses the first (raising
      // a limit needs memsw raised first, lowering it the reverse).
      if (lim !== undefined) w('memory', 'memory.limit_in_bytes', limitToV1(lim), `${f}.limit`);
      if (swap !== undefined) w('memory', 'memory.memsw.limit_in_bytes', limitToV1(swap), `${f}.swap`);
    } else {
      if (lim !== undefined) w('memory', 'memory.max', limitToV2(lim), `${f}.limit`);
      const swapMax = memorySwapToV2(swap, lim);
      if (swapMax !== undefined) w('memory', 'memory.swap.max', swapMax, `${f}.swap`);
    }
    if (mem.kernel !== undefined) {
      const v = limit(mem.kernel, `${f}.kernel`);
      if (version === 1) {
        w('memory', 'memory.kmem.limit_in_bytes', limitToV1(v), `${f}.kernel`, { optional: true, soft: true });
        warnings.push(`${f}.kernel: kernel memory limits are deprecated and ignored by Linux 5.16 and later`);
      } else warnings.push(`${f}.kernel: not available on cgroup v2, ignored`);
    }
    if (mem.kernelTCP !== undefined) {
      const v = limit(mem.kernelTCP, `${f}.kernelTCP`);
      if (version === 1) {
        w('memory', 'memory.kmem.tcp.limit_in_bytes', limitToV1(v), `${f}.kernelTCP`, { optional: true, soft: true });
        warnings.push(`${f}.kernelTCP: kernel TCP memory limits are deprecated`);
      } else warnings.push(`${f}.kernelTCP: not available on cgroup v2, ignored`);
    }
    if (mem.swappiness !== undefined) {
      const v = int(mem.swappiness, `${f}.swappiness`, 0);
      if (v > 100) fail(`${f}.swappiness`, `must be between 0 and 100, not ${v}`, v);
      if (version === 1) w('memory', 'memory.swappiness', String(v), `${f}.swappiness`);
      else warnings.push(`${f}.swappiness: not available on cgroup v2, ignored`);
    }
    if (mem.disableOOMKiller !== undefined) {
      if (version === 1) w('memory', 'memory.oom_control', mem.disableOOMKiller ? '1' : '0', `${f}.disableOOMKiller`);
      else if (mem.disableOOMKiller) warnings.push(`${f}.disableOOMKiller: not available on cgroup v2, ignored`);
    }
    if (mem.useHierarchy !== undefined && version === 1) {
      // Since Linux 5.x the memory hierarchy is always on and writing 0 is EINVAL.
      w('memory', 'memory.use_hierarchy', mem.useHierarchy ? '1' : '0', `${f}.useHierarchy`, { soft: true, optional: true });
    }
  }

  if (resources.pids !== undefined) {
    const f = `${R}.pids.limit`;
    // 0 is a valid limit (no new process at all); negative means unlimited.
    const v = int(resources.pids.limit, f, Number.MIN_SAFE_INTEGER);
    w('pids', 'pids.max', v < 0 ? 'max' : String(v), f);
  }

  const bio = resources.blockIO;
  if (bio) {
    const f = `${R}.blockIO`;
    const weight = (v: unknown, field: string) => {
      const n = int(v, field, 0);
      if (n !== 0 && (n < 10 || n > 1000)) fail(field, `must be between 10 and 1000, not ${n}`, n);
      return n;
    };
    if (bio.weight !== undefined) {
      const v = weight(bio.weight, `${f}.weight`);
      if (v !== 0) {
        if (version === 1) w('blkio', 'blkio.weight', String(v), `${f}.weight`, { alternatives: [{ file: 'blkio.bfq.weight', value: String(v) }] });
        else w('io', 'io.bfq.weight', String(v), `${f}.weight`, { alternatives: [{ file: 'io.weight', value: String(blkioWeightToIoWeight(v)) }] });
      }
    }
    if (bio.leafWeight !== undefined) {
      const v = weight(bio.leafWeight, `${f}.leafWeight`);
      if (version === 1 && v !== 0) w('blkio', 'blkio.leaf_weight', String(v), `${f}.leafWeight`, { optional: true });
      else if (version === 2) warnings.push(`${f}.leafWeight: not available on cgroup v2, ignored`);
    }
    (bio.weightDevice ?? []).forEach((d, i) => {
      const fd = `${f}.weightDevice[${i}]`;
      const dev = devNo(d, fd);
      if (d.weight !== undefined) {
        const v = weight(d.weight, `${fd}.weight`);
        if (version === 1) {
          w('blkio', 'blkio.weight_device', `${dev} ${v}`, `${fd}.weight`, { alternatives: [{ file: 'blkio.bfq.weight_device', value: `${dev} ${v}` }] });
        } else {
          w('io', 'io.bfq.weight', `${dev} ${v}`, `${fd}.weight`, { alternatives: [{ file: 'io.weight', value: `${dev} ${blkioWeightToIoWeight(v)}` }] });
        }
      }
      if (d.leafWeight !== undefined) {
        const v = weight(d.leafWeight, `${fd}.leafWeight`);
        if (version === 1) w('blkio', 'blkio.leaf_weight_device', `${dev} ${v}`, `${fd}.leafWeight`, { optional: true });
        else warnings.push(`${fd}.leafWeight: not available on cgroup v2, ignored`);
      }
    });
    const throttle = (list: ThrottleDevice[] | undefined, name: string, v1File: string, v2Key: string) =>
      (list ?? []).forEach((d, i) => {
        const fd = `${f}.${name}[${i}]`;
        const dev = devNo(d, fd);
        const rate = int(d.rate, `${fd}.rate`, 0);
        // v1: 0 removes the limit; v2 spells that "max".
        if (version === 1) w('blkio', v1File, `${dev} ${rate}`, `${fd}.rate`);
        else w('io', 'io.max', `${dev} ${v2Key}=${rate === 0 ? 'max' : rate}`, `${fd}.rate`);
      });
    throttle(bio.throttleReadBpsDevice, 'throttleReadBpsDevice', 'blkio.throttle.read_bps_device', 'rbps');
    throttle(bio.throttleWriteBpsDevice, 'throttleWriteBpsDevice', 'blkio.throttle.write_bps_device', 'wbps');
    throttle(bio.throttleReadIOPSDevice, 'throttleReadIOPSDevice', 'blkio.throttle.read_iops_device', 'riops');
    throttle(bio.throttleWriteIOPSDevice, 'throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device', 'wiops');
  }

  (resources.hugepageLimits ?? []).forEach((h, i) => {
    const f = `${R}.hugepageLimits[${i}]`;
    if (typeof h.pageSize !== 'string' || !PAGE_SIZE_RE.test(h.pageSize)) {
      fail(`${f}.pageSize`, `invalid page size ${JSON.stringify(h.pageSize)} (expected e.g. "2MB")`, h.pageSize);
    }
    const v = limit(h.limit, `${f}.limit`);
    // The rsvd files (Linux 5.7+) also limit reservations, so a mmap that
    // would fault later fails up front; written where the kernel has them.
    if (version === 1) {
      w('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, limitToV1(v), `${f}.limit`);
      w('hugetlb', `hugetlb.${h.pageSize}.rsvd.limit_in_bytes`, limitToV1(v), `${f}.limit`, { optional: true });
    } else {
      w('hugetlb', `hugetlb.${h.pageSize}.max`, limitToV2(v), `${f}.limit`);
      w('hugetlb', `hugetlb.${h.pageSize}.rsvd.max`, limitToV2(v), `${f}.limit`, { optional: true });
    }
  });

  const net = resources.network;
  if (net) {
    const f = `${R}.network`;
    if (version === 2) {
      if (net.classID !== undefined || (net.priorities ?? []).length > 0) warnings.push(`${f}: net_cls and net_prio are not available on cgroup v2, ignored`);
    } else {
      if (net.classID !== undefined) {
        const v = int(net.classID, `${f}.classID`, 0);
        if (v > 0xffffffff) fail(`${f}.classID`, `must fit in 32 bits, not ${v}`, v);
        w('net_cls', 'net_cls.classid', String(v), `${f}.classID`);
      }
      (net.priorities ?? []).forEach((p, i) => {
        const fp = `${f}.priorities[${i}]`;
        if (typeof p.name !== 'string' || !/^[^\s/]{1,15}$/.test(p.name)) fail(`${fp}.name`, `invalid interface name ${JSON.stringify(p.name)}`, p.name);
        const v = int(p.priority, `${fp}.priority`, 0);
        w('net_prio', 'net_prio.ifpriomap', `${p.name} ${v}`, `${fp}.priority`);
      });
    }
  }

  for (const [dev, lim] of Object.entries(resources.rdma ?? {})) {
    const f = `${R}.rdma["${dev}"]`;
    if (!/^[^\s]+$/.test(dev)) fail(f, `invalid device name ${JSON.stringify(dev)}`, dev);
    const parts = [dev];
    if (lim.hcaHandles !== undefined) parts.push(`hca_handle=${int(lim.hcaHandles, `${f}.hcaHandles`, 0)}`);
    if (lim.hcaObjects !== undefined) parts.push(`hca_object=${int(lim.hcaObjects, `${f}.hcaObjects`, 0)}`);
    if (parts.length > 1) w('rdma', 'rdma.max', parts.join(' '), f);
  }

  if (resources.unified !== undefined) {
    const entries = Object.entries(resources.unified);
    if (version === 1 && entries.length > 0) {
      fail(`${R}.unified`, 'needs cgroup v2 (this host uses cgroup v1 for these controllers)');
    }
    for (const [key, value] of entries) {
      const f = `${R}.unified["${key}"]`;
      if (!UNIFIED_KEY_RE.test(key) || key.includes('..')) fail(f, `invalid cgroup file name ${JSON.stringify(key)}`, key);
      if (typeof value !== 'string') fail(f, 'value must be a string', value);
      // Unknown keys are still written: the kernel is the judge of the file list.
      w(unifiedKeyController(key), key, value, f);
    }
  }

  return { writes, warnings };
}

/** Just the writes of {@link planCgroup}: `{controller, file, value, field}` in order. */
export function planCgroupWrites(resources: Resources, version: 1 | 2): CgroupWrite[] {
  return planCgroup(resources, version).writes;
}
