/**
 * Config-level protections and baselines: the plan codec with oversized
 * inputs through a real create (CVE-2021-43784), no inheritable capabilities
 * (CVE-2022-29162), numeric users never looked up (CVE-2016-3697), --no-pivot
 * (H.1), nothing mounted for the container on the host (H.2), kill/delete
 * without a pid namespace (H.6) and unsafe config refused (H.5).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsrunCli } from '../helpers/cli.js';
import { hostMountsUnder, setup, sleep, waitStatus } from './harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const left = (root: string) => readdirSync(root).filter((n) => !n.startsWith('@'));

t.test('CVE-2021-43784: 6,000 uid mappings, a 70 KB namespace path and 100,000 env entries round-trip or fail cleanly', async (t) => {
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'env | grep -c "^V[0-9]*=x"; echo "$LAST"']);
  const env = Array.from({ length: 100_000 }, (_, i) => `V${i}=${'x'.repeat(8)}`);
  bundle.config.process.env = [...bundle.config.process.env, ...env, 'LAST=the-end'];
  // execve takes a quarter of RLIMIT_STACK for argv + envp: room for 100,000 entries.
  bundle.config.process.rlimits.push({ type: 'RLIMIT_STACK', soft: 64 << 20, hard: 64 << 20 });
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const r = await state.cli(['run', '--bundle', bundle.dir, 'big-env']);
  t.equal(r.code, 0, r.stderr.slice(0, 500));
  t.match(r.stdout, /^100000$/m, 'every env entry arrived');
  t.match(r.stdout, /^the-end$/m);

  bundle.config.process.env = bundle.config.process.env.slice(0, 2);
  bundle.config.linux.namespaces.push({ type: 'user' });
  bundle.config.linux.uidMappings = Array.from({ length: 6000 }, (_, i) => ({ containerID: i * 10, hostID: 100000 + i * 10, size: 1 }));
  bundle.config.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const m = await state.cli(['run', '--bundle', bundle.dir, 'big-maps']);
  t.not(m.code, 0, 'the kernel takes at most 340 ranges: a clean error');
  t.match(m.stderr, /uid_map|uidMappings|\(linux\.namespaces\): EINVAL/, m.stderr.trim().slice(-300));
  t.notMatch(m.stderr, /invalid plan|decode/, 'never a codec error');
  t.same(left(state.root), []);

  bundle.config.linux.namespaces = bundle.config.linux.namespaces.filter((n: any) => n.type !== 'user');
  delete bundle.config.linux.uidMappings;
  delete bundle.config.linux.gidMappings;
  bundle.config.linux.namespaces = bundle.config.linux.namespaces.map((n: any) => (n.type === 'ipc' ? { type: 'ipc', path: '/proc/self/ns/' + 'x/'.repeat(35_000) + 'ipc' } : n));
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const p = await state.cli(['run', '--bundle', bundle.dir, 'big-path']);
  t.equal(p.code, 1, 'a 70 KB namespace path: a clean error');
  t.match(p.stderr, /linux\.namespaces\[\d\]\.path/);
  t.same(left(state.root), []);
});

t.test('CVE-2022-29162: tsrun spec has no inheritable or ambient capabilities, and a container\'s CapInh is 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-spec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const args of [['spec'], ['spec', '--rootless']]) {
    rmSync(join(dir, 'config.json'), { force: true });
    const r = await tsrunCli([...args, '--bundle', dir]);
    t.equal(r.code, 0, r.stderr);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    t.notOk(spec.process.capabilities.inheritable?.length, `${args.join(' ')}: no inheritable`);
    t.notOk(spec.process.capabilities.ambient?.length, `${args.join(' ')}: no ambient`);
    if (spec.linux?.resources?.devices) t.same(spec.linux.resources.devices[0], { allow: false, access: 'rwm' }, 'device deny-all first');
  }
  const { bundle, state } = await setup(t, ['/probe', 'sleep', '30']);
  const c = await state.cli(['run', '-d', '--bundle', bundle.dir, 'caps']);
  t.equal(c.code, 0, c.stderr);
  for (const extra of [[], ['--cap', 'CAP_KILL', '--cap', 'CAP_AUDIT_WRITE']]) {
    const r = await state.cli(['exec', ...extra, 'caps', '/probe', 'info']);
    t.equal(r.code, 0, r.stderr);
    const caps = JSON.parse(r.stdout).capabilities;
    t.equal(BigInt('0x' + caps.CapInh), 0n, `CapInh 0 ${extra.join(' ')}`);
    t.equal(BigInt('0x' + caps.CapAmb), 0n, `CapAmb 0 ${extra.join(' ')}`);
  }
});

t.test('CVE-2022-29162 (B.7.2, B.7.3): exec --cap on an empty set gives exactly those caps, never inheritable or ambient; an +ei file capability run as uid 1000 gains nothing', async (t) => {
  const { bundle, state } = await setup(t, ['/probe', 'sleep', '30'], (c) => {
    c.process.capabilities = {};
  });
  // A copy of the probe with inheritable+effective file capabilities, as a hostile image could ship.
  copyFileSync(join(bundle.rootfs, 'probe'), join(bundle.rootfs, 'probe-ei'));
  execFileSync('setcap', ['cap_net_raw+ei', join(bundle.rootfs, 'probe-ei')]);
  const c = await state.cli(['run', '-d', '--bundle', bundle.dir, 'caps2']);
  t.equal(c.code, 0, c.stderr);
  const r = await state.cli(['exec', '--cap', 'CAP_KILL', '--cap', 'CAP_AUDIT_WRITE', 'caps2', '/probe', 'info']);
  t.equal(r.code, 0, r.stderr);
  const caps = JSON.parse(r.stdout).capabilities;
  const want = (1n << 5n) | (1n << 29n); // CAP_KILL | CAP_AUDIT_WRITE = 0x20000020
  for (const set of ['CapPrm', 'CapEff', 'CapBnd']) t.equal(BigInt('0x' + caps[set]), want, `${set} = 0x20000020`);
  t.equal(BigInt('0x' + caps.CapInh), 0n, 'CapInh 0');
  t.equal(BigInt('0x' + caps.CapAmb), 0n, 'CapAmb 0');
  const ei = await state.cli(['exec', '--user', '1000:1000', '--cap', 'CAP_NET_RAW', 'caps2', '/probe-ei', 'info']);
  t.equal(ei.code, 0, ei.stderr);
  const eiCaps = JSON.parse(ei.stdout).capabilities;
  t.equal(BigInt('0x' + eiCaps.CapEff), 0n, 'the +ei file capability gives uid 1000 no effective capability (its inheritable set is empty)');
  t.equal(BigInt('0x' + eiCaps.CapPrm), 0n, 'nor a permitted one');
});

t.test('CVE-2016-3697: numeric users are never resolved through the container\'s /etc/passwd', async (t) => {
  const { bundle, state } = await setup(t, ['/probe', 'sleep', '30'], (c) => {
    c.process.user = { uid: 1000, gid: 1000 };
  });
  writeFileSync(join(bundle.rootfs, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n1000:x:0:0:evil:/:/bin/sh\n1:x:0:0::/:/bin/sh\n');
  writeFileSync(join(bundle.rootfs, 'etc', 'group'), 'root:x:0:\n1000:x:0:\n');
  const c = await state.cli(['run', '-d', '--bundle', bundle.dir, 'users']);
  t.equal(c.code, 0, c.stderr);
  const initPid = JSON.parse((await state.cli(['state', 'users'])).stdout).pid;
  t.match(readFileSync(`/proc/${initPid}/status`, 'utf8'), /^Uid:\s+1000\s+1000\s+1000\s+1000$/m, 'process.user.uid 1000 is uid 1000');
  for (const [user, uid, gid] of [['1000', 1000, 0], ['1', 1, 0], ['1:2', 1, 2], ['1000:1000', 1000, 1000]] as const) {
    const r = await state.cli(['exec', '--user', user, 'users', '/probe', 'info']);
    t.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    t.equal(info.uid, uid, `--user ${user}: uid ${uid}`);
    t.equal(info.gid, gid, `--user ${user}: gid ${gid}`);
  }
  for (const bad of ['0x10', ' 1', '1:', '99999999999', '-1']) {
    const r = await state.cli(['exec', '--user', bad, 'users', '/probe', 'info']);
    if (r.code === 0) t.not(JSON.parse(r.stdout).uid, 0, `--user ${JSON.stringify(bad)} never becomes uid 0`);
    else t.pass(`--user ${JSON.stringify(bad)} refused`);
  }
});

t.test('H.1: --no-pivot leaves no host procfs behind: a fresh procfs cannot be mounted from a new user namespace', async (t) => {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETFCAP', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETPCAP', 'CAP_SYS_CHROOT'];
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'unshare -U -r -m -p -f sh -c "mount -t proc none /proc && echo MOUNTED"; echo "procfs-outside-proc=$(grep " - proc " /proc/self/mountinfo | grep -vc " /proc[ /]")"'], (c) => {
    c.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
  });
  for (const noPivot of [true, false]) {
    const r = await state.cli(['run', ...(noPivot ? ['--no-pivot'] : []), '--bundle', bundle.dir, `np-${noPivot}`]);
    t.equal(r.code, 0, r.stderr);
    t.notMatch(r.stdout, /MOUNTED/, `${noPivot ? '--no-pivot' : 'pivot_root'}: the reproducer cannot mount procfs`);
    t.match(r.stdout, /procfs-outside-proc=0$/m, 'no procfs mounted anywhere but /proc');
  }
});

t.test('H.2: nothing mounted for the container appears in the host\'s mount table, during or after', async (t) => {
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'mount -t tmpfs none /mnt 2>/dev/null; sleep 30'], (c) => {
    c.root.readonly = false;
    c.process.capabilities.bounding.push('CAP_SYS_ADMIN');
    c.process.capabilities.effective.push('CAP_SYS_ADMIN');
    c.process.capabilities.permitted.push('CAP_SYS_ADMIN');
  });
  const before = readFileSync('/proc/self/mountinfo', 'utf8');
  const c = await state.cli(['run', '-d', '--bundle', bundle.dir, 'mounts']);
  t.equal(c.code, 0, c.stderr);
  await sleep(300);
  t.same(hostMountsUnder(bundle.dir), [], 'during: no mount under the bundle in the host');
  t.same(hostMountsUnder(state.root), []);
  await state.cli(['kill', 'mounts', 'KILL']);
  for (let i = 0; i < 100 && (await state.cli(['state', 'mounts'])).stdout.includes('running'); i++) await sleep(20);
  t.equal((await state.cli(['delete', '--force', 'mounts'])).code, 0);
  t.same(hostMountsUnder(bundle.dir), [], 'after: none either');
  const after = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(bundle.dir));
  t.same(after, before.split('\n').filter((l) => l.includes(bundle.dir)));
});

t.test('H.6: without a private pid namespace, kill and delete end every process of the container', async (t) => {
  const tag = `4${process.pid}7`;
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', `sleep ${tag} & (setsid sleep ${tag} &); exec sleep ${tag}`], (c) => {
    c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'pid');
  });
  const pgrep = () => {
    try {
      return execFileSync('pgrep', ['-f', `^sleep ${tag}$`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const c = await state.cli(['run', '-d', '--bundle', bundle.dir, 'nopidns']);
  t.equal(c.code, 0, c.stderr);
  t.ok(await waitStatus(state, 'nopidns', 'running'));
  for (let i = 0; i < 50 && pgrep().length < 3; i++) await sleep(20);
  t.equal(pgrep().length, 3, 'the init, a child and a daemon');
  t.equal((await state.cli(['kill', 'nopidns', 'KILL'])).code, 0);
  t.equal((await state.cli(['delete', 'nopidns'])).code, 0);
  for (let i = 0; i < 50 && pgrep().length; i++) await sleep(20);
  t.same(pgrep(), [], 'no process of the container remains');
});

t.test('H.5: unknown or unsafe config is refused, naming the field, leaving nothing', async (t) => {
  const { bundle, state } = await setup(t, ['/bin/true']);
  const base = structuredClone(bundle.config);
  const cases: [string, (c: any) => void, RegExp][] = [
    ['unknown mount option', (c) => c.mounts.push({ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'bogus-opt'] }), /mounts\[5\]\.options/],
    ['hostname without a uts namespace', (c) => { c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'uts'); }, /hostname/],
    ['net.* sysctl in the host network namespace', (c) => { c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'network'); c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; }, /linux\.sysctl/],
    ['kernel.core_pattern sysctl', (c) => { c.linux.sysctl = { 'kernel.core_pattern': '|/evil' }; }, /linux\.sysctl/],
    ['relative root.path leaving the bundle', (c) => { c.root.path = '../../etc'; }, /root\.path/],
    ['unknown namespace type', (c) => c.linux.namespaces.push({ type: 'bogus' }), /linux\.namespaces/],
    ['no mount namespace', (c) => { c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'mount'); }, /linux\.namespaces/],
    ['procfs replaced by a bind', (c) => { c.mounts[0] = { destination: '/proc', type: 'bind', source: '/proc', options: ['rbind'] }; }, /mounts\[0\]/],
    ['SCMP_ACT_NOTIFY without listenerPath', (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }; }, /listenerPath/],
  ];
  for (const [name, edit, field] of cases) {
    const cfg = structuredClone(base);
    edit(cfg);
    writeFileSync(bundle.configPath, JSON.stringify(cfg));
    const r = await state.cli(['create', '--bundle', bundle.dir, 'bad']);
    t.equal(r.code, 1, `${name}: refused`);
    t.match(r.stderr, field, `${name}: ${r.stderr.trim().split('\n').pop()?.slice(0, 200)}`);
    t.notMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
    t.same(left(state.root), [], `${name}: nothing left`);
  }
});
