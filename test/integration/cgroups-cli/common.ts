/**
 * Shared pieces of the cgroup command tests: bundles and state roots that
 * clean up after themselves, `create` with the container's stdout and stderr
 * in files (the container inherits them, so a pipe would stay open), and
 * readers for what the kernel says about a process's cgroups.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle, type TestBundle } from '../../helpers/bundle.js';
import { makeStateRoot, type StateRoot } from '../../helpers/cli.js';
import { guardLeaks } from '../../helpers/leaks.js';
import { tsrunBin } from '../../helpers/paths.js';
import { detectCgroupLayout } from '../../../lib/cgroups/index.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- tests edit arbitrary config fields */

/** The part of tap's Test the helpers need. */
export interface Tap {
  teardown(fn: () => unknown): void;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Outcome of a tsrun call whose stdout and stderr went to files. */
export interface FileRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A bundle, a state root and a scratch dir, all removed by teardowns (the leak check runs last). */
export interface Env {
  bundle: TestBundle;
  state: StateRoot;
  scratch: string;
  /** `tsrun --root <state> ...args` with stdout and stderr in files; resolves when tsrun exits. */
  tsrun(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<FileRun>;
  /** `create` then `start`; the container's stdout is the file `out(id)` reads. */
  launch(id: string, extra?: string[]): Promise<void>;
  /** What the container `id` (launched by `launch`) wrote on stdout so far. */
  out(id: string): string;
  /** The `state` JSON of `id`, or undefined when it does not exist. */
  info(id: string): Promise<any>;
  /** Polls until `info(id).status` is `status`. */
  waitStatus(id: string, status: string, ms?: number): Promise<void>;
}

/**
 * Every container, state entry and engine-style cgroup parent of these tests
 * has this in its name; the leak check looks at those (and at mounts under
 * the test's own bundle), since other test runs share the machine.
 */
export const MARK = 'cgcli';

export async function setup(t: Tap, args: string[], edit?: (c: any) => void): Promise<Env> {
  let bundleDir: string | undefined;
  await guardLeaks(t, {
    ignore: (kind, item) => {
      if (kind === 'cgroups' || kind === 'runtimeState') return !item.includes(MARK);
      if (kind === 'mounts') return bundleDir === undefined || !item.includes(bundleDir);
      return false;
    },
  });
  const bundle = await makeBundle({ args, config: edit });
  bundleDir = bundle.dir;
  const state = await makeStateRoot();
  const scratch = mkdtempSync(join(tmpdir(), 'tsrun-test-cgcli-'));
  t.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });
  let n = 0;
  const tsrun: Env['tsrun'] = (argv, opts = {}) => {
    const tag = String(n++);
    const outPath = join(scratch, `${tag}.out`);
    const errPath = join(scratch, `${tag}.err`);
    return runToFiles(['--root', state.root, ...argv], outPath, errPath, opts);
  };
  const env: Env = {
    bundle,
    state,
    scratch,
    tsrun,
    async launch(id, extra = []) {
      const outPath = join(scratch, `${id}.stdout`);
      const c = await runToFiles(['--root', state.root, 'create', '--bundle', bundle.dir, ...extra, id], outPath, join(scratch, `${id}.stderr`), {});
      if (c.code !== 0) throw new Error(`create ${id} failed (${c.code}): ${c.stderr}`);
      const s = await state.cli(['start', id]);
      if (s.code !== 0) throw new Error(`start ${id} failed (${s.code}): ${s.stderr}`);
    },
    out(id) {
      try {
        return readFileSync(join(scratch, `${id}.stdout`), 'utf8');
      } catch {
        return '';
      }
    },
    async info(id) {
      const r = await state.cli(['state', id]);
      if (r.code === 0) return JSON.parse(r.stdout);
      if (/container does not exist/.test(r.stderr)) return undefined;
      throw new Error(`tsrun state ${id}: exit ${r.code}: ${r.stderr}`);
    },
    async waitStatus(id, status, ms = 10_000) {
      const end = Date.now() + ms;
      let last: string | undefined;
      for (;;) {
        last = (await env.info(id))?.status;
        if (last === status) return;
        if (Date.now() > end) throw new Error(`${id}: status ${last}, waited ${ms} ms for ${status}`);
        await sleep(50);
      }
    },
  };
  return env;
}

/** Runs bin/tsrun with stdout and stderr in the given files and resolves when tsrun itself exits. */
export function runToFiles(argv: string[], outPath: string, errPath: string, opts: { input?: string; timeoutMs?: number }): Promise<FileRun> {
  const out = openSync(outPath, 'w');
  const err = openSync(errPath, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(tsrunBin, argv, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', out, err] });
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, 'SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      closeSync(out);
      closeSync(err);
      resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), stdout: readFileSync(outPath, 'utf8'), stderr: readFileSync(errPath, 'utf8') });
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Polls `fn` until it returns a truthy value; throws after `ms`. */
export async function until<T>(what: string, fn: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** The host's hierarchies: v1 controller (or `name=systemd`) -> mount dir, plus `unified` for cgroup2. */
export function hierarchies(): Record<string, string> {
  const layout = detectCgroupLayout();
  const h: Record<string, string> = { ...layout.v1 };
  if (layout.unified) h['unified'] = layout.unified;
  return h;
}

/** Distinct mount directories of every hierarchy (co-mounted controllers share one). */
export function hierarchyDirs(): string[] {
  return [...new Set(Object.values(hierarchies()))];
}

/** `/proc/<pid>/cgroup` as controller -> path (`unified` for the `0::` line; comounts split). */
export function procCgroups(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') out['unified'] = m[3]!;
    else for (const c of m[2]!.split(',')) out[c] = m[3]!;
  }
  return out;
}

/** Directories named `rel` that exist in any hierarchy. */
export function existingIn(rel: string): string[] {
  return hierarchyDirs().map((d) => join(d, rel)).filter((p) => existsSync(p));
}

/** A file of the container's cgroup in one v1 controller, read from the kernel. */
export function cgroupFile(pid: number, controller: string, file: string): string {
  const rel = procCgroups(pid)[controller];
  if (rel === undefined) throw new Error(`pid ${pid} has no ${controller} cgroup`);
  return readFileSync(join(hierarchies()[controller]!, rel, file), 'utf8').trim();
}

/** Host pids whose cgroup in `controller` is `rel` (a scan of /proc). */
export function pidsInCgroup(controller: string, rel: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (procCgroups(Number(name))[controller] === rel) out.push(Number(name));
    } catch {
      /* exited while scanning */
    }
  }
  return out.sort((a, b) => a - b);
}

/** True while the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Removes cgroup directories a test made outside tsrun's reach (engine-style parents), deepest first. */
export function removeCgroupDirs(rels: string[]): void {
  for (const rel of [...rels].sort((a, b) => b.length - a.length)) {
    for (const d of hierarchyDirs()) {
      try {
        rmdirSync(join(d, rel));
      } catch {
        /* absent */
      }
    }
  }
}
