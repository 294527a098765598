// The test helpers themselves: makeBundle writes a bundle that a real runtime
// (Debian's runc, as a reference) accepts, and cleanup leaves nothing behind.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeBundle } from '../../helpers/bundle.js';
import { guardLeaks, newSince, snapshotLeaks } from '../../helpers/leaks.js';
import { makeStateRoot, tsrunCli } from '../../helpers/cli.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));

t.test('makeBundle: rootfs with probe, config.json, cleanup', async (t) => {
  const b = await makeBundle({ args: ['/probe', 'exit', '3'], config: (c) => { c.hostname = 'edited'; } });
  t.match(b.dir, /tsrun-test-/);
  t.equal(b.rootfs, join(b.dir, 'rootfs'));
  const cfg = JSON.parse(await readFile(b.configPath, 'utf8'));
  t.same(cfg.process.args, ['/probe', 'exit', '3']);
  t.equal(cfg.hostname, 'edited');
  t.equal(cfg.root.path, 'rootfs');
  t.equal(cfg.process.terminal, false);
  t.same(cfg.linux.namespaces.map((n: { type: string }) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  t.ok((await stat(join(b.rootfs, 'probe'))).mode & 0o111, '/probe is executable');
  t.ok(existsSync(join(b.rootfs, 'bin', 'sh')), 'busybox sh');
  const b2 = await makeBundle();
  t.not((await stat(join(b.rootfs, 'probe'))).ino, (await stat(join(b2.rootfs, 'probe'))).ino, 'bundles do not share files');
  await b.cleanup();
  await b2.cleanup();
  t.notOk(existsSync(b.dir), 'removed');
});

t.test('the inline config runs under runc; probe info sees an isolated process', { skip: (!isRoot && 'needs root') || (!runc && 'no runc') || false }, async (t) => {
  await guardLeaks(t, { ignore: (kind, item) => kind === 'cgroups' && !item.includes('tsrun-helper-check') });
  const root = await mkdtemp(join(tmpdir(), 'tsrun-test-runc-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const b = await makeBundle({ args: ['/probe', 'info'], config: (c) => { c.linux.cgroupsPath = `/tsrun-helper-check-${process.pid}`; } });
  t.teardown(b.cleanup);
  const id = `tsrun-helper-check-${process.pid}`;
  const r = await run(runc!, ['--root', root, 'run', '--bundle', b.dir, id], { timeout: 30_000 });
  const info = JSON.parse(r.stdout);
  t.equal(info.pid, 1);
  t.equal(info.hostname, 'tsrun-test');
  t.equal(info.uid, 0);
  t.equal(info.noNewPrivs, true);
  t.equal(info.rlimits.RLIMIT_NOFILE.soft, 1024);
  t.ok(info.mounts.some((m: { mountPoint: string; fstype: string }) => m.mountPoint === '/proc' && m.fstype === 'proc'));
  t.ok(info.mounts.some((m: { mountPoint: string; options: string }) => m.mountPoint === '/sys' && /(^|,)ro(,|$)/.test(m.options)));
  t.same(info.fds.map((f: { fd: number }) => f.fd), [0, 1, 2], 'only stdio reaches the container');
  // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
  t.equal(info.capabilities.CapBnd, '0000000020000420', 'bounding set is the default three');
  t.equal(info.capabilities.CapEff, '0000000020000420');
});

t.test('leak snapshot notices a new mount', { skip: !isRoot && 'needs root (mount)' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-leak-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const before = await snapshotLeaks();
  await run('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
  const during = newSince(before, await snapshotLeaks());
  await run('umount', [dir]);
  t.equal(during.mounts.length, 1);
  t.match(during.mounts[0], dir);
  t.same(newSince(before, await snapshotLeaks()).mounts, [], 'gone after umount');
});

t.test('tsrunCli and makeStateRoot (tsrun CLI may not be built yet)', async (t) => {
  const state = await makeStateRoot();
  t.match(state.root, /tsrun-test-state-/);
  const r = await tsrunCli(['--version'], { timeoutMs: 20_000 });
  t.type(r.code, 'number', `tsrun --version exited ${r.code}`);
  await state.cleanup();
  t.notOk(existsSync(state.root), 'state root removed');
});
