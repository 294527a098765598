/**
 * Gathering a container's picture from the kernel: its processes from the
 * cgroup, their parents and command lines from procfs, the init's
 * namespaces, the cgroup's limits and usage, and the init's mount table.
 * Reading only: nothing here changes the container, and a process that
 * exits meanwhile is left out with a note.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { loadCgroupManager, type CgroupManager, type CgroupStats, type SavedCgroup } from '../cgroups/index.js';
import { processNamespaces } from '../namespaces/index.js';
import { loadContainerState, type RuntimeContext } from '../runtime/lifecycle.js';
import type { SavedState } from '../runtime/state-store.js';
import type { ContainerStatus } from '../spec/types.js';
import { parseMountinfo } from './mountinfo.js';
import type { InspectCgroup, InspectProcess, InspectReport } from './types.js';

/** Values at or above this are the kernel's "no limit" (v1 prints 2^63 rounded down to a page). */
const UNLIMITED = 2 ** 62;

/** Where procfs is, and the host's pid 1 for namespace comparison (tests point these elsewhere). */
export interface CollectOptions {
  /** procfs mount, default `/proc`. */
  procRoot?: string;
  /** The process whose namespaces are the host's; pid 1 by default (tsrun itself when pid 1 is hidden). */
  hostPid?: number;
}

/** The ppid field of `/proc/<pid>/stat` (after the parenthesised comm, which may hold spaces). */
export function parseStatPpid(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = stat.slice(close + 2).split(' ');
  const ppid = Number(rest[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** The innermost pid of `NSpid:` in `/proc/<pid>/status`: the pid as the container sees it. */
export function parseNsPid(status: string): number | undefined {
  const m = /^NSpid:\s+(.*)$/m.exec(status);
  const last = m?.[1]?.trim().split(/\s+/).at(-1);
  return last ? Number(last) : undefined;
}

/** One process as procfs shows it, or undefined when it is gone. */
export function readProcess(pid: number, initPid: number, procRoot = '/proc'): InspectProcess | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    const ppid = parseStatPpid(stat) ?? 0;
    const cmdline = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8');
    let command = cmdline.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
    if (command.length === 0) command = [`[${/\((.*)\)/.exec(stat)?.[1] ?? '?'}]`];
    let nsPid: number | undefined;
    try {
      nsPid = parseNsPid(readFileSync(`${procRoot}/${pid}/status`, 'utf8'));
    } catch {
      /* gone between the reads */
    }
    return { pid, ppid, ...(nsPid !== undefined ? { nsPid } : {}), command, init: pid === initPid };
  } catch {
    return undefined;
  }
}

/**
 * The process whose namespaces count as the host's: pid 1, or tsrun itself
 * when pid 1's are not readable (a sandbox that hides its init).
 */
function hostReference(procRoot: string, notes: string[]): number {
  try {
    readlinkSync(`${procRoot}/1/ns/mnt`);
    return 1;
  } catch {
    notes.push('the namespaces of pid 1 are not readable: "host" means the namespaces of this tsrun process');
    return process.pid;
  }
}

const limitOrNull = (n: number) => (n <= 0 || n >= UNLIMITED ? null : n);

/** The cgroup part of the report from a manager's stats. */
export function cgroupSummary(cg: Pick<CgroupManager, 'driver' | 'paths'>, stats: CgroupStats, oomKills?: number): InspectCgroup {
  return {
    driver: cg.driver,
    paths: { ...cg.paths },
    memory: {
      usage: stats.memory.usage.usage,
      max: stats.memory.usage.max,
      limit: limitOrNull(stats.memory.usage.limit),
      failcnt: stats.memory.usage.failcnt,
    },
    pids: { current: stats.pids.current, limit: limitOrNull(stats.pids.limit) },
    cpuNs: stats.cpu.usage.total,
    ...(oomKills !== undefined ? { oomKills } : {}),
  };
}

/** Builds the report for a loaded container state. */
export function collectReport(saved: SavedState, status: ContainerStatus, opts: CollectOptions = {}): InspectReport {
  const procRoot = opts.procRoot ?? '/proc';
  const notes: string[] = [];
  const alive = status !== 'stopped';
  const initPid = alive ? saved.initPid : 0;
  const report: InspectReport = {
    id: saved.id,
    status,
    bundle: saved.bundle,
    rootfs: saved.rootfs,
    initPid,
    processes: [],
    namespaces: [],
    cgroup: null,
    mounts: [],
    notes,
  };

  let cg: CgroupManager | undefined;
  if (saved.cgroup && (saved.cgroup as SavedCgroup).driver !== 'null') {
    try {
      cg = loadCgroupManager(saved.cgroup as SavedCgroup);
      report.cgroup = cgroupSummary(cg, cg.stats(), cg.oomEvents?.());
    } catch (e) {
      notes.push(`cgroup: ${(e as Error).message}`);
    }
  }
  if (!alive) return report;

  let pids: number[] = [];
  try {
    pids = cg ? cg.pids() : [initPid];
  } catch (e) {
    notes.push(`cgroup processes: ${(e as Error).message}`);
    pids = [initPid];
  }
  if (!pids.includes(initPid)) pids.unshift(initPid);
  for (const pid of [...new Set(pids)].sort((a, b) => a - b)) {
    const p = readProcess(pid, initPid, procRoot);
    if (p) report.processes.push(p);
    else notes.push(`process ${pid} exited while being read`);
  }
  report.namespaces = processNamespaces(initPid, { procRoot, hostPid: opts.hostPid ?? hostReference(procRoot, notes) });
  try {
    report.mounts = parseMountinfo(readFileSync(`${procRoot}/${initPid}/mountinfo`, 'utf8'));
  } catch (e) {
    notes.push(`mounts: ${(e as Error).message}`);
  }
  return report;
}

/**
 * Loads a container from the state root and gathers its report.
 * @throws NotFoundError when no such container exists.
 */
export function inspectContainer(ctx: RuntimeContext, id: string, opts: CollectOptions = {}): InspectReport {
  const { saved, status } = loadContainerState(ctx, id);
  return collectReport(saved, status, opts);
}
