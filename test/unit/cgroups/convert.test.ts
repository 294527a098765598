/** The v1<->v2 conversions, all in lib/cgroups/convert.ts. */
import t from 'tap';
import { CgroupError } from '../../../lib/errors.js';
import { convert } from '../../../lib/cgroups/index.js';

t.test('cpu shares -> weight: 1 + ((shares - 2) * 9999) / 262142', async (t) => {
  const cases: [number, number][] = [
    [0, 0],
    [2, 1],
    [1024, 39],
    [512, 20],
    [2048, 79],
    [102400, 3906],
    [262144, 10000],
    [1, 1], // clamped to 2 first (the v1 kernel clamps too)
    [1_000_000, 10000],
  ];
  for (const [shares, weight] of cases) t.equal(convert.cpuSharesToWeight(shares), weight, `${shares} -> ${weight}`);
  for (let s = 2; s <= 262144; s += 4097) {
    const w = convert.cpuSharesToWeight(s);
    t.equal(w, 1 + Math.floor(((s - 2) * 9999) / 262142));
    t.ok(w >= 1 && w <= 10000);
  }
  t.equal(convert.cpuWeightToShares(1), 2);
  t.equal(convert.cpuWeightToShares(10000), 262144);
});

t.test('blkio weight -> io.weight: 1 + (w - 10) * 9999 / 990', async (t) => {
  t.equal(convert.blkioWeightToIoWeight(0), 0);
  t.equal(convert.blkioWeightToIoWeight(10), 1);
  t.equal(convert.blkioWeightToIoWeight(1000), 10000);
  t.equal(convert.blkioWeightToIoWeight(500), 4950);
  t.equal(convert.blkioWeightToIoWeight(100), 910);
  t.equal(convert.blkioWeightToIoWeight(5), 1);
});

t.test('swap: v2 memory.swap.max = swap - limit', async (t) => {
  t.equal(convert.memorySwapToV2(300, 100), '200');
  t.equal(convert.memorySwapToV2(100, 100), '0');
  t.equal(convert.memorySwapToV2(-1, 100), 'max');
  t.equal(convert.memorySwapToV2(-1, undefined), 'max');
  t.equal(convert.memorySwapToV2(undefined, -1), 'max');
  t.equal(convert.memorySwapToV2(undefined, 100), undefined);
  t.equal(convert.memorySwapToV2(undefined, undefined), undefined);
  t.throws(() => convert.memorySwapToV2(50, 100), CgroupError);
  t.throws(() => convert.memorySwapToV2(50, undefined), CgroupError);
  t.throws(() => convert.memorySwapToV2(50, -1), CgroupError);
  t.equal(convert.memorySwapFromV2(200, 100), 300);
  t.equal(convert.memorySwapFromV2(convert.MAX_UINT64, 100), convert.MAX_UINT64);
});

t.test('limits and cpu.max', async (t) => {
  t.equal(convert.limitToV2(-1), 'max');
  t.equal(convert.limitToV2(0), '0');
  t.equal(convert.limitToV1(-1), '-1');
  t.equal(convert.limitToV1(7), '7');
  t.equal(convert.cpuMaxFromQuotaPeriod(undefined, undefined), undefined);
  t.equal(convert.cpuMaxFromQuotaPeriod(0, 0), undefined);
  t.equal(convert.cpuMaxFromQuotaPeriod(50000, 100000), '50000 100000');
  t.equal(convert.cpuMaxFromQuotaPeriod(-1, 100000), 'max 100000');
  t.equal(convert.cpuMaxFromQuotaPeriod(50000, undefined), '50000');
  t.equal(convert.cpuMaxFromQuotaPeriod(-1, undefined), 'max');
});

t.test('hugepage sizes', async (t) => {
  t.equal(convert.hugepageDirToPageSize('hugepages-2048kB'), '2MB');
  t.equal(convert.hugepageDirToPageSize('hugepages-1048576kB'), '1GB');
  t.equal(convert.hugepageDirToPageSize('hugepages-64kB'), '64KB');
  t.equal(convert.hugepageDirToPageSize('hugepages-32768kB'), '32MB');
  t.equal(convert.hugepageDirToPageSize('nope'), undefined);
  t.ok(convert.PAGE_SIZE_RE.test('2MB'));
  t.notOk(convert.PAGE_SIZE_RE.test('2mb'));
});
