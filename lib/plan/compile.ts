/**
 * compilePlan: config.json in, the ordered steps tsrun-init executes out.
 *
 * Every ordering question of container set-up is decided here, in one pure
 * function, and covered by golden tests that need no root:
 * - rlimits and oom_score_adj are set by the helper before the clone, while it
 *   is still privileged in the host (a user namespace would stop it raising
 *   a hard limit);
 * - namespaces joined by path: the user namespace first (it grants the
 *   capabilities the other joins need), the mount namespace last;
 * - the time namespace is unshared before the clone, because only children
 *   of the unsharing process enter it and its offsets must be written first;
 * - mounts in config order, then devices, then the console, then the
 *   createContainer hooks (after the mounts, before pivot_root, as the spec
 *   says), then masks, then pivot_root;
 * - `args[0]` is resolved before the container is reported created, so a
 *   missing binary fails `create`, not `start`;
 * - the user switch happens after the exec fifo: tsrun-init is non-dumpable
 *   (CVE-2016-9962), so after dropping to a non-root uid it could no longer
 *   open /proc/self/fd to reach the fifo;
 * - seccomp is the last step before execve when no_new_privs is set, and
 *   before the user switch otherwise (loading a filter without no_new_privs
 *   needs CAP_SYS_ADMIN).
 */
import { statSync } from 'node:fs';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import type { Mount, Spec, Process, NamespaceType } from '../spec/types.js';
import {
  MOUNT_OPTIONS, MS, NAMESPACES, NAMESPACE_JOIN_ORDER, RLIMITS, DEFAULT_DEVICES, DEV_SYMLINKS,
  PERSONALITY_DOMAINS, capabilityNumber, isFilesystemDataOption,
} from '../spec/tables.js';
import { SYNC_POINTS } from './ops.js';
import { step, type Plan, type PlanStep } from './types.js';
import { SpecError, type SpecIssue } from '../errors.js';

/** What kind of thing a bind-mount source is on the host. */
export type SourceKind = 'dir' | 'file' | 'missing';

/** The cgroup hierarchies to show inside the container for a `cgroup` mount. */
export interface CgroupMountLayout {
  /**
   * v1 hierarchies: directory name under the mount point and the mount data (`memory`,
   * `none,name=systemd`). With `path` (the container's own cgroup directory on the host),
   * that directory is bind-mounted instead, as runc does without a cgroup namespace: a
   * fresh v1 mount would show the host's whole tree, not the container's cgroup and limits.
   */
  v1: { name: string; data: string; path?: string }[];
  /** Mount a cgroup2 filesystem: at the mount point itself (v2 host) or at `unified` (hybrid host). */
  unified: 'root' | 'unified' | 'none';
  /** Hybrid host: bind-mount this host directory at `unified` instead (see `v1[].path`). */
  unifiedPath?: string;
}

/** How to run, as opposed to what to run (the config). */
export interface PlanContext {
  /** Absolute bundle directory. */
  bundle: string;
  /** create: the exec fifo the container init waits on. */
  execFifo?: string;
  /** The container init is re-parented to the caller's subreaper (create, exec --detach). */
  detached: boolean;
  /** `--no-pivot`: MS_MOVE + chroot instead of pivot_root. */
  noPivot?: boolean;
  /** `--console-socket`: where the pty master is sent. */
  consoleSocket?: string;
  /**
   * An attached terminal without a console socket: the helper's fd that
   * carries window sizes (rows:u16 cols:u16 records), or 0 for none.
   */
  resizeFd?: number;
  /** How many fds after stdio reach the container (`--preserve-fds`, LISTEN_FDS). */
  preserveFds?: number;
  /** Extra environment for the process (LISTEN_FDS=, LISTEN_PID=1). */
  extraEnv?: string[];
  /** Whether the host runs prestart/createRuntime hooks (needs a sync point). */
  hostHooks?: boolean;
  /** A compiled seccomp program (struct sock_filter[]) and its flags. */
  seccomp?: { program: Uint8Array; flags: number };
  /**
   * SCMP_ACT_NOTIFY: where the listener fd goes (`linux.seccomp.listenerPath`)
   * and the container process state JSON split where the container process's
   * pid goes (the helper joins the parts with it).
   */
  seccompListener?: { path: string; stateParts: string[] };
  /** The layout for `cgroup` mounts. */
  cgroupMounts?: CgroupMountLayout;
  /** setgroups(2) is denied in the container's user namespace (rootless). */
  setgroupsDenied?: boolean;
  /**
   * The session keyring the process joins (`_ses.<id>`), or none with
   * `--no-new-keyring`: the caller's session keyring is inherited otherwise.
   */
  sessionKeyring?: string;
  /**
   * exec into a paused container: the helper cannot be in the frozen cgroup
   * before the clone (it would freeze before the process exists), so the
   * process stops at a sync point until Node has moved it there.
   */
  joinCgroupLate?: boolean;
  /**
   * Rootless with several id ranges: absolute paths of newuidmap and newgidmap
   * the helper runs for the container init instead of writing that map (`""`:
   * the map is written directly).
   */
  idMapTools?: { newuidmap: string; newgidmap: string };
  /** Host facts, injectable so golden tests need no filesystem. */
  sourceKind?: (path: string) => SourceKind;
}

/** The default PATH used for `args[0]` when the process has none (as execvp). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

function hostSourceKind(path: string): SourceKind {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** The absolute rootfs directory of a config in a bundle. */
export function rootfsPath(spec: Spec, bundle: string): string {
  const p = spec.root?.path ?? 'rootfs';
  return isAbsolute(p) ? p : resolve(bundle, p);
}

/** A mount's options split into what each mechanism needs. */
export interface MountOptionsPlan {
  flags: number;
  propagation: number[];
  attrSet: number;
  attrClr: number;
  data: string[];
  bind: boolean;
  recursiveBind: boolean;
  extensions: string[];
  unknown: string[];
}

/** Splits OCI mount options into mount(2) flags, propagation, recursive attributes and data. */
export function parseMountOptions(options: readonly string[] = [], type?: string): MountOptionsPlan {
  const r: MountOptionsPlan = { flags: 0, propagation: [], attrSet: 0, attrClr: 0, data: [], bind: type === 'bind', recursiveBind: false, extensions: [], unknown: [] };
  for (const opt of options) {
    const effect = MOUNT_OPTIONS[opt];
    if (!effect) {
      if (isFilesystemDataOption(opt)) r.data.push(opt);
      else r.unknown.push(opt);
      continue;
    }
    switch (effect.kind) {
      case 'flag':
        if (effect.clear) r.flags &= ~effect.flag;
        else r.flags |= effect.flag;
        if (opt === 'bind') r.bind = true;
        if (opt === 'rbind') {
          r.bind = true;
          r.recursiveBind = true;
        }
        break;
      case 'propagation':
        r.propagation.push(effect.flag);
        break;
      case 'recursive':
        r.attrSet = (r.attrSet & ~effect.clear) | effect.set;
        r.attrClr = (r.attrClr & ~effect.set) | effect.clear;
        break;
      case 'extension':
        r.extensions.push(effect.name);
        break;
    }
  }
  if (r.bind) r.flags |= MS.BIND | (r.recursiveBind ? MS.REC : 0);
  return r;
}

const PROPAGATION: Record<string, number> = {
  shared: MS.SHARED | MS.REC,
  slave: MS.SLAVE | MS.REC,
  private: MS.PRIVATE | MS.REC,
  unbindable: MS.UNBINDABLE | MS.REC,
};

function nsList(spec: Spec): { type: NamespaceType; path?: string }[] {
  return spec.linux?.namespaces ?? [];
}

function hasNewNs(spec: Spec, type: NamespaceType): boolean {
  return nsList(spec).some((n) => n.type === type && !n.path);
}

function idMapText(maps: { containerID: number; hostID: number; size: number }[] | undefined): string {
  return (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function capMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const n = capabilityNumber(name);
    if (n !== undefined) mask |= 1n << BigInt(n);
  }
  return mask;
}

function findEnv(env: readonly string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    const e = env[i]!;
    if (e.startsWith(name + '=')) return e.slice(name.length + 1);
  }
  return undefined;
}

function mountSteps(m: Mount, i: number, ctx: PlanContext, issues: SpecIssue[], idmapTrees?: Map<number, number>): PlanStep[] {
  const field = `mounts[${i}]`;
  const opts = parseMountOptions(m.options, m.type);
  const dest = isAbsolute(m.destination) ? m.destination : '/' + m.destination;
  if (opts.unknown.length) {
    issues.push({ field: `${field}.options`, message: `unknown mount option ${opts.unknown.map((o) => JSON.stringify(o)).join(', ')}` });
  }
  const propagation = opts.propagation.reduce((a, b) => a | b, 0);
  const why = (s: string) => s;
  const tree = idmapTrees?.get(i);
  if (tree !== undefined) {
    const source = isAbsolute(m.source ?? '') ? m.source! : resolve(ctx.bundle, m.source ?? '');
    const kind = (ctx.sourceKind ?? hostSourceKind)(source) === 'file' ? 1n : 0n;
    const flags = opts.flags & ~(MS.BIND | MS.REC);
    return [step('MOUNT_TREE', { tree, dest, flags, propagation, attrSet: opts.attrSet, attrClr: opts.attrClr, kind }, field,
      `attaches the idmapped copy of ${source} at ${dest}, so its files show the mount's mapped owners`)];
  }
  if (m.type === 'cgroup' && !opts.bind) {
    return cgroupMountSteps(dest, opts, field, ctx);
  }
  let source = m.source ?? m.type ?? 'none';
  let kind = 0n;
  if (opts.bind) {
    source = isAbsolute(source) ? source : resolve(ctx.bundle, source);
    const k = (ctx.sourceKind ?? hostSourceKind)(source);
    if (k === 'missing') issues.push({ field: `${field}.source`, message: `bind source ${JSON.stringify(source)} does not exist` });
    kind = k === 'file' ? 1n : 0n;
  }
  return [
    step(
      'MOUNT',
      {
        source,
        dest,
        fstype: opts.bind ? '' : (m.type ?? ''),
        flags: opts.flags,
        data: opts.data.join(','),
        propagation,
        attrSet: opts.attrSet,
        attrClr: opts.attrClr,
        kind,
      },
      field,
      why(opts.bind
        ? `makes the host path ${source} visible at ${dest} inside the container`
        : `gives the container its own ${m.type ?? 'filesystem'} at ${dest}`),
    ),
  ];
}

/**
 * A `cgroup` mount shows the container's own cgroups. On a v2 host it is one
 * cgroup2 mount; on v1 and hybrid hosts it is a tmpfs with one mount per
 * hierarchy, each rooted at the container's cgroup by its cgroup namespace.
 */
/**
 * Idmapped bind mounts (`idmap`, `ridmap`, or per-mount uid/gid mappings):
 * the helper prepares each as a detached, idmapped copy of the source in the
 * host (it needs CAP_SYS_ADMIN over the source's filesystem, which the
 * container init loses in its user namespace); MOUNT_TREE attaches it later.
 * Without per-mount mappings the container's own mappings are used.
 */
function idmapSteps(spec: Spec, ctx: PlanContext, issues: SpecIssue[]): { steps: PlanStep[]; trees: Map<number, number> } {
  const steps: PlanStep[] = [];
  const trees = new Map<number, number>();
  for (const [i, m] of (spec.mounts ?? []).entries()) {
    const field = `mounts[${i}]`;
    const opts = parseMountOptions(m.options, m.type);
    const option = opts.extensions.find((e) => e === 'idmap' || e === 'ridmap');
    const own = Boolean(m.uidMappings?.length || m.gidMappings?.length);
    if (!option && !own) continue;
    if (!opts.bind) {
      issues.push({ field: `${field}.options`, message: `${option ?? 'uidMappings/gidMappings'}: only bind mounts can be idmapped (add "rbind" or "bind", or drop the mapping)` });
      continue;
    }
    const uidMaps = m.uidMappings?.length ? m.uidMappings : hasNewNs(spec, 'user') ? spec.linux?.uidMappings : undefined;
    const gidMaps = m.gidMappings?.length ? m.gidMappings : hasNewNs(spec, 'user') ? spec.linux?.gidMappings : undefined;
    if (!uidMaps?.length || !gidMaps?.length) {
      issues.push({ field: `${field}.uidMappings`, message: `"${option}" without mounts[${i}].uidMappings and gidMappings uses the container's user namespace mappings, and the container has no new user namespace with linux.uidMappings and linux.gidMappings` });
      continue;
    }
    const source = isAbsolute(m.source ?? '') ? m.source! : resolve(ctx.bundle, m.source ?? '');
    if ((ctx.sourceKind ?? hostSourceKind)(source) === 'missing') continue; // mountSteps reports it
    trees.set(i, steps.length);
    const recursive = (opts.recursiveBind ? 1 : 0) | (option === 'ridmap' ? 2 : 0);
    steps.push(step('IDMAP_TREE', { source, uidMap: idMapText(uidMaps), gidMap: idMapText(gidMaps), recursive }, field,
      `prepares an idmapped copy of ${source} in the host (${option === 'ridmap' ? 'every mount below it idmapped too' : 'only its top mount idmapped'})`));
  }
  return { steps, trees };
}

function cgroupMountSteps(dest: string, opts: MountOptionsPlan, field: string, ctx: PlanContext): PlanStep[] {
  const layout = ctx.cgroupMounts ?? { v1: [], unified: 'root' };
  const flags = opts.flags & ~MS.RDONLY;
  const mount = (source: string, d: string, fstype: string, data: string, f: number, why: string) =>
    step('MOUNT', { source, dest: d, fstype, flags: f, data, propagation: 0, attrSet: 0, attrClr: 0, kind: 0n }, field, why);
  if (layout.unified === 'root') {
    return [mount('cgroup2', dest, 'cgroup2', '', opts.flags, `shows the container's cgroup v2 hierarchy at ${dest}`)];
  }
  const steps: PlanStep[] = [mount('tmpfs', dest, 'tmpfs', 'mode=755', flags, `holds one mount per cgroup v1 hierarchy under ${dest}`)];
  const bind = MS.BIND | MS.REC | opts.flags;
  for (const h of layout.v1) {
    if (h.path) steps.push(mount(h.path, `${dest}/${h.name}`, '', '', bind, `shows the container's own ${h.name} cgroup (v1) as the hierarchy's root`));
    else steps.push(mount('cgroup', `${dest}/${h.name}`, 'cgroup', h.data, opts.flags, `shows the container's ${h.name} cgroup (v1)`));
  }
  if (layout.unified === 'unified') {
    if (layout.unifiedPath) steps.push(mount(layout.unifiedPath, `${dest}/unified`, '', '', bind, 'shows the container\'s own cgroup v2 directory of this hybrid host'));
    else steps.push(mount('cgroup2', `${dest}/unified`, 'cgroup2', '', opts.flags, 'shows the container\'s cgroup v2 hierarchy of this hybrid host'));
  }
  if (opts.flags & MS.RDONLY) {
    steps.push(step('MOUNT', { source: '', dest, fstype: '', flags: MS.REMOUNT | MS.RDONLY | flags, data: 'mode=755', propagation: 0, attrSet: 0, attrClr: 0, kind: 0n }, field, 'makes the cgroup tmpfs read-only once its hierarchies are mounted'));
  }
  return steps;
}

/**
 * The steps for the container process, shared by create and exec: cwd,
 * capabilities, user, seccomp, the fifo wait and execve.
 */
function processSteps(proc: Process, ctx: PlanContext, issues: SpecIssue[], opts: { create: boolean; startHooks: PlanStep[]; afterCwd?: PlanStep[] }): PlanStep[] {
  const steps: PlanStep[] = [];
  const args = proc.args ?? [];
  if (args.length === 0) issues.push({ field: 'process.args', message: 'must name the program to run (at least one entry)' });
  const env = [...(proc.env ?? []), ...(ctx.extraEnv ?? [])];
  const nnp = proc.noNewPrivileges === true;
  const caps = proc.capabilities ?? {};
  steps.push(step('UMASK', { mask: proc.user?.umask ?? 0o022 }, proc.user?.umask !== undefined ? 'process.user.umask' : '(runtime)', 'sets the file creation mask (0022 when the config has none, as runc does)'));
  steps.push(step('CWD', { path: proc.cwd }, 'process.cwd', 'moves into the working directory, creating it if missing, and checks it is inside the container (CVE-2024-21626)'));
  steps.push(...(opts.afterCwd ?? []));
  steps.push(step('RESOLVE_EXEC', { name: args[0] ?? '', path: findEnv(env, 'PATH') ?? DEFAULT_PATH }, 'process.args[0]', 'finds the program with the container\'s PATH now, so a missing binary fails before the container is reported created'));
  const waitStep = !opts.create && ctx.joinCgroupLate
    ? step('SYNC', { point: SYNC_POINTS.JOIN_CGROUP }, '--ignore-paused', 'waits while tsrun moves it into the paused container\'s frozen cgroup; it runs on once the container is resumed')
    : step('WAIT_START', {}, '(runtime)', opts.create
      ? 'reports the container created, then blocks on the exec fifo until `tsrun start`'
      : 'reports that set-up is done');
  // create: the user switch and the capabilities come before the container is reported created,
  // as in runc, so that `create` reports their failure (an unmapped group, a capset the kernel
  // refuses); after the fifo, `start` would return 0 and the error would be lost. startContainer
  // hooks then run as the container's user, as runc runs them.
  const identity: PlanStep[] = [];
  identity.push(step('CAP_BOUNDING', { keep: capMask(caps.bounding) }, 'process.capabilities.bounding', 'drops every capability outside the bounding set, so no later exec can regain it'));
  if (ctx.seccomp && !nnp) {
    identity.push(step('SECCOMP', { flags: ctx.seccomp.flags, program: ctx.seccomp.program }, 'linux.seccomp', 'loads the seccomp filter while CAP_SYS_ADMIN is still held (no_new_privs is off)'));
  }
  const gids = (proc.user?.additionalGids ?? []).map(String);
  identity.push(step('USER', { uid: proc.user?.uid ?? 0, gid: proc.user?.gid ?? 0, additionalGids: gids, setgroups: ctx.setgroupsDenied ? 0 : 1 }, 'process.user', 'switches to the configured uid, gid and supplementary groups, keeping capabilities across the switch'));
  const permitted = capMask(caps.permitted);
  const inheritable = capMask(caps.inheritable);
  const ambient = capMask(caps.ambient) & permitted & inheritable;
  identity.push(step('CAPS', { effective: capMask(caps.effective), permitted, inheritable, ambient }, 'process.capabilities', 'sets the effective, permitted, inheritable and ambient sets (ambient only where also permitted and inheritable)'));
  if (nnp) identity.push(step('NO_NEW_PRIVS', {}, 'process.noNewPrivileges', 'stops setuid binaries and file capabilities from granting privileges'));
  if (opts.create) steps.push(...identity, waitStep, ...opts.startHooks);
  else steps.push(waitStep, ...opts.startHooks, ...identity);
  if (ctx.seccomp && nnp) {
    steps.push(step('SECCOMP', { flags: ctx.seccomp.flags, program: ctx.seccomp.program }, 'linux.seccomp', 'loads the seccomp filter as the last step before execve, so it constrains only the container program'));
  }
  steps.push(step('EXEC', { argv: args, env, keepFds: 3 + (ctx.preserveFds ?? 0) }, 'process.args', 'closes every fd that must not reach the container and replaces tsrun-init with the container program'));
  return steps;
}

function hookSteps(spec: Spec, name: 'createContainer' | 'startContainer'): PlanStep[] {
  const kind = name === 'createContainer' ? 1 : 2;
  return (spec.hooks?.[name] ?? []).map((h, i) =>
    step('HOOK', { path: h.path, args: h.args ?? [h.path], env: h.env ?? (name === 'startContainer' ? (spec.process?.env ?? []) : []), timeout: h.timeout ?? 0, kind }, `hooks.${name}[${i}]`,
      name === 'createContainer'
        ? 'runs the hook in the container\'s namespaces, after the mounts and before pivot_root'
        : 'runs the hook inside the container after start, before the program is executed'),
  );
}

function preCloneSteps(proc: Process | undefined, ctx?: PlanContext): PlanStep[] {
  const steps: PlanStep[] = [];
  if (ctx?.seccompListener && ctx.seccomp) {
    steps.push(step('SECCOMP_LISTENER', { path: ctx.seccompListener.path, state: ctx.seccompListener.stateParts }, 'linux.seccomp.listenerPath', 'connects to the seccomp agent\'s socket in the host, before any namespace is joined; the listener fd and the process state go there once the filter is loaded'));
  }
  for (const [i, rl] of (proc?.rlimits ?? []).entries()) {
    const resource = RLIMITS[rl.type];
    if (resource === undefined) continue;
    steps.push(step('RLIMIT', { resource, soft: BigInt.asUintN(64, BigInt(rl.soft)), hard: BigInt.asUintN(64, BigInt(rl.hard)) }, `process.rlimits[${i}]`, 'sets the limit before any user namespace exists, so a hard limit can still be raised; the container inherits it'));
  }
  if (proc?.oomScoreAdj !== undefined) {
    steps.push(step('OOM_SCORE_ADJ', { value: proc.oomScoreAdj }, 'process.oomScoreAdj', 'sets the OOM score through the host procfs before the clone; the container inherits it'));
  }
  return steps;
}

/**
 * `--console-socket`: connected by the helper in the host, before any
 * namespace is joined, so the path means what the caller meant (an exec joins
 * the container's mount namespace; a new user namespace may not reach it).
 */
/**
 * Where the pty master goes: to the caller's console socket, or, for an
 * attached process without one (a foreground `run` or `exec -t`), back to the
 * helper, which stays the process's parent and proxies the terminal.
 */
function consoleSocketStep(proc: Process | undefined, ctx: PlanContext): PlanStep[] {
  if (!proc?.terminal) return [];
  if (ctx.consoleSocket) {
    return [step('CONSOLE_SOCKET', { path: ctx.consoleSocket }, '--console-socket', 'connects to the caller\'s console socket in the host, before any namespace is joined; the container process sends the pty master over it')];
  }
  if (ctx.detached) return [];
  return [step('CONSOLE_PROXY', { resizeFd: ctx.resizeFd ?? 0 }, 'process.terminal', 'makes a socketpair for the pty master: the helper stays the parent, copies its stdin to the pty and the pty to its stdout (its terminal in raw mode), and passes window sizes on')];
}

/** The entries of a path list with their index, without repeats (the first one stays). */
function firstOccurrences(paths: readonly string[] | undefined): [number, string][] {
  const seen = new Set<string>();
  const out: [number, string][] = [];
  for (const [i, p] of (paths ?? []).entries()) {
    const key = normalize(p);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push([i, p]);
  }
  return out;
}

function sessionKeyringStep(ctx: PlanContext): PlanStep[] {
  if (!ctx.sessionKeyring) return [];
  return [step('SESSION_KEYRING', { name: ctx.sessionKeyring }, '--no-new-keyring (not given)', 'joins a session keyring of the container\'s own, so no key of the caller\'s session is reachable from inside, and makes it searchable after the user switch')];
}

/** The process gets a pty: the CONSOLE step has somewhere to send its master. */
function allocatesPty(proc: Process | undefined, ctx: PlanContext): boolean {
  return proc?.terminal === true && (ctx.consoleSocket !== undefined || !ctx.detached);
}

/** Compiles a config into the plan of a new container. Throws SpecError on what cannot be compiled. */
export function compilePlan(spec: Spec, ctx: PlanContext): Plan {
  const issues: SpecIssue[] = [];
  const steps: PlanStep[] = [];
  const namespaces = nsList(spec);
  const rootfs = rootfsPath(spec, ctx.bundle);
  const proc = spec.process;

  if (!namespaces.some((n) => n.type === 'mount')) {
    issues.push({ field: 'linux.namespaces', message: 'a mount namespace is required: without one the container\'s mounts would change the host' });
  }

  // --- in the helper, in the host, before the clone ---
  steps.push(...preCloneSteps(proc, ctx));
  steps.push(...consoleSocketStep(proc, ctx));
  if (ctx.execFifo) steps.push(step('EXEC_FIFO', { path: ctx.execFifo }, '(runtime)', 'opens the exec fifo before any namespace is joined, so the container init can later wait on it'));
  for (const type of NAMESPACE_JOIN_ORDER) {
    const ns = namespaces.find((n) => n.type === type && n.path);
    if (ns?.path) {
      steps.push(step('JOIN_NS', { nstype: NAMESPACES[type].flag, path: ns.path }, `linux.namespaces[${namespaces.indexOf(ns)}]`, `joins the existing ${type} namespace instead of creating one`));
    }
  }
  if (hasNewNs(spec, 'time')) {
    const offsets = Object.entries(spec.linux?.timeOffsets ?? {})
      .map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`)
      .join('');
    steps.push(step('NEW_TIMENS', { offsets }, 'linux.timeOffsets', 'creates the time namespace and writes its clock offsets before the container init is born into it'));
  }
  if (hasNewNs(spec, 'user') && ctx.idMapTools && (ctx.idMapTools.newuidmap || ctx.idMapTools.newgidmap)) {
    steps.push(step('ID_MAP_TOOLS', { ...ctx.idMapTools }, 'linux.uidMappings', 'an unprivileged caller maps several id ranges only through the setuid newuidmap/newgidmap, which the helper runs for the container init'));
  }
  if (hasNewNs(spec, 'user')) {
    const uidMap = idMapText(spec.linux?.uidMappings);
    const gidMap = idMapText(spec.linux?.gidMappings);
    steps.push(step('USER_MAPS', { uidMap, gidMap, setgroups: ctx.setgroupsDenied ? 'deny' : '' }, 'linux.uidMappings', 'the helper writes the id maps of the new user namespace from the parent side before the container continues'));
  }
  const idmap = idmapSteps(spec, ctx, issues);
  steps.push(...idmap.steps);
  let cloneFlags = 0;
  for (const n of namespaces) if (!n.path && n.type !== 'time') cloneFlags |= NAMESPACES[n.type].flag;
  steps.push(step('CLONE', { flags: cloneFlags, detached: ctx.detached ? 1 : 0 }, 'linux.namespaces', ctx.detached
    ? 'creates the container init in its new namespaces as a child of tsrun, so it is re-parented to the caller\'s subreaper when tsrun exits'
    : 'creates the container init in its new namespaces; the helper stays its parent to reap it and report its exit'));

  // --- in the container init ---
  steps.push(step('SETSID', {}, '(runtime)', 'starts a new session, so the container is not in the caller\'s job control'));
  steps.push(...sessionKeyringStep(ctx));
  const propagation = PROPAGATION[spec.linux?.rootfsPropagation ?? ''] ?? (MS.SLAVE | MS.REC);
  // Until pivot_root only private or slave will do: pivot_root refuses shared parent mounts
  // (EINVAL), a shared tree would carry the container's mounts to the host, and an unbindable
  // rootfs cannot be bound onto itself. The type asked for is set on the new root afterwards.
  const setupPropagation = spec.linux?.rootfsPropagation === 'private' ? MS.PRIVATE | MS.REC : MS.SLAVE | MS.REC;
  steps.push(step('ROOTFS', { propagation: setupPropagation, rootfs }, 'root.path', 'stops mount events from reaching the host and makes the rootfs a mount point that pivot_root can use'));
  for (const [i, m] of (spec.mounts ?? []).entries()) steps.push(...mountSteps(m, i, ctx, issues, idmap.trees));

  const devMount = (spec.mounts ?? []).find((m) => m.destination === '/dev');
  const devIsOwn = devMount !== undefined && !parseMountOptions(devMount.options, devMount.type).bind;
  const configured = new Set((spec.linux?.devices ?? []).map((d) => d.path));
  if (devIsOwn) {
    for (const d of DEFAULT_DEVICES) {
      if (configured.has(d.path)) continue;
      steps.push(step('MKNOD', { path: d.path, type: S_IFCHR, major: d.major, minor: d.minor, mode: d.fileMode, uid: 0, gid: 0 }, '(default devices)', `creates ${d.path}, one of the devices every container gets`));
    }
  }
  for (const [i, d] of (spec.linux?.devices ?? []).entries()) {
    const type = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
    steps.push(step('MKNOD', { path: d.path, type, major: d.major ?? 0, minor: d.minor ?? 0, mode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0 }, `linux.devices[${i}]`, `creates the device ${d.path} the config asks for`));
  }
  if (devIsOwn) {
    for (const l of DEV_SYMLINKS) {
      steps.push(step('SYMLINK', { target: l.target, path: l.path }, '(default /dev symlinks)', `links ${l.path} to ${l.target}, as runtime-linux.md requires`));
    }
  }
  if (allocatesPty(proc, ctx)) {
    steps.push(step('CONSOLE', { socket: '', rows: proc!.consoleSize?.height ?? 0, cols: proc!.consoleSize?.width ?? 0 }, 'process.terminal', `allocates the pty inside the container, sends its master to ${ctx.consoleSocket ? 'the console socket' : 'the helper'} and makes the peer /dev/console and the stdio`));
  }
  const createHooks = hookSteps(spec, 'createContainer');
  if (ctx.hostHooks || createHooks.length) {
    steps.push(step('SYNC', { point: SYNC_POINTS.CREATE_RUNTIME }, 'hooks', 'pauses while tsrun runs the prestart and createRuntime hooks in the host'));
  }
  steps.push(...createHooks);
  // A path listed twice is masked (or made read-only) once, as runc does: a second mount on top
  // would be a second layer to unmount, and nothing more.
  for (const [i, p] of firstOccurrences(spec.linux?.maskedPaths)) {
    steps.push(step('MASK_PATH', { path: p }, `linux.maskedPaths[${i}]`, `hides ${p} from the container`));
  }
  for (const [i, p] of firstOccurrences(spec.linux?.readonlyPaths)) {
    steps.push(step('READONLY_PATH', { path: p }, `linux.readonlyPaths[${i}]`, `makes ${p} read-only inside the container`));
  }
  if (ctx.noPivot) {
    steps.push(step('CHROOT', {}, '(--no-pivot)', 'moves the rootfs onto / and chroots into it, for rootfs types where pivot_root is not possible'));
  } else {
    steps.push(step('PIVOT_ROOT', {}, 'root.path', 'makes the rootfs the root of the mount namespace and detaches the host\'s root, so nothing of the host stays reachable'));
  }
  if (spec.linux?.rootfsPropagation) {
    // The root mount alone, as runc does after pivot_root: with MS_REC it would also override every
    // mount's own propagation option (an rprivate volume would become shared).
    steps.push(step('ROOT_PROPAGATION', { flags: propagation & ~MS.REC }, 'linux.rootfsPropagation', `sets the propagation of the root mount (not the mounts under it) to ${spec.linux.rootfsPropagation}`));
  }
  // A missing cwd is created (runc does, and clients rely on it), so / turns read-only only after CWD.
  const rootReadonly = spec.root?.readonly ? [step('REMOUNT_ROOT_RO', {}, 'root.readonly', 'remounts the container\'s root filesystem read-only, after the working directory was created')] : [];
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    steps.push(step('SYSCTL', { key, value }, `linux.sysctl.${key}`, 'writes the sysctl through a private procfs, never through a path the container controls (CVE-2025-52881)'));
  }
  if (spec.hostname !== undefined) steps.push(step('HOSTNAME', { name: spec.hostname }, 'hostname', 'names the container in its own UTS namespace'));
  if (spec.domainname !== undefined) steps.push(step('DOMAINNAME', { name: spec.domainname }, 'domainname', 'sets the NIS domain name in the container\'s UTS namespace'));
  if (spec.linux?.personality) {
    const persona = PERSONALITY_DOMAINS[spec.linux.personality.domain] ?? 0;
    steps.push(step('PERSONALITY', { persona }, 'linux.personality', `sets the execution domain to ${spec.linux.personality.domain}`));
  }
  if (proc) steps.push(...processSteps(proc, ctx, issues, { create: true, startHooks: hookSteps(spec, 'startContainer'), afterCwd: rootReadonly }));
  else issues.push({ field: 'process', message: 'is required to create a container tsrun can start' });

  if (issues.length) throw new SpecError(issues);
  return { steps };
}

/** The namespaces of a running container, as the files exec joins. */
export interface ExecTarget {
  /** Host pid of the container init. */
  initPid: number;
  /** Namespace types the container has of its own (created or joined). */
  namespaces: NamespaceType[];
  /** Directory of the init's namespace files; `/proc/<initPid>/ns` by default. */
  nsDir?: string;
}

/** Compiles the plan of `tsrun exec`: join every namespace of the container, then the process steps. */
export function compileExecPlan(proc: Process, target: ExecTarget, ctx: PlanContext): Plan {
  const issues: SpecIssue[] = [];
  const steps: PlanStep[] = [...preCloneSteps(proc, ctx), ...consoleSocketStep(proc, ctx)];
  const nsDir = target.nsDir ?? `/proc/${target.initPid}/ns`;
  for (const type of NAMESPACE_JOIN_ORDER) {
    if (!target.namespaces.includes(type)) continue;
    steps.push(step('JOIN_NS', { nstype: NAMESPACES[type].flag, path: join(nsDir, NAMESPACES[type].procName) }, `linux.namespaces (${type})`, `joins the container's ${type} namespace`));
  }
  steps.push(step('CLONE', { flags: 0, detached: ctx.detached ? 1 : 0 }, '(exec)', 'forks the process inside the joined namespaces (a pid namespace applies to children only)'));
  // Always (runc's nsexec does too): in the caller's session, a process whose stdin is the caller's
  // terminal could push input into the host shell with TIOCSTI (H.3); a terminal needs one anyway.
  steps.push(step('SETSID', {}, proc.terminal ? 'process.terminal' : '(runtime)', 'starts a new session, so the caller\'s terminal is not its controlling terminal (no TIOCSTI into the host shell) and a pty can become one'));
  steps.push(...sessionKeyringStep(ctx));
  if (allocatesPty(proc, ctx)) {
    steps.push(step('CONSOLE', { socket: '', rows: proc.consoleSize?.height ?? 0, cols: proc.consoleSize?.width ?? 0 }, 'process.terminal', `allocates a pty in the container's devpts, sends its master to ${ctx.consoleSocket ? 'the console socket' : 'the helper'} and makes the peer the stdio (the container's /dev/console is left alone)`));
  }
  steps.push(...processSteps(proc, ctx, issues, { create: false, startHooks: [] }));
  if (issues.length) throw new SpecError(issues, 'process');
  return { steps };
}
