/**
 * Conversions between cgroup v1 values (what the OCI spec speaks) and the
 * cgroup v2 files. Every v1<->v2 formula lives here, so there is exactly one
 * place to check against the kernel documentation.
 */
import { CgroupError } from '../errors.js';

/** Bounds of cpu.shares that the v1 kernel accepts (it clamps outside them). */
export const CPU_SHARES_MIN = 2;
/** The largest cpu.shares the v1 kernel accepts. */
export const CPU_SHARES_MAX = 262144;

/**
 * cpu.shares (2..262144, default 1024) to cpu.weight (1..10000, default 100):
 * a linear map of the two ranges, `1 + ((shares - 2) * 9999) / 262142`, in
 * integer arithmetic. 0 means "not set" and stays 0. Values outside the
 * shares range are clamped first, as the v1 kernel would.
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  const s = Math.min(Math.max(shares, CPU_SHARES_MIN), CPU_SHARES_MAX);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** The inverse map, used to report a v2 weight as shares. */
export function cpuWeightToShares(weight: number): number {
  if (weight === 0) return 0;
  return 2 + Math.floor(((weight - 1) * 262142) / 9999);
}

/**
 * blkio.weight (10..1000) to io.weight (1..10000): `1 + (w - 10) * 9999 / 990`.
 * 0 means "not set". bfq's own range starts at 1, so small values clamp to 1.
 */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  if (weight <= 10) return 1;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** An OCI limit where -1 (any negative) means unlimited, as a v2 file value. */
export function limitToV2(value: number): string {
  return value < 0 ? 'max' : String(value);
}

/** An OCI limit as a v1 file value: v1 files take -1 for unlimited. */
export function limitToV1(value: number): string {
  return value < 0 ? '-1' : String(value);
}

/**
 * OCI `memory.swap` is memory+swap (v1 memsw). v2 `memory.swap.max` counts
 * swap alone, so it is `swap - limit`. Returns undefined when nothing is to
 * be written.
 *
 * - swap -1: unlimited swap.
 * - swap unset and limit -1: swap unlimited too (v1 memsw follows the limit).
 * - swap set without a finite limit is meaningless on v2: an error.
 * - swap below limit: an error (v1 would refuse it too).
 */
export function memorySwapToV2(swap: number | undefined, limit: number | undefined): string | undefined {
  if (swap === undefined) return limit !== undefined && limit < 0 ? 'max' : undefined;
  if (swap < 0) return 'max';
  if (limit === undefined || limit < 0) {
    throw new CgroupError('linux.resources.memory.swap: a swap limit on cgroup v2 needs a finite memory.limit', {
      field: 'linux.resources.memory.swap',
      value: String(swap),
    });
  }
  if (swap < limit) {
    throw new CgroupError(`linux.resources.memory.swap: memory+swap (${swap}) must not be below memory.limit (${limit})`, {
      field: 'linux.resources.memory.swap',
      value: String(swap),
    });
  }
  return String(swap - limit);
}

/** The inverse, for stats: v2 swap.max plus the memory limit, as memsw. */
export function memorySwapFromV2(swapMax: number, memoryMax: number): number {
  if (swapMax === MAX_UINT64 || memoryMax === MAX_UINT64) return MAX_UINT64;
  return swapMax + memoryMax;
}

/** What runc reports for "max" in stats (Go's math.MaxUint64, beyond 2^53 in JS). */
export const MAX_UINT64 = 18446744073709551615;

/**
 * cpu.cfs_quota_us + cpu.cfs_period_us to v2 `cpu.max` ("$QUOTA $PERIOD").
 * Quota 0 with a period keeps "max"; -1 is unlimited. Undefined when neither is set.
 */
export function cpuMaxFromQuotaPeriod(quota: number | undefined, period: number | undefined): string | undefined {
  const q = quota ?? 0;
  const p = period ?? 0;
  if (q === 0 && p === 0) return undefined;
  const head = q > 0 ? String(q) : 'max';
  return p > 0 ? `${head} ${p}` : head;
}

/** A page size as the OCI spec and cgroup file names spell it ("2MB", "1GB", "64KB"). */
export const PAGE_SIZE_RE = /^[1-9][0-9]*(KB|MB|GB)$/;

/** `hugepages-2048kB` (sysfs) to "2MB" (cgroup file names). */
export function hugepageDirToPageSize(dirName: string): string | undefined {
  const m = /^hugepages-([0-9]+)kB$/.exec(dirName);
  if (!m) return undefined;
  let kb = Number(m[1]);
  const units = ['KB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (kb >= 1024 && kb % 1024 === 0 && u < units.length - 1) {
    kb /= 1024;
    u++;
  }
  return `${kb}${units[u]}`;
}
