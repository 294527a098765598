/**
 * Hostile rootfs contents: symlinks out of the rootfs on mount destinations
 * and on every path tsrun creates (CVE-2021-30465, CVE-2019-18837,
 * CVE-2025-24965, CVE-2024-45310), /proc and /sys as symlinks and mounts over
 * /proc (CVE-2019-16884, CVE-2019-19921, CVE-2023-27561, CVE-2023-28642),
 * a planted /dev/null (CVE-2025-31133), sysctl writes (CVE-2025-52881) and an
 * image whose /dev is a symlink (CVE-2026-41579 class).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exchanger, hostMountsUnder, makeMarker, setup, sleep, stopper } from './harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const up = (n: number) => '../'.repeat(n);

t.test('mount destinations through absolute, relative, chained and .. symlinks stay in the rootfs', async (t) => {
  const host = makeMarker(t);
  const before = host.snapshot();
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'ls -d /host/evil-tmpfs /host/rel-bind 2>&1; cat /inside-marker/marker.txt']);
  const src = makeMarker(t, { 'marker.txt': 'bind source\n' });
  symlinkSync(host.dir, join(bundle.rootfs, 'evil'));                       // absolute: /evil -> /tmp/tsrun-test-host-X
  symlinkSync(up(12) + host.dir.slice(1), join(bundle.rootfs, 'rel'));        // relative: ../../..(x12)/tmp/...
  symlinkSync('/chain39', join(bundle.rootfs, 'chain40'));
  for (let i = 39; i > 0; i--) symlinkSync(`/chain${i - 1}`, join(bundle.rootfs, `chain${i}`));
  symlinkSync(host.dir, join(bundle.rootfs, 'chain0'));
  writeFileSync(join(bundle.rootfs, 'afile'), 'x');
  bundle.config.root.readonly = false;
  bundle.config.mounts.push(
    { destination: '/evil/evil-tmpfs', type: 'tmpfs', source: 'tmpfs' },
    { destination: '/rel/rel-bind', type: 'bind', source: src.dir, options: ['rbind'] },
    { destination: '/inside-marker', type: 'bind', source: src.dir, options: ['rbind', 'ro'] },
    { destination: `/../../..${host.dir}/dotdot`, type: 'tmpfs', source: 'tmpfs' },
  );
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const r = await state.cli(['run', '--bundle', bundle.dir, 'paths1']);
  t.same(host.snapshot(), before, 'the host directory is unchanged');
  t.same(hostMountsUnder(host.dir), [], 'nothing is mounted on the host directory');
  if (r.code === 0) {
    t.match(r.stdout, /bind source/);
    t.ok(existsSync(join(bundle.rootfs, host.dir.slice(1), 'evil-tmpfs')), 'the absolute link was re-rooted inside the rootfs');
    t.ok(existsSync(join(bundle.rootfs, host.dir.slice(1), 'rel-bind')), 'the relative link too');
  } else {
    // A link whose target is missing inside the rootfs is not followed out: the mount is refused.
    t.match(r.stderr, /mounts\[\d+\].*ENOENT/, `refused: ${r.stderr.trim()}`);
  }
  // With the targets present inside the rootfs, the links are followed there.
  mkdirSync(join(bundle.rootfs, host.dir.slice(1)), { recursive: true });
  const r2 = await state.cli(['run', '--bundle', bundle.dir, 'paths1b']);
  t.equal(r2.code, 0, r2.stderr);
  t.match(r2.stdout, /bind source/);
  t.ok(existsSync(join(bundle.rootfs, host.dir.slice(1), 'evil-tmpfs')), 'the absolute link was re-rooted inside the rootfs');
  t.ok(existsSync(join(bundle.rootfs, host.dir.slice(1), 'rel-bind')), 'the relative link too');
  t.ok(existsSync(join(bundle.rootfs, host.dir.slice(1), 'dotdot')), '.. stops at the rootfs');
  t.same(host.snapshot(), before, 'the host directory is unchanged');
  t.same(hostMountsUnder(host.dir), []);

  for (const [dest, why] of [['/chain40/x', 'a chain of 41 links'], ['/afile/sub', 'a file where a directory is expected'], ['/x'.repeat(2100), 'a 4200-byte path']] as const) {
    bundle.config.mounts = bundle.config.mounts.slice(0, 5).concat([{ destination: dest, type: 'tmpfs', source: 'tmpfs' }]);
    writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
    const f = await state.cli(['run', '--bundle', bundle.dir, 'paths2']);
    t.not(f.code, 0, `${why}: refused`);
    t.match(f.stderr, /ELOOP|ENOTDIR|ENAMETOOLONG|too long|mounts\[5\]/, `${why}: ${f.stderr.trim().split('\n').pop()}`);
    t.same(host.snapshot(), before);
  }
});

t.test('[race] a symlink swapped during mount set-up never lands a mount or a directory on the host', async (t) => {
  const host = makeMarker(t);
  const before = host.snapshot();
  const { bundle, state } = await setup(t, ['/bin/true']);
  const shared = makeMarker(t, {});
  mkdirSync(join(shared.dir, 'a'));
  symlinkSync('/', join(shared.dir, 'a.link'));
  mkdirSync(join(bundle.rootfs, 'shared'));
  bundle.config.root.readonly = false;
  bundle.config.mounts.push({ destination: '/shared', type: 'bind', source: shared.dir, options: ['rbind'] });
  for (let i = 0; i < 8; i++) bundle.config.mounts.push({ destination: `/shared/a${host.dir}/t${i}`, type: 'tmpfs', source: 'tmpfs' });
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  // The attacker: a loop in the host standing for a second container that shares the volume.
  const stopSwapper = stopper(t, spawn('/bin/sh', ['-c', `cd ${shared.dir} && while :; do mv -T a a.tmp && mv -T a.link a && mv -T a a.link && mv -T a.tmp a; done`], { stdio: 'ignore' }));
  const end = Date.now() + 20_000;
  let runs = 0;
  let ok = 0;
  while (Date.now() < end && runs < 60) {
    const r = await state.cli(['run', '--bundle', bundle.dir, `race${runs}`]);
    runs++;
    if (r.code === 0) ok++;
    t.same(hostMountsUnder(host.dir), [], `run ${runs}: nothing mounted on the host`);
  }
  stopSwapper();
  t.comment(`mv loop: ${runs} runs, ${ok} succeeded`);
  // Then the fast attacker: a and a.link exchanged atomically, some 300,000 times a second.
  for (const n of ['a', 'a.link', 'a.tmp']) rmSync(join(shared.dir, n), { recursive: true, force: true });
  mkdirSync(join(shared.dir, 'a'));
  symlinkSync('/', join(shared.dir, 'a.link'));
  const stop = exchanger(t, shared.dir, 'a', 'a.link');
  const end2 = Date.now() + 10_000;
  let fast = 0;
  let fastOk = 0;
  while (Date.now() < end2 && fast < 40) {
    const r = await state.cli(['run', '--bundle', bundle.dir, `racex${fast}`]);
    fast++;
    if (r.code === 0) fastOk++;
    t.same(hostMountsUnder(host.dir), [], `exchange run ${fast}: nothing mounted on the host`);
  }
  stop();
  t.comment(`exchanger: ${fast} runs, ${fastOk} succeeded`);
  t.same(host.snapshot(), before, 'the host directory is unchanged');
  rmSync(join(shared.dir, 'a'), { recursive: true, force: true });
});

t.test('only procfs on /proc; no binds onto core_pattern or sysrq-trigger; an allow-listed /proc file is fine', async (t) => {
  const { bundle, state } = await setup(t, ['/bin/cat', '/proc/meminfo']);
  const fake = makeMarker(t, { 'meminfo': 'MemTotal: 1 kB\n' });
  const cases: [any, RegExp][] = [
    [{ destination: '/proc', type: 'bind', source: fake.dir, options: ['rbind'] }, /mounts\[\d+\].*proc/],
    [{ destination: '/proc/sys/kernel/core_pattern', type: 'bind', source: join(fake.dir, 'meminfo'), options: ['bind'] }, /mounts\[\d+\].*\/proc/],
    [{ destination: '/proc/sysrq-trigger', type: 'bind', source: join(fake.dir, 'meminfo'), options: ['bind'] }, /mounts\[\d+\].*\/proc/],
    [{ destination: '/proc', type: 'tmpfs', source: 'tmpfs' }, /mounts\[\d+\].*proc/],
  ];
  const base = structuredClone(bundle.config.mounts);
  for (const [m, re] of cases) {
    bundle.config.mounts = [...base, m];
    writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
    const r = await state.cli(['create', '--bundle', bundle.dir, 'proc1']);
    t.equal(r.code, 1, `${m.destination} (${m.type}) refused`);
    t.match(r.stderr, re, r.stderr.trim());
    t.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), [], 'nothing left');
  }
  bundle.config.mounts = [...base, { destination: '/proc/meminfo', type: 'bind', source: join(fake.dir, 'meminfo'), options: ['bind', 'ro'] }];
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const ok = await state.cli(['run', '--bundle', bundle.dir, 'proc2']);
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout, 'MemTotal: 1 kB\n', 'the lxcfs-style bind on /proc/meminfo is allowed');
});

t.test('/proc or /sys as a symlink (absolute, relative, to the host) is refused and nothing is left behind', async (t) => {
  const host = makeMarker(t);
  const before = host.snapshot();
  for (const [dir, target] of [['proc', '/bad-proc'], ['proc', 'bad-proc'], ['proc', host.dir], ['sys', '/bad-sys'], ['sys', host.dir]] as const) {
    await t.test(`/${dir} -> ${target}`, async (t) => {
      const { bundle, state } = await setup(t, ['/bin/true']);
      rmSync(join(bundle.rootfs, dir), { recursive: true, force: true });
      mkdirSync(join(bundle.rootfs, `bad-${dir}`));
      symlinkSync(target, join(bundle.rootfs, dir));
      const r = await state.cli(['run', '--bundle', bundle.dir, 'symproc']);
      t.not(r.code, 0);
      t.match(r.stderr, /ordinary directory|ENOTDIR|ELOOP|symlink/, r.stderr.trim());
      t.same(readdirSync(join(bundle.rootfs, `bad-${dir}`)), [], 'nothing mounted or created at the link target');
      t.same(host.snapshot(), before);
      t.same(hostMountsUnder(host.dir), []);
    });
  }
});

t.test('masking uses the verified host /dev/null: a planted /dev/null (symlink to a host file, regular file) is never bind-mounted', async (t) => {
  for (const kind of ['symlink', 'file'] as const) {
    await t.test(kind, async (t) => {
      const host = makeMarker(t, { 'secret.txt': 'host secret\n' });
      const before = host.snapshot();
      const devDir = makeMarker(t, {});
      if (kind === 'symlink') symlinkSync(join(host.dir, 'secret.txt'), join(devDir.dir, 'null'));
      else writeFileSync(join(devDir.dir, 'null'), 'not a device\n');
      const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'cat /testfile; echo "[$(stat -c %t:%T /testfile)]"; echo x > /testfile; touch /maskdir/new; ls /maskdir | wc -l']);
      writeFileSync(join(bundle.rootfs, 'testfile'), 'image file\n');
      mkdirSync(join(bundle.rootfs, 'maskdir'));
      writeFileSync(join(bundle.rootfs, 'maskdir', 'inside'), 'x');
      // /dev is a bind of a directory the attacker controls.
      bundle.config.mounts = bundle.config.mounts.filter((m: any) => !m.destination.startsWith('/dev'));
      bundle.config.mounts.push({ destination: '/dev', type: 'bind', source: devDir.dir, options: ['rbind'] });
      bundle.config.linux.maskedPaths.push('/testfile', '/maskdir');
      writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
      const r = await state.cli(['run', '--bundle', bundle.dir, 'mask1']);
      t.equal(r.code, 0, r.stderr);
      t.notMatch(r.stdout, /host secret|image file|not a device/, 'the masked file reads empty');
      t.match(r.stdout, /\[1:3\]/, 'the mask is the 1:3 character device');
      t.match(r.stdout + r.stderr, /Read-only file system/, 'the masked directory is a read-only tmpfs');
      t.match(r.stdout, /^0$/m, 'and it is empty');
      t.same(host.snapshot(), before, 'the host file is unchanged');
    });
  }
});

t.test('sysctl and oom_score_adj go through procfs handles of tsrun, not the rootfs\'s /proc', async (t) => {
  const host = makeMarker(t, { 'ip_forward': '0\n', 'oom': '0\n' });
  const before = host.snapshot();
  const { bundle, state } = await setup(t, ['/bin/true']);
  // The image's /proc/sys is a plain directory tree pointing at "host" files, and no procfs is mounted over it.
  rmSync(join(bundle.rootfs, 'proc'), { recursive: true, force: true });
  mkdirSync(join(bundle.rootfs, 'proc', 'sys', 'net', 'ipv4'), { recursive: true });
  symlinkSync(join(host.dir, 'ip_forward'), join(bundle.rootfs, 'proc', 'sys', 'net', 'ipv4', 'ip_forward'));
  mkdirSync(join(bundle.rootfs, 'proc', 'self'));
  symlinkSync(join(host.dir, 'oom'), join(bundle.rootfs, 'proc', 'self', 'oom_score_adj'));
  bundle.config.mounts = bundle.config.mounts.filter((m: any) => m.destination !== '/proc');
  bundle.config.linux.maskedPaths = [];
  bundle.config.linux.readonlyPaths = [];
  bundle.config.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  bundle.config.process.oomScoreAdj = 500;
  bundle.config.process.args = ['/bin/true'];
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const r = await state.cli(['run', '--bundle', bundle.dir, 'sysctl1']);
  t.equal(r.code, 0, r.stderr);
  t.same(host.snapshot(), before, 'neither write followed the image\'s links');
});

t.test('CVE-2026-41579 class: a rootfs whose /dev is a symlink out never populates or changes the outside directory', async (t) => {
  for (const devMount of [true, false]) {
    await t.test(devMount ? 'with a /dev tmpfs' : 'without a /dev mount', async (t) => {
      const outside = makeMarker(t, { 'ptmx': 'outside marker\n' });
      const before = outside.snapshot();
      const { bundle, state } = await setup(t, ['/bin/true']);
      rmSync(join(bundle.rootfs, 'dev'), { recursive: true, force: true });
      symlinkSync(outside.dir, join(bundle.rootfs, 'dev'));
      if (!devMount) bundle.config.mounts = bundle.config.mounts.filter((m: any) => m.destination !== '/dev');
      bundle.config.process.terminal = false;
      writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
      const r = await state.cli(['run', '--bundle', bundle.dir, 'devlink']);
      t.comment(`run: exit ${r.code} ${r.stderr.trim().split('\n').pop() ?? ''}`);
      t.same(outside.snapshot(), before, 'the outside directory holds exactly its ptmx file, unchanged');
      t.equal(readFileSync(join(outside.dir, 'ptmx'), 'utf8'), 'outside marker\n');
      t.same(hostMountsUnder(outside.dir), []);
    });
  }
});

t.test('CVE-2025-52565: /dev/console is the pty from TIOCGPTPEER, whatever the image planted at /dev/console and /dev/pts', async (t) => {
  const { compileC } = await import('./harness.js');
  const { repoRoot } = await import('../helpers/paths.js');
  const receiver = compileC('console-receiver', readFileSync(join(repoRoot, 'test', 'security', 'c', 'console-receiver.c'), 'utf8'));
  const host = makeMarker(t, { 'sysrq-trigger': 'host file\n' });
  const before = host.snapshot();
  const sockDir = makeMarker(t, {});
  const socket = join(sockDir.dir, 'console.sock');
  const out = join(sockDir.dir, 'console.out');
  const child = spawn(receiver, [socket, out], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  await new Promise((r) => child.stdout!.once('data', r));
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'echo "console=$(stat -L -c %t:%F /dev/console)"; echo written > /dev/console; sleep 0.2']);
  // The image's own /dev (no tmpfs over it): a planted console link and pts entries.
  rmSync(join(bundle.rootfs, 'dev'), { recursive: true, force: true });
  mkdirSync(join(bundle.rootfs, 'dev', 'pts'), { recursive: true });
  symlinkSync(join(host.dir, 'sysrq-trigger'), join(bundle.rootfs, 'dev', 'console'));
  symlinkSync(join(host.dir, 'sysrq-trigger'), join(bundle.rootfs, 'dev', 'pts', '0'));
  symlinkSync(join(host.dir, 'sysrq-trigger'), join(bundle.rootfs, 'dev', 'pts', 'ptmx'));
  bundle.config.mounts = bundle.config.mounts.filter((m: any) => m.destination !== '/dev');
  bundle.config.process.terminal = true;
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const r = await state.cli(['run', '-d', '--console-socket', socket, '--bundle', bundle.dir, 'console1']);
  t.equal(r.code, 0, r.stderr);
  const done = await Promise.race([new Promise((res) => child.on('exit', res)), sleep(10_000)]);
  t.not(done, undefined, 'the pty closed when the container exited');
  const text = readFileSync(out, 'utf8');
  t.match(text, /console=88:character special file/, '/dev/console is a pts device (major 136)');
  t.match(text, /written/, 'writing /dev/console reaches the pty');
  t.same(host.snapshot(), before, 'the planted link targets are unchanged');
});
