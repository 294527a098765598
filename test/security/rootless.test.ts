/**
 * Rootless, for real: a throwaway unprivileged user (created here, with a
 * subordinate uid/gid range this test adds to /etc/subuid and /etc/subgid
 * and removes again) runs `tsrun spec --rootless` and `tsrun run` through
 * `setpriv`, with its own XDG_RUNTIME_DIR, on a bundle it owns. Needs root to
 * create the user; everything it creates is removed in teardown.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle, type TestBundle } from '../helpers/bundle.js';
import { guardLeaks } from '../helpers/leaks.js';
import { tsrunBin } from '../helpers/paths.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- configs are edited freely */

if (process.getuid?.() !== 0) {
  t.plan(0, 'rootless tests create a user: run as root');
  process.exit(0);
}
try {
  execFileSync('newuidmap', ['--help'], { stdio: 'ignore' });
} catch (e) {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
    t.plan(0, 'newuidmap/newgidmap missing: install the uidmap package');
    process.exit(0);
  }
}

interface RootlessUser {
  name: string;
  uid: number;
  gid: number;
  /** First id of the user's subordinate range (65536 ids in /etc/subuid and /etc/subgid). */
  subStart: number;
}

const SUB_COUNT = 65536;

/** Removes the lines a test added (exact match), and the file when the test created it. */
function removeLines(path: string, lines: string[], created: boolean): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8').split('\n').filter((l) => !lines.includes(l));
  const text = kept.join('\n');
  if (created && text.trim() === '') unlinkSync(path);
  else writeFileSync(path, text);
}

function makeUser(): RootlessUser {
  const name = `tsrl${process.pid % 100000}`;
  // -r: a system account gets no automatic subordinate ids; the test adds its own range.
  execFileSync('useradd', ['-r', '-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', name], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => {
    try {
      execFileSync('userdel', [name], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      /* removed already */
    }
  });
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const subStart = 1_000_000 + (process.pid % 1000) * SUB_COUNT;
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const created = !existsSync(file);
    const line = `${name}:${subStart}:${SUB_COUNT}`;
    writeFileSync(file, (created ? '' : readFileSync(file, 'utf8').replace(/([^\n])$/, '$1\n')) + line + '\n');
    t.teardown(() => removeLines(file, [line], created));
  }
  return { name, uid, gid, subStart };
}

const user = makeUser();

/** A directory the user owns (mode 0700), removed in teardown. */
function userDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chownSync(d, user.uid, user.gid);
  chmodSync(d, 0o700);
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const xdg = userDir('tsrun-test-xdg-');
const home = userDir('tsrun-test-home-');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `tsrun ...args` as the unprivileged user (setpriv, with its groups), in
 * `cwd`, with XDG_RUNTIME_DIR set. Output goes through files: a detached
 * container keeps the fds it inherited. `wrap` runs first (as root) and
 * execs the rest, e.g. to set up a mount namespace the user runs in.
 */
async function asUser(args: string[], cwd: string, timeoutMs = 60_000, wrap: string[] = []): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-rl-out-'));
  const out = openSync(join(dir, 'out'), 'w');
  const err = openSync(join(dir, 'err'), 'w');
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(wrap[0] ?? 'setpriv', [...wrap.slice(1), ...(wrap.length ? ['setpriv'] : []), '--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', '--',
        'env', '-i', `XDG_RUNTIME_DIR=${xdg}`, `HOME=${home}`, 'PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', tsrunBin, ...args], { cwd, stdio: ['ignore', out, err] });
      const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('exit', (c, s) => {
        clearTimeout(timer);
        resolve(c ?? (s ? 128 + 9 : 255));
      });
    });
    return { code, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Processes of the user still alive (none may outlive a test). */
function userProcesses(): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const status = readFileSync(`/proc/${e}/status`, 'utf8');
      const m = /^Uid:\s+(\d+)/m.exec(status);
      const zombie = /^State:\s+Z/m.test(status); // exited, waiting for its (sub)reaper
      if (m && Number(m[1]) === user.uid && !zombie) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Container dirs left in the user's state root. */
function leftoverState(): string[] {
  try {
    return readdirSync(join(xdg, 'tsrun')).filter((n) => !n.startsWith('@'));
  } catch {
    return [];
  }
}

/** A bundle the user owns; config.json written by `tsrun spec --rootless` as the user, then edited. */
async function rootlessBundle(tt: Test, edit: (c: any) => void): Promise<TestBundle> {
  const b = await makeBundle();
  tt.teardown(b.cleanup);
  unlinkSync(b.configPath);
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, b.dir]);
  const r = await asUser(['spec', '--rootless'], b.dir);
  tt.equal(r.code, 0, `spec --rootless: ${r.stderr}`);
  const c = JSON.parse(readFileSync(b.configPath, 'utf8'));
  c.process.terminal = false;
  edit(c);
  writeFileSync(b.configPath, JSON.stringify(c, null, 2));
  return b;
}

function hostNs(name: string): string {
  return readlinkSync(`/proc/self/ns/${name}`);
}

function assertClean(tt: Test, what: string): void {
  tt.same(leftoverState(), [], `${what}: no state left under $XDG_RUNTIME_DIR/tsrun`);
  tt.same(userProcesses(), [], `${what}: no process of the user left`);
}

function oneLineError(tt: Test, r: Result, pattern: RegExp): void {
  tt.equal(r.code, 1, 'exit status 1');
  tt.match(r.stderr, pattern);
  tt.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  tt.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
}

t.test('spec --rootless and run: uid 0 inside, own hostname, mounts, pid, uts and user namespaces', async (t) => {
  await guardLeaks(t);
  const b = await rootlessBundle(t, (c) => {
    c.process.args = ['/probe', 'info'];
  });
  t.equal(JSON.parse(readFileSync(b.configPath, 'utf8')).linux.uidMappings[0].hostID, user.uid, 'spec --rootless maps the caller\'s own uid');
  const r = await asUser(['run', 'rl-info'], b.dir);
  t.equal(r.code, 0, `run exits 0: ${r.stderr}`);
  const info = JSON.parse(r.stdout.trim().split('\n').pop()!);
  t.equal(info.uid, 0, 'uid 0 inside');
  t.equal(info.euid, 0, 'euid 0 inside');
  t.equal(info.hostname, 'tsrun', 'its own hostname');
  t.equal(info.pid, 1, 'pid 1 of its own pid namespace');
  for (const ns of ['user', 'mnt', 'pid', 'uts', 'ipc']) t.not(info.namespaces[ns], hostNs(ns), `its own ${ns} namespace`);
  const mounts = info.mounts as { mountPoint: string; fstype: string; options: string }[];
  t.ok(mounts.some((m) => m.mountPoint === '/proc' && m.fstype === 'proc'), 'a procfs of its own on /proc');
  t.ok(mounts.some((m) => m.mountPoint === '/' && m.options.split(',').includes('ro')), 'the read-only root of the spec');
  const cgroup = mounts.filter((m) => m.mountPoint === '/sys/fs/cgroup').pop();
  t.ok(cgroup && cgroup.options.split(',').includes('ro'), '/sys/fs/cgroup (top) is read-only (CVE-2023-25809)');
  assertClean(t, 'after run');
});

t.test('CVE-2023-25809 (B.8): rootless without a cgroup namespace, every cgroup mount is read-only and mkdir in it fails with EROFS', async (t) => {
  await guardLeaks(t);
  const b = await rootlessBundle(t, (c) => {
    c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'cgroup');
    // Every hierarchy the host has, by name: the top /sys/fs/cgroup mount may hide them from a glob.
    const dirs = ['', ...readdirSync('/sys/fs/cgroup')].map((d) => `/sys/fs/cgroup/${d}${d ? '/' : ''}x`);
    c.process.args = ['/bin/sh', '-c', `grep " /sys/fs/cgroup" /proc/mounts; echo ---; for d in ${dirs.join(' ')}; do mkdir "$d" 2>&1 && echo "made $d"; done; true`];
  });
  const r = await asUser(['run', 'rl-cg'], b.dir);
  t.equal(r.code, 0, `run exits 0: ${r.stderr}`);
  const [mounts, mkdirs] = r.stdout.split('---\n');
  const lines = mounts!.trim().split('\n').filter(Boolean);
  t.ok(lines.length >= 1, `cgroup mounts inside: ${lines.length}`);
  t.same(lines.filter((l) => !l.split(' ')[3]!.split(',').includes('ro')), [], 'every one is mounted ro');
  const errors = mkdirs!.trim().split('\n').filter(Boolean);
  t.ok(errors.length >= 1, 'mkdir was tried');
  t.same(errors.filter((l) => l.startsWith('made ')), [], 'no mkdir succeeded');
  t.match(errors[0], /Read-only file system/, '/sys/fs/cgroup itself: EROFS');
  t.same(errors.filter((l) => !/Read-only file system|No such file or directory/.test(l)), [], `each hierarchy: EROFS, or hidden under the read-only cgroup mount (ENOENT): ${JSON.stringify(errors.slice(1, 3))}`);
  assertClean(t, 'after run');
});

t.test('several id ranges go through newuidmap/newgidmap; setgroups stays allowed', async (t) => {
  await guardLeaks(t);
  const b = await rootlessBundle(t, (c) => {
    c.process.args = ['/bin/cat', '/proc/self/uid_map', '/proc/self/gid_map', '/proc/self/setgroups'];
    c.linux.uidMappings = [{ containerID: 0, hostID: user.uid, size: 1 }, { containerID: 1, hostID: user.subStart, size: SUB_COUNT }];
    c.linux.gidMappings = [{ containerID: 0, hostID: user.gid, size: 1 }, { containerID: 1, hostID: user.subStart, size: SUB_COUNT }];
  });
  const r = await asUser(['run', 'rl-maps'], b.dir);
  t.equal(r.code, 0, `run exits 0: ${r.stderr}`);
  const rows = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  t.same(rows, [
    `0 ${user.uid} 1`, `1 ${user.subStart} ${SUB_COUNT}`,
    `0 ${user.gid} 1`, `1 ${user.subStart} ${SUB_COUNT}`,
    'allow',
  ], 'both maps as configured, setgroups allowed');
  assertClean(t, 'after run');
});

t.test('detached: run -d, state, exec, kill, delete', async (t) => {
  await guardLeaks(t);
  const b = await rootlessBundle(t, (c) => {
    c.process.args = ['/probe', 'sleep', '60'];
  });
  t.teardown(() => asUser(['delete', '--force', 'rl-d'], b.dir).then(() => undefined));
  const run = await asUser(['run', '-d', 'rl-d'], b.dir);
  t.equal(run.code, 0, `run -d: ${run.stderr}`);
  t.ok(existsSync(join(xdg, 'tsrun', 'rl-d')), 'state under $XDG_RUNTIME_DIR/tsrun');
  const st = await asUser(['state', 'rl-d'], b.dir);
  t.equal(JSON.parse(st.stdout).status, 'running');
  const ex = await asUser(['exec', 'rl-d', '/bin/sh', '-c', 'id -u; hostname'], b.dir);
  t.equal(ex.code, 0, `exec: ${ex.stderr}`);
  t.same(ex.stdout.trim().split('\n'), ['0', 'tsrun'], 'exec runs as root of the container, in its uts namespace');
  t.equal((await asUser(['kill', 'rl-d', 'KILL'], b.dir)).code, 0, 'kill');
  for (let i = 0; i < 100 && JSON.parse((await asUser(['state', 'rl-d'], b.dir)).stdout || '{}').status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50));
  const del = await asUser(['delete', 'rl-d'], b.dir);
  t.equal(del.code, 0, `delete: ${del.stderr}`);
  assertClean(t, 'after delete');
});

t.test('missing prerequisites are named, in one line, and nothing is left', async (t) => {
  await guardLeaks(t);
  const outside = await rootlessBundle(t, (c) => {
    c.linux.uidMappings = [{ containerID: 0, hostID: user.uid, size: 1 }, { containerID: 1, hostID: 3_900_000_000, size: 10 }];
  });
  oneLineError(t, await asUser(['run', 'rl-sub'], outside.dir), /linux\.uidMappings\[1\].*3900000000-3900000009.*\/etc\/subuid/);
  const noUserNs = await rootlessBundle(t, (c) => {
    c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'user');
    delete c.linux.uidMappings;
    delete c.linux.gidMappings;
  });
  oneLineError(t, await asUser(['run', 'rl-nouserns'], noUserNs.dir), /no user namespace.*tsrun spec --rootless/);
  const sysfs = await rootlessBundle(t, (c) => {
    c.mounts = c.mounts.map((m: any) => (m.destination === '/sys' ? { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] } : m));
  });
  oneLineError(t, await asUser(['run', 'rl-sysfs'], sysfs.dir), /sysfs.*network namespace/);
  assertClean(t, 'after the failures');
});

t.test('--rootless false as an unprivileged user still fails cleanly (no cgroup permission)', async (t) => {
  await guardLeaks(t);
  const b = await rootlessBundle(t, (c) => {
    c.process.args = ['/bin/true'];
  });
  const r = await asUser(['--rootless', 'false', 'run', 'rl-false'], b.dir);
  t.equal(r.code, 1, 'exit 1');
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.match(r.stderr, /EACCES|permission denied/i, 'the cgroup it may not create is named');
  assertClean(t, 'after the failure');
});

/** What the null driver says of this host: hybrid and v1 hosts cannot delegate, a v2 host did not (to this new user). */
function expectedNoCgroupReason(): RegExp {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  const v2Only = / \/sys\/fs\/cgroup [^\n]* - cgroup2 /.test(mounts);
  return v2Only
    ? /rootless needs a cgroup v2 subtree delegated to the user, and \S+ is not writable by uid \d+: delegate one/
    : /rootless needs a cgroup v2 subtree delegated to the user; this host's cgroups are (hybrid|v1 only)[^"]*where nothing can be delegated/;
}

t.test('without a delegated cgroup: each set resource is a warning that says why and what would give one; pause is refused the same way', async (t) => {
  await guardLeaks(t);
  const b = await rootlessBundle(t, (c) => {
    c.process.args = ['/probe', 'sleep', '60'];
    c.linux.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 100 } };
  });
  t.teardown(() => asUser(['delete', '--force', 'rl-nocg'], b.dir).then(() => undefined));
  const run = await asUser(['run', '-d', 'rl-nocg'], b.dir);
  t.equal(run.code, 0, `run -d exits 0: ${run.stderr}`);
  const warnings = run.stderr.trim().split('\n').filter((l) => /level=warning/.test(l));
  const reason = expectedNoCgroupReason();
  for (const field of ['memory', 'pids']) {
    const w = warnings.find((l) => l.includes(`linux.resources.${field}: ignored, no cgroup is available`));
    t.ok(w, `a warning names linux.resources.${field}`);
    t.match(w ?? '', reason, 'and says why there is no cgroup, and what to do');
  }
  const pause = await asUser(['pause', 'rl-nocg'], b.dir);
  t.equal(pause.code, 1, 'pause fails');
  t.match(pause.stderr, /cannot freeze: the container has no cgroup/);
  t.match(pause.stderr, reason);
  t.equal(JSON.parse((await asUser(['state', 'rl-nocg'], b.dir)).stdout).status, 'running', 'and the container runs on');
  t.equal((await asUser(['delete', '--force', 'rl-nocg'], b.dir)).code, 0, 'delete --force');
  assertClean(t, 'after delete');
});

t.test('a host /proc that is partly hidden (as inside another container): the procfs refusal says why and what to do', async (t) => {
  await guardLeaks(t);
  const b = await rootlessBundle(t, (c) => {
    c.process.args = ['/bin/true'];
  });
  // The user runs in a mount namespace of its own whose /proc has a file covered, as
  // container engines mask /proc/timer_list: the kernel then refuses a fresh procfs
  // from a user namespace (the covering mount is locked there).
  const masked = ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind /dev/null /proc/timer_list && exec "$@"', 'sh'];
  oneLineError(t, await asUser(['run', 'rl-maskedproc'], b.dir, 60_000, masked), /mounts\[\d+\].*EPERM.*the kernel refuses a new procfs in a user namespace when the host's \/proc is partly hidden.*bind-mount \/proc \(rbind\) instead/);
  const control = await asUser(['run', 'rl-maskedproc'], b.dir);
  t.equal(control.code, 0, `control: the same bundle runs where /proc is fully visible: ${control.stderr}`);
  assertClean(t, 'after the failure');
});
