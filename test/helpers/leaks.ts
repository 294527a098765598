/**
 * Leak checks for integration tests: no mount, cgroup or runtime state
 * directory may outlive a test (DESIGN "Tests" rule 5), and the host's
 * hostname and domainname must be what they were.
 *
 * ```ts
 * t.test('runs', async (t) => {
 *   await guardLeaks(t);           // first: tap runs teardowns last-in first-out,
 *   const b = await makeBundle();  // so the check runs after every cleanup below
 *   t.teardown(b.cleanup);
 *   ...
 * });
 * ```
 *
 * Other processes on the machine (someone else's test run) can create
 * tsrun cgroups or state concurrently; pass `ignore` to narrow the check.
 */
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** What exists at one moment. */
export interface LeakSnapshot {
  /** `"<mount id> <mount point> <fstype>"` from /proc/self/mountinfo. */
  mounts: string[];
  /** Cgroup directories (any hierarchy) whose name contains `tsrun`. */
  cgroups: string[];
  /** Paths under /run/tsrun (three levels deep). */
  runtimeState: string[];
  /** Host-wide settings a container must never change: `hostname=...`, `domainname=...`. */
  host: string[];
}

/** Options of {@link snapshotLeaks} and {@link guardLeaks}. */
export interface LeakOptions {
  /** Cgroup mount root (default /sys/fs/cgroup). */
  cgroupRoot?: string;
  /** Runtime state dir (default /run/tsrun). */
  stateDir?: string;
  /** Items for which this returns true are not reported. */
  ignore?: (kind: keyof LeakSnapshot, item: string) => boolean;
}

const MAX_CGROUP_DEPTH = 8;

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function readMounts(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 7 || dash < 0) continue;
    out.push(`${f[0]} ${unescapeMountinfo(f[4]!)} ${f[dash + 1]}`);
  }
  return out;
}

/** A sethostname() that missed its UTS namespace changes these for the whole machine. */
function readHostSettings(): string[] {
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  return [`hostname=${read('/proc/sys/kernel/hostname')}`, `domainname=${read('/proc/sys/kernel/domainname')}`];
}

async function walkCgroups(dir: string, depth: number, out: string[]): Promise<void> {
  if (depth > MAX_CGROUP_DEPTH) return;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return; // removed while walking, or not a cgroup fs
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const p = join(dir, e.name);
    if (e.name.includes('tsrun')) out.push(p);
    await walkCgroups(p, depth + 1, out);
  }
}

async function walkState(dir: string, depth: number, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory() && depth < 3) await walkState(p, depth + 1, out);
  }
}

/** Records the mount table, tsrun cgroups and /run/tsrun entries now. */
export async function snapshotLeaks(opts: LeakOptions = {}): Promise<LeakSnapshot> {
  const cgroups: string[] = [];
  await walkCgroups(opts.cgroupRoot ?? '/sys/fs/cgroup', 0, cgroups);
  const runtimeState: string[] = [];
  await walkState(opts.stateDir ?? '/run/tsrun', 1, runtimeState);
  return { mounts: readMounts(), cgroups: cgroups.sort(), runtimeState: runtimeState.sort(), host: readHostSettings() };
}

/** What is in `after` and was not in `before` (minus ignored items). */
export function newSince(before: LeakSnapshot, after: LeakSnapshot, ignore?: LeakOptions['ignore']): LeakSnapshot {
  const diff = (kind: keyof LeakSnapshot) => {
    const old = new Set(before[kind]);
    return after[kind].filter((x) => !old.has(x) && !ignore?.(kind, x));
  };
  return { mounts: diff('mounts'), cgroups: diff('cgroups'), runtimeState: diff('runtimeState'), host: diff('host') };
}

/** Human-readable list of leaks, or '' when there are none. */
export function describeLeaks(leaks: LeakSnapshot): string {
  const parts: string[] = [];
  if (leaks.mounts.length) parts.push(`mounts: ${leaks.mounts.join(', ')}`);
  if (leaks.cgroups.length) parts.push(`cgroups: ${leaks.cgroups.join(', ')}`);
  if (leaks.runtimeState.length) parts.push(`runtime state: ${leaks.runtimeState.join(', ')}`);
  if (leaks.host.length) parts.push(`host settings changed: ${leaks.host.join(', ')}`);
  return parts.join('; ');
}

/** Throws when something new remains since `before`. */
export async function assertNoLeaks(before: LeakSnapshot, opts: LeakOptions = {}): Promise<void> {
  // Cgroup removal and lazy unmounts can lag the process exit a little: look again before blaming.
  let leaks = newSince(before, await snapshotLeaks(opts), opts.ignore);
  for (let i = 0; i < 10 && describeLeaks(leaks); i++) {
    await new Promise((r) => setTimeout(r, 50));
    leaks = newSince(before, await snapshotLeaks(opts), opts.ignore);
  }
  const text = describeLeaks(leaks);
  if (text) throw new Error(`leaked after test: ${text}`);
}

/** The part of tap's Test this needs. */
interface Teardownable {
  teardown(fn: () => unknown): void;
}

/**
 * Snapshots now and registers a teardown that fails the test if anything
 * new remains. Call it before registering other cleanups (teardowns run
 * last-in first-out, so this one then runs after them).
 */
export async function guardLeaks(t: Teardownable, opts: LeakOptions = {}): Promise<LeakSnapshot> {
  const before = await snapshotLeaks(opts);
  t.teardown(() => assertNoLeaks(before, opts));
  return before;
}
