/**
 * `lib/cgroups`: a cgroup library that knows nothing about containers.
 *
 * - {@link detectCgroupLayout}: which hierarchies the host mounts (v1, v2, hybrid, none).
 * - {@link createCgroupManager} / {@link loadCgroupManager}: one cgroup in every hierarchy.
 * - {@link planCgroupWrites}: `linux.resources` to file writes, pure and tested.
 * - {@link DEFAULT_DEVICE_RULES}: the device allow list runtimes prepend.
 */
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { CgroupError } from '../errors.js';
import { DEFAULT_CGROUP_ROOT, detectCgroupLayout } from './detect.js';
import { kernelCgroupFs } from './fs.js';
import { cgroupPaths, FsCgroupManager, type DeviceProgramLoader } from './manager.js';
import { NullCgroupManager } from './null.js';
import { parseSystemdCgroupsPath, resolveCgroupsPath, systemdRunning } from './paths.js';
import type { CgroupFs, CgroupLayout, CgroupManager, CgroupOptions, SavedCgroup } from './types.js';

export * from './types.js';
export { detectCgroupLayout, parseCgroupMounts, DEFAULT_CGROUP_ROOT, type CgroupMount, type DetectOptions } from './detect.js';
export { resolveCgroupsPath, parseSystemdCgroupsPath, expandSlice, systemdRunning, DEFAULT_CGROUP_PARENT, type SystemdCgroupPath } from './paths.js';
export { planCgroup, planCgroupWrites, validateCpuList, unifiedKeyController } from './plan.js';
export * as convert from './convert.js';
export { DEFAULT_DEVICE_RULES, normalizeDeviceRule, deviceRuleV1Line, type DeviceRule } from './devices.js';
export { buildDeviceProgram, encodeProgram, evaluateDeviceProgram, type BpfInsn } from './device-program.js';
export { emptyStats } from './stats.js';
export { kernelCgroupFs } from './fs.js';
export { FsCgroupManager, cgroupPaths, kernelDeviceProgramLoader, type DeviceProgramLoader } from './manager.js';
export { NullCgroupManager } from './null.js';

/** Extra knobs for tests: a fake device-program loader for plain-directory hierarchies. */
export interface CgroupTestHooks {
  devices?: DeviceProgramLoader;
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Nearest existing directory at or above `dir`, stopping at `root`. */
function nearestExisting(fs: CgroupFs, dir: string, root: string): string {
  let d = dir;
  while (d.length > root.length && !fs.exists(d)) d = dirname(d);
  return d;
}

/**
 * Resolve where a cgroup lives and which driver manages it. Creates nothing.
 * Throws CgroupError for `--systemd-cgroup` without a running systemd, for
 * `..` in `linux.cgroupsPath`, and for an unusable path.
 */
export function createCgroupManager(opts: CgroupOptions & CgroupTestHooks): CgroupManager {
  if (opts.systemd) {
    parseSystemdCgroupsPath(opts.cgroupsPath, opts.id);
    if (!systemdRunning(opts.hostRoot)) {
      throw new CgroupError(
        'systemd cgroup driver requested (--systemd-cgroup) but systemd is not running on this host (/run/systemd/system does not exist); use the cgroupfs driver',
        { driver: 'systemd', field: 'linux.cgroupsPath', value: opts.cgroupsPath ?? '' },
      );
    }
    throw new CgroupError('the systemd cgroup driver is not implemented yet; run without --systemd-cgroup', { driver: 'systemd' });
  }
  const rel = resolveCgroupsPath(opts.cgroupsPath, opts.id);
  const layout: CgroupLayout = opts.layout ?? detectCgroupLayout(opts.root ?? DEFAULT_CGROUP_ROOT);
  if (layout.kind === 'none') return new NullCgroupManager('this host has no cgroup filesystem mounted under /sys/fs/cgroup');
  const fs = opts.fs ?? kernelCgroupFs;
  if (opts.rootless) {
    // Rootless works only in a delegated v2 subtree we may write.
    if (layout.kind !== 'v2' || layout.unified === undefined) {
      return new NullCgroupManager(`rootless needs a cgroup v2 subtree delegated to the user; this host's cgroups are ${layout.kind === 'v1' ? 'v1 only' : 'hybrid (v1 controllers, cgroup2 without them)'}, where nothing can be delegated: boot with systemd.unified_cgroup_hierarchy=1 to get one`);
    }
    const target = cgroupJoinRoot(layout.unified, rel);
    const existing = nearestExisting(fs, target, layout.unified);
    const probe = existing === target ? join(target, 'cgroup.procs') : existing;
    if (!writable(probe)) {
      return new NullCgroupManager(`rootless needs a cgroup v2 subtree delegated to the user, and ${probe} is not writable by uid ${process.geteuid?.() ?? '?'}: delegate one (systemd: Delegate=yes, e.g. run under "systemd-run --user --scope"), or chown a subtree to the user and pass it in linux.cgroupsPath`);
    }
  }
  return new FsCgroupManager({ driver: layout.kind, paths: cgroupPaths(layout, rel), layout, fs, devices: opts.devices });
}

/**
 * Moves `pid` into the cgroups that process `of` (default: this one) is in,
 * in every hierarchy of `layout`. Best effort: returns what failed. Used to
 * take a helper back out of a container's cgroup once the container's init
 * exists, so that it neither counts against the container's limits nor shows
 * in its process list.
 */
export function moveToCgroupsOf(pid: number, layout: CgroupLayout | undefined, of: number | 'self' = 'self', fs: CgroupFs = kernelCgroupFs): string[] {
  if (layout === undefined || layout.kind === 'none') return [];
  const failed: string[] = [];
  const done = new Set<string>();
  let text: string;
  try {
    text = fs.read(`/proc/${of}/cgroup`);
  } catch (err) {
    return [`reading /proc/${of}/cgroup: ${(err as Error).message}`];
  }
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const mounts = m[1] === '0' && m[2] === '' ? (layout.unified !== undefined ? [layout.unified] : []) : m[2]!.split(',').map((c) => layout.v1[c]).filter((d): d is string => d !== undefined);
    for (const mount of new Set(mounts)) {
      const file = join(mount, m[3]!, 'cgroup.procs');
      if (done.has(file)) continue;
      done.add(file);
      try {
        fs.write(file, String(pid));
      } catch (err) {
        failed.push(`${file}: ${(err as Error).message}`);
      }
    }
  }
  return failed;
}

function cgroupJoinRoot(root: string, rel: string): string {
  return join(root, rel);
}

/**
 * A manager for a cgroup saved at create time (`save()`): later commands
 * arrive without `--systemd-cgroup` or a config, so everything comes from
 * the state. `root` re-detects the layout (tests, or a moved mount).
 */
export function loadCgroupManager(saved: SavedCgroup, root?: string, hooks: { fs?: CgroupFs } & CgroupTestHooks = {}): CgroupManager {
  if (saved.driver === 'null') return new NullCgroupManager(saved.reason);
  const layout = root !== undefined ? detectCgroupLayout(root) : saved.layout ?? detectCgroupLayout();
  return new FsCgroupManager({
    driver: saved.driver,
    paths: saved.paths,
    layout,
    fs: hooks.fs,
    devices: hooks.devices,
    deviceProgramId: saved.deviceProgramId,
    created: saved.created,
  });
}
