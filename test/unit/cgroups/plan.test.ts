/**
 * planCgroupWrites: every resource of runtime-spec v1.3.0 on v1 and v2, as
 * file names and values, plus the invalid values that must fail naming the
 * OCI field.
 */
import t from 'tap';
import { planCgroup, planCgroupWrites } from '../../../lib/cgroups/index.js';
import type { Resources } from '../../../lib/spec/types.js';
import { throwsField } from './helpers.js';

/** `file=value` lines, the readable form of a plan. */
const lines = (r: Resources, v: 1 | 2) => planCgroupWrites(r, v).map((w) => `${w.file}=${w.value}`);
const fields = (r: Resources, v: 1 | 2) => planCgroupWrites(r, v).map((w) => w.field);

t.test('memory', async (t) => {
  const r: Resources = { memory: { limit: 1 << 20, reservation: 1 << 19, swap: 2 << 20, swappiness: 10, disableOOMKiller: true, useHierarchy: true } };
  t.same(lines(r, 1), [
    'memory.soft_limit_in_bytes=524288',
    'memory.limit_in_bytes=1048576',
    'memory.memsw.limit_in_bytes=2097152',
    'memory.swappiness=10',
    'memory.oom_control=1',
    'memory.use_hierarchy=1',
  ]);
  t.same(fields(r, 1).slice(0, 3), ['linux.resources.memory.reservation', 'linux.resources.memory.limit', 'linux.resources.memory.swap']);
  const p2 = planCgroup(r, 2);
  t.same(p2.writes.map((w) => `${w.file}=${w.value}`), ['memory.low=524288', 'memory.max=1048576', 'memory.swap.max=1048576']);
  t.ok(p2.warnings.some((w) => /swappiness/.test(w)));
  t.ok(p2.warnings.some((w) => /disableOOMKiller/.test(w)));
  t.same(lines({ memory: { limit: -1, swap: -1 } }, 1), ['memory.limit_in_bytes=-1', 'memory.memsw.limit_in_bytes=-1']);
  t.same(lines({ memory: { limit: -1, swap: -1 } }, 2), ['memory.max=max', 'memory.swap.max=max']);
  t.same(lines({ memory: { limit: -1 } }, 2), ['memory.max=max', 'memory.swap.max=max'], 'unlimited memory: unlimited swap too');
  t.same(lines({ memory: { limit: 100 } }, 2), ['memory.max=100']);
  t.same(lines({ memory: { limit: 100, swap: 100 } }, 2), ['memory.max=100', 'memory.swap.max=0'], 'swap == limit means no swap');
});

t.test('kernel memory: v1 with a warning, v2 ignored', async (t) => {
  const p1 = planCgroup({ memory: { kernel: 1 << 20, kernelTCP: 2 << 20 } }, 1);
  t.same(p1.writes.map((w) => `${w.file}=${w.value}`), ['memory.kmem.limit_in_bytes=1048576', 'memory.kmem.tcp.limit_in_bytes=2097152']);
  t.equal(p1.warnings.length, 2);
  t.ok(p1.writes.every((w) => w.optional && w.soft));
  const p2 = planCgroup({ memory: { kernel: 1 << 20, kernelTCP: 2 << 20 } }, 2);
  t.same(p2.writes, []);
  t.equal(p2.warnings.length, 2);
});

t.test('memory errors name the field', async (t) => {
  throwsField(t, () => planCgroupWrites({ memory: { limit: -5 } }, 1), 'linux.resources.memory.limit');
  throwsField(t, () => planCgroupWrites({ memory: { limit: 1.5 } }, 2), 'linux.resources.memory.limit');
  throwsField(t, () => planCgroupWrites({ memory: { limit: 200, swap: 100 } }, 1), 'linux.resources.memory.swap');
  throwsField(t, () => planCgroupWrites({ memory: { limit: 200, swap: 100 } }, 2), 'linux.resources.memory.swap');
  throwsField(t, () => planCgroupWrites({ memory: { swap: 100 } }, 2), 'linux.resources.memory.swap', /finite memory.limit/);
  throwsField(t, () => planCgroupWrites({ memory: { swappiness: 101 } }, 1), 'linux.resources.memory.swappiness');
  throwsField(t, () => planCgroupWrites({ memory: { reservation: -2 } }, 2), 'linux.resources.memory.reservation');
});

t.test('useHierarchy=false is a soft write (Linux 5.x refuses 0)', async (t) => {
  const [w] = planCgroupWrites({ memory: { useHierarchy: false } }, 1);
  t.equal(w!.value, '0');
  t.equal(w!.soft, true);
  t.same(planCgroupWrites({ memory: { useHierarchy: true } }, 2), []);
});

t.test('cpu', async (t) => {
  const r: Resources = { cpu: { shares: 1024, quota: 50000, period: 100000, burst: 1000, cpus: '0-1', mems: '0', idle: 1 } };
  t.same(lines(r, 1), [
    'cpuset.cpus=0-1',
    'cpuset.mems=0',
    'cpu.shares=1024',
    'cpu.cfs_period_us=100000',
    'cpu.cfs_quota_us=50000',
    'cpu.cfs_burst_us=1000',
    'cpu.idle=1',
  ]);
  t.same(lines(r, 2), ['cpuset.cpus=0-1', 'cpuset.mems=0', 'cpu.weight=39', 'cpu.max=50000 100000', 'cpu.max.burst=1000', 'cpu.idle=1']);
  t.same(
    planCgroupWrites(r, 1).map((w) => w.controller),
    ['cpuset', 'cpuset', 'cpu', 'cpu', 'cpu', 'cpu', 'cpu'],
  );
  t.same(lines({ cpu: { quota: -1 } }, 1), ['cpu.cfs_quota_us=-1']);
  t.same(lines({ cpu: { quota: -1, period: 20000 } }, 2), ['cpu.max=max 20000']);
  t.same(lines({ cpu: { period: 20000 } }, 2), ['cpu.max=max 20000']);
  t.same(lines({ cpu: { quota: 30000 } }, 2), ['cpu.max=30000']);
  t.same(lines({ cpu: { shares: 0, cpus: '' } }, 2), [], '0 and empty strings mean unset');
  t.same(lines({ cpu: { shares: 2 } }, 2), ['cpu.weight=1']);
  t.same(lines({ cpu: { shares: 262144 } }, 2), ['cpu.weight=10000']);
});

t.test('cpu realtime: v1 files, v2 error', async (t) => {
  t.same(lines({ cpu: { realtimeRuntime: 950000, realtimePeriod: 1000000 } }, 1), ['cpu.rt_period_us=1000000', 'cpu.rt_runtime_us=950000']);
  throwsField(t, () => planCgroupWrites({ cpu: { realtimeRuntime: 950000 } }, 2), 'linux.resources.cpu.realtimeRuntime');
});

t.test('cpu errors name the field', async (t) => {
  throwsField(t, () => planCgroupWrites({ cpu: { shares: -1 } }, 1), 'linux.resources.cpu.shares');
  throwsField(t, () => planCgroupWrites({ cpu: { shares: -1 } }, 2), 'linux.resources.cpu.shares');
  throwsField(t, () => planCgroupWrites({ cpu: { cpus: '0-' } }, 1), 'linux.resources.cpu.cpus');
  throwsField(t, () => planCgroupWrites({ cpu: { cpus: '3-1' } }, 2), 'linux.resources.cpu.cpus');
  throwsField(t, () => planCgroupWrites({ cpu: { mems: 'a' } }, 2), 'linux.resources.cpu.mems');
  throwsField(t, () => planCgroupWrites({ cpu: { quota: -2 } }, 2), 'linux.resources.cpu.quota');
  throwsField(t, () => planCgroupWrites({ cpu: { idle: 2 } }, 2), 'linux.resources.cpu.idle');
  t.same(lines({ cpu: { cpus: '0-3,5,7-8' } }, 1), ['cpuset.cpus=0-3,5,7-8']);
});

t.test('pids: 0 is a limit, -1 is max', async (t) => {
  t.same(lines({ pids: { limit: 0 } }, 1), ['pids.max=0']);
  t.same(lines({ pids: { limit: 0 } }, 2), ['pids.max=0']);
  t.same(lines({ pids: { limit: -1 } }, 1), ['pids.max=max']);
  t.same(lines({ pids: { limit: 42 } }, 2), ['pids.max=42']);
  t.same(fields({ pids: { limit: 1 } }, 2), ['linux.resources.pids.limit']);
  throwsField(t, () => planCgroupWrites({ pids: { limit: 1.5 } }, 1), 'linux.resources.pids.limit');
});

t.test('blockIO', async (t) => {
  const r: Resources = {
    blockIO: {
      weight: 500,
      leafWeight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 200, leafWeight: 100 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 0 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 200 }],
    },
  };
  t.same(lines(r, 1), [
    'blkio.weight=500',
    'blkio.leaf_weight=300',
    'blkio.weight_device=8:0 200',
    'blkio.leaf_weight_device=8:0 100',
    'blkio.throttle.read_bps_device=8:0 1048576',
    'blkio.throttle.write_bps_device=8:16 0',
    'blkio.throttle.read_iops_device=8:0 100',
    'blkio.throttle.write_iops_device=8:0 200',
  ]);
  const w1 = planCgroupWrites(r, 1);
  t.same(w1[0]!.alternatives, [{ file: 'blkio.bfq.weight', value: '500' }], 'bfq file when cfq is gone');
  t.same(w1[2]!.alternatives, [{ file: 'blkio.bfq.weight_device', value: '8:0 200' }]);
  const p2 = planCgroup(r, 2);
  t.same(p2.writes.map((w) => `${w.file}=${w.value}`), [
    'io.bfq.weight=500',
    'io.bfq.weight=8:0 200',
    'io.max=8:0 rbps=1048576',
    'io.max=8:16 wbps=max',
    'io.max=8:0 riops=100',
    'io.max=8:0 wiops=200',
  ]);
  t.same(p2.writes[0]!.alternatives, [{ file: 'io.weight', value: '4950' }], 'io.weight converted from blkio weight');
  t.same(p2.writes[1]!.alternatives, [{ file: 'io.weight', value: '8:0 1920' }]);
  t.equal(p2.warnings.length, 2, 'leaf weights ignored on v2');
  t.same(fields(r, 2).slice(2), [
    'linux.resources.blockIO.throttleReadBpsDevice[0].rate',
    'linux.resources.blockIO.throttleWriteBpsDevice[0].rate',
    'linux.resources.blockIO.throttleReadIOPSDevice[0].rate',
    'linux.resources.blockIO.throttleWriteIOPSDevice[0].rate',
  ]);
  throwsField(t, () => planCgroupWrites({ blockIO: { weight: 5000 } }, 1), 'linux.resources.blockIO.weight');
  throwsField(t, () => planCgroupWrites({ blockIO: { throttleReadBpsDevice: [{ major: -1, minor: 0, rate: 1 }] } }, 1), 'linux.resources.blockIO.throttleReadBpsDevice[0].major');
  throwsField(t, () => planCgroupWrites({ blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: -1 }] } }, 2), 'linux.resources.blockIO.throttleReadBpsDevice[0].rate');
});

t.test('hugepageLimits with rsvd files where present', async (t) => {
  const r: Resources = { hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }, { pageSize: '1GB', limit: 0 }] };
  const w1 = planCgroupWrites(r, 1);
  t.same(w1.map((w) => `${w.file}=${w.value}`), [
    'hugetlb.2MB.limit_in_bytes=4194304',
    'hugetlb.2MB.rsvd.limit_in_bytes=4194304',
    'hugetlb.1GB.limit_in_bytes=0',
    'hugetlb.1GB.rsvd.limit_in_bytes=0',
  ]);
  t.same(w1.map((w) => !!w.optional), [false, true, false, true]);
  t.same(lines(r, 2), ['hugetlb.2MB.max=4194304', 'hugetlb.2MB.rsvd.max=4194304', 'hugetlb.1GB.max=0', 'hugetlb.1GB.rsvd.max=0']);
  t.ok(planCgroupWrites(r, 2).every((w) => w.controller === 'hugetlb'));
  throwsField(t, () => planCgroupWrites({ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }, 2), 'linux.resources.hugepageLimits[0].pageSize');
});

t.test('network: v1 only', async (t) => {
  const r: Resources = { network: { classID: 0x100001, priorities: [{ name: 'eth0', priority: 5 }, { name: 'lo', priority: 2 }] } };
  const w = planCgroupWrites(r, 1);
  t.same(w.map((x) => `${x.controller}:${x.file}=${x.value}`), ['net_cls:net_cls.classid=1048577', 'net_prio:net_prio.ifpriomap=eth0 5', 'net_prio:net_prio.ifpriomap=lo 2']);
  const p2 = planCgroup(r, 2);
  t.same(p2.writes, []);
  t.equal(p2.warnings.length, 1);
  throwsField(t, () => planCgroupWrites({ network: { priorities: [{ name: 'a b', priority: 1 }] } }, 1), 'linux.resources.network.priorities[0].name');
});

t.test('rdma', async (t) => {
  const r: Resources = { rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaHandles: 1 } } };
  for (const v of [1, 2] as const) {
    t.same(lines(r, v), ['rdma.max=mlx5_1 hca_handle=3 hca_object=10000', 'rdma.max=mlx4_0 hca_handle=1']);
  }
  t.same(fields(r, 2)[0], 'linux.resources.rdma["mlx5_1"]');
  throwsField(t, () => planCgroupWrites({ rdma: { x: { hcaObjects: -1 } } }, 2), 'linux.resources.rdma["x"].hcaObjects');
});

t.test('unified: v2 keys, written as given', async (t) => {
  const r: Resources = { unified: { 'memory.high': '1048576', 'cgroup.max.descendants': '10', 'io.latency': '8:0 target=100', 'pids.whatever': 'x' } };
  const w = planCgroupWrites(r, 2);
  t.same(w.map((x) => `${x.controller}:${x.file}=${x.value}`), [
    'memory:memory.high=1048576',
    'cgroup:cgroup.max.descendants=10',
    'io:io.latency=8:0 target=100',
    'pids:pids.whatever=x',
  ]);
  t.equal(w[0]!.field, 'linux.resources.unified["memory.high"]');
  throwsField(t, () => planCgroupWrites(r, 1), 'linux.resources.unified', /cgroup v2/);
  throwsField(t, () => planCgroupWrites({ unified: { '../memory.max': '1' } }, 2), 'linux.resources.unified["../memory.max"]');
  throwsField(t, () => planCgroupWrites({ unified: { 'memory/x.max': '1' } }, 2), 'linux.resources.unified["memory/x.max"]');
  t.same(planCgroupWrites({ unified: {} }, 1), [], 'an empty unified map is fine on v1');
});

t.test('devices: v1 deny-all then rules in order; v2 has no file writes', async (t) => {
  const r: Resources = {
    devices: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
      { allow: true, type: 'b', major: 8, minor: null, access: 'r' },
      { allow: false, type: 'c', major: 5, minor: 1, access: 'mwr' },
    ],
  };
  t.same(lines(r, 1), ['devices.deny=a', 'devices.deny=a', 'devices.allow=c 1:3 rw', 'devices.allow=b 8:* r', 'devices.deny=c 5:1 rwm']);
  t.same(fields(r, 1), ['linux.resources.devices', 'linux.resources.devices[0]', 'linux.resources.devices[1]', 'linux.resources.devices[2]', 'linux.resources.devices[3]']);
  t.same(planCgroupWrites(r, 2), []);
  throwsField(t, () => planCgroupWrites({ devices: [{ allow: true, type: 'x' as 'a' }] }, 2), 'linux.resources.devices[0].type');
  throwsField(t, () => planCgroupWrites({ devices: [{ allow: true, access: 'rx' }] }, 1), 'linux.resources.devices[0].access');
});

t.test('order: devices, cpuset, cpu, memory, pids, blkio, hugetlb, network, rdma, unified', async (t) => {
  const r: Resources = {
    unified: { 'memory.high': '1' },
    pids: { limit: 1 },
    memory: { limit: 1 },
    cpu: { cpus: '0', shares: 2 },
    hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
  };
  t.same(planCgroupWrites(r, 2).map((w) => w.file), ['cpuset.cpus', 'cpu.weight', 'memory.max', 'pids.max', 'hugetlb.2MB.max', 'hugetlb.2MB.rsvd.max', 'memory.high']);
});

t.test('pure: the input is not modified, an empty object plans nothing', async (t) => {
  const r: Resources = { memory: { limit: 5 }, cpu: { shares: 100 } };
  const copy = JSON.parse(JSON.stringify(r));
  planCgroupWrites(r, 1);
  planCgroupWrites(r, 2);
  t.same(r, copy);
  t.same(planCgroupWrites({}, 1), []);
  t.same(planCgroupWrites({}, 2), []);
});
