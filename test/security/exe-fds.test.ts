/**
 * The runtime's own executable and file descriptors, attacked from inside:
 * CVE-2019-5736 (/proc/<pid>/exe of the helper opened for writing),
 * CVE-2016-9962 (the joining helper ptrace-able, its fds readable) and
 * CVE-2024-21626 (leaked fds, cwd through /proc/self/fd/N).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, tsrunBin } from '../helpers/paths.js';
import { compileC, setup, sha256, waitStatus } from './harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const helperBin = join(repoRoot, 'native', 'build', 'tsrun-init');

function attacker(): string {
  return compileC('attacker', readFileSync(join(repoRoot, 'test', 'security', 'c', 'attacker.c'), 'utf8'), { static: true });
}

t.test('CVE-2019-5736 / CVE-2016-9962: the helper cannot be written or inspected from inside, during run and exec', async (t) => {
  const before = sha256(helperBin);
  const { bundle, state } = await setup(t, ['/attacker', 'exe', '6'], (c) => {
    c.root.readonly = false;
  });
  copyFileSync(attacker(), join(bundle.rootfs, 'attacker'));
  chmodSync(join(bundle.rootfs, 'attacker'), 0o755);
  const outDir = mkdtempSync(join(tmpdir(), 'tsrun-test-out-'));
  t.teardown(() => rmSync(outDir, { recursive: true, force: true }));
  const out = openSync(join(outDir, 'out'), 'w');
  const run = new Promise<number>((resolve) => {
    const child = spawn(tsrunBin, ['--root', state.root, 'run', '--bundle', bundle.dir, 'exe1'], { stdio: ['ignore', out, out] });
    child.on('exit', (c) => resolve(c ?? 255));
  });
  t.ok(await waitStatus(state, 'exe1', 'running'), 'the attacker runs');
  let execs = 0;
  for (let i = 0; i < 40; i++) {
    const r = await state.cli(['exec', 'exe1', '/bin/true']);
    if (r.code === 0) execs++;
    if (!existsSync(join(state.root, 'exe1'))) break;
  }
  t.ok(execs > 0, `exec ran (${execs} times)`);
  t.equal(await run, 0);
  closeSync(out);
  const text = readFileSync(join(outDir, 'out'), 'utf8');
  const summary = /scanned (\d+) helpers (\d+) exe-writes (\d+) helper-access (\d+)/.exec(text);
  t.ok(summary, `the attacker reported: ${text.slice(-300)}`);
  t.notMatch(text, /WRITE-OPEN/, 'no /proc/<pid>/exe was opened for writing');
  t.equal(summary?.[3], '0');
  t.notMatch(text, /PTRACE-ATTACH/, 'no helper could be ptrace-attached');
  t.notMatch(text, /^(FD|CWD|EXE) /m, 'no helper fd, cwd or exe was readable (non-dumpable)');
  t.comment(`attacker: ${summary?.[0]}`);
  t.ok(Number(summary?.[1]) > 0, 'the attacker saw the exec\'d processes');
  t.ok(Number(summary?.[2]) > 0, `it caught joining helpers in the act (${summary?.[2]} times), and could do nothing to them`);
  t.equal(sha256(helperBin), before, 'the on-disk helper is unchanged');
});

t.test('CVE-2016-9962 (B.2): in a user namespace with CAP_SYS_PTRACE, only non-dumpability keeps the joining helper from ptrace', async (t) => {
  // The container's root holds CAP_SYS_PTRACE (and CAP_KILL) in its own user
  // namespace. A helper that has joined that namespace passes the kernel's
  // credential checks there (same namespace, capability held in it); its mm
  // still belongs to the host's namespace, so the one check left is the
  // dumpable flag. The control proves it: a host process that joins the same
  // way while dumpable is attached by the same attacker, and one that is not
  // dumpable is not.
  const ptraceCaps = (list: string[]) => [...new Set([...(list ?? []), 'CAP_SYS_PTRACE', 'CAP_KILL'])];
  const { bundle, state } = await setup(t, ['/attacker', 'exe', '12'], (c) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    // sysfs needs a network namespace owned by the user namespace: keep /sys out.
    c.mounts = c.mounts.filter((m: any) => m.destination !== '/sys');
    c.linux.maskedPaths = (c.linux.maskedPaths ?? []).filter((p: string) => !p.startsWith('/sys'));
    for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities[set] = ptraceCaps(c.process.capabilities[set]);
    delete c.linux.seccomp;
  });
  chmodSync(bundle.dir, 0o755); // the mapped root (host uid 200000) must reach the rootfs
  copyFileSync(attacker(), join(bundle.rootfs, 'attacker'));
  chmodSync(join(bundle.rootfs, 'attacker'), 0o755);
  const joiner = compileC('tsrun-joiner', readFileSync(join(repoRoot, 'test', 'security', 'c', 'joiner.c'), 'utf8'));
  const outDir = mkdtempSync(join(tmpdir(), 'tsrun-test-out-'));
  t.teardown(() => rmSync(outDir, { recursive: true, force: true }));
  const out = openSync(join(outDir, 'out'), 'w');
  const run = new Promise<number>((resolve) => {
    const child = spawn(tsrunBin, ['--root', state.root, 'run', '--bundle', bundle.dir, 'ptr1'], { stdio: ['ignore', out, out] });
    child.on('exit', (c) => resolve(c ?? 255));
  });
  t.ok(await waitStatus(state, 'ptr1', 'running'), 'the attacker runs');
  const initPid = JSON.parse((await state.cli(['state', 'ptr1'])).stdout).pid as number;
  for (const dumpable of [1, 0]) {
    const j = await new Promise<number>((resolve) => {
      const child = spawn(joiner, [String(initPid), String(dumpable), '1500'], { stdio: 'ignore' });
      child.on('exit', (c) => resolve(c ?? 255));
    });
    t.equal(j, 0, `the control (dumpable ${dumpable}) joined the container's user and pid namespaces`);
  }
  let execs = 0;
  for (let i = 0; i < 40; i++) {
    const r = await state.cli(['exec', 'ptr1', '/bin/true']);
    if (r.code === 0) execs++;
    if (!existsSync(join(state.root, 'ptr1'))) break;
  }
  t.ok(execs > 0, `exec ran (${execs} times)`);
  t.equal(await run, 0, 'the attacker ran to its end');
  closeSync(out);
  const text = readFileSync(join(outDir, 'out'), 'utf8');
  const lines = text.split('\n');
  const findings = (comm: RegExp) => lines.filter((l) => /^(PTRACE-ATTACH|FD|CWD|EXE) /.test(l) && comm.test(l.split(' ')[2] ?? ''));
  const caught = (comm: RegExp) => lines.filter((l) => l.startsWith('HELPER ') && comm.test(l.split(' ')[2] ?? '')).length;
  t.ok(caught(/^tsrun-joiner-1$/) > 0 && lines.some((l) => /^PTRACE-ATTACH \d+ tsrun-joiner-1$/.test(l)), 'control: the dumpable joiner was caught and ptrace-attached');
  t.ok(findings(/^tsrun-joiner-1$/).some((l) => /^(CWD|EXE) /.test(l)), `control: and its cwd and exe links were readable: ${findings(/^tsrun-joiner-1$/).filter((l) => !l.startsWith('PTRACE')).slice(0, 2).join('; ')}`);
  t.ok(caught(/^tsrun-joiner-0$/) > 0, 'the non-dumpable joiner was caught');
  t.same(findings(/^tsrun-joiner-0$/), [], 'and nothing could be done to it');
  const helpers = caught(/^(memfd:|tsrun)(?!-joiner)/);
  t.ok(helpers > 0, `tsrun's joining helpers were caught in the act (${helpers} times)`);
  t.same(findings(/^(memfd:|tsrun)(?!-joiner)/), [], 'none could be ptrace-attached, and no fd, cwd or exe of one was readable');
  t.notMatch(text, /WRITE-OPEN/, 'no /proc/<pid>/exe was opened for writing');
});

t.test('CVE-2019-5736: "#!/proc/self/exe" run by exec gets the sealed memfd copy, never a writable helper', async (t) => {
  const before = sha256(helperBin);
  const { bundle, state } = await setup(t, ['/attacker', 'exe', '4']);
  copyFileSync(attacker(), join(bundle.rootfs, 'attacker'));
  chmodSync(join(bundle.rootfs, 'attacker'), 0o755);
  // The shebang trick: exec of /evil runs "/proc/self/exe" (the process doing the execve) as its interpreter.
  writeFileSync(join(bundle.rootfs, 'evil'), '#!/proc/self/exe\n');
  chmodSync(join(bundle.rootfs, 'evil'), 0o755);
  // The attacker (the init) reports on its stdout, a file here, once its time is up.
  const outDir = mkdtempSync(join(tmpdir(), 'tsrun-test-out-'));
  t.teardown(() => rmSync(outDir, { recursive: true, force: true }));
  const out = openSync(join(outDir, 'out'), 'w');
  const code = await new Promise<number>((resolve) => {
    const child = spawn(tsrunBin, ['--root', state.root, 'run', '-d', '--bundle', bundle.dir, 'exe2'], { stdio: ['ignore', out, out] });
    child.on('exit', (c) => resolve(c ?? 255));
  });
  closeSync(out);
  t.equal(code, 0, 'run -d');
  let evil = 0;
  for (let i = 0; i < 15; i++) if ((await state.cli(['exec', 'exe2', '/evil'])).code !== 255) evil++;
  const pid = JSON.parse((await state.cli(['state', 'exe2'])).stdout).pid;
  for (let i = 0; i < 400 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 25));
  const text = readFileSync(join(outDir, 'out'), 'utf8');
  const summary = /scanned (\d+) helpers (\d+) exe-writes (\d+) helper-access (\d+)/.exec(text);
  t.ok(summary, `the attacker reported: ${text.slice(-300)}`);
  t.comment(`${evil} execs of /evil; attacker: ${summary?.[0]}`);
  t.equal(summary?.[3], '0', 'no /proc/<pid>/exe opened for writing while /evil ran');
  t.equal(summary?.[4], '0', 'no helper fd, cwd or exe readable');
  t.notMatch(text, /WRITE-OPEN|PTRACE-ATTACH/);
  t.equal(sha256(helperBin), before, 'the on-disk helper is unchanged');
});

/** Runs tsrun with extra fds 3.. open (a directory of the host, a file), stdout/stderr to a file. */
function runWithFds(args: string[], extra: number[]): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-out-'));
  const out = openSync(join(dir, 'out'), 'w');
  return new Promise((resolve) => {
    const child = spawn(tsrunBin, args, { stdio: ['ignore', out, out, ...extra] });
    child.on('exit', (c) => {
      closeSync(out);
      const text = readFileSync(join(dir, 'out'), 'utf8');
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: c ?? 255, out: text });
    });
  });
}

t.test('CVE-2024-21626: only stdio and preserved fds reach the container', async (t) => {
  const { bundle, state } = await setup(t, ['/probe', 'info']);
  const fds = [openSync('/', 'r'), openSync('/etc', 'r'), openSync(bundle.configPath, 'r')];
  t.teardown(() => fds.forEach((f) => closeSync(f)));
  const r = await runWithFds(['--root', state.root, 'run', '--bundle', bundle.dir, 'fd1'], fds);
  t.equal(r.code, 0, r.out);
  const info = JSON.parse(r.out.slice(r.out.indexOf('{')));
  t.same(info.fds.filter((f: any) => f.fd > 2), [], `fds 3.. of tsrun's caller are not inherited: ${JSON.stringify(info.fds)}`);
  const p = await runWithFds(['--root', state.root, 'run', '--preserve-fds', '1', '--bundle', bundle.dir, 'fd2'], fds);
  t.equal(p.code, 0, p.out);
  const pi = JSON.parse(p.out.slice(p.out.indexOf('{')));
  t.same(pi.fds.filter((f: any) => f.fd > 2).map((f: any) => f.fd), [3], 'exactly the one preserved fd');
  const bad = await state.cli(['run', '--preserve-fds', '3', '--bundle', bundle.dir, 'fd3']);
  t.not(bad.code, 0, '--preserve-fds beyond what is open is an error');
  t.match(bad.stderr, /preserve-fds 3: file descriptor 3 is not open/);
  t.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), [], 'nothing left');
});

t.test('CVE-2024-21626: process.cwd = /proc/self/fd/N never reaches the host', async (t) => {
  const { bundle, state } = await setup(t, ['/probe', 'info']);
  const fds = [openSync('/', 'r'), openSync('/etc', 'r'), openSync(tmpdir(), 'r')];
  t.teardown(() => fds.forEach((f) => closeSync(f)));
  for (const n of [3, 4, 5, 6, 7, 8, 10, 20]) {
    bundle.config.process.cwd = `/proc/self/fd/${n}`;
    writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
    const r = await runWithFds(['--root', state.root, 'run', '--bundle', bundle.dir, `cwd${n}`], fds);
    if (r.code === 0) {
      const info = JSON.parse(r.out.slice(r.out.indexOf('{')));
      t.notMatch(info.cwd, /unreachable/, `cwd fd ${n}: inside the container (${info.cwd})`);
      t.ok(info.cwd.startsWith('/proc/self/fd/') || info.cwd === '/', `cwd fd ${n}: ${info.cwd}`);
    } else {
      t.pass(`cwd /proc/self/fd/${n} refused: ${r.out.trim().split('\n').pop()}`);
    }
  }
  // exec --cwd through a symlink to a magic link
  bundle.config.process.cwd = '/';
  bundle.config.process.args = ['/probe', 'sleep', '30'];
  bundle.config.root.readonly = false;
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const c = await state.cli(['run', '-d', '--bundle', bundle.dir, 'cwdexec']);
  t.equal(c.code, 0, c.stderr);
  for (const n of [3, 4, 7]) {
    const r = await runWithFds(['--root', state.root, 'exec', '--cwd', `/proc/self/fd/${n}`, 'cwdexec', '/probe', 'info'], fds);
    if (r.code === 0) t.notMatch(JSON.parse(r.out.slice(r.out.indexOf('{'))).cwd, /unreachable|^\/etc|^\/tmp/, `exec --cwd fd ${n}`);
    else t.pass(`exec --cwd /proc/self/fd/${n} refused`);
  }
});
