/**
 * `tsrun update` on real containers, as runc's: the flags and
 * `--resources FILE|-` (containerd sends `--resources=-` with the JSON on
 * stdin) change the live cgroup files, and the limits are enforced on
 * processes exec'd into the container afterwards.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupFile, setup } from './common.js';

const MiB = 1024 * 1024;

function blkioWeight(pid: number): string {
  try {
    return cgroupFile(pid, 'blkio', 'blkio.weight');
  } catch {
    return cgroupFile(pid, 'blkio', 'blkio.bfq.weight');
  }
}

t.test('update flags change the live cgroup files', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  await env.launch('cgcli-up1');
  const pid = (await env.info('cgcli-up1')).pid as number;
  const r = await env.tsrun([
    'update',
    '--memory', '64m',
    '--memory-swap', '96m',
    '--memory-reservation', '32m',
    '--cpu-share', '512',
    '--cpu-period', '50000',
    '--cpu-quota', '25000',
    '--cpuset-cpus', '0',
    '--pids-limit', '42',
    '--blkio-weight', '300',
    'cgcli-up1',
  ]);
  t.equal(r.code, 0, `update: ${r.stderr}`);
  t.equal(r.stdout, '', 'update prints nothing');
  t.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(64 * MiB));
  t.equal(cgroupFile(pid, 'memory', 'memory.memsw.limit_in_bytes'), String(96 * MiB));
  t.equal(cgroupFile(pid, 'memory', 'memory.soft_limit_in_bytes'), String(32 * MiB));
  t.equal(cgroupFile(pid, 'cpu', 'cpu.shares'), '512');
  t.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_period_us'), '50000');
  t.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '25000');
  t.equal(cgroupFile(pid, 'cpuset', 'cpuset.cpus'), '0');
  t.equal(cgroupFile(pid, 'pids', 'pids.max'), '42');
  t.equal(blkioWeight(pid), '300');

  // docker's spelling of the shares flag is accepted too; -1 lifts limits.
  const r2 = await env.tsrun(['update', '--cpu-shares', '256', '--pids-limit', '-1', '--memory', '128m', '--memory-swap', '-1', 'cgcli-up1']);
  t.equal(r2.code, 0, r2.stderr);
  t.equal(cgroupFile(pid, 'cpu', 'cpu.shares'), '256');
  t.equal(cgroupFile(pid, 'pids', 'pids.max'), 'max');
  t.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(128 * MiB), 'the limit is raised above the old memsw limit');
  t.ok(Number(cgroupFile(pid, 'memory', 'memory.memsw.limit_in_bytes')) > 2 ** 62, 'memory-swap -1: unlimited');
});

t.test('--resources from a file and from stdin (containerd: --resources=-)', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  await env.launch('cgcli-up2');
  const pid = (await env.info('cgcli-up2')).pid as number;
  const file = join(env.scratch, 'resources.json');
  writeFileSync(file, JSON.stringify({ memory: { limit: 80 * MiB, swap: 80 * MiB }, cpu: { shares: 700, quota: 30000, period: 100000 }, pids: { limit: 17 } }));
  const f = await env.tsrun(['update', '--resources', file, 'cgcli-up2']);
  t.equal(f.code, 0, f.stderr);
  t.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(80 * MiB));
  t.equal(cgroupFile(pid, 'cpu', 'cpu.shares'), '700');
  t.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '30000');
  t.equal(cgroupFile(pid, 'pids', 'pids.max'), '17');

  // What containerd's runc shim writes on stdin: a full LinuxResources object, devices included (skipped, as runc does).
  const containerd = {
    devices: [{ allow: false, access: 'rwm' }],
    memory: { limit: 72 * MiB, swap: 72 * MiB },
    cpu: { shares: 1024, quota: -1, period: 100000, cpus: '0-1' },
    pids: { limit: 33 },
  };
  const s = await env.tsrun(['update', '--resources=-', 'cgcli-up2'], { input: JSON.stringify(containerd) });
  t.equal(s.code, 0, s.stderr);
  t.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(72 * MiB));
  t.equal(cgroupFile(pid, 'cpu', 'cpu.shares'), '1024');
  t.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '-1');
  t.equal(cgroupFile(pid, 'cpuset', 'cpuset.cpus'), '0-1');
  t.equal(cgroupFile(pid, 'pids', 'pids.max'), '33');
  t.match(cgroupFile(pid, 'devices', 'devices.list'), /^c 1:3 rwm$/m, 'the device rules are left as create set them');
  t.notMatch(cgroupFile(pid, 'devices', 'devices.list'), /^a \*:\* rwm$/m);

  const short = await env.tsrun(['update', '-r', '-', 'cgcli-up2'], { input: '{"pids":{"limit":9}}' });
  t.equal(short.code, 0, short.stderr);
  t.equal(cgroupFile(pid, 'pids', 'pids.max'), '9', '-r - works as well');
});

t.test('updated limits are enforced: pids and memory', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  await env.launch('cgcli-up3');
  const pid = (await env.info('cgcli-up3')).pid as number;
  const before = await env.tsrun(['exec', 'cgcli-up3', '/probe', 'fork', '10']);
  t.equal(before.code, 0, `10 forks work before the update: ${before.stdout}${before.stderr}`);
  t.equal(JSON.parse(before.stdout).forked, 10);

  t.equal((await env.tsrun(['update', '--pids-limit', '5', 'cgcli-up3'])).code, 0);
  t.equal(cgroupFile(pid, 'pids', 'pids.max'), '5');
  const after = await env.tsrun(['exec', 'cgcli-up3', '/probe', 'fork', '10']);
  const res = JSON.parse(after.stdout);
  t.equal(after.code, 1, 'the fork probe reports failure');
  t.equal(res.errno, 'EAGAIN', 'fork fails with EAGAIN past pids.max');
  t.ok(res.forked < 5, `only ${res.forked} of 10 forks succeed with pids.max 5`);
  t.ok(Number(cgroupFile(pid, 'pids', 'pids.events').split(' ')[1]) > 0, 'pids.events counts the refusals');

  t.equal((await env.tsrun(['update', '--memory', '32m', '--memory-swap', '32m', 'cgcli-up3'])).code, 0);
  const small = await env.tsrun(['exec', 'cgcli-up3', '/probe', 'alloc', '8']);
  t.equal(small.code, 0, `8 MiB fits under 32m: ${small.stderr}`);
  const big = await env.tsrun(['exec', 'cgcli-up3', '/probe', 'alloc', '128']);
  t.equal(big.code, 137, 'allocating 128 MiB under a 32m limit is OOM-killed (exec exits 128+9)');
  t.match(cgroupFile(pid, 'memory', 'memory.oom_control'), /^oom_kill [1-9]/m, 'the kernel counted an OOM kill in the container cgroup');
  t.equal((await env.info('cgcli-up3')).status, 'running', 'the init survives: the allocating process was the victim');
});

t.test('update errors: stopped container, bad values name the flag or field', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  await env.launch('cgcli-up4');
  const pid = (await env.info('cgcli-up4')).pid as number;
  const shares = cgroupFile(pid, 'cpu', 'cpu.shares');
  const cases: { args: string[]; input?: string; re: RegExp }[] = [
    { args: ['--memory', '10x'], re: /--memory/ },
    { args: ['--memory-swap', 'lots'], re: /--memory-swap/ },
    { args: ['--cpu-share', 'abc'], re: /--cpu-share/ },
    { args: ['--pids-limit', '1.5'], re: /--pids-limit/ },
    { args: ['--cpu-quota', '12q'], re: /--cpu-quota/ },
    { args: ['--cpu-share', '-5'], re: /linux\.resources\.cpu\.shares/ },
    { args: ['--cpuset-cpus', '0-'], re: /linux\.resources\.cpu\.cpus/ },
    { args: ['--cpuset-cpus', '77'], re: /linux\.resources\.cpu\.cpus/ },
    { args: ['--cpu-period', '500'], re: /linux\.resources\.cpu\.period/ },
    { args: ['--blkio-weight', '5000'], re: /linux\.resources\.blockIO\.weight/ },
    { args: ['--memory', '256m', '--memory-swap', '128m'], re: /linux\.resources\.memory\.swap/ },
    { args: ['--resources', '-'], input: '{"memory":{"limit":"big"}}', re: /linux\.resources\.memory\.limit/ },
    { args: ['--resources', '-'], input: '{"cpu":', re: /--resources: invalid JSON/ },
    { args: ['--resources', '-'], input: '[1]', re: /--resources: expected a linux\.resources JSON object/ },
    { args: ['--resources', join(env.scratch, 'missing.json')], re: /--resources: cannot read .*missing\.json: ENOENT/ },
    { args: ['--bogus', '1'], re: /flag provided but not defined: --bogus/ },
  ];
  for (const c of cases) {
    const r = await env.tsrun(['update', ...c.args, 'cgcli-up4'], c.input === undefined ? {} : { input: c.input });
    const what = `update ${c.args.join(' ')}`;
    t.equal(r.code, 1, `${what}: exit 1`);
    t.match(r.stderr, c.re, `${what}: ${r.stderr.trim()}`);
    t.notMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  }
  t.equal(cgroupFile(pid, 'cpu', 'cpu.shares'), shares, 'no failed update changed cpu.shares');
  const noId = await env.tsrun(['update', '--memory', '64m']);
  t.equal(noId.code, 1);
  t.match(noId.stderr, 'container-id');

  t.equal((await env.tsrun(['kill', 'cgcli-up4', 'KILL'])).code, 0);
  await env.waitStatus('cgcli-up4', 'stopped');
  const stopped = await env.tsrun(['update', '--memory', '64m', 'cgcli-up4']);
  t.equal(stopped.code, 1, 'update of a stopped container fails');
  t.match(stopped.stderr, 'container not running');
  const unknown = await env.tsrun(['update', '--memory', '64m', 'nosuch']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, 'container does not exist');
});
