/**
 * The container lifecycle through bin/tsrun, as a user or an engine drives
 * it, on the real kernel (root). The probe inside the container reports what
 * it sees, so every field of the config is checked from the inside.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, openSync, closeSync, mkdtempSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle, writeBundleConfig, type TestBundle } from '../helpers/bundle.js';
import { makeStateRoot, type StateRoot } from '../helpers/cli.js';
import { guardLeaks } from '../helpers/leaks.js';
import { tsrunBin } from '../helpers/paths.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs tsrun with stdout and stderr going to files, and resolves when tsrun
 * itself exits: after `create`, the container inherits those fds, so waiting
 * for a pipe to close would wait for the container.
 */
function tsrunToFiles(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-out-'));
  const outPath = join(dir, 'out');
  const errPath = join(dir, 'err');
  const out = openSync(outPath, 'w');
  const err = openSync(errPath, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(tsrunBin, args, { stdio: ['ignore', out, err], env });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      closeSync(out);
      closeSync(err);
      const r = { code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), stdout: readFileSync(outPath, 'utf8'), stderr: readFileSync(errPath, 'utf8') };
      rmSync(dir, { recursive: true, force: true });
      resolve(r);
    });
  });
}

async function setup(tt: Tap, args?: string[], edit?: (c: any) => void): Promise<{ bundle: TestBundle; state: StateRoot }> {
  await guardLeaks(tt);
  const bundle = await makeBundle({ args, config: edit });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  return { bundle, state };
}
type Tap = { teardown(fn: () => unknown): void };

async function probeInfo(state: StateRoot, bundle: TestBundle, id: string): Promise<any> {
  const r = await tsrunToFiles(['--root', state.root, 'run', '--bundle', bundle.dir, id]);
  if (r.code !== 0) throw new Error(`run failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

t.test('run: the process sees its own namespaces, mounts, identity and limits', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'info'], (c) => {
    c.hostname = 'probe-box';
    c.domainname = 'probe.example';
    c.process.cwd = '/work/dir';
    c.process.env.push('HELLO=world');
    c.process.user = { uid: 1000, gid: 1000, additionalGids: [2000, 3000], umask: 0o027 };
    c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 }, { type: 'RLIMIT_NPROC', soft: 300, hard: 400 }];
    c.process.oomScoreAdj = 123;
    c.process.noNewPrivileges = true;
    // A non-root uid keeps capabilities across execve only through the ambient set.
    c.process.capabilities = { bounding: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_KILL'], ambient: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'] };
    c.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1234567' };
  });
  const info = await probeInfo(state, bundle, 'info1');
  tt.equal(info.hostname, 'probe-box');
  tt.equal(info.domainname, 'probe.example');
  tt.equal(info.pid, 1, 'the process is pid 1 of its own pid namespace');
  tt.equal(info.uid, 1000);
  tt.equal(info.gid, 1000);
  tt.same([...info.groups].sort(), [2000, 3000]);
  tt.equal(info.umask, 0o027);
  tt.equal(info.cwd, '/work/dir', 'a missing cwd is created');
  tt.ok(info.env.includes('HELLO=world'));
  tt.same(info.rlimits.RLIMIT_NOFILE, { soft: 512, hard: 1024 });
  tt.same(info.rlimits.RLIMIT_NPROC, { soft: 300, hard: 400 });
  tt.equal(info.oomScoreAdj, 123);
  tt.equal(info.noNewPrivs, true);
  tt.equal(BigInt('0x' + info.capabilities.CapEff), 1n << 5n, 'effective = CAP_KILL');
  tt.equal(BigInt('0x' + info.capabilities.CapBnd), (1n << 5n) | (1n << 10n), 'bounding = CAP_KILL, CAP_NET_BIND_SERVICE');
  tt.equal(BigInt('0x' + info.capabilities.CapInh), 1n << 5n);
  tt.equal(BigInt('0x' + info.capabilities.CapAmb), 1n << 5n, 'ambient only what is also permitted and inheritable (not CAP_NET_BIND_SERVICE)');
  for (const ns of ['pid', 'mnt', 'uts', 'ipc', 'net']) {
    tt.not(info.namespaces[ns], readlinkNs(ns), `${ns} namespace is not the host's`);
  }
  const points = info.mounts.map((m: any) => m.mountPoint);
  tt.ok(points.includes('/proc') && points.includes('/dev') && points.includes('/sys'), 'its own /proc, /dev and /sys');
  const hostOnly = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((p) => p && p.startsWith('/work'));
  tt.notOk(points.some((p: string) => hostOnly.includes(p)), 'no host-only mount point is visible');
  const root = info.mounts.find((m: any) => m.mountPoint === '/');
  tt.ok(root, 'a root mount exists');
  const fds = info.fds.filter((f: any) => f.fd > 2);
  tt.same(fds, [], `only stdio reaches the container: ${JSON.stringify(info.fds)}`);
});

function readlinkNs(ns: string): string {
  return readlinkSync(`/proc/self/ns/${ns}`);
}

t.test('run: exit status and signals come back as runc reports them', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'exit', '7']);
  const r = await tsrunToFiles(['--root', state.root, 'run', '--bundle', bundle.dir, 'exit7']);
  tt.equal(r.code, 7, 'foreground run exits with the container status');
  tt.same(readdirSync(state.root), [], 'foreground run leaves no state behind');
  // pid 1 ignores even SIGKILL from inside its own pid namespace: kill it from the host.
  bundle.config.process.args = ['/probe', 'sleep', '600'];
  await writeBundleConfig(bundle);
  const running = tsrunToFiles(['--root', state.root, 'run', '--bundle', bundle.dir, 'killed']);
  let status = '';
  for (let i = 0; i < 200 && status !== 'running'; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const s = await state.cli(['state', 'killed']);
    status = s.code === 0 ? JSON.parse(s.stdout).status : '';
  }
  tt.equal(status, 'running');
  tt.equal((await state.cli(['kill', 'killed', 'KILL'])).code, 0);
  const k = await running;
  tt.equal(k.code, 137, '128 + SIGKILL');
  tt.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), [], 'the killed container is deleted too');
});

t.test('masked and read-only paths hold from inside', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', 'cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid && echo writable || echo readonly; echo x > /etc/probe-test && echo rootrw || echo rootro']);
  bundle.config.root.readonly = true;
  await writeBundleConfig(bundle);
  const r = await tsrunToFiles(['--root', state.root, 'run', '--bundle', bundle.dir, 'masks']);
  tt.equal(r.code, 0, r.stderr);
  const [kcore, firmware, sys, rootfs] = r.stdout.trim().split('\n');
  tt.equal(kcore, '0', '/proc/kcore reads as empty (/dev/null)');
  tt.equal(firmware, '0', '/sys/firmware is an empty tmpfs');
  tt.equal(sys, 'readonly', '/proc/sys is read-only');
  tt.equal(rootfs, 'rootro', 'root.readonly makes / read-only');
});

t.test('create, state, start, kill, delete: statuses, pid file and the fifo', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  const pidFile = join(state.root, '..', `tsrun-test-pid-${process.pid}`);
  tt.teardown(() => rmSync(pidFile, { force: true }));
  const c = await tsrunToFiles(['--root', state.root, 'create', '--bundle', bundle.dir, '--pid-file', pidFile, 'c1']);
  tt.equal(c.code, 0, c.stderr);
  const pidText = readFileSync(pidFile, 'utf8');
  tt.match(pidText, /^\d+$/, 'pid file: decimal, no newline');
  let st = JSON.parse((await state.cli(['state', 'c1'])).stdout);
  tt.equal(st.status, 'created');
  tt.equal(st.pid, Number(pidText));
  tt.equal(st.id, 'c1');
  tt.equal(st.bundle, bundle.dir);
  tt.match(st.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  const ppid = Number(readFileSync(`/proc/${st.pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
  tt.not(ppid, 0);
  tt.ok(existsSync(join(state.root, 'c1', 'exec.fifo')), 'the exec fifo exists between create and start');
  const again = await tsrunToFiles(['--root', state.root, 'create', '--bundle', bundle.dir, 'c1']);
  tt.equal(again.code, 1);
  tt.match(again.stderr, 'container with given ID already exists');
  tt.equal((await state.cli(['start', 'c1'])).code, 0);
  st = JSON.parse((await state.cli(['state', 'c1'])).stdout);
  tt.equal(st.status, 'running');
  tt.notOk(existsSync(join(state.root, 'c1', 'exec.fifo')));
  const s2 = await state.cli(['start', 'c1']);
  tt.equal(s2.code, 1);
  tt.match(s2.stderr, 'cannot start an already running container');
  const del = await state.cli(['delete', 'c1']);
  tt.equal(del.code, 1);
  tt.match(del.stderr, 'cannot delete container c1 that is not stopped: running');
  const list = JSON.parse((await state.cli(['list', '--format', 'json'])).stdout);
  tt.same(list.map((s: any) => s.id), ['c1']);
  tt.equal((await state.cli(['kill', 'c1', 'KILL'])).code, 0);
  for (let i = 0; i < 100 && JSON.parse((await state.cli(['state', 'c1'])).stdout).status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 20));
  st = JSON.parse((await state.cli(['state', 'c1'])).stdout);
  tt.equal(st.status, 'stopped');
  tt.equal(st.pid, 0, 'pid is 0 when stopped');
  const k2 = await state.cli(['kill', 'c1']);
  tt.equal(k2.code, 1);
  tt.match(k2.stderr, 'container not running');
  const killAll = await state.cli(['kill', '--all', 'c1', '9']);
  tt.equal(killAll.code, 0, `kill --all of a stopped container is not an error: ${killAll.stderr}`);
  tt.equal((await state.cli(['delete', 'c1'])).code, 0);
  tt.notOk(existsSync(join(state.root, 'c1')));
  const gone = await state.cli(['state', 'c1']);
  tt.equal(gone.code, 1);
  tt.match(gone.stderr, 'container does not exist');
  tt.equal((await state.cli(['delete', '--force', 'c1'])).code, 0, 'delete --force of an unknown id exits 0');
});

t.test('a created container is deleted without --force; its cgroup goes too', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  const c = await tsrunToFiles(['--root', state.root, 'create', '--bundle', bundle.dir, 'c2']);
  tt.equal(c.code, 0, c.stderr);
  const pid = JSON.parse((await state.cli(['state', 'c2'])).stdout).pid;
  const cgLine = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.includes(':memory:'))!;
  const cgDir = join('/sys/fs/cgroup/memory', cgLine.split(':')[2]!);
  tt.ok(existsSync(cgDir), `the init is in its own memory cgroup ${cgDir} before create returns`);
  tt.equal((await state.cli(['delete', 'c2'])).code, 0);
  tt.notOk(existsSync(`/proc/${pid}/stat`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), 'the init is gone');
  tt.notOk(existsSync(cgDir), 'the cgroup is removed');
});

t.test('bad input: a missing binary fails create with runc\'s wording and leaves nothing', async (tt) => {
  const { bundle, state } = await setup(tt, ['/no/such/binary']);
  const r = await tsrunToFiles(['--root', state.root, 'create', '--bundle', bundle.dir, 'nobin']);
  tt.equal(r.code, 1);
  // The text log escapes the quotes (as runc's does); podman matches "executable file not found in".
  tt.match(r.stderr, /exec: \\?"\/no\/such\/binary\\?": executable file not found in \$PATH/);
  tt.notOk(r.stderr.includes('    at '), 'no stack trace');
  tt.same(readdirSync(state.root), [], 'no state directory left');
  bundle.config.process.args = ['nosuchcmd'];
  await writeBundleConfig(bundle);
  const r2 = await tsrunToFiles(['--root', state.root, 'run', '--bundle', bundle.dir, 'nobin2']);
  tt.match(r2.stderr, /exec: \\?"nosuchcmd\\?": executable file not found in \$PATH/);
});

t.test('bad input: an invalid config names the field, exits 1, leaves nothing', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'info'], (c) => {
    c.linux.namespaces.push({ type: 'pid' });
    c.process.cwd = 'relative';
  });
  const r = await tsrunToFiles(['--root', state.root, '--log-format', 'json', '--log', join(state.root, 'log.json'), 'create', '--bundle', bundle.dir, 'bad']);
  tt.equal(r.code, 1);
  tt.match(r.stderr, 'linux.namespaces');
  tt.match(r.stderr, 'process.cwd');
  tt.notOk(r.stderr.includes('    at '), 'no stack trace');
  const log = readFileSync(join(state.root, 'log.json'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  tt.equal(log.at(-1).level, 'error', 'the fatal error is the last JSON line of --log (containerd reads it)');
  tt.match(log.at(-1).msg, 'process.cwd');
  tt.same(readdirSync(state.root).filter((n) => n !== 'log.json'), [], 'no state directory');
  const ids = await state.cli(['create', '--bundle', bundle.dir, '../escape']);
  tt.match(ids.stderr, 'invalid container ID format');
});

t.test('CLI basics: --version under env -i, unknown flags, features and spec', async (tt) => {
  const v = await tsrunToFiles(['--version'], {});
  tt.equal(v.code, 0, v.stderr);
  const lines = v.stdout.trim().split('\n');
  tt.match(lines[0], /^tsrun version \d+\.\d+\.\d+/);
  tt.ok(lines.includes('spec: 1.3.0'));
  tt.ok(lines.some((l) => l.startsWith('commit: ')));
  const bad = await tsrunToFiles(['state', '--bogus', 'x']);
  tt.equal(bad.code, 1);
  tt.match(bad.stderr, 'flag provided but not defined: --bogus');
  const f = await tsrunToFiles(['features']);
  tt.equal(f.code, 0);
  tt.equal(f.stderr, '', 'features prints nothing on stderr (CRI-O reads both)');
  const feat = JSON.parse(f.stdout);
  tt.equal(feat.ociVersionMin, '1.0.0');
  tt.equal(feat.ociVersionMax, '1.3.0');
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-spec-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  tt.equal((await tsrunToFiles(['spec', '--bundle', dir])).code, 0);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  tt.same(spec.process.capabilities.inheritable ?? [], []);
  tt.same(spec.process.capabilities.ambient ?? [], []);
  tt.ok(spec.linux.maskedPaths.includes('/proc/kcore'));
  tt.ok(statSync(join(dir, 'config.json')).isFile());
});
