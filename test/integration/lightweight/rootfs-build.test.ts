/**
 * `tsrun rootfs build --from-host`: a slim rootfs of host binaries whose files
 * are hard links into a content store, so two builds share inodes; with
 * `--with-data`, Python's standard library comes along and python runs in it.
 */
import t from 'tap';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootfs } from '../../../lib/index.js';
import { tsrunCli } from '../../helpers/cli.js';
import { guardLeaks } from '../../helpers/leaks.js';

t.test('two CLI builds share one inode per file through the store', async (tt) => {
  await guardLeaks(tt);
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-slim-'));
  tt.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = join(dir, 'store');
  for (const name of ['a', 'b']) {
    const r = await tsrunCli(['rootfs', 'build', '--from-host', 'sh,ls', '--store', store, join(dir, name)]);
    tt.equal(r.code, 0, r.stderr);
    tt.match(r.stdout, /hard links/);
  }
  const lsA = await stat(join(dir, 'a', 'usr', 'bin', 'ls'));
  const lsB = await stat(join(dir, 'b', 'usr', 'bin', 'ls'));
  tt.equal(lsA.ino, lsB.ino, 'same inode in both rootfs');
  tt.ok(lsA.nlink >= 3, 'the store and both rootfs link it');
  tt.ok(existsSync(join(dir, 'a', 'etc', 'passwd')), 'skeleton written');
  const bad = await tsrunCli(['rootfs', 'build', '--from-host', 'no-such-program-xyz', join(dir, 'c')]);
  tt.equal(bad.code, 1);
  tt.match(bad.stderr, /no-such-program-xyz: executable not found/);
  const usage = await tsrunCli(['rootfs', 'build', join(dir, 'c')]);
  tt.equal(usage.code, 1);
});

t.test('library: buildFromHost with data copies python\'s sys.path', { skip: existsSync('/usr/bin/python3') ? false : 'no /usr/bin/python3' }, async (tt) => {
  await guardLeaks(tt);
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-slim-py-'));
  tt.teardown(() => rm(dir, { recursive: true, force: true }));
  const report = await rootfs.buildFromHost({ dest: join(dir, 'py'), binaries: ['/usr/bin/python3'], store: join(dir, 'store'), withData: true });
  tt.ok(report.data.some((d) => /python3\.\d+$/.test(d)), `stdlib among ${report.data.join(', ')}`);
  tt.ok(report.data.every((d) => !/(site|dist)-packages/.test(d)), 'no site-packages');
  tt.equal(report.store?.copied, 0, 'every file hard-linked');
  const { execFile } = await import('node:child_process');
  const out = await new Promise<string>((res, rej) => execFile('chroot', [join(dir, 'py'), '/usr/bin/python3', '-c', 'import json, ctypes, encodings; print("py ok")'], (e, so) => (e ? rej(e) : res(so))));
  tt.equal(out, 'py ok\n');
});

t.test('CLI --with-data: python3 with its standard library runs in a container from the slim rootfs', { skip: existsSync('/usr/bin/python3') ? false : 'no /usr/bin/python3' }, async (tt) => {
  await guardLeaks(tt);
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-slim-cli-'));
  tt.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'bundle');
  // By absolute path: by name, python3 may be a version manager's shell shim (pyenv) on a developer's PATH.
  const b = await tsrunCli(['rootfs', 'build', '--from-host', '/usr/bin/python3', '--with-data', '--store', join(dir, 'store'), join(bundle, 'rootfs')]);
  tt.equal(b.code, 0, b.stderr);
  const without = await tsrunCli(['rootfs', 'build', '--from-host', '/usr/bin/python3', join(dir, 'nodata')]);
  tt.equal(without.code, 0, without.stderr);
  const { execFileSync } = await import('node:child_process');
  const stdlib = execFileSync('/usr/bin/python3', ['-c', 'import json, os; print(os.path.dirname(os.path.dirname(json.__file__)))'], { encoding: 'utf8' }).trim();
  tt.ok(existsSync(join(bundle, 'rootfs', stdlib, 'json', '__init__.py')), `--with-data: ${stdlib}/json is in the rootfs`);
  tt.notOk(existsSync(join(dir, 'nodata', stdlib, 'json')), 'without --with-data: no standard library');
  tt.equal((await tsrunCli(['spec', '--bundle', bundle])).code, 0);
  const cfgPath = join(bundle, 'config.json');
  const { readFile, writeFile } = await import('node:fs/promises');
  const cfg = JSON.parse(await readFile(cfgPath, 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = ['/usr/bin/python3', '-c', 'import json, encodings, os; print(json.dumps({"pid": os.getpid()}))'];
  await writeFile(cfgPath, JSON.stringify(cfg));
  const state = join(dir, 'state');
  const r = await tsrunCli(['--root', state, 'run', '--bundle', bundle, 'slim-py']);
  tt.equal(r.code, 0, r.stderr);
  tt.equal(r.stdout, '{"pid": 1}\n', 'python ran as the container init, with json and encodings from the slim rootfs');
});

t.test('data directories: installed packages (site-packages, dist-packages inside them) are left out', async (tt) => {
  await guardLeaks(tt);
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-slim-data-'));
  tt.teardown(() => rm(dir, { recursive: true, force: true }));
  const { mkdir, writeFile } = await import('node:fs/promises');
  // The shape of a python built from source (pyenv, /usr/local): site-packages inside the stdlib dir.
  const lib = join(dir, 'prefix', 'lib', 'python3.99');
  await mkdir(join(lib, 'site-packages', 'pkg'), { recursive: true });
  await mkdir(join(lib, 'json'), { recursive: true });
  await writeFile(join(lib, 'json', '__init__.py'), '');
  await writeFile(join(lib, 'site-packages', 'pkg', '__init__.py'), '');
  const dest = join(dir, 'rootfs');
  await rootfs.buildFromHost({ dest, binaries: ['sh'], dataPaths: [lib] });
  tt.ok(existsSync(join(dest, lib, 'json', '__init__.py')), 'the standard library file is copied');
  tt.notOk(existsSync(join(dest, lib, 'site-packages')), 'site-packages is not');
});
