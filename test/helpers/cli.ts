/**
 * Drives `bin/tsrun` like an engine does, and owns throwaway state roots
 * whose cleanup removes every container a test left behind.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from './fsutil.js';
import { tsrunBin } from './paths.js';

/** Options of {@link tsrunCli}. */
export interface CliOptions {
  /** `--root`; omitted from the command line when not given. */
  root?: string;
  /** Written to stdin, which is then closed (stdin is /dev/null otherwise). */
  input?: string;
  /** The environment (default: the test's own). Pass `{}` to call it as podman does, with no PATH. */
  env?: NodeJS.ProcessEnv;
  /** Kill the CLI (SIGKILL, by its pid) after this long; default 60 s. */
  timeoutMs?: number;
}

/** Outcome of one CLI call; `code` is 128 + signal when it was killed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** True when `timeoutMs` elapsed and the CLI was killed. */
  timedOut: boolean;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/**
 * Runs `<repo>/bin/tsrun [--root ROOT] ...args` and collects its output.
 * Never throws for a non-zero exit.
 *
 * stdout and stderr go to temporary files, not pipes, and the result comes
 * when tsrun itself exits: after `create` (or `run --detach`) the container
 * inherits those fds and keeps them open, so waiting for a pipe to reach EOF
 * would wait for the container.
 */
export async function tsrunCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const argv = opts.root ? ['--root', opts.root, ...args] : [...args];
  const limit = opts.timeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-cli-'));
  const outFd = openSync(join(dir, 'stdout'), 'w');
  const errFd = openSync(join(dir, 'stderr'), 'w');
  try {
    const { code, timedOut } = await new Promise<{ code: number; timedOut: boolean }>((resolvePromise, reject) => {
      const child = spawn(tsrunBin, argv, {
        env: opts.env ?? process.env,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', outFd, errFd],
      });
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        if (child.pid) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }, limit);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('exit', (c, signal) => {
        clearTimeout(timer);
        resolvePromise({ code: c ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0), timedOut: killed });
      });
      if (opts.input !== undefined && child.stdin) {
        child.stdin.on('error', () => undefined); // the CLI may exit before reading it
        child.stdin.end(opts.input);
      }
    });
    const stdout = await readFile(join(dir, 'stdout'), 'utf8');
    const stderr = (await readFile(join(dir, 'stderr'), 'utf8')) + (timedOut ? `\n[tsrunCli: killed after ${limit} ms]\n` : '');
    return { code, stdout, stderr, timedOut };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    await rm(dir, { recursive: true, force: true });
  }
}

/** A throwaway `--root`; `cleanup()` kills and deletes whatever containers remain, then removes it. */
export interface StateRoot {
  root: string;
  /** `tsrunCli` with this root. */
  cli(args: string[], opts?: Omit<CliOptions, 'root'>): Promise<CliResult>;
  cleanup(): Promise<void>;
}

const ID_RE = /^[A-Za-z0-9_+.-]+$/;

function nsLink(pid: number | 'self', ns: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

/**
 * Only kill a pid that looks like a container process: in another pid
 * namespace or under another root than ours. A stale state file whose pid
 * was reused by a host process must not get that process killed.
 */
function looksLikeContainerProcess(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
  } catch {
    return false;
  }
  const otherPidNs = nsLink(pid, 'pid') !== undefined && nsLink(pid, 'pid') !== nsLink('self', 'pid');
  let otherRoot = false;
  try {
    otherRoot = readlinkSync(`/proc/${pid}/root`) !== readlinkSync('/proc/self/root');
  } catch {
    /* gone */
  }
  return otherPidNs || otherRoot;
}

async function containerPid(root: string, id: string): Promise<{ pid?: number; status?: string }> {
  const r = await tsrunCli(['state', id], { root, timeoutMs: 20_000 });
  if (r.code === 0) {
    try {
      const s = JSON.parse(r.stdout) as { pid?: number; status?: string };
      return { pid: s.pid, status: s.status };
    } catch {
      /* fall through to the state file */
    }
  }
  // The CLI may be broken by the very change under test: read the state file directly.
  try {
    const s = JSON.parse(await readFile(join(root, id, 'state.json'), 'utf8')) as Record<string, unknown>;
    const pid = [s.pid, s.init_process_pid, s.initPid].find((v) => typeof v === 'number') as number | undefined;
    return { pid, status: typeof s.status === 'string' ? s.status : undefined };
  } catch {
    return {};
  }
}

/**
 * Kills and deletes every container in `root`: SIGKILL to the init pid read
 * from `tsrun state` (when it still looks like a container process), then
 * `tsrun delete --force`. Returns what went wrong, for the caller to report.
 */
export async function reapContainers(root: string): Promise<string[]> {
  const problems: string[] = [];
  let ids: string[] = [];
  try {
    ids = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && ID_RE.test(e.name)).map((e) => e.name);
  } catch {
    return problems;
  }
  for (const id of ids) {
    const { pid, status } = await containerPid(root, id);
    if (pid && pid > 0 && status !== 'stopped' && looksLikeContainerProcess(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
    }
    const d = await tsrunCli(['delete', '--force', id], { root, timeoutMs: 30_000 });
    if (d.code !== 0 && !/does not exist/.test(d.stderr)) problems.push(`delete --force ${id}: exit ${d.code}: ${d.stderr.trim()}`);
  }
  return problems;
}

/** A fresh state root under the OS temp dir (`tsrun-test-state-*`). */
export async function makeStateRoot(): Promise<StateRoot> {
  const root = await mkdtemp(join(tmpdir(), 'tsrun-test-state-'));
  return {
    root,
    cli: (args, opts = {}) => tsrunCli(args, { ...opts, root }),
    async cleanup() {
      const problems = await reapContainers(root);
      await removeTree(root);
      if (problems.length > 0) throw new Error(`state root cleanup: ${problems.join('; ')}`);
    },
  };
}
