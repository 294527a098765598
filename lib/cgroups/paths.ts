/**
 * `linux.cgroupsPath` to a path inside each hierarchy. The spec leaves
 * relative paths to the runtime; the clients send (cgroupfs mode):
 *
 * - podman: `<parent>/libpod-<id>` with an absolute parent (`/libpod_parent`),
 *   or an empty path when rootless;
 * - containerd: `<cgroupsParent>/<id>` (kubelet parents are absolute);
 * - CRI-O: `<parent>/crio-<id>`;
 * - with `--systemd-cgroup`: `slice:prefix:name`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupError } from '../errors.js';

/** Parent of relative and default cgroup paths. */
export const DEFAULT_CGROUP_PARENT = 'tsrun';

const FIELD = 'linux.cgroupsPath';

/** The three parts of a systemd-driver cgroupsPath. */
export interface SystemdCgroupPath {
  /** e.g. `machine.slice`; `-.slice` (root) when empty. */
  slice: string;
  prefix: string;
  name: string;
  /** The transient unit: `<prefix>-<name>.scope`, or `name` itself when it ends in `.slice`. */
  unit: string;
}

/**
 * Parse and validate `slice:prefix:name` (systemd driver). An empty path
 * gives `system.slice:tsrun:<id>`, as runc gives `runc-<id>.scope`.
 */
export function parseSystemdCgroupsPath(path: string | undefined, id: string): SystemdCgroupPath {
  const value = path ?? '';
  if (value === '') return { slice: 'system.slice', prefix: 'tsrun', name: id, unit: `tsrun-${id}.scope` };
  const parts = value.split(':');
  if (parts.length !== 3) {
    throw new CgroupError(`${FIELD}: expected "slice:prefix:name" for the systemd cgroup driver, not ${JSON.stringify(value)}`, { field: FIELD, value });
  }
  const [slice, prefix, name] = parts as [string, string, string];
  if (slice !== '' && (!slice.endsWith('.slice') || slice.includes('/'))) {
    throw new CgroupError(`${FIELD}: ${JSON.stringify(slice)} is not a systemd slice name (it must end in ".slice")`, { field: FIELD, value });
  }
  if (name === '' || name.includes('/') || prefix.includes('/')) {
    throw new CgroupError(`${FIELD}: invalid unit name in ${JSON.stringify(value)}`, { field: FIELD, value });
  }
  const unit = name.endsWith('.slice') ? name : `${prefix === '' ? '' : `${prefix}-`}${name}.scope`;
  return { slice: slice === '' ? '-.slice' : slice, prefix, name, unit };
}

/**
 * The cgroupfs directory of a slice: `a-b.slice` lives in `/a.slice/a-b.slice`
 * (systemd nests a slice under every dash-separated prefix).
 */
export function expandSlice(slice: string): string {
  if (slice === '-.slice') return '/';
  const base = slice.slice(0, -'.slice'.length);
  if (base.startsWith('-') || base.endsWith('-') || base.includes('--')) {
    throw new CgroupError(`${FIELD}: invalid slice name ${JSON.stringify(slice)}`, { field: FIELD, value: slice });
  }
  let path = '';
  let prefix = '';
  for (const part of base.split('-')) {
    prefix = prefix === '' ? part : `${prefix}-${part}`;
    path += `/${prefix}.slice`;
  }
  return path;
}

/** True when systemd is the running init (the check sd_booted() makes). */
export function systemdRunning(hostRoot = '/'): boolean {
  return existsSync(join(hostRoot, 'run/systemd/system'));
}

/**
 * The cgroup path (absolute, relative to each hierarchy root) for cgroupfs
 * mode: absolute paths as given, relative ones under `tsrun/`, empty ->
 * `/tsrun/<id>`. Rejects `..` components: a config must not escape the
 * hierarchy or climb over another container's cgroup.
 */
export function resolveCgroupsPath(cgroupsPath: string | undefined, id: string): string {
  const value = cgroupsPath ?? '';
  if (value === '') {
    if (id === '' || id.includes('/') || id === '.' || id === '..') {
      throw new CgroupError(`invalid container id ${JSON.stringify(id)} for a cgroup name`, { field: FIELD });
    }
    return `/${DEFAULT_CGROUP_PARENT}/${id}`;
  }
  if (value.includes('\0')) throw new CgroupError(`${FIELD}: contains a NUL byte`, { field: FIELD, value });
  const parts = value.split('/');
  if (parts.includes('..')) {
    throw new CgroupError(`${FIELD}: ".." is not allowed in ${JSON.stringify(value)}`, { field: FIELD, value });
  }
  const clean = parts.filter((p) => p !== '' && p !== '.');
  if (clean.length === 0) {
    throw new CgroupError(`${FIELD}: ${JSON.stringify(value)} names the hierarchy root, not a cgroup`, { field: FIELD, value });
  }
  return value.startsWith('/') ? `/${clean.join('/')}` : `/${DEFAULT_CGROUP_PARENT}/${clean.join('/')}`;
}
