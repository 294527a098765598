/**
 * Config fields checked from inside a real container: namespaces joined by
 * path, user and time namespaces, devices and /dev symlinks, sysctls,
 * personality, --no-pivot, bind mounts, and every hook at its point.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle, writeBundleConfig, type TestBundle } from '../helpers/bundle.js';
import { makeStateRoot, type StateRoot } from '../helpers/cli.js';
import { guardLeaks } from '../helpers/leaks.js';
import { probeBin, tsrunBin } from '../helpers/paths.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** tsrun with stdout/stderr in files, resolved on tsrun's own exit (a created container keeps them open). */
function tsrun(args: string[]): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-out-'));
  const out = openSync(join(dir, 'out'), 'w');
  const err = openSync(join(dir, 'err'), 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(tsrunBin, args, { stdio: ['ignore', out, err] });
    child.on('error', reject);
    child.on('exit', (code) => {
      closeSync(out);
      closeSync(err);
      const r = { code: code ?? 255, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8') };
      rmSync(dir, { recursive: true, force: true });
      resolve(r);
    });
  });
}

async function setup(tt: { teardown(fn: () => unknown): void }, args: string[], edit?: (c: any) => void): Promise<{ bundle: TestBundle; state: StateRoot }> {
  await guardLeaks(tt);
  const bundle = await makeBundle({ args, config: edit });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  return { bundle, state };
}

async function runIn(state: StateRoot, bundle: TestBundle, id: string, extra: string[] = []): Promise<Run> {
  return tsrun(['--root', state.root, 'run', ...extra, '--bundle', bundle.dir, id]);
}

t.test('a namespace joined by path is shared; the others are new', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  const c = await tsrun(['--root', state.root, 'create', '--bundle', bundle.dir, 'holder']);
  tt.equal(c.code, 0, c.stderr);
  const holderPid = JSON.parse((await state.cli(['state', 'holder'])).stdout).pid;
  const holderNet = readlinkSync(`/proc/${holderPid}/ns/net`);
  const holderUts = readlinkSync(`/proc/${holderPid}/ns/uts`);
  const joiner = await makeBundle({
    args: ['/probe', 'info'],
    config: (cfg) => {
      cfg.linux.namespaces = cfg.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: `/proc/${holderPid}/ns/net` } : n));
    },
  });
  tt.teardown(() => joiner.cleanup());
  const r = await runIn(state, joiner, 'joiner');
  tt.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  tt.equal(info.namespaces.net, holderNet, 'joined the holder\'s network namespace');
  tt.not(info.namespaces.uts, holderUts, 'its own uts namespace');
});

t.test('user namespace: uid 0 inside maps to the configured host range', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', 'cat /proc/self/uid_map; cat /proc/self/gid_map; id -u'], (c) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    // sysfs cannot be mounted from a user namespace without its own network namespace; keep /sys out.
    c.mounts = c.mounts.filter((m: any) => m.destination !== '/sys');
    c.linux.maskedPaths = c.linux.maskedPaths.filter((p: string) => !p.startsWith('/sys'));
  });
  // The mapped root (host uid 200000) must be able to reach the rootfs: mkdtemp made the bundle 0700.
  chmodSync(bundle.dir, 0o755);
  const r = await runIn(state, bundle, 'userns');
  tt.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  tt.equal(lines[0], '0 200000 65536');
  tt.equal(lines[1], '0 200000 65536');
  tt.equal(lines[2], '0', 'uid 0 inside');
});

t.test('time namespace: boottime offset shows in /proc/uptime', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/cat', '/proc/uptime'], (c) => {
    c.linux.namespaces.push({ type: 'time' });
    c.linux.timeOffsets = { boottime: { secs: 10 * 86400, nanosecs: 0 } };
  });
  const r = await runIn(state, bundle, 'timens');
  tt.equal(r.code, 0, r.stderr);
  const inside = Number(r.stdout.split(' ')[0]);
  const outside = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  tt.ok(inside - outside > 10 * 86400 - 60, `uptime inside (${inside}) is ten days ahead of the host's (${outside})`);
});

t.test('devices, /dev symlinks, sysctls, personality and hostname', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', [
    'ls -ln /dev/fuse | cut -c1-1', 'stat -c "%t:%T %a" /dev/fuse', 'stat -c "%t:%T" /dev/null',
    'readlink /dev/fd', 'readlink /dev/stdin', 'readlink /dev/ptmx',
    'cat /proc/sys/net/ipv4/ip_forward', 'cat /proc/sys/kernel/shmmni', 'uname -m', 'hostname',
  ].join('; ')], (c) => {
    c.linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o640, uid: 0, gid: 0 }];
    c.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '2048' };
    c.linux.personality = { domain: 'LINUX32' };
    c.hostname = 'fields';
  });
  const r = await runIn(state, bundle, 'fields');
  tt.equal(r.code, 0, r.stderr);
  const [kind, fuse, devnull, fd, stdin, ptmx, fwd, shm, arch, host] = r.stdout.trim().split('\n');
  tt.equal(kind, 'c', '/dev/fuse is a character device');
  tt.equal(fuse, 'a:e5 640', 'major 10, minor 229, mode 0640');
  tt.equal(devnull, '1:3', 'the default /dev/null');
  tt.equal(fd, '/proc/self/fd');
  tt.equal(stdin, '/proc/self/fd/0');
  tt.equal(ptmx, 'pts/ptmx');
  tt.equal(fwd, '1', 'net sysctl written in the container\'s network namespace');
  tt.equal(shm, '2048', 'ipc sysctl');
  tt.equal(arch, 'i686', 'LINUX32 personality');
  tt.equal(host, 'fields');
  tt.equal(readFileSync('/proc/sys/kernel/shmmni', 'utf8').trim() === '2048', false, 'the host\'s value is untouched');
});

t.test('bind mounts: a relative file source, read-only; a directory, read-write', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', 'cat /etc/app.conf; echo x > /etc/app.conf 2>/dev/null && echo conf-rw || echo conf-ro; echo hi > /data/out && echo data-rw']);
  const dataDir = mkdtempSync(join(tmpdir(), 'tsrun-test-data-'));
  tt.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  writeFileSync(join(bundle.dir, 'app.conf'), 'setting=1\n');
  bundle.config.mounts.push({ destination: '/etc/app.conf', type: 'bind', source: 'app.conf', options: ['rbind', 'ro'] });
  bundle.config.mounts.push({ destination: '/data', type: 'bind', source: dataDir, options: ['bind', 'rw', 'nosuid'] });
  await writeBundleConfig(bundle);
  const r = await runIn(state, bundle, 'binds');
  tt.equal(r.code, 0, r.stderr);
  tt.same(r.stdout.trim().split('\n'), ['setting=1', 'conf-ro', 'data-rw']);
  tt.equal(readFileSync(join(dataDir, 'out'), 'utf8'), 'hi\n', 'the write reached the host directory');
  tt.equal(readFileSync(join(bundle.dir, 'app.conf'), 'utf8'), 'setting=1\n');
});

t.test('--no-pivot: the container runs chrooted and the host root is not reachable', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', 'ls /; cat /proc/self/mountinfo | wc -l']);
  const r = await runIn(state, bundle, 'nopivot', ['--no-pivot']);
  tt.equal(r.code, 0, r.stderr);
  tt.match(r.stdout, /probe/, 'sees its own rootfs');
  tt.notMatch(r.stdout, /\bwork\b/, 'not the host\'s /');
});

t.test('hooks run at their points with the state on stdin; a failing hook fails create and leaves nothing', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/true']);
  const logDir = mkdtempSync(join(tmpdir(), 'tsrun-test-hooks-'));
  tt.teardown(() => rmSync(logDir, { recursive: true, force: true }));
  const hook = join(logDir, 'hook.sh');
  // Each hook appends its name, its status from the state on stdin, and whether it saw the host's root.
  writeFileSync(hook, `#!/bin/sh\nstate=$(cat)\nstatus=$(echo "$state" | sed -n 's/.*"status":"\\([a-z]*\\)".*/\\1/p')\necho "$1 $status" >> ${logDir}/log\n`);
  chmodSync(hook, 0o755);
  const h = (name: string) => ({ path: hook, args: ['hook.sh', name] });
  bundle.config.hooks = {
    prestart: [h('prestart')],
    createRuntime: [h('createRuntime')],
    createContainer: [h('createContainer')],
    poststart: [h('poststart')],
    poststop: [h('poststop')],
  };
  await writeBundleConfig(bundle);
  const r = await runIn(state, bundle, 'hooks');
  tt.equal(r.code, 0, r.stderr);
  const log = readFileSync(join(logDir, 'log'), 'utf8').trim().split('\n');
  tt.same(log.map((l) => l.split(' ')[0]), ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'], 'in lifecycle order');
  tt.equal(log[0], 'prestart creating');
  tt.equal(log[4], 'poststop stopped');
  bundle.config.hooks = { createRuntime: [{ path: '/bin/false' }] };
  await writeBundleConfig(bundle);
  const bad = await tsrun(['--root', state.root, 'create', '--bundle', bundle.dir, 'badhook']);
  tt.equal(bad.code, 1);
  tt.match(bad.stderr, 'error running createRuntime hook #0');
  tt.notOk(existsSync(join(state.root, 'badhook')), 'no state left by a failed hook');
  bundle.config.hooks = { prestart: [{ path: '/bin/sleep', args: ['sleep', '5'], timeout: 1 }] };
  await writeBundleConfig(bundle);
  const slow = await tsrun(['--root', state.root, 'create', '--bundle', bundle.dir, 'slowhook']);
  tt.equal(slow.code, 1);
  tt.match(slow.stderr, 'hook ran past specified timeout of 1.0s');
});

/** The mountinfo line of `mountPoint` (the last one: the top of the stack), split into its fields. */
function mountinfoLine(mountinfo: string, mountPoint: string): { options: string; optional: string; fstype: string; superOptions: string } | undefined {
  const lines = mountinfo.trim().split('\n').map((l) => l.split(' ')).filter((f) => f[4] === mountPoint);
  const f = lines.at(-1);
  if (!f) return undefined;
  const dash = f.indexOf('-');
  return { options: f[5]!, optional: f.slice(6, dash).join(' '), fstype: f[dash + 1]!, superOptions: f[dash + 3] ?? '' };
}

t.test('mount options from inside: rro reaches submounts (ro does not), propagation, rootfsPropagation, filesystem data, the cgroup namespace', async (tt) => {
  // A host directory with a tmpfs submount: ro on a recursive bind leaves the submount writable, rro does not.
  const dataDir = mkdtempSync(join(tmpdir(), 'tsrun-test-rro-'));
  const sub = join(dataDir, 'sub');
  execFileSync('mkdir', [sub]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tsrun-test-rro', sub]);
  tt.teardown(() => {
    execFileSync('umount', ['-l', sub]);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const script = [
    'touch /ro/sub/w 2>/dev/null && echo ro-sub-rw || echo ro-sub-ro',
    'touch /rro/sub/w2 2>/dev/null && echo rro-sub-rw || echo rro-sub-ro',
    'touch /rro/top 2>/dev/null && echo rro-top-rw || echo rro-top-ro',
    'stat -c %a /scratch',
    'readlink /dev/stdout', 'readlink /dev/stderr',
    'readlink /proc/self/ns/cgroup',
    'echo ---', 'cat /proc/self/cgroup', 'echo ---', 'cat /proc/self/mountinfo',
  ].join('; ');
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', script], (c) => {
    c.linux.namespaces.push({ type: 'cgroup' });
    c.linux.rootfsPropagation = 'shared';
    c.mounts.push(
      { destination: '/ro', type: 'bind', source: dataDir, options: ['rbind', 'ro'] },
      { destination: '/rro', type: 'bind', source: dataDir, options: ['rbind', 'rro'] },
      { destination: '/shared', type: 'tmpfs', source: 'tmpfs', options: ['rshared'] },
      { destination: '/private', type: 'tmpfs', source: 'tmpfs', options: ['rprivate'] },
      { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nodev', 'size=1m', 'mode=1770'] },
    );
  });
  const r = await runIn(state, bundle, 'mountopts');
  tt.equal(r.code, 0, r.stderr);
  const [head, cgroups, mountinfo] = r.stdout.split('---\n');
  const [roSub, rroSub, rroTop, scratchMode, stdout, stderr, cgroupNs] = head!.trim().split('\n');
  tt.equal(roSub, 'ro-sub-rw', 'ro on an rbind leaves the submount writable (the kernel applies it to the top mount only)');
  tt.equal(rroSub, 'rro-sub-ro', 'rro (mount_setattr AT_RECURSIVE) makes the submount read-only too');
  tt.equal(rroTop, 'rro-top-ro');
  tt.ok(existsSync(join(sub, 'w')), 'the write through /ro/sub reached the host submount');
  tt.notOk(existsSync(join(sub, 'w2')), 'nothing was written through /rro/sub');
  tt.equal(scratchMode, '1770', 'tmpfs data mode=1770 passed to the filesystem');
  tt.equal(stdout, '/proc/self/fd/1');
  tt.equal(stderr, '/proc/self/fd/2');
  tt.not(cgroupNs, readlinkSync('/proc/self/ns/cgroup'), 'a cgroup namespace of its own');
  const cgLines = cgroups!.trim().split('\n');
  tt.ok(cgLines.length > 1, 'one line per hierarchy');
  tt.same(cgLines.filter((l) => !l.endsWith(':/')), [], 'every hierarchy shows the container\'s cgroup as its root');
  const scratch = mountinfoLine(mountinfo!, '/scratch');
  tt.match(scratch?.superOptions, /size=1024k/, 'tmpfs data size=1m passed to the filesystem');
  tt.match(scratch?.options, /nodev/);
  tt.match(mountinfoLine(mountinfo!, '/shared')?.optional, /shared:\d+/, 'rshared: a peer group of its own');
  tt.equal(mountinfoLine(mountinfo!, '/private')?.optional, '', 'rprivate: no propagation');
  tt.match(mountinfoLine(mountinfo!, '/')?.optional, /shared:\d+/, 'rootfsPropagation shared: / is shared');
});

t.test('session keyring: each container joins _ses.<id> of its own, exec joins the container\'s, --no-new-keyring keeps the caller\'s', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'keyring']);
  const parse = (line: string) => {
    const [id, desc] = line.trim().split(' ');
    const fields = (desc ?? '').split(';');
    return { id: Number(id), name: fields[4], perm: parseInt(fields[3] ?? '0', 16) };
  };
  const host = parse(execFileSync(probeBin, ['keyring'], { encoding: 'utf8' }));
  tt.ok(host.id > 0, `the test's own session keyring: ${host.id} ${host.name}`);

  const own = await runIn(state, bundle, 'keyring1');
  tt.equal(own.code, 0, own.stderr);
  const k1 = parse(own.stdout);
  tt.equal(k1.name, '_ses.keyring1', 'a keyring named after the container');
  tt.not(k1.id, host.id, 'not the caller\'s keyring');
  tt.ok(k1.perm & 0x00080000, 'searchable by its owner\'s uid (KEY_USR_SEARCH)');

  const kept = await runIn(state, bundle, 'keyring2', ['--no-new-keyring']);
  tt.equal(kept.code, 0, kept.stderr);
  tt.equal(parse(kept.stdout).id, host.id, '--no-new-keyring: the caller\'s session keyring');

  bundle.config.process.args = ['/probe', 'sleep', '600'];
  await writeBundleConfig(bundle);
  tt.equal((await tsrun(['--root', state.root, 'run', '-d', '--bundle', bundle.dir, 'keyring3'])).code, 0);
  const e = await tsrun(['--root', state.root, 'exec', 'keyring3', '/probe', 'keyring']);
  tt.equal(e.code, 0, e.stderr);
  tt.equal(parse(e.stdout).name, '_ses.keyring3', 'exec joins the container\'s keyring by name');
  tt.equal((await tsrun(['--root', state.root, 'delete', '--force', 'keyring3'])).code, 0);
});
