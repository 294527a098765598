/**
 * The library's container object. By default the helper stays the parent of
 * the container init (attached mode), so `wait()` gets the exit status from
 * it; containers are stored in the same state root as the CLI's, so a
 * container made here is visible to `tsrun list/state` and the other way
 * round.
 */
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { StdioOptions } from 'node:child_process';
import type { Process, Resources, Spec, State } from '../spec/types.js';
import type { CgroupStats } from '../cgroups/index.js';
import {
  createContainerProcess, deleteContainer, execInContainer, killContainer, loadContainerState, listContainerStates,
  containerState, startContainer, waitAttached, type RuntimeContext,
} from './lifecycle.js';
import { pauseContainer, resumeContainer, updateContainer, containerStats, containerOomCount } from './cgroup-ops.js';
import { UsageError } from '../errors.js';
import type { HelperHandle } from './helper.js';
import type { Plan } from '../plan/types.js';
import { isProcessAlive, waitForExit } from './proc.js';
import { overlayPlan } from './overlay.js';
import { ContainerTerminal } from './terminal.js';

/** How a container's fd 0, 1 or 2 is connected. */
export type StdioSpec = 'inherit' | 'pipe' | 'ignore' | number;

/** What {@link createContainer} creates: the id, the bundle or config, and how to connect it. */
export interface ContainerOptions {
  /** Container id: `[A-Za-z0-9_+.-]+`. */
  id: string;
  /** An OCI bundle directory (with config.json). */
  bundle?: string;
  /** A config object instead of a bundle; validated the same way. */
  config?: Spec;
  /** With `config`: the rootfs directory. */
  rootfs?: string;
  /** State directory; the CLI's default when absent. */
  root?: string;
  /** fds 0-2 of the container: one value for all three, or one per fd. Default `'inherit'`. */
  stdio?: StdioSpec | [StdioSpec, StdioSpec, StdioSpec];
  /** Aborting kills and deletes the container. */
  signal?: AbortSignal;
  /** Receives warnings (unknown capabilities, kernel memory on cgroup v1, ...). */
  onWarning?: (message: string) => void;
  /**
   * A writable root on a read-only rootfs: overlayfs with the rootfs as the
   * lower layer and an upper layer of this container's own (under its state
   * dir, removed at delete). The rootfs itself is never written.
   */
  overlay?: boolean;
  /**
   * Give the process a terminal (sets `process.terminal`): a pty in the
   * container's devpts, read and written through {@link Container.terminal}
   * (with `resize`). `stdio` is then not used; `{ rows, cols }` sets the
   * initial size.
   */
  terminal?: boolean | { rows: number; cols: number };
  /**
   * The cgroup driver: `'cgroupfs'` (the default: tsrun writes the cgroup
   * files itself) or `'systemd'` (as `--systemd-cgroup`: refused with a
   * CgroupError, saying why: no systemd running, or no systemd driver in
   * tsrun yet).
   */
  cgroupDriver?: 'cgroupfs' | 'systemd';
}

/** How often a container with an `oom` listener reads its cgroup's OOM kill count. */
const OOM_POLL_MS = 100;

/** How a process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  exitCode: number | null;
  signal: number | null;
}

function stdioArray(s: ContainerOptions['stdio']): StdioOptions {
  const arr = Array.isArray(s) ? s : [s ?? 'inherit', s ?? 'inherit', s ?? 'inherit'];
  return arr.map((v, fd) => (v === 'inherit' ? fd : v));
}

/** A process started inside a container by {@link Container.exec}. */
export class ContainerProcess {
  /** Its stdin, when started with `stdio` `'pipe'` for fd 0. */
  readonly stdin: Writable | null;
  /** Its stdout, when started with `'pipe'` for fd 1. */
  readonly stdout: Readable | null;
  /** Its stderr, when started with `'pipe'` for fd 2. */
  readonly stderr: Readable | null;
  private readonly exit: Promise<ExitStatus>;
  constructor(
    /** The process's pid in the host's pid namespace. */
    readonly pid: number,
    helper: HelperHandle | undefined,
  ) {
    this.stdin = helper?.child.stdin ?? null;
    this.stdout = helper?.child.stdout ?? null;
    this.stderr = helper?.child.stderr ?? null;
    this.exit = helper ? waitAttached(helper) : Promise.resolve({ exitCode: null, signal: null });
  }
  /** Resolves when the process exits. */
  wait(): Promise<ExitStatus> {
    return this.exit;
  }
}

/**
 * A container. Events (only for containers created in this process): `oom`
 * (the new OOM kill count of its cgroup) each time the kernel's OOM killer
 * kills one of its processes, while something listens for it; `exit`
 * ({@link ExitStatus}) when its init exits, after any `oom` it caused.
 */
export class Container extends EventEmitter {
  /** The init's stdin, when created with `stdio` `'pipe'` for fd 0 (and no `terminal`). */
  readonly stdin: Writable | null;
  /** The init's stdout, when created with `'pipe'` for fd 1. */
  readonly stdout: Readable | null;
  /** The init's stderr, when created with `'pipe'` for fd 2. */
  readonly stderr: Readable | null;
  /** With the `terminal` option: the pty, as a duplex stream with `resize(rows, cols)`. */
  readonly terminal: ContainerTerminal | null;
  private exitPromise: Promise<ExitStatus> | undefined;

  private constructor(
    /** The container id, as `tsrun state` and `tsrun list` show it. */
    readonly id: string,
    private readonly ctx: RuntimeContext,
    helper?: HelperHandle,
    terminal = false,
    plan?: Plan,
  ) {
    super();
    const piped = helper && !terminal;
    this.stdin = (piped && helper.child.stdin) || null;
    this.stdout = (piped && helper.child.stdout) || null;
    this.stderr = (piped && helper.child.stderr) || null;
    this.terminal = helper && terminal && helper.child.stdin && helper.child.stdout ? new ContainerTerminal(helper.child.stdin, helper.child.stdout, helper.resize) : null;
    if (helper) {
      let oomSeen = 0;
      let oomTimer: NodeJS.Timeout | undefined;
      const checkOom = () => {
        let count = 0;
        try {
          count = containerOomCount(this.ctx, this.id);
        } catch {
          return; /* deleted meanwhile */
        }
        // One event per kill, also when several land between two reads.
        while (oomSeen < count) this.emit('oom', ++oomSeen);
      };
      this.on('newListener', (event: string) => {
        if (event !== 'oom' || oomTimer) return;
        try {
          oomSeen = containerOomCount(this.ctx, this.id);
        } catch {
          /* not created yet: counts from 0 */
        }
        oomTimer = setInterval(checkOom, OOM_POLL_MS);
        oomTimer.unref();
      });
      this.exitPromise = waitAttached(helper, plan).then((status) => {
        if (oomTimer) {
          clearInterval(oomTimer);
          checkOom(); // an OOM kill of the init is reported before its exit
        }
        this.emit('exit', status);
        return status;
      });
      // A caller that never awaits wait() must not get an unhandled rejection.
      this.exitPromise.catch(() => undefined);
    }
  }

  /** Creates a container (everything but the user program). */
  static async create(opts: ContainerOptions): Promise<Container> {
    if (opts.cgroupDriver !== undefined && opts.cgroupDriver !== 'cgroupfs' && opts.cgroupDriver !== 'systemd') {
      throw new UsageError(`cgroupDriver ${JSON.stringify(opts.cgroupDriver)} is not a cgroup driver; valid: "cgroupfs", "systemd"`);
    }
    const ctx: RuntimeContext = { root: opts.root, onWarning: opts.onWarning, systemdCgroup: opts.cgroupDriver === 'systemd' };
    opts.signal?.throwIfAborted();
    const terminal = opts.terminal !== undefined && opts.terminal !== false;
    const created = await createContainerProcess(ctx, {
      id: opts.id,
      bundle: opts.bundle,
      config: opts.config,
      rootfs: opts.rootfs,
      detached: false,
      stdio: terminal ? ['pipe', 'pipe', 'ignore'] : stdioArray(opts.stdio),
      rewritePlan: opts.overlay ? overlayPlan : undefined,
      terminal: opts.terminal,
    });
    for (const w of created.warnings) opts.onWarning?.(w);
    const c = new Container(opts.id, ctx, created.helper, terminal, created.plan);
    if (opts.signal) {
      const onAbort = () => void c.delete({ force: true }).catch(() => undefined);
      opts.signal.addEventListener('abort', onAbort, { once: true });
      c.once('exit', () => opts.signal?.removeEventListener('abort', onAbort));
    }
    return c;
  }

  /** A container that already exists in the state root (made by the CLI or another process). */
  static load(id: string, opts: { root?: string } = {}): Container {
    const ctx: RuntimeContext = { root: opts.root };
    loadContainerState(ctx, id);
    return new Container(id, ctx);
  }

  /** Lets the init execute the user program. */
  start(): Promise<void> {
    return startContainer(this.ctx, this.id);
  }

  /** Resolves with the exit status of the container init. */
  async wait(): Promise<ExitStatus> {
    if (this.exitPromise) return this.exitPromise;
    // Not our child: poll the init until it is gone; its status is not ours to read.
    const { saved } = loadContainerState(this.ctx, this.id);
    while (isProcessAlive(saved.initPid, saved.initStartTime)) await waitForExit(saved.initPid, saved.initStartTime, 60_000);
    return { exitCode: null, signal: null };
  }

  /** Signals the init (default SIGTERM). */
  kill(signal: string | number = 'SIGTERM', opts: { all?: boolean } = {}): Promise<void> {
    return killContainer(this.ctx, this.id, signal, opts);
  }

  /** Freezes every process of the container (the cgroup freezer); `state()` reports `paused`. */
  pause(): Promise<void> {
    return pauseContainer(this.ctx, this.id);
  }

  /** Thaws a paused container. */
  resume(): Promise<void> {
    return resumeContainer(this.ctx, this.id);
  }

  /** Runs a process in the container; the returned process has its own wait() and streams. */
  async exec(process: Process, opts: { stdio?: ContainerOptions['stdio']; detached?: boolean } = {}): Promise<ContainerProcess> {
    const started = await execInContainer(this.ctx, this.id, process, { detached: opts.detached ?? false, stdio: stdioArray(opts.stdio) });
    return new ContainerProcess(started.pid, started.helper);
  }

  /** Resource usage, in runc's `events --stats` shape. */
  stats(): CgroupStats {
    return containerStats(this.ctx, this.id);
  }

  /** Changes resource limits of the running container. */
  update(resources: Resources): string[] {
    return updateContainer(this.ctx, this.id, resources);
  }

  /** The OCI state (status derived from the kernel). */
  state(): State {
    return containerState(this.ctx, this.id);
  }

  /** Deletes the container; `force` kills it first if it is running. */
  async delete(opts: { force?: boolean } = {}): Promise<void> {
    await deleteContainer(this.ctx, this.id, opts);
    if (this.exitPromise) await this.exitPromise.catch(() => undefined);
  }

  /** `await using c = await createContainer(...)` deletes the container at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.delete({ force: true });
    } catch {
      /* already deleted */
    }
  }
}

/** Creates a container; see {@link ContainerOptions}. */
export function createContainer(opts: ContainerOptions): Promise<Container> {
  return Container.create(opts);
}

/** Opens an existing container by id. */
export function loadContainer(id: string, opts: { root?: string } = {}): Container {
  return Container.load(id, opts);
}

/** The state of every container under the root. */
export function listContainers(opts: { root?: string } = {}): State[] {
  return listContainerStates({ root: opts.root });
}
