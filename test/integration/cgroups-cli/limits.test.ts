/**
 * `linux.resources` from config.json, enforced on real containers (not just
 * written): the memory limit OOM-kills, the pids limit makes forks fail, the
 * CFS quota throttles a busy loop, and the device cgroup denies what the
 * default allow list does not name.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { writeBundleConfig } from '../../helpers/bundle.js';
import { cgroupFile, setup, sleep } from './common.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- config edits */

const MiB = 1024 * 1024;

t.test('memory limit: the container allocating past it is OOM-killed (exit 137)', async (t) => {
  const env = await setup(t, ['/probe', 'alloc', '128'], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 32 * MiB, swap: 32 * MiB } };
  });
  const run = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cgcli-lim1']);
  t.equal(run.code, 137, `run exits 128+SIGKILL: ${run.stderr}`);
  t.notMatch(run.stdout, /ok/, 'the allocation never completed');

  // Detached, to read the cgroup's own account of it before delete.
  await env.launch('cgcli-lim1b');
  await env.waitStatus('cgcli-lim1b', 'stopped');
  const d = await env.tsrun(['delete', 'cgcli-lim1b']);
  t.equal(d.code, 0, d.stderr);

  // The same program fits without the limit.
  env.bundle.config.linux.resources.memory = { limit: 256 * MiB };
    await writeBundleConfig(env.bundle);
  const ok = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cgcli-lim1c']);
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout, 'ok\n', '128 MiB fits under 256m');
});

t.test('memory limit: the kernel counts the OOM kill in the container cgroup', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', '/probe alloc 96; exec /probe sleep 600'], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 24 * MiB, swap: 24 * MiB } };
  });
  await env.launch('cgcli-lim2');
  const pid = (await env.info('cgcli-lim2')).pid as number;
  let oc = '';
  for (let i = 0; i < 100 && !/^oom_kill [1-9]/m.test(oc); i++) {
    await sleep(50);
    oc = cgroupFile(pid, 'memory', 'memory.oom_control');
  }
  t.match(oc, /^oom_kill 1$/m, 'memory.oom_control: oom_kill 1');
  t.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(24 * MiB));
  const peak = Number(cgroupFile(pid, 'memory', 'memory.max_usage_in_bytes'));
  t.ok(peak > 20 * MiB && peak <= 24 * MiB, `memory.max_usage_in_bytes ${peak}: up to the limit, not past it`);
});

t.test('pids limit: forks past it fail with EAGAIN', async (t) => {
  const env = await setup(t, ['/probe', 'fork', '20'], (c) => {
    c.linux.resources = { ...c.linux.resources, pids: { limit: 5 } };
  });
  const r = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cgcli-lim3']);
  t.equal(r.code, 1, r.stderr);
  const res = JSON.parse(r.stdout);
  t.equal(res.errno, 'EAGAIN');
  t.equal(res.forked, 4, 'pids.max 5 = the probe itself and 4 children');

  // 0 and 1 are valid limits: the container still starts (the limit is set once its init
  // exists), and its first fork fails.
  env.bundle.config.process.args = ['/probe', 'fork', '1'];
    for (const limit of [0, 1]) {
    env.bundle.config.linux.resources.pids = { limit };
    await writeBundleConfig(env.bundle);
    const r0 = await env.tsrun(['run', '--bundle', env.bundle.dir, `cgcli-lim3-${limit}`]);
    t.equal(r0.code, 1, `pids.limit ${limit}: the container runs, the probe reports the failed fork: ${r0.stderr}`);
    t.same(JSON.parse(r0.stdout), { requested: 1, forked: 0, errno: 'EAGAIN' }, `pids.limit ${limit}: no fork`);
  }
  env.bundle.config.linux.resources.pids = { limit: 2 };
  await writeBundleConfig(env.bundle);
  const two = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cgcli-lim3-2']);
  t.equal(two.code, 0, `pids.limit 2 in a foreground run: the init and one child (the helper does not count): ${two.stdout}${two.stderr}`);
});

t.test('cpu shares, quota, period and cpus are written; the quota throttles a busy loop', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'while :; do :; done'], (c) => {
    c.linux.resources = { ...c.linux.resources, cpu: { shares: 512, quota: 20000, period: 100000, cpus: '0', mems: '0' } };
  });
  await env.launch('cgcli-lim4');
  const pid = (await env.info('cgcli-lim4')).pid as number;
  t.equal(cgroupFile(pid, 'cpu', 'cpu.shares'), '512');
  t.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '20000');
  t.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_period_us'), '100000');
  t.equal(cgroupFile(pid, 'cpuset', 'cpuset.cpus'), '0');
  t.equal(cgroupFile(pid, 'cpuset', 'cpuset.mems'), '0');
  t.equal(readAffinity(pid), '1', 'the init may only run on CPU 0 (Cpus_allowed mask 1)');
  const u0 = Number(cgroupFile(pid, 'cpuacct', 'cpuacct.usage'));
  const t0 = process.hrtime.bigint();
  await sleep(1500);
  const used = Number(cgroupFile(pid, 'cpuacct', 'cpuacct.usage')) - u0;
  const wall = Number(process.hrtime.bigint() - t0);
  const share = used / wall;
  t.ok(share > 0.05 && share < 0.3, `a busy loop under a 20% quota used ${(share * 100).toFixed(1)}% of one CPU`);
  const stat = cgroupFile(pid, 'cpu', 'cpu.stat');
  t.ok(Number(/nr_throttled (\d+)/.exec(stat)?.[1]) > 5, `the cgroup was throttled: ${stat.replace(/\n/g, ', ')}`);
});

function readAffinity(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return (/^Cpus_allowed:\s*([0-9a-f,]+)$/m.exec(status)?.[1] ?? '').replace(/^[0,]+(?=.)/, '');
}

t.test('devices: the default deny plus allow list holds inside the container', async (t) => {
  const script = [
    'echo null=$(/probe open /dev/null rw)',
    'echo kmsg=$(/probe open /dev/kmsg w)',
    'echo mknod-mem=$(mknod /dev/mem c 1 1 2>&1 && echo ok)',
    'echo mknod-null=$(mknod /dev/null2 c 1 3 2>&1 && echo ok)',
    'echo null2=$(/probe open /dev/null2 rw)',
    'echo mknod-blk=$(mknod /dev/loopx b 7 0 2>&1 && echo ok)',
  ].join('; ');
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_MKNOD'];
  const env = await setup(t, ['/bin/sh', '-c', script], (c) => {
    // CAP_MKNOD, so that only the device cgroup can refuse a mknod.
    c.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
    // A host device node bind-mounted in: the node exists, the cgroup decides.
    c.mounts.push({ destination: '/dev/kmsg', type: 'bind', source: '/dev/kmsg', options: ['bind', 'rw'] });
  });
  const r = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cgcli-dev1']);
  t.equal(r.code, 0, r.stderr);
  const seen = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
  t.equal(seen['null'], 'ok', '/dev/null (c 1:3, allowed) opens read-write');
  t.equal(seen['kmsg'], 'EPERM', 'a bind-mounted /dev/kmsg (c 1:11, not allowed) cannot be opened');
  t.match(seen['mknod-mem'], /Operation not permitted/, 'mknod of c 1:1 (/dev/mem) fails with EPERM');
  t.equal(seen['mknod-null'], 'ok', 'mknod of an allowed device works (CAP_MKNOD is there)');
  t.equal(seen['null2'], 'ok');
  t.match(seen['mknod-blk'], /Operation not permitted/, 'mknod of a block device fails with EPERM');

  // The config's own rules come first and can allow more: c 1:11 w, and the mknod of c 1:1.
  env.bundle.config.linux.resources.devices = [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 11, access: 'w' },
    { allow: true, type: 'c', major: 1, minor: 1, access: 'm' },
  ];
    await writeBundleConfig(env.bundle);
  const r2 = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cgcli-dev2']);
  t.equal(r2.code, 0, r2.stderr);
  const seen2 = Object.fromEntries(r2.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
  t.equal(seen2['kmsg'], 'ok', 'with "c 1:11 w" allowed, /dev/kmsg opens for writing');
  t.equal(seen2['mknod-mem'], 'ok', 'with "c 1:1 m" allowed, the mknod works');
  t.equal(seen2['null'], 'ok');
});
