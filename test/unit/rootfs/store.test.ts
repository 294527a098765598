import t from 'tap';
import { mkdtemp, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRootfsFromHost, resolveInRoot } from '../../../lib/rootfs/host.js';
import { sha256File, storeFile } from '../../../lib/rootfs/store.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('two rootfs built through one store share inodes', async (t) => {
  const dir = await tempDir(t);
  const store = join(dir, 'store');
  const a = await buildRootfsFromHost({ dest: join(dir, 'a'), binaries: ['ls', 'cat'], store });
  const b = await buildRootfsFromHost({ dest: join(dir, 'b'), binaries: ['ls'], store });
  t.ok(a.store && a.store.linked > 0, 'first build linked its files');
  t.equal(a.store!.reused, 0, 'empty store: nothing reused');
  t.equal(b.store!.reused, b.store!.linked + b.store!.copied, 'second build reused every file');
  for (const path of ['/usr/bin/ls', ...a.closure.filter((p) => p.endsWith('libc.so.6'))]) {
    const sa = await stat(await resolveInRoot(join(dir, 'a'), path));
    const sb = await stat(await resolveInRoot(join(dir, 'b'), path));
    t.equal(sa.ino, sb.ino, `${path}: same inode in both rootfs`);
    t.equal(sa.dev, sb.dev);
    t.ok(sa.nlink >= 3, `${path}: store copy plus two links`);
  }
  const ls = a.entries.find((e) => e.path === '/usr/bin/ls');
  t.equal(ls?.sha256, await sha256File('/usr/bin/ls'), 'entry carries the content hash');
  t.equal(ls?.storeLinked, true);
  const hostLs = await stat('/usr/bin/ls');
  const inRoot = await stat(await resolveInRoot(join(dir, 'a'), '/usr/bin/ls'));
  t.equal(inRoot.mode & 0o7777, hostLs.mode & 0o7777, 'mode kept');
});

t.test('store key includes the mode: same bytes, different modes, different inodes', async (t) => {
  const dir = await tempDir(t);
  const store = join(dir, 'store');
  await writeFile(join(dir, 'f'), 'same bytes\n');
  const x = await storeFile(store, join(dir, 'f'), 0o755);
  const y = await storeFile(store, join(dir, 'f'), 0o644);
  const z = await storeFile(store, join(dir, 'f'), 0o644);
  t.equal(x.sha256, y.sha256);
  t.not(x.path, y.path);
  t.equal(y.path, z.path);
  t.equal(z.reused, true);
  t.equal((await stat(x.path)).mode & 0o777, 0o755);
  t.equal((await stat(y.path)).mode & 0o777, 0o644);
  const shard = await readdir(join(store, 'sha256', x.sha256.slice(0, 2)));
  t.notOk(shard.some((n) => n.startsWith('.tmp-')), 'no temporary files left');
});

t.test('without a store, files are independent copies', async (t) => {
  const dir = await tempDir(t);
  await buildRootfsFromHost({ dest: join(dir, 'a'), binaries: ['cat'] });
  await buildRootfsFromHost({ dest: join(dir, 'b'), binaries: ['cat'] });
  const sa = await stat(await resolveInRoot(join(dir, 'a'), '/usr/bin/cat'));
  const sb = await stat(await resolveInRoot(join(dir, 'b'), '/usr/bin/cat'));
  t.not(sa.ino, sb.ino);
  t.equal(sa.nlink, 1);
});
