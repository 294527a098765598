/**
 * The container lifecycle: create, start, state, kill, delete, exec. The CLI
 * verbs and the library's Container are thin clients of these functions.
 *
 * Status is derived, never stored (runc's rule, which every engine relies
 * on): the init alive (pid and start time match, not a zombie) and the exec
 * fifo present = created; alive without the fifo = running; its cgroup frozen
 * = paused; anything else = stopped.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readlinkSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { StdioOptions } from 'node:child_process';
import type { ContainerStatus, Process, Resources, Spec, State } from '../spec/types.js';
import { SPEC_VERSION } from '../spec/types.js';
import { loadBundleConfig, validateConfig } from '../spec/index.js';
import { compilePlan, compileExecPlan, rootfsPath, type CgroupMountLayout, type PlanContext } from '../plan/compile.js';
import type { Plan } from '../plan/types.js';
import { SYNC_POINTS } from '../plan/ops.js';
import { createCgroupManager, loadCgroupManager, moveToCgroupsOf, DEFAULT_DEVICE_RULES, type CgroupManager, type SavedCgroup } from '../cgroups/index.js';
import { CreateError, HookError, InternalError, NotFoundError, ProtocolError, StatusError, TsrunError, UsageError } from '../errors.js';
import { StateStore, validateId, type SavedState } from './state-store.js';
import { isProcessAlive, readProcStat, waitForExit } from './proc.js';
import { helperError, resizeChannelFd, sendPlan, spawnHelper, type HelperHandle } from './helper.js';
import { runHooks } from './hooks.js';
import { compileSeccomp } from '../security/index.js';
import { parseSignal } from './signals.js';
import { planIdMaps, resolveRootless, setgroupsDeniedIn, withRootlessHint } from './rootless.js';
import { NullCgroupManager } from '../cgroups/null.js';

export { parseSignal };

/** How to run (as opposed to what): the state root and the cgroup driver. */
export interface RuntimeContext {
  /** State directory (`--root`). */
  root?: string;
  /** `--systemd-cgroup`. */
  systemdCgroup?: boolean;
  /** Receives warnings (unknown capabilities, kernel memory on v1, failed poststop hooks). */
  onWarning?: (message: string) => void;
  /**
   * `--rootless`: true, false, or auto (the default: rootless when not root).
   * Rootless uses a cgroup only where one is delegated (else the null driver,
   * warned about), and an unprivileged caller's id maps go through
   * newuidmap/newgidmap when the kernel would refuse writing them.
   */
  rootless?: boolean | 'true' | 'false' | 'auto';
}

export interface CreateOptions {
  id: string;
  /** Bundle directory holding config.json (and usually the rootfs). */
  bundle?: string;
  /** A config object instead of `<bundle>/config.json`; validated the same way. */
  config?: Spec;
  /** With `config`: the rootfs directory (overrides `root.path`). */
  rootfs?: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** How many fds after stdio to pass to the container. */
  preserveFds?: number;
  /** Re-parent the container to the caller's subreaper (CLI `create`); otherwise the helper stays its parent. */
  detached: boolean;
  /** The container's fds 0-2 (default: tsrun's own). */
  stdio?: StdioOptions;
  /** Rewrites the compiled plan before it is sent (the overlay rootfs); gets the container's state dir. */
  rewritePlan?: (plan: Plan, stateDir: string) => Plan;
  /** A cgroup made (and its resources applied) in advance, the fast path's pool: used as is and kept at delete. */
  cgroup?: CgroupManager;
  /** A helper spawned in advance (the fast path), already in `cgroup`; its stdio is the container's. */
  helper?: HelperHandle;
  /** Compiles the plan instead of {@link compilePlan} (the fast path's cache); gets the same arguments. */
  compile?: (spec: Spec, ctx: PlanContext) => Plan;
  /**
   * Attached only: give the process a terminal (`process.terminal` is set)
   * that the helper proxies to its stdio, with a resize channel
   * (`helper.resize`). The library's `terminal` option.
   */
  terminal?: boolean | { rows: number; cols: number };
}

/** A container right after create. */
export interface Created {
  state: SavedState;
  /** The helper that stays the init's parent (attached mode only). */
  helper?: HelperHandle;
  warnings: string[];
  /** The plan the helper runs: a step that fails after start is named with its op and config field. */
  plan: Plan;
}

function store(ctx: RuntimeContext): StateStore {
  return new StateStore(ctx.root);
}

function rfc3339(d = new Date()): string {
  return d.toISOString();
}

/** The OCI state document of a saved container (`tsrun state`). */
export function publicState(s: SavedState, status: ContainerStatus): State {
  const shown: ContainerStatus = status === 'creating' ? 'created' : status;
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: shown === 'stopped' ? 0 : s.initPid,
    status: shown,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    ...(s.annotations && Object.keys(s.annotations).length ? { annotations: s.annotations } : {}),
    owner: s.owner,
  };
}

function cgroupOf(s: SavedState): CgroupManager | undefined {
  return s.cgroup ? loadCgroupManager(s.cgroup as SavedCgroup) : undefined;
}

/** Derives the status of a saved container from the kernel and the state dir. */
export function deriveStatus(st: StateStore, s: SavedState, cg = cgroupOf(s)): ContainerStatus {
  if (!isProcessAlive(s.initPid, s.initStartTime)) return 'stopped';
  if (s.phase === 'creating') return 'creating';
  try {
    if (cg?.isFrozen()) return 'paused';
  } catch {
    /* the cgroup is gone: fall through to the fifo check */
  }
  return existsSync(st.fifoPath(s.id)) ? 'created' : 'running';
}

function stateJson(s: SavedState, status: ContainerStatus): string {
  const st = publicState(s, status);
  return JSON.stringify({ ociVersion: SPEC_VERSION, id: st.id, status, pid: s.initPid, bundle: st.bundle, annotations: st.annotations ?? {} });
}

/** Writes a pid file atomically (a hidden temp file in the same dir, then rename), with no newline. */
export function writePidFile(path: string, pid: number): void {
  const abs = resolve(path);
  const tmp = join(dirname(abs), `.${basename(abs)}`);
  writeFileSync(tmp, String(pid), { flag: 'wx', mode: 0o644 });
  renameSync(tmp, abs);
}

/** The container's session keyring, as runc names it (exec joins it by this name). */
export function sessionKeyringName(id: string): string {
  return `_ses.${id}`;
}

function checkTerminal(spec: Spec, opts: { detached: boolean; consoleSocket?: string }): void {
  const terminal = spec.process?.terminal === true;
  if (terminal && opts.detached && !opts.consoleSocket) {
    throw new UsageError('cannot allocate tty if tsrun will detach without setting console socket');
  }
  if (!terminal && opts.consoleSocket) {
    throw new UsageError('cannot use console socket if tsrun will not detach or allocate tty');
  }
}

/** `--preserve-fds N`: every fd from 3 to 3+N-1 must be open (CVE-2024-21626 hardening). */
function checkPreservedFds(n: number): number[] {
  const fds: number[] = [];
  for (let fd = 3; fd < 3 + n; fd++) {
    try {
      fstatSync(fd);
    } catch {
      throw new UsageError(`--preserve-fds ${n}: file descriptor ${fd} is not open`);
    }
    // bin/tsrun lists the fds its caller passed: any other fd from 3 up is Node's own (epoll, eventfd, pipes).
    const caller = process.env.TSRUN_CALLER_FDS;
    if (caller !== undefined && !caller.split(',').includes(String(fd))) {
      throw new UsageError(`--preserve-fds ${n}: file descriptor ${fd} is not open (tsrun's caller did not pass it)`);
    }
    fds.push(fd);
  }
  return fds;
}

/** Socket activation (LISTEN_FDS/LISTEN_PID for us): pass the fds on and tell the container it is pid 1. */
function listenFds(): { count: number; env: string[] } {
  const n = Number(process.env.LISTEN_FDS ?? 0);
  if (!n || Number(process.env.LISTEN_PID) !== process.pid) return { count: 0, env: [] };
  return { count: n, env: [`LISTEN_FDS=${n}`, 'LISTEN_PID=1'] };
}

function cgroupMountLayout(cg: CgroupManager, spec: Spec): CgroupMountLayout {
  const v1: CgroupMountLayout['v1'] = [];
  let unified: CgroupMountLayout['unified'] = 'none';
  // Without a cgroup namespace, v1 hierarchies are bind-mounted from the container's own
  // directories (runc does the same): a fresh mount would show the host's whole tree.
  const bind = !(spec.linux?.namespaces ?? []).some((n) => n.type === 'cgroup');
  if (cg.driver === 'v2') unified = 'root';
  for (const key of Object.keys(cg.paths)) {
    if (key === 'unified') {
      if (cg.driver === 'hybrid') unified = 'unified';
      continue;
    }
    if (cg.driver === 'v2') continue;
    const name = key.replace(/^name=/, ''); // runc's directory for name=systemd is `systemd`
    v1.push({ name, data: key === 'systemd' ? 'none,name=systemd' : key, ...(bind ? { path: cg.paths[key] } : {}) });
  }
  const unifiedPath = bind && unified === 'unified' ? cg.paths['unified'] : undefined;
  return { v1, unified, ...(unifiedPath ? { unifiedPath } : {}) };
}

/** The device rules applied to the cgroup: the config's, then the standard allow list, then the config's devices. */
function resourcesWithDevices(spec: Spec): Resources {
  const r = spec.linux?.resources ?? {};
  const devices = [
    ...(r.devices ?? [{ allow: false, access: 'rwm' }]),
    ...DEFAULT_DEVICE_RULES,
    ...(spec.linux?.devices ?? []).map((d) => ({ allow: true, type: (d.type === 'b' ? 'b' : 'c') as 'b' | 'c', major: d.major ?? null, minor: d.minor ?? null, access: 'rwm' })),
  ];
  return { ...r, devices };
}

/**
 * The container's seccomp filter, compiled in the host (libseccomp through
 * the FFI, loaded only when a config has one) and cached by content hash
 * under the state root, so repeated containers with one profile pay once.
 */
function seccompFor(st: StateStore, spec: Spec, warnings: string[]): { program: Uint8Array; flags: number; notify: boolean } | undefined {
  const profile = spec.linux?.seccomp;
  if (!profile) return undefined;
  const compiled = compileSeccomp(profile, { cacheDir: join(st.root, '@cache', 'seccomp') }); // '@' is outside the id charset: never a container's dir
  warnings.push(...compiled.warnings);
  return { program: compiled.program, flags: compiled.flags, notify: compiled.notify };
}

/**
 * SCMP_ACT_NOTIFY: the container process state the helper sends with the
 * listener fd to `listenerPath` (config-linux.md), split where the process's
 * pid goes. `initPid` is known for exec; for create the init is that process.
 */
function seccompListenerFor(spec: Spec, seccomp: { notify: boolean } | undefined, s: { id: string; bundle: string; annotations?: Record<string, string> }, status: ContainerStatus, initPid?: number): { path: string; stateParts: string[] } | undefined {
  const path = spec.linux?.seccomp?.listenerPath;
  if (!seccomp?.notify || !path) return undefined;
  const mark = `@@tsrun-pid-${process.pid}-${Date.now()}@@`;
  const json = JSON.stringify({
    ociVersion: SPEC_VERSION,
    fds: ['seccompFd'],
    pid: mark,
    metadata: spec.linux?.seccomp?.listenerMetadata ?? '',
    state: { ociVersion: SPEC_VERSION, id: s.id, status, pid: initPid ?? mark, bundle: s.bundle, annotations: s.annotations ?? {} },
  });
  return { path: resolve(path), stateParts: json.split(JSON.stringify(mark)) };
}

/** Waits for the helper's messages up to READY, running the host hooks at the sync point. */
async function handshake(h: HelperHandle, plan: Plan, onPid: (pid: number) => string, spec: Spec): Promise<number> {
  let pid = 0;
  for (;;) {
    const m = await h.channel.next();
    if (!m) {
      const { code, signal } = await h.exited;
      throw new InternalError(`tsrun-init exited (${signal ? `signal ${signal}` : `status ${code}`}) before the container was ready`);
    }
    switch (m.type) {
      case 'PID':
        pid = m.payload.readUInt32LE(0);
        onPid(pid);
        break;
      case 'SYNC': {
        if (!pid) throw new ProtocolError('PID', 'SYNC');
        const json = onPid(pid);
        await runHooks('prestart', spec.hooks?.prestart, json);
        await runHooks('createRuntime', spec.hooks?.createRuntime, json);
        h.channel.send('CONTINUE', Buffer.from(json));
        break;
      }
      case 'READY':
        if (!pid) throw new ProtocolError('PID', 'READY');
        return pid;
      case 'ERROR':
        throw helperError(plan, m.payload);
      default:
        throw new ProtocolError('PID, SYNC, READY or ERROR', m.type);
    }
  }
}

/** Creates a container: everything but the user program is set up. */
export async function createContainerProcess(ctx: RuntimeContext, opts: CreateOptions): Promise<Created> {
  validateId(opts.id);
  const st = store(ctx);
  const warnings: string[] = [];
  let spec: Spec;
  let bundle: string;
  if (opts.config) {
    bundle = resolve(opts.bundle ?? st.root);
    const config: Spec = structuredClone(opts.config);
    if (opts.rootfs) config.root = { ...(config.root ?? {}), path: resolve(opts.rootfs) };
    const v = validateConfig(config, { bundle });
    spec = v.spec;
    warnings.push(...v.warnings.map((w) => `${w.field}: ${w.message}`));
  } else {
    bundle = resolve(opts.bundle ?? '.');
    const v = loadBundleConfig(bundle);
    spec = v.spec;
    warnings.push(...v.warnings.map((w) => `${w.field}: ${w.message}`));
  }
  if (opts.terminal) {
    if (opts.detached || opts.consoleSocket) throw new UsageError('a proxied terminal needs an attached container without a console socket');
    const size = typeof opts.terminal === 'object' ? { consoleSize: { height: opts.terminal.rows, width: opts.terminal.cols } } : {};
    spec = { ...spec, process: { ...spec.process!, terminal: true, ...size } };
  }
  checkTerminal(spec, opts);
  const preserved = [...checkPreservedFds(opts.preserveFds ?? 0)];
  const listen = listenFds();
  for (let i = 0; i < listen.count; i++) if (!preserved.includes(3 + i)) preserved.push(3 + i);
  preserved.sort((a, b) => a - b);
  const rootless = resolveRootless(ctx.rootless);
  // Before anything is created: an unprivileged caller learns which prerequisite is missing.
  const idMaps = planIdMaps(spec);

  const dir = st.claim(opts.id);
  const undo: (() => unknown)[] = [() => st.remove(opts.id)];
  let helper: HelperHandle | undefined;
  try {
    let cg = opts.cgroup ?? createCgroupManager({ id: opts.id, cgroupsPath: spec.linux?.cgroupsPath, systemd: ctx.systemdCgroup, rootless });
    let deferredPids: Resources['pids'];
    // Recorded before the cgroup is made (its paths are known): a create killed from here on leaves `delete --force` what it needs.
    const recordEarly = () => st.save({ version: 1, ociVersion: spec.ociVersion, id: opts.id, bundle, rootfs: rootfsPath(spec, bundle), created: rfc3339(), owner: '', annotations: spec.annotations, initPid: 0, initStartTime: '', phase: 'creating', config: spec, cgroup: cg.save(), namespaces: [], privatePidNs: true, rootless: false });
    recordEarly();
    if (!opts.cgroup) {
      try {
        cg.create();
      } catch (e) {
        // Rootless: a cgroup we may not create is no reason to fail; the container runs without one.
        if (!rootless || !/EACCES|EPERM|EROFS|permission denied|not permitted/i.test((e as Error).message)) throw e;
        warnings.push(`rootless: no cgroup (${(e as Error).message}); resource limits are not enforced and pause is refused: delegate a cgroup v2 subtree to this user (e.g. systemd's Delegate=yes) to get one`);
        cg = new NullCgroupManager(`the cgroup could not be created: ${(e as Error).message}`);
      }
      if (rootless && cg.driver === 'null' && !(spec.linux?.namespaces ?? []).some((n) => n.type === 'pid' && !n.path)) {
        warnings.push('rootless without a cgroup and without a private pid namespace: kill and delete can end only the init, not the processes it starts');
      }
      // A failed create may leave an init it never heard of in the cgroup: kill what is there, then remove it.
      undo.push(() => cg.destroy({ killLeftovers: true }));
      recordEarly(); // now with the cgroup directories create made
      // pids.max counts the helper and the clone that makes the init too: it is set once the
      // init exists (runc sets limits then as well), so a limit of 0 or 1 is honoured, not fatal.
      const { pids, ...early } = resourcesWithDevices(spec);
      deferredPids = pids;
      warnings.push(...cg.apply(early));
    }

    const hostHooks = Boolean(spec.hooks?.prestart?.length || spec.hooks?.createRuntime?.length);
    const seccomp = seccompFor(st, spec, warnings);
    const compiled = (opts.compile ?? compilePlan)(spec, {
      seccomp,
      seccompListener: seccompListenerFor(spec, seccomp, { id: opts.id, bundle, annotations: spec.annotations }, 'creating'),
      bundle,
      execFifo: st.fifoPath(opts.id),
      detached: opts.detached,
      noPivot: opts.noPivot,
      consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
      preserveFds: preserved.length,
      extraEnv: listen.env,
      hostHooks,
      cgroupMounts: cgroupMountLayout(cg, spec),
      setgroupsDenied: idMaps.setgroupsDenied,
      idMapTools: idMaps.idMapTools,
      resizeFd: opts.terminal && !opts.helper ? resizeChannelFd(preserved.length) : 0,
      sessionKeyring: opts.noNewKeyring ? undefined : sessionKeyringName(opts.id),
    });
    const plan = opts.rewritePlan ? opts.rewritePlan(compiled, dir) : compiled;

    const namespaces = (spec.linux?.namespaces ?? []).map((n) => n.type);
    const saved: SavedState = {
      version: 1,
      ociVersion: spec.ociVersion,
      id: opts.id,
      bundle,
      rootfs: rootfsPath(spec, bundle),
      created: rfc3339(),
      owner: '',
      annotations: spec.annotations,
      initPid: 0,
      initStartTime: '',
      phase: 'creating',
      config: spec,
      cgroup: cg.save(),
      namespaces,
      privatePidNs: (spec.linux?.namespaces ?? []).some((n) => n.type === 'pid' && !n.path),
      rootless,
      ...(opts.noNewKeyring ? { noNewKeyring: true } : {}),
      ...(opts.cgroup ? { pooledCgroup: true } : {}),
    };

    helper = opts.helper ?? spawnHelper({ stdio: (opts.stdio as unknown[]) ?? [0, 1, 2], preserveFds: preserved, resizeChannel: Boolean(opts.terminal) });
    const h = helper;
    undo.push(() => {
      if (saved.initPid && isProcessAlive(saved.initPid, saved.initStartTime)) process.kill(saved.initPid, 'SIGKILL');
      h.child.kill('SIGKILL');
      return waitForExit(saved.initPid, saved.initStartTime, 5000);
    });
    if (!h.child.pid) throw new InternalError('could not start tsrun-init');
    if (!opts.helper) cg.addProcess(h.child.pid);
    sendPlan(h, plan);

    const initPid = await handshake(h, plan, (pid) => {
      if (saved.initPid !== pid) {
        saved.initPid = pid;
        saved.initStartTime = readProcStat(pid)?.startTime ?? '';
        // Recorded at once, so that a create killed from here on can still be cleaned up by `delete --force`.
        st.save(saved);
      }
      return stateJson(saved, 'creating');
    }, spec);
    if (deferredPids !== undefined) warnings.push(...cg.apply({ pids: deferredPids }));
    // Attached, the helper stays the init's parent: out of the container's cgroup, it is not
    // counted against its limits, listed by `ps` or killed by `kill --all` as one of its processes.
    if (!opts.detached && h.child.pid) moveToCgroupsOf(h.child.pid, cg.save().layout);
    saved.phase = 'created';
    saved.initPid = initPid;
    st.save(saved);
    if (opts.pidFile) writePidFile(opts.pidFile, initPid);
    if (opts.detached) {
      await h.exited;
      h.channel.close();
    }
    void dir;
    return { state: saved, helper: opts.detached ? undefined : h, warnings, plan };
  } catch (e) {
    const cleanupErrors: unknown[] = [];
    for (const u of undo.reverse()) {
      try {
        await u();
      } catch (ce) {
        cleanupErrors.push(ce);
      }
    }
    helper?.channel.close();
    withRootlessHint(e, spec, rootless);
    if (e instanceof TsrunError && cleanupErrors.length === 0) throw e;
    throw new CreateError(e, cleanupErrors);
  }
}

/** Loads a container and derives its status; NotFoundError when it does not exist. */
export function loadContainerState(ctx: RuntimeContext, id: string): { saved: SavedState; status: ContainerStatus; store: StateStore } {
  const st = store(ctx);
  const saved = st.load(id);
  if (!saved) throw new NotFoundError(id);
  return { saved, status: deriveStatus(st, saved), store: st };
}

/** `tsrun state`: runc's state document. */
export function containerState(ctx: RuntimeContext, id: string): State {
  const { saved, status } = loadContainerState(ctx, id);
  return publicState(saved, status);
}

/** `tsrun list`: every container under the root. */
export function listContainerStates(ctx: RuntimeContext): State[] {
  const st = store(ctx);
  const out: State[] = [];
  for (const id of st.list()) {
    try {
      const saved = st.load(id);
      if (saved) out.push(publicState(saved, deriveStatus(st, saved)));
    } catch {
      /* removed while listing */
    }
  }
  return out;
}

/** `tsrun start`: lets the container init exec the user program. */
export async function startContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const st = store(ctx);
  const unlock = await st.lock(id);
  try {
    const saved = st.load(id);
    if (!saved) throw new NotFoundError(id);
    const status = deriveStatus(st, saved);
    if (status === 'stopped') throw new StatusError('cannot start a container that has stopped', 'start', status);
    if (status === 'running') throw new StatusError('cannot start an already running container', 'start', status);
    if (status !== 'created') throw new StatusError(`cannot start a container in the ${status} state`, 'start', status);
    if (!saved.config.process) throw new StatusError('cannot start a container without a process', 'start', status);
    await openExecFifo(st.fifoPath(id), saved);
    const startHooks = saved.config.hooks?.startContainer ?? [];
    if (startHooks.length) await waitStartHooks(saved, startHooks);
    try {
      await runHooks('poststart', saved.config.hooks?.poststart, stateJson(saved, 'running'));
    } catch (e) {
      // runtime-spec v1.3.0: a failed poststart hook stops the container.
      try {
        process.kill(saved.initPid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      throw e;
    }
  } finally {
    unlock();
  }
}

/**
 * The startContainer hooks run in the init after the fifo is read, before
 * execve (runc's start returns at the fifo). A failing one must "generate an
 * error" (runtime-spec): wait until the init has exec'd the program (its exe
 * is no longer the helper's sealed memfd) or has died, and fail in that case.
 * The helper's own error message went to a socket nobody reads any more.
 */
async function waitStartHooks(saved: SavedState, hooks: { timeout?: number }[]): Promise<void> {
  const limitMs = hooks.reduce((ms, h) => ms + (h.timeout ? h.timeout * 1000 : 30_000), 5000);
  const end = Date.now() + limitMs;
  for (let delay = 0; Date.now() < end; delay = Math.min(delay + 1, 10)) {
    if (!isProcessAlive(saved.initPid, saved.initStartTime)) {
      throw new HookError(`error running startContainer hook: the container exited before its process started (${hooks.length} startContainer hook${hooks.length > 1 ? 's' : ''}; a hook that fails stops the container)`, 'startContainer', -1);
    }
    let exe = '';
    try {
      exe = readlinkSync(`/proc/${saved.initPid}/exe`);
    } catch {
      /* exiting, or between the helper and the program: look again */
    }
    if (exe && !exe.startsWith('/memfd:tsrun-init') && !/\/tsrun-init( \(deleted\))?$/.test(exe)) return;
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Opens the exec fifo for reading (which releases the init), reads its byte and removes the fifo. */
async function openExecFifo(path: string, saved: SavedState): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StatusError('cannot start an already running container', 'start', 'running');
    throw e;
  }
  try {
    const buf = Buffer.alloc(1);
    let delay = 0;
    for (;;) {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n === 1) break;
      if (!isProcessAlive(saved.initPid, saved.initStartTime)) {
        // Between the read above and this check the init may have written its byte, exec'd and
        // exited (a fast program under load): the byte waiting in the fifo means it did start.
        try {
          n = readSync(fd, buf, 0, 1, null);
        } catch {
          n = 0;
        }
        if (n === 1) break;
        throw new StatusError('container process is already dead', 'start', 'stopped');
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay + 1, 10);
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(path);
}

function signalPid(pid: number, sig: number): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** `tsrun kill`: signals the init (or, with `all` or a shared pid namespace on SIGKILL, every process of the container). */
export async function killContainer(ctx: RuntimeContext, id: string, signal: string | number = 'SIGTERM', opts: { all?: boolean } = {}): Promise<void> {
  const sig = parseSignal(signal);
  const { saved, status } = loadContainerState(ctx, id);
  const cg = cgroupOf(saved);
  if (status === 'stopped') {
    if (opts.all) {
      // runc <= 1.1 semantics, which engines still rely on: leftover processes of a
      // shared pid namespace are signalled through the cgroup even after init exited.
      for (const pid of safePids(cg)) signalPid(pid, sig);
      return;
    }
    throw new StatusError('container not running', 'kill', status);
  }
  if (opts.all || (!saved.privatePidNs && sig === 9)) {
    if (sig === 9 && cg) await cg.killAll(9);
    else for (const pid of safePids(cg)) signalPid(pid, sig);
    signalPid(saved.initPid, sig);
  } else {
    signalPid(saved.initPid, sig);
  }
  if (sig === 9 && status === 'paused' && cg) await cg.thaw();
}

function safePids(cg: CgroupManager | undefined): number[] {
  try {
    return cg?.pids() ?? [];
  } catch {
    return [];
  }
}

/** `tsrun delete`: removes a stopped (or, with `force`, any) container and runs its poststop hooks. */
export async function deleteContainer(ctx: RuntimeContext, id: string, opts: { force?: boolean } = {}): Promise<void> {
  validateId(id);
  const st = store(ctx);
  let saved: SavedState | null;
  try {
    saved = st.load(id);
  } catch (e) {
    if (e instanceof NotFoundError && opts.force) return;
    throw e;
  }
  if (!saved) {
    // A create killed before it recorded anything: only the directory exists.
    st.remove(id);
    return;
  }
  const cg = cgroupOf(saved);
  const status = deriveStatus(st, saved, cg);
  if (saved.phase === 'creating' && cg) {
    // A create killed mid-way: its helper or an init it never recorded may still sit in the cgroup.
    try {
      await cg.killAll(9);
    } catch {
      /* the destroy below reports what is left */
    }
  }
  if (status === 'running' || status === 'paused') {
    if (!opts.force) throw new StatusError(`cannot delete container ${id} that is not stopped: ${status}`, 'delete', status);
  }
  if (status !== 'stopped') {
    if (!saved.privatePidNs && cg) await cg.killAll(9);
    signalPid(saved.initPid, 9);
    if (status === 'paused' && cg) await cg.thaw();
    await waitForExit(saved.initPid, saved.initStartTime, 10_000);
  }
  if (!saved.privatePidNs && cg) {
    // Without its own pid namespace, the init's death does not end the other processes.
    await cg.killAll(9);
  }
  if (cg && !saved.pooledCgroup) await cg.destroy();
  st.remove(id);
  try {
    await runHooks('poststop', saved.config.hooks?.poststop, stateJson(saved, 'stopped'));
  } catch (e) {
    ctx.onWarning?.((e as Error).message);
  }
}

export interface ExecOptions {
  detached: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  ignorePaused?: boolean;
  stdio?: StdioOptions;
}

/** The result of an exec: the process's host pid, and for attached execs, the helper to wait on. */
export interface ExecStarted {
  pid: number;
  helper?: HelperHandle;
}

/** `tsrun exec`: runs a process in every namespace and the cgroup of a running container. */
export async function execInContainer(ctx: RuntimeContext, id: string, proc: Process, opts: ExecOptions): Promise<ExecStarted> {
  const { saved, status } = loadContainerState(ctx, id);
  if (status === 'stopped') throw new StatusError('cannot exec in a stopped container', 'exec', status);
  if (status === 'paused' && !opts.ignorePaused) throw new StatusError('cannot exec in a paused container (use --ignore-paused to override)', 'exec', status);
  checkTerminal({ ociVersion: SPEC_VERSION, process: proc }, opts);
  const preserved = checkPreservedFds(opts.preserveFds ?? 0);
  const seccomp = seccompFor(new StateStore(ctx.root), saved.config, []);
  const plan = compileExecPlan(proc, { initPid: saved.initPid, namespaces: saved.namespaces }, {
    seccomp,
    seccompListener: seccompListenerFor(saved.config, seccomp, saved, status, saved.initPid),
    bundle: saved.bundle,
    detached: opts.detached,
    consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
    preserveFds: preserved.length,
    // A rootless container's user namespace may deny setgroups: the exec'd process must not call it.
    setgroupsDenied: setgroupsDeniedIn(saved.initPid),
    joinCgroupLate: status === 'paused',
    sessionKeyring: saved.noNewKeyring ? undefined : sessionKeyringName(saved.id),
  });
  const h = spawnHelper({ stdio: (opts.stdio as unknown[]) ?? [0, 1, 2], preserveFds: preserved });
  try {
    if (!h.child.pid) throw new InternalError('could not start tsrun-init');
    // Paused (--ignore-paused): a helper in the frozen cgroup would freeze before the process exists;
    // the process stops at the JOIN_CGROUP sync point instead, is moved into the cgroup there (and
    // freezes with it), and execs after resume. Its CONTINUE stays queued in the socket, so a
    // detached exec can return at once.
    const joinLate = status === 'paused';
    if (!joinLate) cgroupOf(saved)?.addProcess(h.child.pid);
    sendPlan(h, plan);
    let pid = 0;
    for (;;) {
      const m = await h.channel.next();
      if (!m) {
        if (pid && opts.detached) break;
        const { code, signal } = await h.exited;
        throw new InternalError(`tsrun-init exited (${signal ? `signal ${signal}` : `status ${code}`}) before the process started`);
      }
      if (m.type === 'PID') pid = m.payload.readUInt32LE(0);
      else if (m.type === 'ERROR') throw helperError(plan, m.payload);
      else if (m.type === 'SYNC' && joinLate && m.payload.readUInt32LE(0) === SYNC_POINTS.JOIN_CGROUP) {
        if (!pid) throw new ProtocolError('PID', 'SYNC');
        cgroupOf(saved)?.addProcess(pid);
        h.channel.send('CONTINUE', Buffer.alloc(0));
        break; // a frozen process execs only after resume: do not wait for it
      } else if (m.type === 'READY') {
        if (!opts.detached) break;
        // Detached: wait for EOF (the helper exited and the process exec'd), or an ERROR from a failed execve.
      } else throw new ProtocolError(joinLate ? 'PID, SYNC or ERROR' : 'PID, READY or ERROR', m.type);
    }
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    if (opts.detached) {
      if (!joinLate) await h.exited;
      h.channel.close();
      return { pid };
    }
    moveToCgroupsOf(h.child.pid, (saved.cgroup as SavedCgroup | undefined)?.layout); // as for create: the helper is not one of the container's processes
    return { pid, helper: h };
  } catch (e) {
    h.child.kill('SIGKILL');
    h.channel.close();
    throw e;
  }
}

/**
 * A proxied terminal (an attached process with `terminal` and no console
 * socket): tells the helper its terminal changed size; it copies the size of
 * its stdin's terminal to the container's pty.
 */
export function resizeProxiedTerminal(h: HelperHandle): void {
  try {
    if (h.child.pid) process.kill(h.child.pid, 'SIGWINCH');
  } catch {
    /* the helper is gone */
  }
}

/**
 * Waits for an attached container or exec process (the helper stays its
 * parent and sends EXIT), returning the exit code or signal.
 */
export async function waitAttached(h: HelperHandle, plan?: Plan): Promise<{ exitCode: number | null; signal: number | null }> {
  for (;;) {
    const m = await h.channel.next();
    if (!m) break;
    if (m.type === 'EXIT') {
      const status = m.payload.readInt32LE(0);
      await h.exited;
      h.channel.close();
      const termsig = status & 0x7f;
      if (termsig === 0) return { exitCode: (status >> 8) & 0xff, signal: null };
      return { exitCode: null, signal: termsig };
    }
    // A step after READY failed (the user switch, capabilities, execve): report it even without the plan.
    if (m.type === 'ERROR') throw helperError(plan ?? { steps: [] }, m.payload);
  }
  const { code, signal } = await h.exited;
  h.channel.close();
  if (code !== null && code >= 128 && code < 128 + 65) return { exitCode: null, signal: code - 128 };
  return { exitCode: code ?? null, signal: signal ? parseSignal(signal) : null };
}
