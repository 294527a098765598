import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfFormatError, defaultLibraryDirs, readElf } from '../../../lib/rootfs/elf.js';
import { LibraryResolver, RootfsBuildError, buildRootfsFromHost, findExecutable, readShebang } from '../../../lib/rootfs/host.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-elf-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('readElf: /bin/ls needs libc.so.6 and names the program interpreter', async (t) => {
  const elf = await readElf('/bin/ls');
  t.equal(elf.bits, 64);
  t.equal(elf.littleEndian, true);
  t.equal(elf.machine, 62, 'x86-64');
  t.ok(elf.dynamic);
  t.match(elf.interpreter, /^\/lib(64|\/x86_64-linux-gnu)\/ld-linux-x86-64\.so\.2$/);
  t.ok(elf.needed.includes('libc.so.6'), `needed: ${elf.needed.join(' ')}`);
});

t.test('readElf: libc has a SONAME and needs the loader', async (t) => {
  const r = new LibraryResolver();
  const ls = await readElf('/bin/ls');
  const libc = await r.find('libc.so.6', '/bin/ls', ls, []);
  t.ok(libc, 'libc.so.6 found in the standard dirs');
  t.ok(defaultLibraryDirs().some((d) => libc!.startsWith(d + '/')), `${libc} is in a standard dir`);
  const info = await readElf(libc!);
  t.equal(info.soname, 'libc.so.6');
  t.ok(info.needed.some((n) => n.startsWith('ld-linux')), 'libc needs the loader');
});

t.test('readElf: a static binary has no interpreter and no DT_NEEDED', { skip: !(await findExecutable('busybox')) && 'no busybox' }, async (t) => {
  const elf = await readElf((await findExecutable('busybox'))!);
  t.equal(elf.interpreter, undefined);
  t.same(elf.needed, []);
});

t.test('readElf: rejects non-ELF and truncated files', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'text'), 'hello world, not an ELF object\n');
  await t.rejects(readElf(join(dir, 'text')), ElfFormatError);
  await writeFile(join(dir, 'tiny'), '\x7fEL');
  await t.rejects(readElf(join(dir, 'tiny')), ElfFormatError);
  // The first 100 bytes of a real ELF: headers promise program headers that are not there.
  const fh = await open('/bin/ls', 'r');
  const head = Buffer.alloc(100);
  await fh.read(head, 0, 100, 0);
  await fh.close();
  await writeFile(join(dir, 'truncated'), head);
  await t.rejects(readElf(join(dir, 'truncated')), ElfFormatError);
});

t.test('readShebang and findExecutable', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'script'), '#!/usr/bin/env  sh -e\necho hi\n', { mode: 0o755 });
  t.same(await readShebang(join(dir, 'script')), { interpreter: '/usr/bin/env', arg: 'sh -e' });
  t.equal(await readShebang('/bin/ls'), undefined);
  t.equal(await findExecutable('script', `/nonexistent:${dir}`), join(dir, 'script'));
  t.equal(await findExecutable('no-such-program-here', dir), undefined);
  await writeFile(join(dir, 'notexec'), 'x', { mode: 0o644 });
  t.equal(await findExecutable('notexec', dir), undefined, 'not executable: skipped');
});

t.test('closure of ls: program, interpreter and every library', async (t) => {
  const dir = await tempDir(t);
  const report = await buildRootfsFromHost({ dest: join(dir, 'rootfs'), binaries: ['ls'] });
  t.equal(report.programs.length, 1);
  t.equal(report.programs[0]!.kind, 'elf');
  t.ok(report.programs[0]!.needed.includes('libc.so.6'));
  t.ok(report.closure.some((p) => p.endsWith('/libc.so.6')), 'libc in the closure');
  t.ok(report.closure.some((p) => /ld-linux-x86-64\.so\.2$/.test(p)), 'loader in the closure');
  t.ok(report.closure.includes(report.programs[0]!.interpreter!), 'the PT_INTERP path itself is in the closure');
  // Every DT_NEEDED of every ELF object in the closure is satisfied by a file placed in the rootfs.
  const placed = new Set(report.entries.map((e) => e.path.split('/').pop()));
  for (const p of report.closure) {
    const elf = await readElf(p);
    for (const n of elf.needed) t.ok(placed.has(n), `${p} needs ${n}: placed`);
  }
});

t.test('closure of a #! script includes its interpreter and that one\'s libraries', async (t) => {
  const dir = await tempDir(t);
  const script = join(dir, 'hello.sh');
  await writeFile(script, '#!/bin/sh\necho hello\n', { mode: 0o755 });
  const report = await buildRootfsFromHost({ dest: join(dir, 'rootfs'), binaries: [script] });
  t.equal(report.programs[0]!.kind, 'script');
  t.equal(report.programs[0]!.interpreter, '/bin/sh');
  t.ok(report.closure.includes('/bin/sh'));
  t.ok(report.closure.some((p) => p.endsWith('/libc.so.6')));
  const entry = report.entries.find((e) => e.path === script);
  t.ok(entry, 'the script itself is placed at its host path');
});

t.test('missing programs are all reported at once, before anything is written', async (t) => {
  const dir = await tempDir(t);
  const err = await buildRootfsFromHost({ dest: join(dir, 'rootfs'), binaries: ['no-such-prog-1', 'ls', '/no/such/prog-2'] }).catch((e: unknown) => e);
  t.type(err, RootfsBuildError);
  t.equal((err as RootfsBuildError).problems.length, 2);
  t.match((err as RootfsBuildError).message, /no-such-prog-1.*prog-2/);
  await t.rejects(import('node:fs/promises').then((fs) => fs.stat(join(dir, 'rootfs'))), { code: 'ENOENT' });
});

t.test('DT_RUNPATH with $ORIGIN is followed', { skip: !(await findExecutable('gcc')) && 'no gcc' }, async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'app', 'lib'), { recursive: true });
  await mkdir(join(dir, 'app', 'bin'), { recursive: true });
  await writeFile(join(dir, 'greet.c'), 'int greet(void) { return 42; }\n');
  await writeFile(join(dir, 'main.c'), 'int greet(void);\nint main(void) { return greet() == 42 ? 0 : 1; }\n');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', join(dir, 'app', 'lib', 'libgreet.so'), join(dir, 'greet.c')]);
  execFileSync('gcc', ['-o', join(dir, 'app', 'bin', 'main'), join(dir, 'main.c'), `-L${join(dir, 'app', 'lib')}`, '-lgreet', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib']);
  const elf = await readElf(join(dir, 'app', 'bin', 'main'));
  t.same(elf.runpath, ['$ORIGIN/../lib']);
  const report = await buildRootfsFromHost({ dest: join(dir, 'rootfs'), binaries: [join(dir, 'app', 'bin', 'main')] });
  t.ok(report.closure.includes(join(dir, 'app', 'bin', '..', 'lib', 'libgreet.so')) || report.closure.includes(join(dir, 'app', 'lib', 'libgreet.so')), `closure: ${report.closure.join(' ')}`);
});
