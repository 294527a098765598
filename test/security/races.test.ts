/**
 * The race entries of the CVE list, as bounded loops: a host-side loop
 * stands for a second container that shares a volume (or the rootfs itself)
 * with the one being started, and swaps what tsrun is about to use while it
 * sets the container up. Each loop runs for a few seconds; every start must
 * either be refused with a clear error or give a container whose procfs is
 * masked and read-only, whose /dev/null masks and /dev/console are the real
 * devices, and whose sysctls went to its own namespace; the host's
 * core_pattern, ip_forward and marker directories never change.
 *
 *   B.6.2  CVE-2019-19921 / CVE-2023-27561: /proc through a shared volume, swapped
 *   B.6.2' the same with the image's own /proc swapped between a directory and a symlink
 *   B.12.3 CVE-2025-52881: sysctl writes during those swaps
 *   B.10.3 CVE-2025-31133: /dev on a shared volume, null flipped between the device and a symlink
 *   B.11.2 CVE-2025-52565: /dev on a shared volume, console and pts flipped with terminal: true
 *   B.4'   CVE-2021-30465 shape: a read-only bind's destination exchanged with another volume's
 *
 * Where a procfs write could escape, the container only opens the file for
 * writing (`/probe open F w`, which writes nothing; busybox's `test -w` says
 * yes to root without asking the kernel): a failed protection must show in
 * the test, not in the host's core_pattern.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { exchanger, hostMountsUnder, makeMarker, setup, stopper } from './harness.js';
import type { TestBundle } from '../helpers/bundle.js';
import type { StateRoot } from '../helpers/cli.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- configs are edited freely */

const LOOP_MS = 10_000;
const MAX_RUNS = 40;
const CORE_PATTERN = '/proc/sys/kernel/core_pattern';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** The host's own procfs values an escaped write would change. */
function hostValues(): string[] {
  return [readFileSync(CORE_PATTERN, 'utf8'), readFileSync(IP_FORWARD, 'utf8')];
}

function lstatOr(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** A shell loop (the attacker), killed by its pid when the test ends. */
function swapper(t: Test, dir: string, loop: string): () => void {
  return stopper(t, spawn('/bin/sh', ['-c', `cd '${dir}' && while :; do ${loop}; done`], { stdio: 'ignore' }));
}

interface LoopResult {
  runs: number;
  started: number;
  refusals: Map<string, number>;
}

/**
 * Runs the bundle until LOOP_MS or MAX_RUNS; `check` judges the output of a
 * container that started. A refusal must be one clear line (no stack trace)
 * and leave no container behind.
 */
async function loop(t: Test, state: StateRoot, bundle: TestBundle, name: string, check: (stdout: string, run: number) => void, opts: { terminal?: boolean; ms?: number } = {}): Promise<LoopResult> {
  const end = Date.now() + (opts.ms ?? LOOP_MS);
  const res: LoopResult = { runs: 0, started: 0, refusals: new Map() };
  while (Date.now() < end && res.runs < MAX_RUNS) {
    const id = `${name}${res.runs}-${Date.now() % 100000}`;
    const r = await state.cli(['run', '--bundle', bundle.dir, id]);
    res.runs++;
    const out = opts.terminal ? r.stdout.replace(/\r/g, '') : r.stdout;
    if (r.code === 0) {
      res.started++;
      check(out, res.runs);
    } else {
      const last = r.stderr.trim().split('\n').pop() ?? '';
      if (/\n\s+at /.test(r.stderr) || !/level=error msg=/.test(last)) t.fail(`run ${res.runs}: not a clear error (exit ${r.code}): ${r.stderr.slice(0, 400)} ${out.slice(0, 200)}`);
      // "<field> <errno>", e.g. "mounts[1] ELOOP": what was refused, and why.
      const kind = [/\(([a-zA-Z.]+(?:\[\d+\])?[a-zA-Z.]*)\)/.exec(last)?.[1] ?? '?', /: (E[A-Z]+):/.exec(last)?.[1] ?? last.slice(-60)].join(' ');
      res.refusals.set(kind, (res.refusals.get(kind) ?? 0) + 1);
    }
    const left = readdirSync(state.root).filter((n) => !n.startsWith('@'));
    if (left.length > 0) {
      t.fail(`run ${res.runs}: state left behind: ${left.join(' ')}`);
      for (const l of left) await state.cli(['delete', '--force', l]);
    }
  }
  t.comment(`${res.runs} runs: ${res.started} started, refused: ${JSON.stringify(Object.fromEntries(res.refusals))}`);
  return res;
}

/** What a started container reports about every place its procfs could have landed. */
const procChecks = (paths: string[]) => paths.map((p) =>
  `if [ -e ${p}/sys/kernel ]; then [ "$(/probe open ${p}/sys/kernel/core_pattern w)" = ok ] && echo "CORE-WRITABLE ${p}"; [ "$(/probe open ${p}/sysrq-trigger w)" = ok ] && echo "SYSRQ-WRITABLE ${p}"; ` +
  `echo "TIMER ${p} $(head -c 1 ${p}/timer_list 2>/dev/null | wc -c)"; fi`).join('; ');

t.test('[race] B.6.2 (CVE-2019-19921): /proc -> /evil/level1 on a volume whose level1 is swapped: refused every time', async (t) => {
  const host = makeMarker(t);
  const before = host.snapshot();
  const values = hostValues();
  const { bundle, state } = await setup(t, ['/bin/true']);
  const evil = makeMarker(t, {});
  mkdirSync(join(evil.dir, 'level1'));
  symlinkSync(host.dir, join(evil.dir, 'level1~'));
  rmSync(join(bundle.rootfs, 'proc'), { recursive: true, force: true });
  symlinkSync('/evil/level1', join(bundle.rootfs, 'proc'));
  mkdirSync(join(bundle.rootfs, 'evil'));
  // The volume first, as in runc#2197: procfs would then be mounted through it.
  bundle.config.mounts.unshift({ destination: '/evil', type: 'bind', source: evil.dir, options: ['rbind'] });
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const stop = exchanger(t, evil.dir, 'level1', 'level1~');
  const res = await loop(t, state, bundle, 'b62', () => t.fail('a /proc that is a symlink was accepted'));
  stop();
  t.equal(res.started, 0, 'no start');
  t.same([...res.refusals.keys()].filter((k) => !/^mounts\[1\] (ELOOP|ENOTDIR|ENOENT)$/.test(k)), [], 'each refusal names the proc mount (mounts[1]) and the symlink');
  t.same(host.snapshot(), before, 'the host directory is unchanged');
  t.same(hostMountsUnder(host.dir), [], 'nothing is mounted on it');
  t.same(hostValues(), values, 'the host\'s core_pattern and ip_forward are unchanged');
});

t.test('[race] B.6.2 / B.12.3 (CVE-2025-52881): the image\'s /proc and /sys swapped with symlinks during set-up, with a sysctl: masked, read-only, own ip_forward', async (t) => {
  const host = makeMarker(t);
  const before = host.snapshot();
  const values = hostValues();
  const alt = ['/proc', '/proc.tmp', '/proc.link'];
  // The attacker goes on swapping while the container runs: its procfs may be at any of the names by then.
  const reach = alt.map((p) => `[ -e ${p}/sys/net ] && echo "FWD $(cat ${p}/sys/net/ipv4/ip_forward) $(stat -f -c %t ${p})"`).join('; ');
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', `${procChecks(alt)}; ${reach}; true`]);
  symlinkSync(host.dir, join(bundle.rootfs, 'proc.link'));
  symlinkSync(host.dir, join(bundle.rootfs, 'sys.link'));
  bundle.config.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  // The rootfs is the shared volume here: the attacker swaps its /proc and /sys themselves,
  // first with mv (states where a name is missing), then with atomic exchanges.
  let seen = 0;
  const check = (out: string, run: number) => {
    t.notMatch(out, /CORE-WRITABLE|SYSRQ-WRITABLE/, `run ${run}: no procfs with a writable core_pattern or sysrq-trigger: ${out}`);
    t.notMatch(out, /TIMER \S+ [1-9]/, `run ${run}: every procfs the container can reach has timer_list masked`);
    // A read the attacker's rename cut short shows nothing; whatever is read must be the container's.
    const fwd = out.split('\n').filter((l) => l.startsWith('FWD ')).map((l) => l.split(' '));
    t.same(fwd.filter(([, v, fs]) => (v && v !== '1') || (fs && fs !== '9fa0')), [], `run ${run}: its procfs shows ip_forward 1, the sysctl, in its own network namespace`);
    if (fwd.some(([, v, fs]) => v === '1' && fs === '9fa0')) seen++;
  };
  let stop = swapper(t, bundle.rootfs,
    'mv -T proc proc.tmp && mv -T proc.link proc && mv -T proc proc.link && mv -T proc.tmp proc; ' +
    'mv -T sys sys.tmp && mv -T sys.link sys && mv -T sys sys.link && mv -T sys.tmp sys');
  const res = await loop(t, state, bundle, 'b123', check, { ms: LOOP_MS / 2 });
  stop();
  // The mv loop may have been killed between two renames: put the directories back.
  for (const d of ['proc', 'sys']) {
    if (!lstatOr(join(bundle.rootfs, d))?.isDirectory() && lstatOr(join(bundle.rootfs, `${d}.tmp`))?.isDirectory()) {
      rmSync(join(bundle.rootfs, d), { force: true });
      renameSync(join(bundle.rootfs, `${d}.tmp`), join(bundle.rootfs, d));
    }
    if (!lstatOr(join(bundle.rootfs, `${d}.link`))) symlinkSync(host.dir, join(bundle.rootfs, `${d}.link`));
  }
  stop = exchanger(t, bundle.rootfs, 'proc', 'proc.link');
  const fast = await loop(t, state, bundle, 'b123x', check, { ms: LOOP_MS / 2 });
  res.runs += fast.runs;
  res.started += fast.started;
  stop();
  t.ok(res.started > 0 && seen > 0, `containers started (${res.started}), and ${seen} read ip_forward 1 from a procfs`);
  t.same(host.snapshot(), before, 'the host directory is unchanged');
  t.same(hostMountsUnder(host.dir), [], 'nothing is mounted on it');
  t.same(hostValues(), values, 'the host\'s core_pattern and ip_forward are unchanged');
});

t.test('[race] B.10.3 (CVE-2025-31133): /dev on a shared volume with null flipped between the device and a symlink to core_pattern', async (t) => {
  const values = hostValues();
  const dev = makeMarker(t, {});
  mkdirSync(join(dev.dir, 'pts'));
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', `echo "MASK [$(stat -c %t:%T /testfile)] [$(cat /testfile)]"; ${procChecks(['/proc'])}; [ -c ${CORE_PATTERN} ] && echo CORE-IS-DEVICE; true`]);
  writeFileSync(join(bundle.rootfs, 'testfile'), 'image file\n');
  bundle.config.mounts = bundle.config.mounts.filter((m: any) => m.destination !== '/dev');
  bundle.config.mounts.splice(1, 0, { destination: '/dev', type: 'bind', source: dev.dir, options: ['rbind'] });
  bundle.config.linux.maskedPaths.push('/testfile');
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const check = (out: string, run: number) => {
    t.match(out, /^MASK \[1:3\] \[\]$/m, `run ${run}: /testfile is masked by the 1:3 device and reads empty`);
    t.notMatch(out, /CORE-WRITABLE|SYSRQ-WRITABLE|CORE-IS-DEVICE/, `run ${run}: core_pattern is read-only and not replaced`);
    t.notMatch(out, /TIMER \S+ [1-9]/, `run ${run}: timer_list is masked`);
  };
  let stop = swapper(t, dev.dir, `rm -f null; mknod null.dev c 1 3; ln -sf ${CORE_PATTERN} null.link; mv -T null.dev null; mv -T null.link null; sleep 0.005`);
  const res = await loop(t, state, bundle, 'b103', check, { ms: LOOP_MS / 2 });
  stop();
  // Then atomically: null and null.alt exchanged, one the 1:3 device, the other a link to core_pattern.
  for (const n of ['null', 'null.alt', 'null.dev', 'null.link']) rmSync(join(dev.dir, n), { force: true });
  execFileSync('mknod', [join(dev.dir, 'null'), 'c', '1', '3']);
  symlinkSync(CORE_PATTERN, join(dev.dir, 'null.alt'));
  stop = exchanger(t, dev.dir, 'null', 'null.alt');
  const fast = await loop(t, state, bundle, 'b103x', check, { ms: LOOP_MS / 2 });
  stop();
  res.runs += fast.runs;
  t.ok(res.runs > 0);
  t.same(hostValues(), values, 'the host\'s core_pattern is unchanged');
});

t.test('[race] B.11.2 (CVE-2025-52565): terminal: true with /dev on a shared volume whose console and pts entries are swapped', async (t) => {
  const values = hostValues();
  const dev = makeMarker(t, {});
  mkdirSync(join(dev.dir, 'pts'));
  // The attacker goes on swapping while the container runs, and a rename over /dev/console detaches
  // what was mounted there: the checks are what tsrun mounted (devpts only on /dev/pts and
  // /dev/console), what /dev/console is whenever it is a device, and that stdout is the pty.
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', `[ -t 1 ] && echo STDOUT-TTY; echo "CONSOLE $(stat -L -c '%t %F' /dev/console 2>&1)"; ` +
    `awk '$9 == "devpts" { print "DEVPTS " $5 }' /proc/self/mountinfo; ${procChecks(['/proc'])}; [ -c ${CORE_PATTERN} ] && echo CORE-IS-DEVICE; [ -c /proc/sysrq-trigger ] && echo SYSRQ-IS-DEVICE; true`]);
  bundle.config.process.terminal = true;
  bundle.config.mounts = bundle.config.mounts.filter((m: any) => m.destination !== '/dev');
  bundle.config.mounts.splice(1, 0, { destination: '/dev', type: 'bind', source: dev.dir, options: ['rbind'] });
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  let consoles = 0;
  const check = (out: string, run: number) => {
    // One stat, so that the type and the major are of the same file.
    const consoleLine = out.split('\n').find((l) => l.startsWith('CONSOLE ')) ?? '';
    if (consoleLine === 'CONSOLE 88 character special file' && /^DEVPTS \/dev\/console$/m.test(out)) consoles++;
    t.match(out, /^STDOUT-TTY$/m, `run ${run}: stdout is the pty`);
    t.ok(!/character special/.test(consoleLine) || consoleLine === 'CONSOLE 88 character special file', `run ${run}: /dev/console, when a device, is a pts (major 136): ${consoleLine}`);
    // (console.alt: the same file after the attacker's exchange, which keeps what is mounted on it)
    t.same(out.split('\n').filter((l) => l.startsWith('DEVPTS ') && !['DEVPTS /dev/pts', 'DEVPTS /dev/console', 'DEVPTS /dev/console.alt'].includes(l)), [], `run ${run}: devpts is mounted on /dev/pts and /dev/console only`);
    t.notMatch(out, /CORE-WRITABLE|SYSRQ-WRITABLE|CORE-IS-DEVICE|SYSRQ-IS-DEVICE/, `run ${run}: no procfs file was replaced or made writable`);
  };
  let stop = swapper(t, dev.dir,
    `ln -sf ${CORE_PATTERN} console.link; echo plain > console.file; mv -T console.link console; mv -T console.file console; ` +
    'ln -sfn /proc/sysrq-trigger pts/ptmx.link; mv -T pts/ptmx.link pts/0; rm -f pts/0; sleep 0.005');
  const res = await loop(t, state, bundle, 'b112', check, { terminal: true, ms: LOOP_MS / 2 });
  stop();
  // Then atomically: console (a plain file) exchanged with console.alt (a link to core_pattern).
  for (const n of ['console', 'console.alt', 'console.link', 'console.file']) rmSync(join(dev.dir, n), { force: true });
  writeFileSync(join(dev.dir, 'console'), 'plain\n');
  symlinkSync(CORE_PATTERN, join(dev.dir, 'console.alt'));
  stop = exchanger(t, dev.dir, 'console', 'console.alt');
  const fast = await loop(t, state, bundle, 'b112x', check, { terminal: true, ms: LOOP_MS / 2 });
  stop();
  res.started += fast.started;
  t.ok(res.started > 0 && consoles > 0, `containers started (${res.started}); ${consoles} saw the pty mounted on /dev/console before a swap took it away`);
  t.same(hostValues(), values, 'the host\'s core_pattern is unchanged');
});

t.test('[race] B.4 (CVE-2021-30465 shape): a read-only bind whose destination is swapped with another volume\'s never lands read-write', async (t) => {
  // The image (shared with the attacker) has /ro and /vol; the config binds a
  // scratch volume rw on /vol, then a host directory read-only on /ro. The
  // attacker swaps the two names: a runtime that binds on one inode and then
  // looks the name up again to make it read-only would make the scratch volume
  // read-only and leave the host directory writable.
  const guarded = makeMarker(t, { 'marker.txt': 'read-only for the container\n' });
  const before = guarded.snapshot();
  const scratch = makeMarker(t, {});
  const names = ['/ro', '/vol', '/ro.tmp'];
  // Opened for writing, never written or created: a hit shows here, not in the host directory.
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', `for d in ${names.join(' ')}; do [ "$(/probe open $d/marker.txt w)" = ok ] && echo "WROTE $d"; done; true`]);
  mkdirSync(join(bundle.rootfs, 'ro'));
  mkdirSync(join(bundle.rootfs, 'vol'));
  bundle.config.mounts.push(
    { destination: '/vol', type: 'bind', source: scratch.dir, options: ['rbind'] },
    { destination: '/ro', type: 'bind', source: guarded.dir, options: ['rbind', 'ro'] },
  );
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const stop = exchanger(t, bundle.rootfs, 'ro', 'vol');
  let seen = 0;
  const res = await loop(t, state, bundle, 'b4ro', (out, run) => {
    t.notMatch(out, /WROTE/, `run ${run}: the read-only host directory was not writable under any name`);
    seen++;
  });
  stop();
  t.ok(res.runs > 0 && seen > 0, `${res.started} containers started`);
  t.same([...res.refusals.keys()].filter((k) => !/^mounts\[\d+\] (EBUSY|ENOENT|ELOOP)$/.test(k)), [], 'a refusal names the mount whose destination was swapped');
  t.same(guarded.snapshot(), before, 'the read-only host directory is unchanged');
  t.same(hostMountsUnder(guarded.dir), [], 'nothing is mounted on it');
});
