#!/usr/bin/env node
// Container start-to-exit latency, side by side: tsrun, runc and crun run the
// same busybox bundle (`/bin/true`) with the same config, interleaved round by
// round, next to two floors (the bare namespaces via unshare, and `node -e 0`).
//
//   npm run bench                      30 rounds
//   npm run bench -- --rounds 100      more rounds
//   npm run bench -- --only tsrun,runc  a subset (names as in the table)
//
// Needs root. Timing is reported, never asserted. Results: bench/results/latest.json.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function option(name, fallback) {
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && args[i + 1] !== undefined) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : fallback;
}

if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node bench/run.mjs [--rounds N] [--warmup N] [--only name,name] [--timeout-ms MS]');
  process.exit(0);
}
const rounds = Number(option('rounds', '30'));
const warmup = Number(option('warmup', '2'));
const timeoutMs = Number(option('timeout-ms', '30000'));
const only = option('only', '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error('bench: --rounds must be a positive integer');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bench: run as root (container runtimes need it): sudo npm run bench');
  process.exit(1);
}

const which = (...candidates) => candidates.find((p) => existsSync(p));
const busybox = which('/bin/busybox', '/usr/bin/busybox');
const runcBin = which('/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc');
const crunBin = which('/usr/bin/crun', '/usr/local/bin/crun');
const unshareBin = which('/usr/bin/unshare', '/bin/unshare');
const tsrunBin = join(top, 'bin', 'tsrun');
if (!busybox) {
  console.error('bench: needs busybox (apt-get install busybox-static) for the test rootfs');
  process.exit(1);
}

// ---- the bundle: static busybox, /bin/true, and one config for every runtime ----

const work = mkdtempSync(join(tmpdir(), 'tsrun-bench-'));
const bundle = join(work, 'bundle');
const rootfs = join(bundle, 'rootfs');
for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
for (const applet of ['true', 'sh']) symlinkSync('busybox', join(rootfs, 'bin', applet));
writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');

// What `runc spec` gives, with terminal off and /bin/true: every runtime gets this same file.
const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
const config = {
  ociVersion: '1.0.2',
  process: {
    terminal: false,
    user: { uid: 0, gid: 0 },
    args: ['/bin/true'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
    cwd: '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  },
  root: { path: 'rootfs', readonly: true },
  hostname: 'bench',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ],
  linux: {
    resources: { devices: [{ allow: false, access: 'rwm' }] },
    namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
  },
};
writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 2) + '\n');

// ---- the contenders ----

const roots = {};
const stateRoot = (name) => (roots[name] ??= mkdtempSync(join(work, `root-${name}-`)));
const idFor = (name, i) => `bench-${name}-${process.pid}-${i}`;
// crun refuses hybrid hosts (v1 controllers plus a cgroup2 mount at
// /sys/fs/cgroup/unified): hide the cgroup2 mount in a private mount namespace.
const crunWrapper = 'if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then umount /sys/fs/cgroup/unified || exit 125; fi; exec "$0" "$@"';

const contenders = [
  {
    name: 'tsrun',
    note: 'bin/tsrun run (Node CLI + tsrun-init)',
    available: existsSync(join(top, 'build', 'lib', 'cli', 'main.js')) ? true : 'not built: run npm run build',
    cmd: (i) => [tsrunBin, '--root', stateRoot('tsrun'), 'run', '--bundle', bundle, idFor('tsrun', i)],
    cleanup: (id) => [tsrunBin, '--root', stateRoot('tsrun'), 'delete', '--force', id],
  },
  {
    name: 'runc',
    note: "Debian's runc",
    available: runcBin ? true : 'runc not installed',
    cmd: (i) => [runcBin, '--root', stateRoot('runc'), 'run', '--bundle', bundle, idFor('runc', i)],
    cleanup: (id) => [runcBin, '--root', stateRoot('runc'), 'delete', '--force', id],
  },
  {
    name: 'crun',
    note: 'crun inside unshare -m with the cgroup2 mount hidden',
    available: crunBin && unshareBin ? true : 'crun or unshare not installed',
    cmd: (i) => [unshareBin, '-m', '--propagation', 'private', 'sh', '-c', crunWrapper, crunBin, '--root', stateRoot('crun'), 'run', '--bundle', bundle, idFor('crun', i)],
    cleanup: (id) => [unshareBin, '-m', '--propagation', 'private', 'sh', '-c', crunWrapper, crunBin, '--root', stateRoot('crun'), 'delete', '--force', id],
  },
  {
    name: 'crun-wrapper',
    note: 'floor of the crun wrapper alone: unshare -m + sh + umount, then true',
    available: crunBin && unshareBin ? true : 'crun or unshare not installed',
    cmd: () => [unshareBin, '-m', '--propagation', 'private', 'sh', '-c', crunWrapper, '/bin/true'],
  },
  {
    name: 'unshare',
    note: 'floor: unshare --fork --pid --mount --uts --ipc --net true',
    available: unshareBin ? true : 'unshare not installed',
    cmd: () => [unshareBin, '--fork', '--pid', '--mount', '--uts', '--ipc', '--net', 'true'],
  },
  {
    name: 'node',
    note: 'reference: node -e 0 (the cost of starting Node at all)',
    available: true,
    cmd: () => [process.execPath, '-e', '0'],
  },
].filter((c) => only.length === 0 || only.includes(c.name));

// ---- measuring ----

function runOnce(c, i) {
  const [file, ...argv] = c.cmd(i);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) return { ok: false, ms, error: `${r.error.code ?? ''} ${r.error.message}`.trim() };
  if (r.status !== 0) {
    const why = (r.stderr.toString() || r.stdout.toString()).trim().split('\n').slice(-3).join(' | ');
    return { ok: false, ms, error: `exit ${r.status ?? `signal ${r.signal}`}${why ? `: ${why}` : ''}` };
  }
  return { ok: true, ms };
}

const state = Object.fromEntries(contenders.map((c) => [c.name, { samples: [], failures: 0, error: typeof c.available === 'string' ? c.available : undefined, disabled: c.available !== true }]));

console.log(`tsrun bench: ${rounds} rounds (+${warmup} warm-up), /bin/true in a busybox bundle, ${cpus()[0]?.model ?? 'unknown cpu'}, kernel ${release()}`);
for (const c of contenders) if (state[c.name].disabled) console.log(`  ${c.name}: skipped (${state[c.name].error})`);

let counter = 0;
const total = warmup + rounds;
for (let round = 0; round < total; round++) {
  const measured = round >= warmup;
  // Rotate the order each round so no contender always runs right after another's cleanup.
  const order = contenders.map((_, k) => contenders[(k + round) % contenders.length]);
  for (const c of order) {
    const s = state[c.name];
    if (s.disabled) continue;
    const r = runOnce(c, counter++);
    if (r.ok) {
      if (measured) s.samples.push(r.ms);
      continue;
    }
    s.failures++;
    s.error ??= r.error;
    if (round === 0) {
      // Failing on the very first try: report why once and stop running it.
      s.disabled = true;
      console.log(`  ${c.name}: failed, excluded: ${r.error}`);
    }
  }
  if (process.stdout.isTTY) process.stdout.write(`\r  round ${round + 1}/${total}`);
}
if (process.stdout.isTTY) process.stdout.write('\r' + ' '.repeat(30) + '\r');

// ---- cleanup: containers of runs that timed out or failed half-way ----

for (const c of contenders) {
  const dir = roots[c.name];
  if (!dir || !c.cleanup) continue;
  let ids = [];
  try {
    ids = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    /* never created */
  }
  for (const id of ids) {
    const [file, ...argv] = c.cleanup(id);
    spawnSync(file, argv, { stdio: 'ignore', timeout: timeoutMs, killSignal: 'SIGKILL' });
  }
}
try {
  rmSync(work, { recursive: true, force: true });
} catch (err) {
  console.error(`bench: could not remove ${work}: ${err.message}`);
}

// ---- report ----

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
const round2 = (x) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
const summary = {};
for (const c of contenders) {
  const s = state[c.name];
  const sorted = [...s.samples].sort((a, b) => a - b);
  summary[c.name] = {
    note: c.note,
    ok: sorted.length,
    failed: s.failures,
    error: s.error ?? null,
    medianMs: round2(quantile(sorted, 0.5)),
    p90Ms: round2(quantile(sorted, 0.9)),
    minMs: round2(sorted[0] ?? NaN),
    meanMs: round2(sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN),
    samplesMs: sorted.map(round2),
  };
}
const runcMedian = summary.runc?.medianMs;
for (const v of Object.values(summary)) v.ratioToRunc = runcMedian && v.medianMs !== null ? round2(v.medianMs / runcMedian) : null;

const fmt = (x, w) => String(x ?? '-').padStart(w);
console.log('');
console.log(`${'runtime'.padEnd(14)}${fmt('median ms', 11)}${fmt('p90 ms', 9)}${fmt('min ms', 9)}${fmt('x runc', 8)}${fmt('ok', 6)}${fmt('failed', 8)}`);
for (const [name, v] of Object.entries(summary)) {
  console.log(`${name.padEnd(14)}${fmt(v.medianMs?.toFixed(2), 11)}${fmt(v.p90Ms?.toFixed(2), 9)}${fmt(v.minMs?.toFixed(2), 9)}${fmt(v.ratioToRunc?.toFixed(2), 8)}${fmt(v.ok, 6)}${fmt(v.failed, 8)}`);
}
const errors = Object.entries(summary).filter(([, v]) => v.error);
if (errors.length) {
  console.log('');
  for (const [name, v] of errors) console.log(`${name}: ${v.error}`);
}

function firstLine(file, argv) {
  if (!file) return null;
  const r = spawnSync(file, argv, { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  return r.status === 0 ? r.stdout.toString().split('\n')[0].trim() : null;
}
let commit = null;
try {
  commit = readFileSync(join(top, 'build', 'commit'), 'utf8').trim();
} catch {
  /* not built */
}
const results = {
  date: new Date().toISOString(),
  rounds,
  warmup,
  workload: '/bin/true in a static busybox rootfs; same config.json for tsrun, runc and crun',
  host: { kernel: release(), cpu: cpus()[0]?.model ?? null, cpus: cpus().length, node: process.version },
  versions: { tsrun: commit, runc: firstLine(runcBin, ['--version']), crun: firstLine(crunBin, ['--version']) },
  results: summary,
};
mkdirSync(join(top, 'bench', 'results'), { recursive: true });
writeFileSync(join(top, 'bench', 'results', 'latest.json'), JSON.stringify(results, null, 2) + '\n');
console.log(`\nwrote bench/results/latest.json`);
