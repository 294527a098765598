// A rootfs built from host binaries runs under chroot: the closure is complete.
import t from 'tap';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildBusyboxRootfs, buildRootfsFromHost, findExecutable } from '../../../lib/rootfs/host.js';
import { probeBin } from '../../helpers/paths.js';
import { guardLeaks } from '../../helpers/leaks.js';
import { existsSync } from 'node:fs';

const execFileAsync = promisify(execFile);
const chrootBin = ['/usr/sbin/chroot', '/usr/bin/chroot', '/sbin/chroot'].find((p) => existsSync(p)) ?? 'chroot';
// Only chroot goes through here: every call is `chroot ROOTFS ...`.
const run = (cmd: 'chroot', args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) => execFileAsync(cmd === 'chroot' ? chrootBin : cmd, args, opts);
const isRoot = process.getuid?.() === 0;

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  // chroot shares the host's namespaces: the guard checks nothing here touched the host (its hostname, its mounts).
  await guardLeaks(t);
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-chroot-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('host ls, sh and cat with their libraries run under chroot', { skip: !isRoot && 'needs root (chroot)' }, async (t) => {
  const dir = await tempDir(t);
  const dest = join(dir, 'rootfs');
  await buildRootfsFromHost({ dest, binaries: ['ls', 'sh', 'cat'] });
  const ls = await run('chroot', [dest, '/bin/ls', '/'], { env: { PATH: '/usr/bin:/bin' } });
  for (const d of ['etc', 'proc', 'tmp', 'usr']) t.match(ls.stdout, new RegExp(`^${d}$`, 'm'), `ls / shows ${d}`);
  const sh = await run('chroot', [dest, '/bin/sh', '-c', 'cat /etc/passwd; ls -ld /tmp'], { env: { PATH: '/usr/bin:/bin' } });
  t.match(sh.stdout, /^root:x:0:0:/m);
  t.match(sh.stdout, /^drwxrwxrwt/m, 'ls -l works (uid lookups through the rootfs /etc/passwd)');
});

t.test('a rootfs built through the store runs too', { skip: !isRoot && 'needs root (chroot)' }, async (t) => {
  const dir = await tempDir(t);
  const store = join(dir, 'store');
  await buildRootfsFromHost({ dest: join(dir, 'a'), binaries: ['ls'], store });
  await buildRootfsFromHost({ dest: join(dir, 'b'), binaries: ['ls'], store });
  const r = await run('chroot', [join(dir, 'b'), '/usr/bin/ls', '/usr/bin']);
  t.match(r.stdout, /^ls$/m);
});

t.test('a #! script and its interpreter run under chroot', { skip: !isRoot && 'needs root (chroot)' }, async (t) => {
  const dir = await tempDir(t);
  const { writeFile, mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'scripts'));
  const script = join(dir, 'scripts', 'hello');
  await writeFile(script, '#!/bin/sh\necho "hello from $0"\n', { mode: 0o755 });
  const dest = join(dir, 'rootfs');
  await buildRootfsFromHost({ dest, binaries: [script] });
  const r = await run('chroot', [dest, script]);
  t.equal(r.stdout, `hello from ${script}\n`);
});

t.test('busybox rootfs: applets and the static probe run under chroot', { skip: (!isRoot && 'needs root (chroot)') || false }, async (t) => {
  if (!(await findExecutable('busybox'))) {
    t.comment('no busybox: skipped');
    return;
  }
  const dir = await tempDir(t);
  const dest = join(dir, 'rootfs');
  await buildBusyboxRootfs(dest);
  const r = await run('chroot', [dest, '/bin/sh', '-c', 'echo $((6*7)); cat /etc/hostname; head -1 /etc/passwd'], { env: { PATH: '/bin' } });
  t.match(r.stdout, /^42\ntsrun\nroot:x:0:0:/);
  if (!existsSync(probeBin)) {
    t.comment('probe not built (npm run build:native): probe check skipped');
    return;
  }
  await copyFile(probeBin, join(dest, 'probe'));
  const p = await run('chroot', [dest, '/probe', 'stat', '/bin/sh']);
  const st = JSON.parse(p.stdout) as { type: string };
  t.equal(st.type, 'symlink', 'probe runs in the rootfs and sees the applet link');
});
