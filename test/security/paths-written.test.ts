/**
 * Every path tsrun itself creates or writes inside the rootfs, attacked with
 * what a hostile image can plant there (users-and-security.md B.9, B.10,
 * B.14, B.15): file bind targets and directories created through a symlink
 * out of the rootfs, a FIFO or device as a bind target (opening it would
 * hang), a link to /proc/self/root as a mount destination, device nodes and
 * a missing working directory behind symlinks to host files, and the
 * masked-path baseline of runc's mask.bats.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostMountsUnder, makeMarker, setup } from './harness.js';

t.test('B.9: a file bind target and new directories through a symlink out are created inside the rootfs, or refused', async (t) => {
  const host = makeMarker(t, {});
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'cat /link/newfile; ls -d /link/newdir/deeper']);
  const src = makeMarker(t, { 'f.txt': 'file source\n' });
  symlinkSync(host.dir, join(bundle.rootfs, 'link')); // /link -> a host directory (empty)
  bundle.config.root.readonly = false;
  bundle.config.mounts.push(
    { destination: '/link/newdir/deeper', type: 'tmpfs', source: 'tmpfs' },
    { destination: '/link/newfile', type: 'bind', source: join(src.dir, 'f.txt'), options: ['bind', 'ro'] },
  );
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const r = await state.cli(['run', '--bundle', bundle.dir, 'w1']);
  t.same(host.snapshot(), [], 'the host directory is still empty: no file, no directory created there');
  t.same(hostMountsUnder(host.dir), [], 'nothing mounted on it');
  if (r.code === 0) {
    t.match(r.stdout, /file source/, 'the file bind landed inside the rootfs');
    t.ok(existsSync(join(bundle.rootfs, host.dir.slice(1), 'newfile')), 'its mount point was created in the rootfs (the link re-rooted)');
  } else {
    t.match(r.stderr, /mounts\[\d+\]/, `refused: ${r.stderr.trim()}`);
  }
});

t.test('B.9.3: a FIFO or a device planted as a file bind target is never opened (no hang) and the bind is refused or done', async (t) => {
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'cat /etc/fifo-target /etc/dev-target']);
  const src = makeMarker(t, { 'f.txt': 'bound\n' });
  execFileSync('mkfifo', [join(bundle.rootfs, 'etc', 'fifo-target')]);
  execFileSync('mknod', [join(bundle.rootfs, 'etc', 'dev-target'), 'c', '1', '3']);
  bundle.config.mounts.push(
    { destination: '/etc/fifo-target', type: 'bind', source: join(src.dir, 'f.txt'), options: ['bind', 'ro'] },
    { destination: '/etc/dev-target', type: 'bind', source: join(src.dir, 'f.txt'), options: ['bind', 'ro'] },
  );
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const t0 = Date.now();
  const r = await state.cli(['run', '--bundle', bundle.dir, 'w2'], { timeoutMs: 20_000 });
  t.ok(Date.now() - t0 < 15_000, 'it did not hang on the FIFO');
  t.ok(r.code === 0 ? /^bound\nbound\n$/.test(r.stdout) : /mounts\[\d+\]/.test(r.stderr), `bound over both, or refused naming the mount: ${r.code} ${r.stdout}${r.stderr}`);
});

t.test('B.14: a mount destination through a link to /proc/self/root stays in the rootfs', async (t) => {
  const host = makeMarker(t, {});
  const { bundle, state } = await setup(t, ['/bin/true']);
  symlinkSync('/proc/self/root', join(bundle.rootfs, 'selfroot'));
  bundle.config.root.readonly = false;
  bundle.config.mounts.push({ destination: `/selfroot${host.dir}/escaped`, type: 'tmpfs', source: 'tmpfs' });
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const r = await state.cli(['run', '--bundle', bundle.dir, 'w3']);
  t.same(host.snapshot(), [], 'nothing created in the host directory');
  t.same(hostMountsUnder(host.dir), [], 'nothing mounted there');
  t.ok(r.code === 0 || /mounts\[\d+\]/.test(r.stderr), `done inside the rootfs, or refused: ${r.stderr.trim()}`);
});

t.test('B.15: device nodes and a missing cwd behind symlinks to host files: the host files are untouched', async (t) => {
  const host = makeMarker(t, { 'canary-dev': 'canary\n', 'canary-cwd': 'canary\n' });
  const before = host.snapshot();
  // A /dev bind from the image (not tsrun's tmpfs), so the image's planted links are what tsrun meets.
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', 'pwd; stat -c %t:%T /dev/fuse']);
  mkdirSync(join(bundle.rootfs, 'imgdev'), { recursive: true });
  symlinkSync(join(host.dir, 'canary-dev'), join(bundle.rootfs, 'imgdev', 'fuse'));
  symlinkSync(join(host.dir, 'canary-cwd'), join(bundle.rootfs, 'workdir'));
  bundle.config.mounts = bundle.config.mounts.map((m: any) => (m.destination === '/dev' ? { destination: '/dev', type: 'bind', source: join(bundle.rootfs, 'imgdev'), options: ['rbind'] } : m))
    .filter((m: any) => !m.destination.startsWith('/dev/'));
  bundle.config.linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666 }];
  bundle.config.process.cwd = '/workdir/sub';
  bundle.config.root.readonly = false;
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const r = await state.cli(['run', '--bundle', bundle.dir, 'w4']);
  t.same(host.snapshot(), before, 'the host canaries are unchanged (no chmod, chown, mknod or mkdir through the links)');
  t.equal(readFileSync(join(host.dir, 'canary-dev'), 'utf8'), 'canary\n');
  t.ok(r.code !== 0 || /^\/workdir\/sub\n/.test(r.stdout), `refused, or done inside the rootfs: ${r.code} ${r.stdout} ${r.stderr.trim()}`);
});

t.test('B.10.2 baseline: a masked file reads empty and cannot be removed or unmounted; a masked directory is empty and read-only; a duplicate is masked once', async (t) => {
  const script = [
    'wc -c < /proc/timer_list',
    'rm -f /proc/timer_list 2>/dev/null && echo rm-ok || echo rm-refused',
    'umount /proc/timer_list 2>/dev/null && echo umount-ok || echo umount-refused',
    'ls -A /proc/acpi | wc -l',
    'touch /proc/acpi/x 2>/dev/null && echo touch-ok || echo touch-refused',
    'grep -c " /proc/timer_list " /proc/self/mountinfo',
    'wc -c < /proc/timer_list',
  ].join('; ');
  const { bundle, state } = await setup(t, ['/bin/sh', '-c', script], (c) => {
    c.linux.maskedPaths = ['/proc/timer_list', '/proc/acpi', '/proc/timer_list'];
  });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'w5']);
  t.equal(r.code, 0, r.stderr);
  const [size, rm, umount, entries, touch, mounts, sizeAfter] = r.stdout.trim().split('\n').map((l) => l.trim());
  t.equal(size, '0', 'the masked file reads empty');
  t.equal(rm, 'rm-refused', 'rm of the masked file fails');
  t.equal(umount, 'umount-refused', 'umount fails (no CAP_SYS_ADMIN)');
  t.equal(sizeAfter, '0', 'still masked after the attempts');
  t.equal(entries, '0', 'the masked directory is empty');
  t.equal(touch, 'touch-refused', 'and read-only');
  t.equal(mounts, '1', 'the duplicate entry is masked once');
});
