/**
 * The full manager against cgroupfs-shaped temp directories: v2 with the
 * controllers this host cannot enable, v1 with every controller, and the
 * hybrid routing. create, apply, read back every file, freeze, stats, save
 * and load, destroy.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupError } from '../../../lib/errors.js';
import {
  createCgroupManager,
  detectCgroupLayout,
  loadCgroupManager,
  DEFAULT_DEVICE_RULES,
  type DeviceProgramLoader,
  type DeviceRule,
} from '../../../lib/cgroups/index.js';
import type { Resources } from '../../../lib/spec/types.js';
import { FakeCgroupFs } from './fake-cgroupfs.js';
import { throwsField } from './helpers.js';

const V2_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'];

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tsrun-test-cgmgr-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

class FakeLoader implements DeviceProgramLoader {
  calls: { dir: string; rules: DeviceRule[]; previousId: number | undefined }[] = [];
  replace(dir: string, rules: DeviceRule[], previousId: number | undefined): number {
    this.calls.push({ dir, rules, previousId });
    return 100 + this.calls.length;
  }
}

const read = (p: string) => readFileSync(p, 'utf8').trim();

function v2Setup(t: { teardown(fn: () => void): void }, controllers = V2_CONTROLLERS) {
  const root = tmp(t);
  const fs = new FakeCgroupFs(root, root);
  fs.initHierarchy(root, controllers);
  const layout = detectCgroupLayout(root, { mountinfo: '' });
  const devices = new FakeLoader();
  return { root, fs, layout, devices };
}

const FULL_V2: Resources = {
  devices: [{ allow: false, access: 'rwm' }, ...DEFAULT_DEVICE_RULES, { allow: true, type: 'b', major: 8, minor: 0, access: 'r' }],
  memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, kernel: 1 << 20, swappiness: 10 },
  cpu: { shares: 1024, quota: 50000, period: 100000, burst: 10000, cpus: '0-1', mems: '0', idle: 0 },
  pids: { limit: 0 },
  blockIO: {
    weight: 500,
    weightDevice: [{ major: 8, minor: 16, weight: 200 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
  },
  hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }, { pageSize: '1GB', limit: 0 }],
  rdma: { mlx5_0: { hcaHandles: 2, hcaObjects: 2000 } },
  unified: { 'memory.high': String(48 << 20), 'misc.max': 'res_a 1', 'cgroup.max.descendants': '5' },
};

t.test('v2 on a fake cgroupfs: every controller', async (t) => {
  const { root, fs, layout, devices } = v2Setup(t);
  t.equal(layout.kind, 'v2');
  const m = createCgroupManager({ id: 'c1', cgroupsPath: '/pod1/c1', layout, fs, devices });
  const dir = join(root, 'pod1/c1');
  t.same(m.paths, { unified: dir });
  t.notOk(existsSync(dir), 'createCgroupManager creates nothing');
  m.create();
  t.ok(existsSync(dir));
  t.equal(read(join(root, 'cgroup.subtree_control')), V2_CONTROLLERS.join(' '), 'controllers enabled at the root');
  t.equal(read(join(root, 'pod1/cgroup.subtree_control')), V2_CONTROLLERS.join(' '), 'and in the parent');

  const warnings = m.apply(FULL_V2);
  t.same(warnings.sort(), [
    'linux.resources.memory.kernel: not available on cgroup v2, ignored',
    'linux.resources.memory.swappiness: not available on cgroup v2, ignored',
  ]);
  const f = (name: string) => read(join(dir, name));
  t.equal(f('memory.max'), String(64 << 20));
  t.equal(f('memory.low'), String(32 << 20));
  t.equal(f('memory.swap.max'), String(64 << 20), 'swap - limit');
  t.equal(f('memory.high'), String(48 << 20));
  t.equal(f('cpu.weight'), '39');
  t.equal(f('cpu.max'), '50000 100000');
  t.equal(f('cpu.max.burst'), '10000');
  t.equal(f('cpu.idle'), '0');
  t.equal(f('cpuset.cpus'), '0-1');
  t.equal(f('cpuset.mems'), '0');
  t.equal(f('pids.max'), '0');
  const written = fs.log.join('\n');
  t.match(written, /io\.weight=4950$/m, 'no io.bfq.weight file: io.weight, converted (the default weight)');
  t.match(written, /io\.weight=8:16 1920$/m, 'weightDevice: a per-device line in io.weight, converted');
  t.equal(f('io.max'), '8:0 rbps=1048576\n8:0 wbps=2097152\n8:0 riops=50\n8:0 wiops=100', 'every throttle in io.max');
  t.equal(f('hugetlb.2MB.max'), String(4 << 20));
  t.equal(f('hugetlb.2MB.rsvd.max'), String(4 << 20));
  t.equal(f('hugetlb.1GB.max'), '0');
  t.equal(f('rdma.max'), 'mlx5_0 hca_handle=2 hca_object=2000');
  t.equal(f('misc.max'), 'res_a 1');
  t.equal(f('cgroup.max.descendants'), '5');
  t.equal(devices.calls.length, 1);
  t.equal(devices.calls[0]!.dir, dir);
  t.equal(devices.calls[0]!.rules.length, DEFAULT_DEVICE_RULES.length + 2);
  t.equal(devices.calls[0]!.previousId, undefined);

  m.addProcess(4242);
  t.same(m.pids(), [4242]);
  t.notOk(m.isFrozen());
  await m.freeze();
  t.ok(m.isFrozen());
  t.equal(f('cgroup.freeze'), '1');
  await m.thaw();
  t.notOk(m.isFrozen());

  writeFileSync(join(dir, 'memory.current'), '1234');
  writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 7\nnr_throttled 1\nthrottled_usec 4\n');
  writeFileSync(join(dir, 'pids.current'), '1');
  writeFileSync(join(dir, 'io.stat'), '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n');
  writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
  const s = m.stats();
  t.equal(s.cpu.usage.total, 5000);
  t.equal(s.cpu.usage.user, 3000);
  t.same(s.cpu.throttling, { periods: 7, throttledPeriods: 1, throttledTime: 4000 });
  t.same(s.memory.usage, { usage: 1234, max: 0, limit: 64 << 20, failcnt: 3 });
  t.equal(s.memory.swap.limit, 128 << 20, 'swap reported as memory+swap');
  t.same(s.pids, { current: 1, limit: 0 });
  t.same(s.blkio.ioServiceBytesRecursive, [
    { major: 8, minor: 0, op: 'Read', value: 4096 },
    { major: 8, minor: 0, op: 'Write', value: 8192 },
    { major: 8, minor: 0, op: 'Discard', value: 0 },
  ]);
  t.same(Object.keys(s.hugetlb).sort(), ['1GB', '2MB']);
  t.equal(m.oomEvents?.(), 1);

  // Save, load as a later command would, update.
  const saved = JSON.parse(JSON.stringify(m.save()));
  t.equal(saved.driver, 'v2');
  t.equal(saved.deviceProgramId, 101);
  const later = loadCgroupManager(saved, undefined, { fs, devices });
  t.same(later.paths, m.paths);
  later.apply({ devices: [{ allow: true, access: 'rwm' }], pids: { limit: -1 }, cpu: { quota: -1, period: 50000 } }, { update: true });
  t.equal(devices.calls[1]!.previousId, 101, 'the earlier program is replaced');
  t.equal(later.save().deviceProgramId, 102);
  t.equal(f('pids.max'), 'max');
  t.equal(f('cpu.max'), 'max 50000');
  later.apply({ devices: [{ allow: false }] }, { update: true, skipDevices: true });
  t.equal(devices.calls.length, 2, 'skipDevices leaves the program alone');

  // checkBeforeUpdate refuses a limit below the usage.
  throwsField(t, () => later.apply({ memory: { limit: 1000, checkBeforeUpdate: true } }, { update: true }), 'linux.resources.memory.limit', /current usage/);
  t.equal(f('memory.max'), String(64 << 20), 'unchanged');

  await later.killAll(9);
  t.ok(fs.log.includes('pod1/c1/cgroup.kill=1'), 'SIGKILL through cgroup.kill');

  await t.rejects(later.destroy({ timeoutMs: 50 }), CgroupError, 'EBUSY while a process is listed');
  writeFileSync(join(dir, 'cgroup.procs'), '');
  await later.destroy();
  t.notOk(existsSync(dir));
  t.ok(existsSync(join(root, 'pod1')), 'the shared parent stays');
  await later.destroy();
  t.pass('destroying again is fine');
});

t.test('v2 errors leave no cgroup behind', async (t) => {
  const bad: [string, Resources, string, RegExp?][] = [
    ['negative shares', { cpu: { shares: -5 } }, 'linux.resources.cpu.shares'],
    ['cpus "0-"', { cpu: { cpus: '0-' } }, 'linux.resources.cpu.cpus'],
    ['unified key on a controller that is off', { unified: { 'io.latency': '8:0 target=10' } }, 'linux.resources.unified["io.latency"]', /io controller is not available/],
    ['unified key the kernel does not know', { unified: { 'memory.bogus': '1' } }, 'linux.resources.unified["memory.bogus"]', /ENOENT/],
    ['a resource whose controller is off', { blockIO: { weight: 100 } }, 'linux.resources.blockIO.weight', /io controller/],
    ['realtime on v2', { cpu: { realtimeRuntime: 1000 } }, 'linux.resources.cpu.realtimeRuntime'],
  ];
  for (const [name, res, field, msg] of bad) {
    t.test(name, async (t) => {
      const { root, fs, layout, devices } = v2Setup(t, ['cpu', 'memory', 'pids']);
      const m = createCgroupManager({ id: 'c', cgroupsPath: '/a/b/c', layout, fs, devices });
      m.create();
      t.ok(existsSync(join(root, 'a/b/c')));
      throwsField(t, () => m.apply({ pids: { limit: 5 }, ...res }), field, msg);
      t.notOk(existsSync(join(root, 'a')), 'every directory create made is gone');
    });
  }
  t.test('a failed update does not remove the cgroup', async (t) => {
    const { root, fs, layout, devices } = v2Setup(t, ['cpu', 'memory', 'pids']);
    const m = createCgroupManager({ id: 'c', cgroupsPath: '/c', layout, fs, devices });
    m.create();
    m.apply({ pids: { limit: 5 } });
    t.throws(() => m.apply({ cpu: { shares: -1 } }, { update: true }), CgroupError);
    t.ok(existsSync(join(root, 'c')));
    t.equal(read(join(root, 'c/pids.max')), '5');
  });
});

t.test('create refuses a non-empty or frozen cgroup', async (t) => {
  const { root, fs, layout } = v2Setup(t);
  const m = createCgroupManager({ id: 'c', cgroupsPath: '/busy', layout, fs });
  m.create();
  m.addProcess(77);
  const again = createCgroupManager({ id: 'c', cgroupsPath: '/busy', layout, fs });
  t.throws(() => again.create(), /not empty: 1 process/);
  writeFileSync(join(root, 'busy/cgroup.procs'), '');
  await m.freeze();
  t.throws(() => again.create(), /frozen/);
  await m.thaw();
  again.create();
  t.pass('an existing empty thawed cgroup is reused');
});

function v1Setup(t: { teardown(fn: () => void): void }, hierarchies: string[], unifiedControllers?: string[]) {
  const root = tmp(t);
  const fs = new FakeCgroupFs(root, unifiedControllers ? join(root, 'unified') : undefined);
  for (const h of hierarchies) fs.initHierarchy(join(root, h));
  if (hierarchies.includes('cpu,cpuacct')) {
    symlinkSync('cpu,cpuacct', join(root, 'cpu'));
    symlinkSync('cpu,cpuacct', join(root, 'cpuacct'));
  }
  if (unifiedControllers) fs.initHierarchy(join(root, 'unified'), unifiedControllers);
  writeFileSync(join(root, 'cpuset/cpuset.cpus'), '0-3');
  writeFileSync(join(root, 'cpuset/cpuset.mems'), '0');
  return { root, fs, layout: detectCgroupLayout(root, { mountinfo: '' }) };
}

const V1_ALL = ['cpu,cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'hugetlb', 'net_cls', 'net_prio', 'systemd'];

t.test('v1 on a fake cgroupfs: every controller', async (t) => {
  const { root, fs, layout } = v1Setup(t, V1_ALL);
  t.equal(layout.kind, 'v1');
  const m = createCgroupManager({ id: 'c1', layout, fs });
  t.equal(m.driver, 'v1');
  t.equal(m.paths['cpu'], join(root, 'cpu,cpuacct/tsrun/c1'));
  t.equal(m.paths['name=systemd'], join(root, 'systemd/tsrun/c1'));
  m.create();
  const p = (h: string, f: string) => read(join(root, h, 'tsrun/c1', f));
  t.equal(read(join(root, 'cpuset/tsrun/cpuset.cpus')), '0-3', 'cpuset parent inherits cpus');
  t.equal(p('cpuset', 'cpuset.cpus'), '0-3');
  t.equal(p('cpuset', 'cpuset.mems'), '0');

  const warnings = m.apply({
    devices: [{ allow: false, access: 'rwm' }, ...DEFAULT_DEVICE_RULES],
    memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, kernel: 1 << 20, kernelTCP: 2 << 20, swappiness: 10, disableOOMKiller: true, useHierarchy: true },
    cpu: { shares: 512, quota: 20000, period: 100000, burst: 1000, realtimePeriod: 1000000, realtimeRuntime: 0, cpus: '1', mems: '0', idle: 1 },
    pids: { limit: 10 },
    blockIO: { weight: 300, weightDevice: [{ major: 8, minor: 0, weight: 200 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }], throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2000 }], throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 30 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 40 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 2 << 20 }],
    network: { classID: 0x10001, priorities: [{ name: 'eth0', priority: 3 }] },
    rdma: { mlx5_0: { hcaHandles: 1 } },
  });
  t.equal(warnings.length, 3, 'kernel, kernelTCP and rdma (not mounted)');
  t.ok(warnings.some((w) => /rdma.*not mounted/.test(w)));
  t.equal(p('memory', 'memory.limit_in_bytes'), String(64 << 20));
  t.equal(p('memory', 'memory.memsw.limit_in_bytes'), String(128 << 20));
  t.equal(p('memory', 'memory.soft_limit_in_bytes'), String(32 << 20));
  t.equal(p('memory', 'memory.kmem.limit_in_bytes'), String(1 << 20));
  t.equal(p('memory', 'memory.kmem.tcp.limit_in_bytes'), String(2 << 20));
  t.equal(p('memory', 'memory.swappiness'), '10');
  t.equal(p('memory', 'memory.oom_control'), '1');
  t.equal(p('memory', 'memory.use_hierarchy'), '1');
  t.equal(p('cpu,cpuacct', 'cpu.shares'), '512');
  t.equal(p('cpu,cpuacct', 'cpu.cfs_quota_us'), '20000');
  t.equal(p('cpu,cpuacct', 'cpu.cfs_period_us'), '100000');
  t.equal(p('cpu,cpuacct', 'cpu.cfs_burst_us'), '1000');
  t.equal(p('cpu,cpuacct', 'cpu.rt_period_us'), '1000000');
  t.equal(p('cpu,cpuacct', 'cpu.idle'), '1');
  t.equal(p('cpuset', 'cpuset.cpus'), '1');
  t.equal(p('pids', 'pids.max'), '10');
  t.equal(p('blkio', 'blkio.bfq.weight'), '300', 'bfq file when blkio.weight is absent');
  t.equal(p('blkio', 'blkio.bfq.weight_device'), '8:0 200');
  t.equal(p('blkio', 'blkio.throttle.read_bps_device'), '8:0 1000');
  t.equal(p('blkio', 'blkio.throttle.write_bps_device'), '8:0 2000');
  t.equal(p('blkio', 'blkio.throttle.read_iops_device'), '8:0 30');
  t.equal(p('blkio', 'blkio.throttle.write_iops_device'), '8:0 40');
  t.equal(p('hugetlb', 'hugetlb.2MB.limit_in_bytes'), String(2 << 20));
  t.notOk(existsSync(join(root, 'hugetlb/tsrun/c1/hugetlb.2MB.rsvd.limit_in_bytes')), 'no rsvd file: skipped');
  t.equal(p('net_cls', 'net_cls.classid'), String(0x10001));
  t.equal(p('net_prio', 'net_prio.ifpriomap'), 'eth0 3');
  t.equal(p('devices', 'devices.deny'), 'a\na');
  t.equal(p('devices', 'devices.allow').split('\n').length, DEFAULT_DEVICE_RULES.length);
  t.ok(p('devices', 'devices.allow').includes('c 136:* rwm'));

  throwsField(t, () => m.apply({ unified: { 'memory.high': '1' } }, { update: true }), 'linux.resources.unified', /cgroup v2/);

  m.addProcess(99);
  t.equal(p('freezer', 'cgroup.procs'), '99');
  t.equal(p('systemd', 'cgroup.procs'), '99');
  t.same(m.pids(), [99]);
  await m.freeze();
  t.equal(p('freezer', 'freezer.state'), 'FROZEN');
  t.ok(m.isFrozen());
  await m.thaw();
  t.notOk(m.isFrozen());

  writeFileSync(join(root, 'memory/tsrun/c1/memory.oom_control'), 'oom_kill_disable 1\nunder_oom 0\noom_kill 3\n');
  t.equal(m.oomEvents?.(), 3);
  writeFileSync(join(root, 'cpu,cpuacct/tsrun/c1/cpuacct.stat'), 'user 10\nsystem 5\n');
  writeFileSync(join(root, 'cpu,cpuacct/tsrun/c1/cpuacct.usage'), '123456');
  writeFileSync(join(root, 'blkio/tsrun/c1/blkio.throttle.io_service_bytes_recursive'), '8:0 Read 4096\n8:0 Write 0\nTotal 4096\n');
  writeFileSync(join(root, 'memory/tsrun/c1/memory.usage_in_bytes'), '777');
  const s = m.stats();
  t.equal(s.cpu.usage.total, 123456);
  t.equal(s.cpu.usage.user, 100_000_000, 'ticks to ns');
  t.equal(s.cpu.usage.kernel, 50_000_000);
  t.same(s.memory.usage, { usage: 777, max: 0, failcnt: 0, limit: 64 << 20 });
  t.equal(s.memory.swap.limit, 128 << 20);
  t.same(s.pids, { current: 0, limit: 10 });
  t.same(s.blkio.ioServiceBytesRecursive, [{ major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 0 }]);
  t.same(s.hugetlb['2MB'], { usage: 0, max: 0, failcnt: 0 });

  // checkBeforeUpdate on v1 reads memory.usage_in_bytes (777 above).
  throwsField(t, () => m.apply({ memory: { limit: 500, checkBeforeUpdate: true } }, { update: true }), 'linux.resources.memory.limit', /current usage/);
  t.equal(p('memory', 'memory.limit_in_bytes'), String(64 << 20), 'refused: unchanged');
  m.apply({ memory: { limit: 4096, checkBeforeUpdate: true } }, { update: true });
  t.equal(p('memory', 'memory.limit_in_bytes'), '4096', 'a limit above the usage is written');

  for (const h of V1_ALL) writeFileSync(join(root, h, 'tsrun/c1/cgroup.procs'), '');
  await m.destroy();
  for (const h of V1_ALL) t.notOk(existsSync(join(root, h, 'tsrun/c1')), `${h} removed`);
});

t.test('v1 cpuset: a shared parent another create made but has not filled yet is filled first (no ENOSPC on join)', async (t) => {
  const { root, fs, layout } = v1Setup(t, ['cpuset', 'memory']);
  // The state a concurrent create leaves for an instant: tsrun/ made, its cpus and mems still empty.
  mkdirSync(join(root, 'cpuset/tsrun'));
  writeFileSync(join(root, 'cpuset/tsrun/cpuset.cpus'), '');
  writeFileSync(join(root, 'cpuset/tsrun/cpuset.mems'), '');
  const m = createCgroupManager({ id: 'c2', layout, fs });
  m.create();
  t.equal(read(join(root, 'cpuset/tsrun/cpuset.cpus')), '0-3', 'the parent got the root\'s cpus');
  t.equal(read(join(root, 'cpuset/tsrun/cpuset.mems')), '0');
  t.equal(read(join(root, 'cpuset/tsrun/c2/cpuset.cpus')), '0-3', 'and the container\'s cgroup from it');
  t.equal(read(join(root, 'cpuset/tsrun/c2/cpuset.mems')), '0');
});

t.test('v1: a controller that is not mounted is an error naming the field', async (t) => {
  const { root, fs, layout } = v1Setup(t, ['cpuset', 'memory', 'freezer']);
  const m = createCgroupManager({ id: 'c', layout, fs });
  m.create();
  throwsField(t, () => m.apply({ pids: { limit: 3 } }), 'linux.resources.pids.limit', /pids controller is not mounted/);
  t.notOk(existsSync(join(root, 'memory/tsrun/c')));
});

t.test('hybrid: v1 controllers, hugetlb and unified keys on the cgroup2 mount', async (t) => {
  const { root, fs, layout } = v1Setup(t, ['cpu,cpuacct', 'cpuset', 'memory', 'freezer', 'pids', 'systemd'], ['hugetlb']);
  t.equal(layout.kind, 'hybrid');
  const m = createCgroupManager({ id: 'h', cgroupsPath: '/h', layout, fs });
  t.equal(m.paths['unified'], join(root, 'unified/h'));
  m.create();
  t.equal(read(join(root, 'unified/cgroup.subtree_control')), 'hugetlb');
  const w = m.apply({ memory: { limit: 1 << 20 }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }], pids: { limit: 4 }, unified: { 'hugetlb.1GB.max': '0' } });
  t.same(w, []);
  t.equal(read(join(root, 'memory/h/memory.limit_in_bytes')), String(1 << 20));
  t.equal(read(join(root, 'pids/h/pids.max')), '4');
  t.equal(read(join(root, 'unified/h/hugetlb.2MB.max')), '0', 'hugetlb through cgroup2');
  t.equal(read(join(root, 'unified/h/hugetlb.1GB.max')), '0');
  throwsField(t, () => m.apply({ unified: { 'memory.high': '5' } }, { update: true }), 'linux.resources.unified["memory.high"]', /memory controller is not available/);
  m.addProcess(5);
  t.equal(read(join(root, 'unified/h/cgroup.procs')), '5', 'joined on the cgroup2 mount too');
  await m.freeze();
  t.equal(read(join(root, 'freezer/h/freezer.state')), 'FROZEN', 'the v1 freezer is authoritative');
  t.equal(read(join(root, 'unified/h/cgroup.freeze')), '0');
  await m.thaw();
  await m.killAll(9);
  t.ok(fs.log.includes('unified/h/cgroup.kill=1'));
  t.equal(m.save().driver, 'hybrid');
});
