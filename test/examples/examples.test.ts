/**
 * Runs every tutorial step under examples/ as a reader would (root) and
 * checks what it shows: the plan with its system calls and reasons, and
 * the isolation each step promises. Each example must also clean up: no
 * mount, cgroup, state or scratch directory may remain.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { guardLeaks } from '../helpers/leaks.js';
import { repoRoot } from '../helpers/paths.js';

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Runs build/examples/<name>.js, killing it (by its pid) after 90 s. */
function runExample(name: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'build', 'examples', `${name}.js`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

/** The value of a `  label   value  [ok]` result line. */
function resultLine(out: string, label: string): { value: string; ok: boolean | undefined } | undefined {
  for (const line of out.split('\n')) {
    if (!line.startsWith(`  ${label}`)) continue;
    const rest = line.slice(2 + label.length).trim();
    const m = /^(.*?)(?:\s+\[(ok|UNEXPECTED)\])?$/.exec(rest)!;
    return { value: m[1]!.trim(), ok: m[2] === undefined ? undefined : m[2] === 'ok' };
  }
  return undefined;
}

function scratchLeft(n: string): string[] {
  return readdirSync(tmpdir()).filter((e) => e.startsWith(`tsrun-example-${n}-`));
}

async function check(t: Test, name: string, expect: (out: string, t: Test) => void): Promise<void> {
  await guardLeaks(t);
  const n = name.slice(0, 2);
  const before = new Set(scratchLeft(n));
  const r = await runExample(name);
  t.equal(r.code, 0, `exit status 0 (stderr: ${r.err.trim()})`);
  t.equal(r.err, '', 'nothing on stderr');
  t.match(r.out, /== The plan \(what tsrun-init will do, step by step\)/, 'prints the plan');
  t.match(r.out, /syscall: /, 'with the system calls');
  t.match(r.out, /why: /, 'and why');
  t.notMatch(r.out, /\[UNEXPECTED\]/, 'every result as expected');
  t.ok(r.out.split('\n').filter((l) => l.endsWith('[ok]')).length >= 1, 'checked results');
  expect(r.out, t);
  t.same(scratchLeft(n).filter((e) => !before.has(e)), [], 'scratch directory removed');
}


t.test('01: a rootfs and a plan without namespaces', (t) =>
  check(t, '01-rootfs', (out, t) => {
    t.match(out, /hello from \/tmp\/tsrun-example-01-[^/]+\/rootfs\/bin\/sh/);
    t.match(out, new RegExp(`my hostname: ${hostname()}`), 'the host\'s hostname: nothing isolated yet');
    t.match(out, /helper CLONE +\(example 01\) +0\n/);
  }));

t.test('02: UTS namespace', (t) =>
  check(t, '02-uts-namespace', (out, t) => {
    t.equal(resultLine(out, 'hostname inside the container')?.value, 'tsrun-box');
    t.equal(resultLine(out, 'hostname of the host')?.value, hostname());
    t.not(hostname(), 'tsrun-box');
    t.match(out, /uts +\d+ +its own/);
    t.match(out, /mount +\d+ +shared with the host/);
    t.match(out, /CLONE +\(example 02\) +CLONE_NEWUTS/);
    t.match(out, /HOSTNAME +\(example 02\) +"tsrun-box"\n +syscall: sethostname/);
  }));

t.test('03: mount namespace, bind mount, pivot_root', (t) =>
  check(t, '03-mount-namespace', (out, t) => {
    t.match(out, /hostname: tsrun-box/);
    t.match(out, /shared: hello from a host directory/);
    t.match(out, /shared writable: no/);
    t.equal(resultLine(out, 'old root gone')?.ok, true);
    const mounts = [...out.matchAll(/^ +mount: (\S+) /gm)].map((m) => m[1]);
    t.same(mounts.sort(), ['/', '/mnt/shared', '/proc'], 'only the container\'s mounts: the old root is gone');
    t.match(out, /PIVOT_ROOT +\(example 03\)\n +syscall: pivot_root\("\.", "\."\) \+ umount2\(MNT_DETACH\)/);
    t.match(out, /pivot_root \. \./, 'the manual recipe');
  }));

t.test('04: PID namespace and /proc', (t) =>
  check(t, '04-pid-namespace', (out, t) => {
    t.match(out, /my pid: 1\n/);
    t.equal(resultLine(out, 'pid inside')?.value, '1');
    const host = Number(resultLine(out, 'pid on the host')?.value);
    t.ok(host > 1);
    t.equal(resultLine(out, 'NSpid in /proc/<pid>/status')?.value, `${host} 1 (host pid, then pid inside)`);
    t.match(out, /CLONE_NEWPID/);
  }));

t.test('05: user namespace as nobody', (t) =>
  check(t, '05-user-namespace', (out, t) => {
    t.match(out, /id: uid=0\(root\)/);
    t.equal(resultLine(out, 'uid of the same process on the host')?.value, '65534');
    t.equal(resultLine(out, 'uid_map (written by the helper)')?.value, '0 65534 1');
    t.equal(resultLine(out, 'can change host sysctls')?.value, 'no');
    t.match(out, /USER_MAPS +\(example 05\) +uid_map "0 65534 1" gid_map "0 65534 1" setgroups deny/);
  }));

t.test('06: cgroup memory limit and OOM', (t) =>
  check(t, '06-cgroup-memory', (out, t) => {
    t.equal(resultLine(out, 'container ended by')?.value, 'signal 9 (SIGKILL)');
    t.ok(Number(resultLine(out, 'OOM kills in the cgroup')?.value) >= 1, 'the OOM kill is seen');
    t.match(out, /allocating until the limit/);
  }));

t.test('07: createContainer', (t) =>
  check(t, '07-create-container', (out, t) => {
    t.equal(resultLine(out, 'status after createContainer')?.value, 'created');
    t.equal(resultLine(out, 'pid inside')?.value, '1');
    t.equal(resultLine(out, 'hostname inside / on the host')?.value, `tsrun-library / ${hostname()}`);
    t.match(out, /PIVOT_ROOT +root\.path/);
    t.match(out, /MASK_PATH +linux\.maskedPaths\[0\]/);
  }));
