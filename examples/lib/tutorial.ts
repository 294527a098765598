/**
 * What every tutorial step shares: printing (headings, prose, the plan),
 * a scratch directory, a rootfs, and cleanup that runs whatever happens
 * (a thrown error, ^C), never removing anything through a mount.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { spawnSync } from 'node:child_process';
import { formatPlan } from '../../lib/plan/index.js';
import type { Plan } from '../../lib/plan/index.js';
import { buildBusyboxRootfs, buildRootfsFromHost, findExecutable, type RootfsReport } from '../../lib/rootfs/index.js';

const tty = process.stdout.isTTY === true;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);

/** Prints a line. */
export function say(s = ''): void {
  console.log(s);
}

/** A heading. */
export function heading(s: string): void {
  say();
  say(bold(`== ${s}`));
}

/** Prose, wrapped at 78 columns. */
export function explain(text: string): void {
  for (const para of text.trim().split(/\n\s*\n/)) {
    say();
    const words = para.replace(/\s+/g, ' ').trim().split(' ');
    let line = '';
    for (const w of words) {
      if (line && line.length + 1 + w.length > 78) {
        say(line);
        line = w;
      } else line = line ? `${line} ${w}` : w;
    }
    if (line) say(line);
  }
}

/** A block shown as-is and indented (a shell recipe, program output). */
export function block(text: string, indent = '    '): void {
  for (const l of text.replace(/\n$/, '').split('\n')) say(dim(indent) + l);
}

/** Prints the plan with every system call and the reason for it: what tsrun-init is about to do. */
export function showPlan(plan: Plan): void {
  heading('The plan (what tsrun-init will do, step by step)');
  say();
  block(formatPlan(plan, { explain: true }), '  ');
}

/** One result line: `label: value`, with a check mark when `ok` is given. */
export function result(label: string, value: string, ok?: boolean): void {
  const mark = ok === undefined ? '' : ok ? '  [ok]' : '  [UNEXPECTED]';
  say(`  ${label.padEnd(34)} ${value}${mark}`);
}

/** Namespace flags for `CLONE` steps. */
export { CLONE } from '../../lib/sys/libc.js';

/** Exits with a message unless running as root. */
export function requireRoot(command: string): void {
  if (process.getuid?.() !== 0) {
    console.error(`this example creates namespaces and mounts: run it as root (sudo node ${command})`);
    process.exit(1);
  }
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir` in Node's mount namespace (the host's), deepest first. */
export function mountsUnder(dir: string): string[] {
  const root = resolve(dir);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => Boolean(p))
    .map(unescapeMountinfo)
    .filter((p) => p === root || p.startsWith(root + sep))
    .sort((a, b) => b.length - a.length);
}

const cleanups: (() => unknown)[] = [];

/** Registers an undo action; they run last-in first-out when the example ends. */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/**
 * A scratch directory under the OS temp dir, removed at the end. Removal
 * never crosses a mount: if a bug left one below it, it is detached first,
 * and if that fails the directory is left and reported.
 */
export function scratchDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tsrun-example-${name}-`));
  onCleanup(() => {
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    const left = mountsUnder(dir);
    if (left.length) throw new Error(`not removing ${dir}: still mounted below it: ${left.join(', ')}`);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A rootfs at `dest`: the host's busybox with its applets, or sh/ls/cat/... with their libraries. */
export async function makeRootfs(dest: string): Promise<RootfsReport> {
  if (await findExecutable('busybox')) return buildBusyboxRootfs(dest, { hostname: 'tsrun-example' });
  return buildRootfsFromHost({ dest, binaries: ['sh', 'ls', 'cat', 'hostname', 'id', 'ps', 'tail', 'head', 'wc'], hostname: 'tsrun-example' });
}

async function runCleanups(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (e) {
      console.error(`cleanup: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  }
}

/**
 * Runs an example's main function, then its cleanups, also on ^C or
 * SIGTERM. A failure prints its message (and the plan step, for a
 * ChildSetupError) and sets exit status 1.
 */
export async function runExample(main: () => Promise<void>): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      void runCleanups().finally(() => process.exit(130));
    });
  }
  try {
    await main();
  } catch (e) {
    const err = e as Error & { op?: string; field?: string };
    console.error(`\nfailed: ${err.message}${err.op ? ` (step ${err.op})` : ''}`);
    process.exitCode = 1;
  } finally {
    await runCleanups();
  }
}

/** True when a path exists. */
export function exists(p: string): boolean {
  return existsSync(p);
}
