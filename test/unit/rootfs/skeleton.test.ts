import t from 'tap';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootfsBuildError, buildBusyboxRootfs, buildRootfsFromHost, findExecutable, resolveInRoot } from '../../../lib/rootfs/host.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-skel-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('skeleton: dirs, modes, passwd, group, hostname', async (t) => {
  const dir = await tempDir(t);
  const dest = join(dir, 'rootfs');
  await buildRootfsFromHost({ dest, binaries: ['cat'], hostname: 'box' });
  const modes: Record<string, number> = { proc: 0o555, sys: 0o555, dev: 0o755, tmp: 0o1777, etc: 0o755, root: 0o700 };
  for (const [d, mode] of Object.entries(modes)) {
    const st = await lstat(join(dest, d));
    t.ok(st.isDirectory(), `/${d} is a directory`);
    t.equal(st.mode & 0o7777, mode, `/${d} mode ${mode.toString(8)}`);
  }
  const passwd = await readFile(join(dest, 'etc/passwd'), 'utf8');
  t.match(passwd, /^root:x:0:0:/m);
  t.match(passwd, /^nobody:x:65534:65534:/m);
  t.match(await readFile(join(dest, 'etc/group'), 'utf8'), /^root:x:0:/m);
  t.equal(await readFile(join(dest, 'etc/hostname'), 'utf8'), 'box\n');
});

t.test('symlinks on the way are kept as symlinks (merged /usr)', async (t) => {
  const dir = await tempDir(t);
  const dest = join(dir, 'rootfs');
  const report = await buildRootfsFromHost({ dest, binaries: ['/bin/ls'] });
  const hostBin = await lstat('/bin');
  if (hostBin.isSymbolicLink()) {
    t.equal(await readlink(join(dest, 'bin')), await readlink('/bin'), '/bin is the same symlink as on the host');
    t.ok(report.entries.some((e) => e.path === '/bin' && e.kind === 'symlink'));
  }
  const interp = report.programs[0]!.interpreter!;
  if ((await lstat(interp)).isSymbolicLink()) {
    t.ok((await lstat(await resolveInRoot(dest, interp))).isSymbolicLink(), `${interp} stays a symlink`);
  }
  t.ok((await stat(await resolveInRoot(dest, '/bin/ls'))).isFile(), '/bin/ls resolves in the rootfs');
});

t.test('existing files are kept; a second build into the same dest adds to it', async (t) => {
  const dir = await tempDir(t);
  const dest = join(dir, 'rootfs');
  await mkdir(join(dest, 'etc'), { recursive: true });
  await writeFile(join(dest, 'etc/passwd'), 'custom:x:1:1::/:/bin/sh\n');
  await buildRootfsFromHost({ dest, binaries: ['cat'] });
  await buildRootfsFromHost({ dest, binaries: ['ls'] });
  t.equal(await readFile(join(dest, 'etc/passwd'), 'utf8'), 'custom:x:1:1::/:/bin/sh\n');
  t.ok((await stat(await resolveInRoot(dest, '/usr/bin/cat'))).isFile());
  t.ok((await stat(await resolveInRoot(dest, '/usr/bin/ls'))).isFile());
});

t.test('a hostile symlink in dest is never followed out of it', async (t) => {
  const dir = await tempDir(t);
  const dest = join(dir, 'rootfs');
  const outside = join(dir, 'outside');
  await mkdir(outside);
  await mkdir(dest);
  await symlink(outside, join(dest, 'etc')); // absolute: points at the host
  const err = await buildRootfsFromHost({ dest, binaries: ['cat'] }).catch((e: unknown) => e);
  t.type(err, RootfsBuildError, 'refused: /etc is not a directory in the rootfs');
  await t.rejects(lstat(join(outside, 'passwd')), { code: 'ENOENT' }, 'nothing written through the link');
  t.equal(await resolveInRoot(dest, '/etc/passwd'), join(dest, outside, 'passwd'), 'resolveInRoot keeps absolute links inside the root');
  t.equal(await resolveInRoot(dest, '/../../tmp/x'), join(dest, 'tmp/x'), '.. stops at the root');
});

t.test('busybox rootfs: applets linked into /bin', { skip: !(await findExecutable('busybox')) && 'no busybox' }, async (t) => {
  const dir = await tempDir(t);
  const dest = join(dir, 'rootfs');
  const report = await buildBusyboxRootfs(dest);
  t.ok(report.applets.length > 50, `${report.applets.length} applets`);
  for (const applet of ['sh', 'ls', 'cat', 'hostname', 'head']) {
    t.ok(report.applets.includes(applet), `${applet} is an applet`);
    const link = await resolveInRoot(dest, `/bin/${applet}`);
    t.ok((await lstat(link)).isSymbolicLink(), `/bin/${applet} is a symlink`);
    t.ok((await stat(link)).isFile(), `/bin/${applet} resolves to busybox`);
  }
  t.same(report.closure.length, 1, 'static busybox: no libraries');
});

t.test('busyboxApplets without busybox is an error', async (t) => {
  const dir = await tempDir(t);
  await t.rejects(buildRootfsFromHost({ dest: join(dir, 'r'), binaries: ['cat'], busyboxApplets: true }), RootfsBuildError);
});
