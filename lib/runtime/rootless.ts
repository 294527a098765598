/**
 * Rootless: what an unprivileged host user needs to run a container, checked
 * before anything is created, with messages that name the missing
 * prerequisite (users-and-security.md A.1: subuid range, newuidmap,
 * delegated controllers, a masked /proc).
 *
 * - The kernel lets an unprivileged process write exactly one mapping of its
 *   own uid into a child's `uid_map`, and one of its own gid into `gid_map`
 *   only after `setgroups` is denied. Anything else (several ranges, other
 *   host ids) goes through the setuid `newuidmap`/`newgidmap` (package
 *   `uidmap`), which allow the ranges `/etc/subuid` and `/etc/subgid` grant
 *   the user.
 * - Without a writable (delegated) cgroup the container runs with the null
 *   cgroup driver: resources are not enforced and pause is refused.
 * - Some kernel refusals only show when a step fails; {@link withRootlessHint}
 *   adds what to do to those errors.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { release as osRelease, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import type { IdMapping, Spec } from '../spec/types.js';
import { ChildSetupError, TsrunError } from '../errors.js';

/** A rootless prerequisite is missing; the message says which and how to get it. */
export class RootlessError extends TsrunError {
  readonly code = 'USAGE' as const;
}

/** `--rootless true|false|auto` (or a boolean from the library) to a decision; auto = not root. */
export function resolveRootless(option: boolean | string | undefined, euid = process.geteuid?.() ?? 0): boolean {
  if (option === true || option === 'true') return true;
  if (option === false || option === 'false') return false;
  return euid !== 0;
}

/** One entry of /etc/subuid or /etc/subgid. */
export interface SubIdRange {
  owner: string;
  start: number;
  count: number;
}

/** Parses /etc/subuid or /etc/subgid (`name-or-id:start:count` per line). */
export function parseSubIds(text: string): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [owner, start, count] = line.split(':');
    const s = Number(start);
    const c = Number(count);
    if (owner && Number.isSafeInteger(s) && Number.isSafeInteger(c) && c > 0) out.push({ owner, start: s, count: c });
  }
  return out;
}

/** Host facts the rootless checks read; injectable for tests. */
export interface RootlessHost {
  euid: number;
  egid: number;
  /** The user's name (for /etc/subuid entries by name). */
  user?: string;
  /** Contents of /etc/subuid and /etc/subgid (undefined: missing). */
  subuid?: string;
  subgid?: string;
  /** Finds an executable by name; undefined when missing. */
  which(name: string): string | undefined;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Engines call tsrun with an empty environment: look in the usual places too. */
function whichExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin'];
  for (const d of dirs) {
    if (!d.startsWith('/')) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** This process's host facts. */
export function currentHost(): RootlessHost {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    /* a uid without a passwd entry */
  }
  return {
    euid: process.geteuid?.() ?? 0,
    egid: process.getegid?.() ?? 0,
    user,
    subuid: readOrUndefined('/etc/subuid'),
    subgid: readOrUndefined('/etc/subgid'),
    which: whichExecutable,
  };
}

/** How the user namespace's maps get written, for the plan context. */
export interface IdMapSetup {
  /** setgroups(2) is denied in the container's user namespace (a directly written gid_map needs that). */
  setgroupsDenied: boolean;
  /** Absolute paths of newuidmap/newgidmap for the maps that need them (`""`: written directly). */
  idMapTools?: { newuidmap: string; newgidmap: string };
}

function range(m: IdMapping): string {
  return m.size === 1 ? String(m.hostID) : `${m.hostID}-${m.hostID + m.size - 1}`;
}

/**
 * Decides how an unprivileged caller gets the container's id maps written,
 * and throws a {@link RootlessError} naming what is missing. Root (or a config
 * without a new user namespace) needs nothing.
 */
export function planIdMaps(spec: Spec, host: RootlessHost = currentHost()): IdMapSetup {
  const namespaces = spec.linux?.namespaces ?? [];
  const newUser = namespaces.some((n) => n.type === 'user' && !n.path);
  const joinsUser = namespaces.some((n) => n.type === 'user' && n.path);
  if (host.euid === 0) return { setgroupsDenied: false };
  if (!newUser) {
    if (joinsUser) return { setgroupsDenied: false };
    throw new RootlessError(
      `rootless: the config has no user namespace (linux.namespaces has no "user" entry): an unprivileged user (uid ${host.euid}) can create the other namespaces only inside its own user namespace; "tsrun spec --rootless" writes a config that has one`,
    );
  }
  const kinds = [
    { key: 'uidMappings', id: host.euid, idName: 'uid', file: '/etc/subuid', text: host.subuid, tool: 'newuidmap' },
    { key: 'gidMappings', id: host.egid, idName: 'gid', file: '/etc/subgid', text: host.subgid, tool: 'newgidmap' },
  ] as const;
  const tools = { newuidmap: '', newgidmap: '' };
  const who = host.user ? `user ${host.user} (${host.euid})` : `uid ${host.euid}`;
  for (const k of kinds) {
    const maps = spec.linux?.[k.key] ?? [];
    if (maps.length === 0) {
      throw new RootlessError(`rootless: linux.${k.key} is empty: map at least your own ${k.idName} ${k.id} to root, e.g. [{"containerID": 0, "hostID": ${k.id}, "size": 1}]`);
    }
    if (maps.length === 1 && maps[0]!.hostID === k.id && maps[0]!.size === 1) continue; // the kernel allows this one directly
    const ranges = parseSubIds(k.text ?? '').filter((r) => r.owner === host.user || r.owner === String(k.id));
    for (const [i, m] of maps.entries()) {
      if (m.hostID === k.id && m.size === 1) continue;
      const covered = ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.count);
      if (!covered) {
        const have = ranges.length ? ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(', ') : 'none';
        const example = `${host.user ?? k.id}:${m.hostID}:${Math.max(m.size, 65536)}`;
        throw new RootlessError(
          `rootless: linux.${k.key}[${i}] maps host ${k.idName}s ${range(m)}, which are not subordinate ${k.idName}s of ${who} in ${k.file} (${k.text === undefined ? `${k.file} does not exist` : `its ranges: ${have}`}); ask an administrator to add a line like "${example}" to ${k.file}, or map only your own ${k.idName} ${k.id}`,
        );
      }
    }
    const tool = host.which(k.tool);
    if (!tool) {
      throw new RootlessError(
        `rootless: linux.${k.key} maps ${maps.length > 1 ? 'several ranges' : `host ${k.idName}s ${range(maps[0]!)}`}, which an unprivileged user can only set up with ${k.tool}, and ${k.tool} was not found (install the "uidmap" package), or map only your own ${k.idName} ${k.id}`,
      );
    }
    tools[k.tool] = tool;
  }
  const setgroupsDenied = tools.newgidmap === '';
  return tools.newuidmap || tools.newgidmap ? { setgroupsDenied, idMapTools: tools } : { setgroupsDenied };
}

/** Adds what to do to a step failure an unprivileged (or user-namespaced) container typically hits. */
export function withRootlessHint(e: unknown, spec: Spec, rootless: boolean): unknown {
  if (!(e instanceof ChildSetupError)) return e;
  const inUserNs = (spec.linux?.namespaces ?? []).some((n) => n.type === 'user');
  if (!rootless && !inUserNs) return e;
  let hint: string | undefined;
  const detail = e.detail;
  const mountOf = /^mount "([^"]*)" on "([^"]*)"/.exec(detail);
  const fstype = mountOf ? (spec.mounts ?? []).find((m) => m.destination === mountOf[2] || '/' + m.destination === mountOf[2])?.type : undefined;
  if (e.op === 'MOUNT' && e.errnoName === 'EPERM' && fstype === 'proc') {
    hint = 'the kernel refuses a new procfs in a user namespace when the host\'s /proc is partly hidden (masked or over-mounted paths, as inside another container); run where /proc is fully visible, or bind-mount /proc (rbind) instead';
  } else if (e.op === 'MOUNT' && e.errnoName === 'EPERM' && fstype === 'sysfs') {
    hint = 'sysfs can be mounted only by the owner of the network namespace: add a "network" namespace, or bind-mount /sys (type "none", options ["rbind", "nosuid", "noexec", "nodev", "ro"]) as "tsrun spec --rootless" does';
  } else if (e.op === 'MOUNT' && e.errnoName === 'EPERM' && (fstype === 'cgroup' || fstype === 'cgroup2')) {
    hint = 'a cgroup filesystem can be mounted only with a cgroup namespace of the container and a cgroup delegated to the user';
  } else if (e.op === 'CLONE' && /newuidmap|newgidmap/.test(detail)) {
    hint = 'check the ranges in /etc/subuid and /etc/subgid and that newuidmap/newgidmap are setuid root';
  } else if (e.op === 'CLONE' && ['EPERM', 'ENOSPC', 'EINVAL', 'EACCES'].includes(e.errnoName)) {
    hint = 'unprivileged user namespaces may be disabled on this host (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or an AppArmor/SELinux policy)';
  } else if (e.op === 'RLIMIT' && e.errnoName === 'EPERM') {
    hint = 'an unprivileged user cannot raise a hard limit above its own (ulimit -H)';
  } else if (e.op === 'IDMAP_TREE' && e.errnoName === 'EPERM') {
    hint = 'idmapped mounts need CAP_SYS_ADMIN in the host (run as root)';
  } else if (e.op === 'MKNOD' && e.errnoName === 'EPERM') {
    hint = 'device nodes cannot be created in a user namespace; the host\'s node is bind-mounted instead only when it exists on the host';
  }
  if (hint) e.message += ` (${hint})`;
  return e;
}

/** Idmapped mounts (mount_setattr with MOUNT_ATTR_IDMAP) exist since Linux 5.12; `tsrun features` reports them. */
export function kernelSupportsIdmap(release: string = osRelease()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 12);
}

/** Whether setgroups(2) is denied in the user namespace of a process (an exec into it must not call it). */
export function setgroupsDeniedIn(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim() === 'deny';
  } catch {
    return false;
  }
}
