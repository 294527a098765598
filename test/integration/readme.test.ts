/**
 * The README's commands, run as a newcomer would: `npm run demo` (a rootfs
 * from the host's own binaries, a bundle from `tsrun spec`, one container
 * that shows its isolation, nothing left), and the teaching view
 * `tsrun plan [--explain] <bundle>`.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { makeBundle, writeBundleConfig } from '../helpers/bundle.js';
import { guardLeaks } from '../helpers/leaks.js';
import { repoRoot, tsrunBin } from '../helpers/paths.js';

const demoDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('tsrun-demo-'));

t.test('npm run demo: hostname, pid 1 and a mount table of its own, then nothing left', async (t) => {
  await guardLeaks(t);
  const before = demoDirs();
  const r = spawnSync('npm', ['run', '--silent', 'demo'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, `demo exit status (stderr: ${r.stderr})`);
  t.equal(r.stderr, '', 'nothing on stderr');
  t.match(r.stdout, /^ {3}tsrun-demo$/m, 'the container printed its own hostname');
  t.match(r.stdout, /UTS namespace: the container has its own hostname/);
  t.match(r.stdout, /^ {3}pid=1$/m, 'its shell is pid 1');
  t.match(r.stdout, /PID namespace: the shell is process 1/);
  t.match(r.stdout, /a fresh procfs for the new PID namespace/, 'its own /proc in its mount table');
  t.match(r.stdout, /started, ran and was deleted in \d+ ms/);
  t.same(demoDirs().filter((d) => !before.includes(d)), [], 'the demo removed its work directory');
});

t.test('tsrun plan <bundle>: one step per line with the config field; --explain adds the syscalls and why', async (t) => {
  const bundle = await makeBundle({ args: ['/bin/true'] });
  t.teardown(bundle.cleanup);
  bundle.config.hostname = 'planned';
  bundle.config.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  await writeBundleConfig(bundle);

  const plain = spawnSync(tsrunBin, ['plan', bundle.dir], { encoding: 'utf8' });
  t.equal(plain.status, 0, plain.stderr);
  t.equal(plain.stderr, '');
  const lines = plain.stdout.trim().split('\n');
  t.ok(lines.every((l) => /^\s*\d+\s+(helper|init)\s+[A-Z_]+\s/.test(l)), 'every line is one step: index, who, op');
  const at = (op: string) => lines.find((l) => l.split(/\s+/).includes(op) && !l.includes('syscall:')) ?? '';
  t.match(at('CLONE'), 'linux.namespaces');
  t.match(at('HOSTNAME'), /hostname\s+"planned"/);
  t.match(at('SYSCTL'), 'linux.sysctl.net.ipv4.ip_forward');
  t.ok(lines.some((l) => l.includes('MOUNT') && l.includes('mounts[0]')), 'a MOUNT step names mounts[0]');
  t.ok(lines.some((l) => l.includes('MASK_PATH') && l.includes('linux.maskedPaths[0]')), 'a MASK_PATH step names linux.maskedPaths[0]');
  t.match(lines.at(-1), /EXEC\s+process\.args/, 'execve is the last step');
  t.notOk(plain.stdout.includes('syscall:'), 'no syscall lines without --explain');

  const explained = spawnSync(tsrunBin, ['plan', '--explain', '--bundle', bundle.dir], { encoding: 'utf8' });
  t.equal(explained.status, 0, explained.stderr);
  const syscalls = explained.stdout.split('\n').filter((l) => l.trim().startsWith('syscall:'));
  const whys = explained.stdout.split('\n').filter((l) => l.trim().startsWith('why:'));
  t.equal(syscalls.length, lines.length, 'a syscall line for every step');
  t.equal(whys.length, lines.length, 'a why line for every step');
  t.match(explained.stdout, /pivot_root/);

  bundle.config.process.cwd = 'relative';
  await writeBundleConfig(bundle);
  const bad = spawnSync(tsrunBin, ['plan', bundle.dir], { encoding: 'utf8' });
  t.equal(bad.status, 1, 'an invalid config: exit 1');
  t.match(bad.stderr, 'process.cwd', 'the field is named');
  t.equal(bad.stdout, '', 'no plan printed');
  t.notMatch(bad.stderr, /\n\s+at /, 'no stack trace');
});
