#!/usr/bin/env node
// The lightweight-containers benchmarks (issue 7), side by side in one run:
// tsrun (library API, fast path and CLI), runc, crun and the unshare floor on
// one busybox bundle, plus the memory of idle python3 containers.
//
//   node bench/lightweight.mjs            full run (~10-20 minutes)
//   node bench/lightweight.mjs --quick    smoke test (~1-2 minutes)
//   --only a,b,c,d,e,f                    a subset of the sections
//
// Needs root and a built tsrun (npm run build). Reports medians and ratios;
// asserts nothing. Results: bench/results/lightweight.json, lightweight.md
// and storm.svg (latency against container number).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const optVal = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : d;
};
const only = (optVal('only', 'a,b,c,d,e,f')).split(',');
const N_A = Number(optVal('rounds', quick ? 10 : 60));
const N_B = quick ? 5 : 20;
const STORM = Number(optVal('storm', quick ? 100 : 1000));
const CONC = quick ? 10 : 50;
const MEM_N = quick ? 3 : 10;
if (process.getuid?.() !== 0) {
  console.error('bench: run as root');
  process.exit(1);
}
const lib = await import(join(top, 'build', 'lib', 'index.js'));
const which = (...c) => c.find((p) => existsSync(p));
const runcBin = which('/usr/sbin/runc', '/usr/bin/runc');
const crunBin = which('/usr/bin/crun', '/usr/local/bin/crun');
const busybox = which('/bin/busybox', '/usr/bin/busybox');
const python = which('/usr/bin/python3');
const tsrunBin = join(top, 'bin', 'tsrun');

// ---- the bundle (the same config.json for every runtime) ----
const work = mkdtempSync('/run/tsrun-bench-light-');
const bundle = join(work, 'bundle');
const rootfs = join(bundle, 'rootfs');
for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
for (const a of ['true', 'sh', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', a));
writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
function makeConfig(argv, rootPath = 'rootfs', readonly = true) {
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: argv, env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'], cwd: '/', capabilities: { bounding: caps, effective: caps, permitted: caps }, rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }], noNewPrivileges: true },
    root: { path: rootPath, readonly },
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
}
const writeBundle = (dir, argv) => writeFileSync(join(dir, 'config.json'), JSON.stringify(makeConfig(argv), null, 2));
writeBundle(bundle, ['/bin/true']);
const sleepBundle = join(work, 'sleep-bundle');
mkdirSync(sleepBundle);
// The same rootfs by absolute path: runc refuses a root.path that is a symlink.
writeFileSync(join(sleepBundle, 'config.json'), JSON.stringify(makeConfig(['/bin/sleep', '100000'], rootfs), null, 2));

const roots = {};
const rootOf = (n) => (roots[n] ??= mkdtempSync(join(work, `root-${n}-`)));
const crunWrap = 'if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then umount /sys/fs/cgroup/unified || exit 125; fi; exec "$0" "$@"';
const runtimeCmd = {
  runc: (...a) => [runcBin, '--root', rootOf('runc'), ...a],
  crun: (...a) => ['/usr/bin/unshare', '-m', '--propagation', 'private', 'sh', '-c', crunWrap, crunBin, '--root', rootOf('crun'), ...a],
  'tsrun-cli': (...a) => [tsrunBin, '--root', rootOf('tsrun-cli'), ...a],
};
let seq = 0;
const uid = (p) => `${p}-${process.pid}-${seq++}`;
// stderr goes to a file, not a pipe: a detached container inherits the runtime's stderr (crun's
// `run -d` passes it on), and spawnSync would wait for that pipe to close, i.e. for the container.
const errFile = join(work, 'spawn.err');
function timeSpawn(argv) {
  const errFd = openSync(errFile, 'w');
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', errFd], timeout: 60_000 });
  const ms = performance.now() - t0;
  closeSync(errFd);
  if (r.status !== 0 || r.error) throw new Error(`${argv.join(' ')}: ${r.error ? r.error.message : `exit ${r.status}`}: ${readFileSync(errFile, 'utf8').trim()}`);
  return ms;
}
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const r2 = (x) => Math.round(x * 100) / 100;
const results = { date: new Date().toISOString(), quick, host: { kernel: release(), cpu: cpus()[0]?.model, cpus: cpus().length, memGiB: r2(totalmem() / 2 ** 30), node: process.version, runc: runcBin && execFileSync(runcBin, ['--version']).toString().split('\n')[0], crun: crunBin && execFileSync(crunBin, ['--version']).toString().split('\n')[0] }, sections: {} };
const md = [];
// Written after every section, so a failure later (or a Ctrl-C) keeps what was measured.
function flush() {
  mkdirSync(join(top, 'bench', 'results'), { recursive: true });
  writeFileSync(join(top, 'bench', 'results', 'lightweight.json'), JSON.stringify(results, null, 2) + '\n');
  const h = results.host;
  const head = [`Machine: ${h.cpus} x ${h.cpu}, ${h.memGiB} GiB, kernel ${h.kernel}, Node ${h.node}, ${h.runc}, ${h.crun}; ${results.date}${quick ? ' (--quick)' : ''}.`, ''];
  writeFileSync(join(top, 'bench', 'results', 'lightweight.md'), [...head, ...md].join('\n') + '\n');
}
const log = (s) => console.log(s);

async function libRun(id, b = bundle, extra = {}) {
  const c = await lib.createContainer({ id, bundle: b, root: rootOf('tsrun-lib'), stdio: 'ignore', ...extra });
  await c.start();
  const s = await c.wait();
  await c.delete();
  if (s.exitCode !== 0) throw new Error(`exit ${JSON.stringify(s)}`);
}

// ---- (a) + (f): /bin/true to completion ----
if (only.includes('a') || only.includes('f')) {
  log(`(a)/(f) /bin/true to completion, ${N_A} rounds interleaved`);
  const fastNoNet = await lib.FastRunner.open({ bundle, root: rootOf('tsrun-lib'), stdio: 'ignore', poolSize: 2 });
  const fastNet = await lib.FastRunner.open({ bundle, root: rootOf('tsrun-lib'), stdio: 'ignore', poolSize: 2, network: true });
  const rows = {
    'tsrun library (default)': () => libRun(uid('a')),
    'tsrun FastRunner (no netns)': async () => { const s = await fastNoNet.run(); if (s.exitCode !== 0) throw new Error('fast'); },
    'tsrun FastRunner (with netns)': async () => { const s = await fastNet.run(); if (s.exitCode !== 0) throw new Error('fast'); },
    'crun run': () => timeSpawn(runtimeCmd.crun('run', '--bundle', bundle, uid('c'))),
    'runc run': () => timeSpawn(runtimeCmd.runc('run', '--bundle', bundle, uid('r'))),
    'unshare floor': () => timeSpawn(['/usr/bin/unshare', '--fork', '--pid', '--mount', '--uts', '--ipc', '--net', 'true']),
  };
  const samples = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
  for (let i = 0; i < N_A + 2; i++) {
    for (const [k, f] of Object.entries(rows)) {
      const t0 = performance.now();
      await f();
      if (i >= 2) samples[k].push(performance.now() - t0);
    }
  }
  await fastNoNet.close();
  await fastNet.close();
  const floor = median(samples['unshare floor']);
  const crun = median(samples['crun run']);
  const table = Object.entries(samples).map(([k, s]) => ({ row: k, medianMs: r2(median(s)), xFloor: r2(median(s) / floor), crunOverThis: r2(crun / median(s)) }));
  results.sections.a = table;
  md.push('### (a) and (f): run `/bin/true` to completion', '', `${N_A} rounds, interleaved; median wall time of create+start+wait+delete (library) or of the whole command (others).`, '', '| row | median ms | x unshare floor | crun / row |', '|---|---:|---:|---:|', ...table.map((t) => `| ${t.row} | ${t.medianMs} | ${t.xFloor} | ${t.crunOverThis} |`), '');
  console.table(table);
  flush();
}

// ---- (b) CLI cold ----
if (only.includes('b')) {
  log(`(b) CLI cold, ${N_B} rounds`);
  const rows = {
    'tsrun run (CLI)': () => timeSpawn(runtimeCmd['tsrun-cli']('run', '--bundle', bundle, uid('b'))),
    'tsrun run --fast (CLI)': () => timeSpawn(runtimeCmd['tsrun-cli']('run', '--fast', '--bundle', bundle, uid('bf'))),
    'node -e 0': () => timeSpawn([process.execPath, '-e', '0']),
    'runc run': () => timeSpawn(runtimeCmd.runc('run', '--bundle', bundle, uid('br'))),
    'crun run': () => timeSpawn(runtimeCmd.crun('run', '--bundle', bundle, uid('bc'))),
  };
  const samples = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
  for (let i = 0; i < N_B + 1; i++) {
    for (const [k, f] of Object.entries(rows)) {
      try {
        const ms = f();
        if (i >= 1) samples[k].push(ms);
      } catch (e) {
        samples[k].error = String(e.message).slice(0, 200);
      }
    }
  }
  const nodeMs = median(samples['node -e 0']);
  const table = Object.entries(samples).map(([k, s]) => ({ row: k, medianMs: r2(median(s)), overNodeMs: r2(median(s) - nodeMs), error: s.error }));
  results.sections.b = table;
  md.push('### (b) CLI cold', '', '| row | median ms | minus `node -e 0` (ms) |', '|---|---:|---:|', ...table.map((t) => `| ${t.row} | ${t.medianMs} | ${t.overNodeMs}${t.error ? ` (error: ${t.error})` : ''} |`), '');
  console.table(table);
  flush();
}

// ---- (c) start storm ----
function svgPlot(series, file) {
  const W = 900, H = 420, L = 60, B = 40, T = 30, R = 160;
  const all = Object.values(series).flat();
  const maxY = Math.max(...all.map((x) => x)) * 1.05;
  const n = Math.max(...Object.values(series).map((s) => s.length));
  const x = (i) => L + (i / Math.max(1, n - 1)) * (W - L - R);
  const y = (v) => T + (1 - v / maxY) * (H - T - B);
  const colors = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd'];
  const smooth = (s) => s.map((_, i) => median(s.slice(Math.max(0, i - 10), i + 11)));
  let out = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n`;
  for (let k = 0; k <= 5; k++) {
    const v = (maxY * k) / 5;
    out += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>\n`;
  }
  for (let k = 0; k <= 4; k++) {
    const i = Math.round(((n - 1) * k) / 4);
    out += `<text x="${x(i)}" y="${H - B + 16}" text-anchor="middle">${i + 1}</text>\n`;
  }
  out += `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">container number (started one after another, all left running)</text>\n<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">start latency (ms)</text>\n`;
  Object.entries(series).forEach(([name, s], k) => {
    const c = colors[k % colors.length];
    out += s.map((v, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="1" fill="${c}" fill-opacity="0.35"/>`).join('') + '\n';
    out += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${smooth(s).map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>\n`;
    out += `<rect x="${W - R + 15}" y="${T + k * 20}" width="12" height="12" fill="${c}"/><text x="${W - R + 32}" y="${T + k * 20 + 11}">${name}</text>\n`;
  });
  out += `<text x="${L}" y="18">start latency per container (dots) and its running median over 21 (line)</text>\n</svg>\n`;
  writeFileSync(file, out);
}
if (only.includes('c')) {
  log(`(c) start storm: ${STORM} sleeping containers per runtime, one after another, all left running`);
  const series = {};
  const storm = {};
  // tsrun: the library API (attached: its tsrun-init stays as the parent)
  const lat = [];
  const held = [];
  for (let i = 0; i < STORM; i++) {
    const t0 = performance.now();
    const c = await lib.createContainer({ id: `storm-${i}`, bundle: sleepBundle, root: rootOf('tsrun-storm'), stdio: 'ignore' });
    await c.start();
    lat.push(performance.now() - t0);
    held.push(c);
  }
  series['tsrun (library)'] = lat;
  const running = { 'tsrun (library)': held.length };
  const memBefore = readFileSync('/proc/meminfo', 'utf8');
  for (const c of held) await c.delete({ force: true });
  for (const name of ['runc', 'crun']) {
    const l = [];
    const ids = [];
    for (let i = 0; i < STORM; i++) {
      const id = `storm-${name}-${i}`;
      try {
        l.push(timeSpawn(runtimeCmd[name]('run', '-d', '--bundle', sleepBundle, id)));
        ids.push(id);
      } catch (e) {
        storm[name + ' error'] = String(e.message).slice(0, 800);
        break;
      }
    }
    series[name] = l;
    running[name] = ids.length;
    for (const id of ids) spawnSync(runtimeCmd[name]('delete', '--force', id)[0], runtimeCmd[name]('delete', '--force', id).slice(1), { stdio: 'ignore' });
  }
  const k = Math.max(1, Math.round(STORM / 10));
  const table = Object.entries(series).map(([n, s]) => ({ runtime: n, running: running[n], firstMedianMs: r2(median(s.slice(0, k))), lastMedianMs: r2(median(s.slice(-k))), lastOverFirst: r2(median(s.slice(-k)) / median(s.slice(0, k))) }));
  results.sections.c = { table, series: Object.fromEntries(Object.entries(series).map(([n, s]) => [n, s.map(r2)])), errors: storm, memAvailableAtPeakKiB: /MemAvailable:\s+(\d+)/.exec(memBefore)?.[1] };
  mkdirSync(join(top, 'bench', 'results'), { recursive: true });
  svgPlot(series, join(top, 'bench', 'results', 'storm.svg'));
  md.push(`### (c) start storm: ${STORM} containers one after another, all left running`, '', `Median latency of the first and last ${k} starts (tsrun: createContainer + start; runc/crun: \`run -d\`). Plot: [storm.svg](results/storm.svg).`, '', '| runtime | running at once | first median ms | last median ms | last / first |', '|---|---:|---:|---:|---:|', ...table.map((t) => `| ${t.runtime} | ${t.running} | ${t.firstMedianMs} | ${t.lastMedianMs} | ${t.lastOverFirst} |`), '');
  console.table(table);
  flush();
}

// ---- (d) concurrency ----
function spawnAsync(argv) {
  return new Promise((res, rej) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`${argv.join(' ')}: exit ${code}`))));
  });
}
if (only.includes('d')) {
  log(`(d) ${CONC} concurrent create+start+delete (run to completion of /bin/true)`);
  const rows = {
    'tsrun library': () => Promise.all(Array.from({ length: CONC }, () => libRun(uid('d')))),
    'tsrun FastRunner (pool 8, no netns)': async () => {
      const r = await lib.FastRunner.open({ bundle, root: rootOf('tsrun-lib'), stdio: 'ignore', poolSize: 8 });
      const t0 = performance.now();
      await Promise.all(Array.from({ length: CONC }, () => r.run()));
      const ms = performance.now() - t0;
      await r.close();
      return ms;
    },
    'tsrun CLI': () => Promise.all(Array.from({ length: CONC }, () => spawnAsync(runtimeCmd['tsrun-cli']('run', '--bundle', bundle, uid('dc'))))),
    'runc': () => Promise.all(Array.from({ length: CONC }, () => spawnAsync(runtimeCmd.runc('run', '--bundle', bundle, uid('dr'))))),
    'crun': () => Promise.all(Array.from({ length: CONC }, () => spawnAsync(runtimeCmd.crun('run', '--bundle', bundle, uid('dcr'))))),
  };
  const table = [];
  for (const [k, f] of Object.entries(rows)) {
    const reps = [];
    let error;
    for (let i = 0; i < (quick ? 1 : 3) && !error; i++) {
      const t0 = performance.now();
      try {
        const inner = await f();
        reps.push(typeof inner === 'number' ? inner : performance.now() - t0);
      } catch (e) {
        error = String(e.message).slice(0, 300);
      }
    }
    const ms = median(reps);
    table.push({ row: k, wallMs: r2(ms), perSecond: r2((CONC * 1000) / ms), ...(error ? { error } : {}) });
  }
  const runc = table.find((t) => t.row === 'runc')?.perSecond;
  for (const t of table) t.xRunc = runc ? r2(t.perSecond / runc) : NaN;
  results.sections.d = table;
  md.push(`### (d) ${CONC} concurrent containers (create + start + wait + delete of \`/bin/true\`)`, '', '| row | wall ms (median of 3) | containers/s | x runc |', '|---|---:|---:|---:|', ...table.map((t) => `| ${t.row} | ${t.wallMs} | ${t.perSecond} | ${t.xRunc} |${t.error ? ` error: ${t.error}` : ''}`), '');
  console.table(table);
  flush();
}

// ---- (e) memory ----
function pss(pid) {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m[1]);
}
async function settle(pids) {
  // Wait until every python has finished importing (its PSS stops growing).
  let last = -1;
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = pids.reduce((a, p) => a + pss(p), 0);
    if (now === last) return now;
    last = now;
  }
  return last;
}
if (only.includes('e') && python) {
  log(`(e) memory: ${MEM_N} idle python3 each way`);
  const pyArgs = ['/usr/bin/python3', '-c', 'import sys, time\nwhile True: time.sleep(1000)'];
  const slim = join(work, 'slim');
  const store = join(work, 'store');
  await lib.rootfs.buildFromHost({ dest: slim, binaries: ['/usr/bin/python3'], store, withData: true });
  const out = {};
  // bare python processes on the host
  const bare = Array.from({ length: MEM_N }, () => spawn(pyArgs[0], pyArgs.slice(1), { stdio: 'ignore' }));
  out.bare = await settle(bare.map((c) => c.pid));
  for (const c of bare) c.kill('SIGKILL');
  // containers on one shared slim rootfs, and on a copy each
  for (const mode of ['shared slim rootfs (hard links)', 'copied rootfs each']) {
    const held = [];
    for (let i = 0; i < MEM_N; i++) {
      const b = join(work, `mem-${i}-${mode.length}`);
      mkdirSync(b);
      let rf = slim;
      if (mode.startsWith('copied')) {
        rf = join(b, 'rootfs');
        cpSync(slim, rf, { recursive: true, verbatimSymlinks: true });
      }
      const cfg = makeConfig(pyArgs, rf, true);
      writeFileSync(join(b, 'config.json'), JSON.stringify(cfg));
      const c = await lib.createContainer({ id: uid('mem'), bundle: b, root: rootOf('tsrun-mem'), stdio: 'ignore' });
      await c.start();
      held.push(c);
    }
    const pids = held.map((c) => c.state().pid);
    out[mode] = await settle(pids);
    for (const c of held) await c.delete({ force: true });
  }
  const table = Object.entries(out).map(([k, v]) => ({ row: k, totalPssMiB: r2(v / 1024), xBare: r2(v / out.bare) }));
  results.sections.e = table;
  md.push(`### (e) memory: ${MEM_N} idle \`python3\` (total PSS of the python processes, /proc/<pid>/smaps_rollup)`, '', '| row | total PSS MiB | x bare |', '|---|---:|---:|', ...table.map((t) => `| ${t.row} | ${t.totalPssMiB} | ${t.xBare} |`), '');
  console.table(table);
  flush();
}

// ---- cleanup and report ----
for (const [n, dir] of Object.entries(roots)) {
  if (n.startsWith('tsrun')) spawnSync(tsrunBin, ['--root', dir, 'list', '-q'], { stdio: 'ignore' });
}
rmSync(work, { recursive: true, force: true });
mkdirSync(join(top, 'bench', 'results'), { recursive: true });
writeFileSync(join(top, 'bench', 'results', 'lightweight.json'), JSON.stringify(results, null, 2) + '\n');
const h = results.host;
md.unshift(`Machine: ${h.cpus} x ${h.cpu}, ${h.memGiB} GiB, kernel ${h.kernel}, Node ${h.node}, ${h.runc}, ${h.crun}; ${results.date}${quick ? ' (--quick)' : ''}.`, '');
writeFileSync(join(top, 'bench', 'results', 'lightweight.md'), md.join('\n') + '\n');
log('wrote bench/results/lightweight.{json,md} and storm.svg');
