#!/usr/bin/env node
// `npm run demo` (as root): builds a rootfs from this machine's own binaries,
// writes a bundle with `tsrun spec`, runs a container with `tsrun run`, and
// explains what its output shows about isolation. Removes everything it
// created, also on failure or Ctrl-C. Nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsrun = join(top, 'bin', 'tsrun');
const id = `demo-${process.pid}`;

const say = (s = '') => process.stdout.write(s + '\n');
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function fail(message) {
  process.stderr.write(`demo: ${message}\n`);
  process.exitCode = 1;
}

// ---- preconditions ----

const missing = [
  ['build/lib/cli/main.js', 'the CLI'],
  ['build/lib/rootfs/host.js', 'the rootfs builder'],
  ['native/build/tsrun-init', 'the tsrun-init helper'],
].filter(([p]) => !existsSync(join(top, p)));
if (missing.length > 0) {
  fail(`tsrun is not built yet (missing ${missing.map(([p, what]) => `${what}: ${p}`).join(', ')}).\n` + '      Build it first: npm install   (or: npm run build), then run npm run demo again.');
  process.exit();
}
if (process.getuid?.() !== 0) {
  fail('run the demo as root (creating namespaces and mounts needs it): sudo npm run demo');
  process.exit();
}

const { buildBusyboxRootfs, buildRootfsFromHost, findExecutable } = await import(pathToFileURL(join(top, 'build', 'lib', 'rootfs', 'host.js')).href);

// ---- cleanup, whatever happens ----

const work = mkdtempSync(join(tmpdir(), 'tsrun-demo-'));
const bundle = join(work, 'bundle');
const stateRoot = join(work, 'state');
let cleaned = false;

function mountsUnder(dir) {
  const root = resolve(dir);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter(Boolean)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === root || p.startsWith(root + sep))
    .sort((a, b) => b.length - a.length);
}

function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (existsSync(stateRoot)) spawnSync(tsrun, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000, killSignal: 'SIGKILL' });
  // Never delete through a mount a runtime bug may have left in the host namespace.
  for (const m of mountsUnder(work)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  const left = mountsUnder(work);
  if (left.length > 0) {
    process.stderr.write(`demo: not removing ${work}: still mounted below it: ${left.join(', ')}\n`);
    return;
  }
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });
}

try {
  await main();
} catch (err) {
  fail(err?.message ?? String(err));
} finally {
  cleanup();
}

async function main() {
  say(bold('tsrun demo: a container from this machine\'s own binaries'));
  say();

  // 1. rootfs
  const rootfs = join(bundle, 'rootfs');
  let report;
  if (await findExecutable('busybox')) {
    report = await buildBusyboxRootfs(rootfs, { hostname: 'tsrun-demo' });
    say(`1. rootfs: the host's static busybox plus ${report.applets.length} applet links (sh, ls, cat, head, ...)`);
  } else {
    report = await buildRootfsFromHost({ dest: rootfs, binaries: ['sh', 'ls', 'cat', 'hostname', 'head'], hostname: 'tsrun-demo' });
    say(`1. rootfs: sh, ls, cat, hostname and head from the host, with their shared libraries:`);
    for (const p of report.closure) say(dim(`     ${p}`));
  }
  say(dim(`   ${report.entries.length} paths in ${rootfs}, found by reading ELF headers in TypeScript (no ldd, no download)`));

  // 2. bundle
  const spec = spawnSync(tsrun, ['spec', '--bundle', bundle], { encoding: 'utf8', timeout: 30_000 });
  if (spec.status !== 0) throw new Error(`tsrun spec failed (exit ${spec.status ?? spec.signal}): ${(spec.stderr || spec.stdout || '').trim()}`);
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  const script = 'hostname; echo pid=$$; cat /proc/self/mountinfo | head';
  config.process = { ...config.process, args: ['/bin/sh', '-c', script], terminal: false };
  config.hostname = 'tsrun-demo';
  config.root = { ...(config.root ?? {}), path: 'rootfs', readonly: false };
  writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');
  say(`2. bundle: tsrun spec --bundle ${bundle}, then config.json edited:`);
  say(dim(`     process.args = ["/bin/sh", "-c", "${script}"]`));
  say(dim('     process.terminal = false, hostname = "tsrun-demo", root.readonly = false'));

  // 3. run
  say(`3. run:    tsrun --root ${stateRoot} run --bundle ${bundle} ${id}`);
  say();
  const t0 = process.hrtime.bigint();
  const run = spawnSync(tsrun, ['--root', stateRoot, 'run', '--bundle', bundle, id], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (run.error) throw new Error(`could not run tsrun: ${run.error.message}`);
  if (run.status !== 0) {
    say(run.stdout);
    throw new Error(`tsrun run exited ${run.status ?? `on signal ${run.signal}`}: ${run.stderr.trim() || '(no message)'}`);
  }
  explain(run.stdout.split('\n').filter((l) => l.length > 0));
  say();
  say(dim(`   the container started, ran and was deleted in ${ms.toFixed(0)} ms`));
  say(dim('   tsrun plan --bundle DIR prints every step tsrun-init took, with the config field behind it'));
}

function explain(lines) {
  const [hostLine, pidLine, ...mounts] = lines;
  const note = (s) => say(dim(`      -> ${s}`));
  say(bold('   output of the container, line by line:'));
  say(`   ${hostLine ?? '(nothing)'}`);
  if (hostLine === 'tsrun-demo') note(`UTS namespace: the container has its own hostname; this host is still "${hostname()}"`);
  else isolationMissing(`expected "tsrun-demo" (the config's hostname): the UTS namespace was not set up as asked`);
  say(`   ${pidLine ?? '(nothing)'}`);
  if (pidLine === 'pid=1') note(`PID namespace: the shell is process 1, the container's init; on the host it has another pid (this demo is ${process.pid})`);
  else isolationMissing('expected pid=1: the process is not the init of a new PID namespace');
  if (mounts.length > 0) {
    say(`   ${mounts[0]}`);
    note('mount namespace: "/" is the rootfs directory (after pivot_root); the host\'s mounts are not listed');
    for (const line of mounts.slice(1)) {
      say(`   ${line}`);
      const f = line.split(' ');
      const dash = f.indexOf('-');
      const where = f[4];
      const fstype = dash > 0 ? f[dash + 1] : '?';
      const opts = f[5] ?? '';
      const ro = /(^|,)ro(,|$)/.test(opts);
      if (where === '/proc') note('a fresh procfs for the new PID namespace: it shows only the container\'s processes');
      else if (where === '/dev') note(`${fstype}: a private /dev with only the safe device nodes, not the host's`);
      else if (where === '/dev/pts') note('a new devpts instance: the container\'s terminals are its own');
      else if (where === '/dev/shm') note('private shared memory (with the IPC namespace)');
      else if (where === '/dev/mqueue') note('POSIX message queues of the container\'s IPC namespace');
      else if (where === '/sys') note(`sysfs${ro ? ', read-only' : ''}: the container can look but not reconfigure the host`);
      else if (where?.startsWith('/sys/fs/cgroup')) note(`cgroup view${ro ? ', read-only' : ''}`);
      else if (where?.startsWith('/proc/')) note(`${ro ? 'read-only' : 'masked'} part of /proc (linux.readonlyPaths / maskedPaths)`);
      else note(`${fstype} mounted from the config's mounts`);
    }
    if (!mounts.some((l) => l.split(' ')[4] === '/proc')) isolationMissing('expected a /proc of the container\'s own in its mount table');
  } else {
    isolationMissing('no mountinfo lines: the container has no mount table of its own');
  }
}

/** The demo exists to show isolation: when it does not, it says what is missing and exits 1. */
function isolationMissing(what) {
  say(dim(`      -> ${what}`));
  fail(what);
}
