/**
 * Shared pieces of the runc CLI contract tests: a bundle and a state root
 * that clean up after themselves (the leak check runs last), tsrun calls with
 * stdout and stderr in files (a container inherits them, so a pipe would stay
 * open), extra fds and environments, and small pollers.
 */
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle, writeBundleConfig, type TestBundle } from '../../helpers/bundle.js';
import { makeStateRoot, type StateRoot } from '../../helpers/cli.js';
import { guardLeaks } from '../../helpers/leaks.js';
import { tsrunBin } from '../../helpers/paths.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- tests edit arbitrary config fields */

export { tsrunBin, writeBundleConfig };

/** The part of tap's Test the helpers need. */
export interface Tap {
  teardown(fn: () => unknown): void;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Outcome of one tsrun call. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** tsrun's own pid. */
  pid: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** fds 3, 4, ... of tsrun (opened fds or Node stdio words). */
  extraFds?: (number | 'ignore' | 'pipe')[];
  /** Written to stdin (default: /dev/null). */
  input?: string;
  /** Called with tsrun's pid right after the spawn (to signal it). */
  onSpawn?: (pid: number) => void;
  timeoutMs?: number;
  cwd?: string;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGUSR1: 10 };

/** Runs `bin/tsrun ...args` (no implicit --root) with stdout and stderr in files; resolves when tsrun exits. */
export function runTsrun(args: string[], opts: RunOptions = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-clio-'));
  const outFd = openSync(join(dir, 'out'), 'w');
  const errFd = openSync(join(dir, 'err'), 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(tsrunBin, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', outFd, errFd, ...(opts.extraFds ?? [])],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), opts.timeoutMs ?? 60_000);
    if (child.pid) opts.onSpawn?.(child.pid);
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      closeSync(outFd);
      closeSync(errFd);
      const r: Run = {
        code: code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0),
        stdout: readFileSync(join(dir, 'out'), 'utf8'),
        stderr: readFileSync(join(dir, 'err'), 'utf8'),
        pid: child.pid ?? 0,
      };
      rmSync(dir, { recursive: true, force: true });
      resolve(r);
    });
  });
}

/** A bundle, a state root and a scratch dir, removed by teardowns. */
export interface Env {
  bundle: TestBundle;
  state: StateRoot;
  root: string;
  scratch: string;
  /** `tsrun --root <root> ...args`. */
  tsrun(args: string[], opts?: RunOptions): Promise<Run>;
  /** The `state` JSON of `id`, or undefined when it does not exist. */
  info(id: string): Promise<any>;
  /** Polls until the status of `id` is `status`; returns the last state. */
  waitStatus(id: string, status: string, ms?: number): Promise<any>;
  /** `create` (stdout and stderr of the container in scratch files) and, unless `created`, `start`. */
  launch(id: string, opts?: { extra?: string[]; created?: boolean }): Promise<any>;
}

/** Other engines' test runs on this machine may hold pooled cgroups of their own meanwhile. */
export const leakOptions = {
  ignore: (kind: string, item: string) =>
    (kind === 'cgroups' && (/tsrun-pool-|tsrun-clients-/.test(item) || item.endsWith('/tsrun'))) ||
    (kind === 'mounts' && /tsrun-clients-|\/tmp\/cl\//.test(item)) ||
    (kind === 'runtimeState' && !item.includes('tsrun-cli-')),
};

export async function setup(t: Tap, args: string[] = ['/probe', 'sleep', '600'], edit?: (c: any) => void): Promise<Env> {
  await guardLeaks(t, leakOptions);
  const bundle = await makeBundle({ args, config: edit });
  const state = await makeStateRoot();
  const scratch = mkdtempSync(join(tmpdir(), 'tsrun-test-cli-'));
  t.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });
  const env: Env = {
    bundle,
    state,
    root: state.root,
    scratch,
    tsrun: (a, o) => runTsrun(['--root', state.root, ...a], o),
    async info(id) {
      const r = await env.tsrun(['state', id]);
      return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    },
    async waitStatus(id, status, ms = 10_000) {
      const end = Date.now() + ms;
      let last: any;
      while (Date.now() < end) {
        last = await env.info(id);
        if (last?.status === status) return last;
        await sleep(20);
      }
      throw new Error(`${id}: status ${last?.status} after ${ms} ms, wanted ${status}`);
    },
    async launch(id, o = {}) {
      const c = await env.tsrun(['create', '--bundle', bundle.dir, ...(o.extra ?? []), id]);
      if (c.code !== 0) throw new Error(`create ${id}: exit ${c.code}: ${c.stderr}`);
      if (!o.created) {
        const s = await env.tsrun(['start', id]);
        if (s.code !== 0) throw new Error(`start ${id}: exit ${s.code}: ${s.stderr}`);
      }
      return env.info(id);
    },
  };
  return env;
}

/** Fields of /proc/<pid>/stat after the command name (index 0 = state, 1 = ppid). */
export function procStat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** True when pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st[0] !== 'Z' && st[0] !== 'X';
}

/** Polls until `pid` is gone or a zombie. */
export async function waitGone(pid: number, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await sleep(10);
  }
  return false;
}

/** Every pid whose /proc/<pid>/exe or cmdline mentions tsrun's CLI or helper and whose ancestor is us (leftover check). */
export function tsrunProcessesUnder(ancestor: number): number[] {
  const out: number[] = [];
  for (const p of execFileSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(p);
    if (!m) continue;
    if (Number(m[2]) === ancestor && /build\/lib\/cli\/main\.js|tsrun-init/.test(m[3]!)) out.push(Number(m[1]));
  }
  return out;
}

/** Writes a file and returns its path. */
export function scratchFile(dir: string, name: string, text: string, mode = 0o644): string {
  const p = join(dir, name);
  writeFileSync(p, text, { mode });
  return p;
}

/** python3 is needed for the subreaper parent and the console-socket receiver. */
export const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import socket; socket.recv_fds'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
