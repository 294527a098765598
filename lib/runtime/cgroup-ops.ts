/**
 * Lifecycle verbs that act on a container's cgroup: pause, resume, update,
 * stats, pids. The cgroup driver and paths come from the state saved at
 * create, so later calls need no `--systemd-cgroup`.
 */
import type { Resources } from '../spec/types.js';
import { loadCgroupManager, type CgroupManager, type CgroupStats, type SavedCgroup } from '../cgroups/index.js';
import { StatusError } from '../errors.js';
import { loadContainerState, type RuntimeContext } from './lifecycle.js';

function cgroupFor(ctx: RuntimeContext, id: string, verb: string, allowed: string[]): { cg: CgroupManager; status: string } {
  const { saved, status } = loadContainerState(ctx, id);
  if (!allowed.includes(status)) {
    throw new StatusError(status === 'stopped' ? 'container not running' : `container ${status === 'paused' ? 'paused' : 'not paused'}`, verb, status);
  }
  if (!saved.cgroup) throw new StatusError('container has no cgroup', verb, status);
  return { cg: loadCgroupManager(saved.cgroup as SavedCgroup), status };
}

/** `tsrun pause`: freezes every process of the container. */
export async function pauseContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const { cg, status } = cgroupFor(ctx, id, 'pause', ['running', 'created', 'paused']);
  if (status === 'paused') throw new StatusError('container paused', 'pause', status);
  await cg.freeze();
}

/** `tsrun resume`: thaws a paused container. */
export async function resumeContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const { cg, status } = cgroupFor(ctx, id, 'resume', ['paused', 'running', 'created']);
  if (status !== 'paused') throw new StatusError('container not paused', 'resume', status);
  await cg.thaw();
}

/** `tsrun update`: applies new resource limits to a live container (devices are left alone, as runc does). */
export function updateContainer(ctx: RuntimeContext, id: string, resources: Resources): string[] {
  const { cg } = cgroupFor(ctx, id, 'update', ['running', 'created', 'paused']);
  const { devices: _skipped, ...rest } = resources;
  return cg.apply(rest, { update: true });
}

/** Resource usage of a container, in runc's `events --stats` data shape. */
export function containerStats(ctx: RuntimeContext, id: string): CgroupStats {
  const { cg } = cgroupFor(ctx, id, 'events', ['running', 'created', 'paused']);
  return cg.stats();
}

/** Every process of the container (host pids), from its cgroup. */
export function containerPids(ctx: RuntimeContext, id: string): number[] {
  const { saved, status } = loadContainerState(ctx, id);
  if (status === 'stopped' && !saved.cgroup) return [];
  if (!saved.cgroup) return [saved.initPid];
  try {
    return loadCgroupManager(saved.cgroup as SavedCgroup).pids();
  } catch {
    return [];
  }
}

/** The OOM kill count of the container's cgroup, when the driver can tell. */
export function containerOomCount(ctx: RuntimeContext, id: string): number {
  const { saved } = loadContainerState(ctx, id);
  if (!saved.cgroup) return 0;
  return loadCgroupManager(saved.cgroup as SavedCgroup).oomEvents?.() ?? 0;
}
