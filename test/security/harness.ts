/**
 * Shared set-up of the security suite: bundles and state roots that clean up
 * after themselves, small C programs compiled once per test process (the
 * "attacker" binaries a hostile image would ship, and host-side receivers),
 * and host marker directories whose contents must not change.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle, type TestBundle } from '../helpers/bundle.js';
import { makeStateRoot, type StateRoot } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { guardLeaks } from '../helpers/leaks.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- configs are edited freely */

export interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** A bundle (busybox + /probe) and a state root, both removed when the test ends; leaks fail the test. */
export async function setup(t: Teardownable, args?: string[], edit?: (c: any) => void): Promise<{ bundle: TestBundle; state: StateRoot }> {
  // The shared parent cgroup (<hierarchy>/tsrun) comes and goes with other suites' containers: only ours count.
  await guardLeaks(t, { ignore: (kind, item) => kind === 'cgroups' && /\/tsrun$/.test(item) });
  const bundle = await makeBundle({ args, config: edit });
  const state = await makeStateRoot();
  t.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  return { bundle, state };
}

let cdir: string | undefined;
const compiled = new Map<string, string>();

/** Compiles `source` (C) once per process; `static` for programs copied into a rootfs. */
export function compileC(name: string, source: string, opts: { static?: boolean } = {}): string {
  const key = `${name}:${opts.static ? 's' : 'd'}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  if (!cdir) {
    cdir = mkdtempSync(join(tmpdir(), 'tsrun-test-cc-'));
    const d = cdir;
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  const src = join(cdir, `${name}.c`);
  const out = join(cdir, name);
  writeFileSync(src, source);
  execFileSync('cc', ['-O1', '-D_GNU_SOURCE', ...(opts.static ? ['-static'] : []), '-o', out, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  compiled.set(key, out);
  return out;
}

/** A host directory standing for "the host" (/etc, /tmp/hostdir): an attack must leave it exactly as it was. */
export interface Marker {
  dir: string;
  /** Every entry below dir with its type, mode and contents hash. */
  snapshot(): string[];
  cleanup(): void;
}

export function makeMarker(t: Teardownable, files: Record<string, string> = { 'marker.txt': 'host marker\n' }): Marker {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-host-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const walk = (d: string, rel: string, out: string[]) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const r = rel ? `${rel}/${name}` : name;
      if (st.isDirectory()) {
        out.push(`${r}/ ${st.mode.toString(8)}`);
        walk(p, r, out);
      } else if (st.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(p)}`);
      else out.push(`${r} ${st.mode.toString(8)} ${st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : `rdev ${st.rdev}`}`);
    }
  };
  const m: Marker = {
    dir,
    snapshot() {
      const out: string[] = [];
      walk(dir, '', out);
      return out;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  t.teardown(() => m.cleanup());
  return m;
}

/** The host's mount points at or below `dir` (nothing may be mounted there for the host). */
export function hostMountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(dir + '/'));
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `tsrun state` until the container has `status` (or fails after ~5 s). */
export async function waitStatus(state: StateRoot, id: string, status: string): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const s = await state.cli(['state', id]);
    if (s.code === 0 && JSON.parse(s.stdout).status === status) return true;
    await sleep(25);
  }
  return false;
}

/**
 * The fast attacker: exchanges names a and b in dir with renameat2
 * RENAME_EXCHANGE in a loop (test/security/c/swapper.c), some 300,000 times
 * a second, which reaches the microseconds between two syscalls of tsrun; a
 * shell loop of mv spawns a process per rename, but passes through states
 * where a name is missing, which this one never does. Tests use both.
 */
export function exchanger(t: Teardownable, dir: string, a: string, b: string): () => void {
  const bin = compileC('swapper', readFileSync(join(repoRoot, 'test', 'security', 'c', 'swapper.c'), 'utf8'));
  return stopper(t, spawn(bin, [dir, a, b], { stdio: 'ignore' }));
}

/**
 * Kills a racing attacker by its pid, once: a second kill could reach the pid
 * after it was reaped (ESRCH, or another process). Also registered as teardown.
 */
export function stopper(t: Teardownable, child: ChildProcess): () => void {
  let stopped = false;
  const stop = () => {
    if (stopped || !child.pid) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  };
  t.teardown(stop);
  return stop;
}
