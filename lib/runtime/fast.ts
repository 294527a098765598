/**
 * The fast path for short-lived containers (after SOCK, "lean containers"):
 * everything a container needs that does not depend on the container is
 * done once, ahead of time, and reused.
 *
 * - a pool of cgroups created (and their resources applied) up front,
 *   emptied and reset between uses instead of made and removed per container;
 * - in each pooled cgroup, a `tsrun-init` already spawned and waiting for its
 *   plan (spawning a process from Node and moving it into a cgroup are the two
 *   most expensive host-side steps of a create);
 * - the config loaded and validated once; the rootfs used in place,
 *   read-only (no copy, no overlay);
 * - optionally no network namespace (creating one is the most expensive
 *   namespace), when the function needs no network isolation;
 * - seccomp programs compiled once per profile (content-hash cache under the
 *   state root, as for every container).
 *
 * Every container still gets its own pid, mount, ipc and uts namespaces, its
 * own state dir (visible to `tsrun list`) and its own (pooled) cgroup.
 *
 * @example
 * ```ts
 * const runner = await FastRunner.open({ bundle: './bundle', poolSize: 4 });
 * const { exitCode } = await runner.run({ args: ['/bin/echo', 'hi'] });
 * await runner.close();
 * ```
 */
import { resolve } from 'node:path';
import type { StdioOptions } from 'node:child_process';
import type { Spec } from '../spec/types.js';
import { compilePlan, type PlanContext } from '../plan/compile.js';
import type { Plan } from '../plan/types.js';
import { loadBundleConfig, validateConfig } from '../spec/index.js';
import { createCgroupManager, DEFAULT_DEVICE_RULES, type CgroupManager } from '../cgroups/index.js';
import { createContainerProcess, deleteContainer, startContainer, waitAttached, type RuntimeContext } from './lifecycle.js';
import { spawnHelper, type HelperHandle } from './helper.js';
import { UsageError } from '../errors.js';
import type { ExitStatus, StdioSpec } from './container.js';

/** Stand-ins for the per-container strings of a cached plan. */
const TEMPLATE_FIFO = '<exec fifo>';
const TEMPLATE_KEYRING = '<session keyring>';

/** How a {@link FastRunner} runs its containers: the config, the pool size and the fast-path choices. */
export interface FastRunnerOptions {
  /** A bundle directory (config.json and its rootfs). */
  bundle?: string;
  /** Or a config object and a rootfs directory. */
  config?: Spec;
  rootfs?: string;
  /** State directory; the CLI's default when absent. */
  root?: string;
  /** Pooled cgroups (and warm helpers): how many containers can run at once without waiting. Default 4. */
  poolSize?: number;
  /** Keep the config's network namespace (default false: the container shares the host's network namespace). */
  network?: boolean;
  /** fds 0-2 of every container (fixed: the helpers are spawned ahead of time). Default `'inherit'`. */
  stdio?: StdioSpec | [StdioSpec, StdioSpec, StdioSpec];
  onWarning?: (message: string) => void;
}

interface Slot {
  index: number;
  cgroup: CgroupManager;
  helper?: HelperHandle;
  busy: boolean;
}

function stdioArray(s: FastRunnerOptions['stdio']): StdioOptions {
  const arr = Array.isArray(s) ? s : [s ?? 'inherit', s ?? 'inherit', s ?? 'inherit'];
  return arr.map((v, fd) => (v === 'inherit' ? fd : v));
}

/** Runs short-lived containers from one config through pooled cgroups and pre-spawned helpers. */
export class FastRunner {
  private readonly slots: Slot[] = [];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private counter = 0;
  private closed = false;
  private readonly ctx: RuntimeContext;
  private readonly stdio: StdioOptions;
  private readonly poolTag = `tsrun-pool-${process.pid}-${Date.now().toString(36)}`;
  /** Plans compiled once per process shape (args, env), with the per-container strings left to patch. */
  private readonly plans = new Map<string, Plan>();
  /** How many plans were compiled (the rest came from the cache): for tests and the benchmark. */
  compiledPlans = 0;

  private constructor(private readonly spec: Spec, private readonly bundle: string, private readonly opts: FastRunnerOptions) {
    this.ctx = { root: opts.root, onWarning: opts.onWarning };
    this.stdio = stdioArray(opts.stdio);
  }

  /** Loads and validates the config once, and fills the pool. */
  static async open(opts: FastRunnerOptions): Promise<FastRunner> {
    let spec: Spec;
    let bundle: string;
    if (opts.config) {
      if (!opts.rootfs) throw new UsageError('FastRunner: a config needs a rootfs');
      bundle = resolve(opts.bundle ?? opts.rootfs);
      const config = structuredClone(opts.config);
      config.root = { ...(config.root ?? {}), path: resolve(opts.rootfs) };
      spec = validateConfig(config, { bundle }).spec;
    } else {
      bundle = resolve(opts.bundle ?? '.');
      spec = loadBundleConfig(bundle).spec;
    }
    spec = FastRunner.fastSpec(spec, bundle, opts);
    const runner = new FastRunner(spec, bundle, opts);
    const n = opts.poolSize ?? 4;
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`FastRunner: poolSize must be a positive integer, not ${n}`);
    try {
      for (let i = 0; i < n; i++) runner.slots.push(runner.makeSlot(i));
    } catch (e) {
      await runner.close();
      throw e;
    }
    return runner;
  }

  /** The config as the fast path runs it: the rootfs read-only and in place, and no network namespace unless asked. */
  static fastSpec(spec: Spec, bundle: string, opts: { network?: boolean } = {}): Spec {
    const s = structuredClone(spec);
    const path = s.root?.path ?? 'rootfs';
    s.root = { path: resolve(bundle, path), readonly: true };
    if (!opts.network && s.linux?.namespaces) {
      s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== 'network' || n.path);
    }
    // The pool's cgroups are named by the pool, not by the config.
    if (s.linux) delete s.linux.cgroupsPath;
    return s;
  }

  private makeSlot(index: number): Slot {
    const cgroup = createCgroupManager({ id: `${this.poolTag}-${index}` });
    cgroup.create();
    const r = this.spec.linux?.resources ?? {};
    const warnings = cgroup.apply({ ...r, devices: [...(r.devices ?? [{ allow: false, access: 'rwm' }]), ...DEFAULT_DEVICE_RULES] });
    for (const w of warnings) this.opts.onWarning?.(w);
    const slot: Slot = { index, cgroup, busy: false };
    this.warm(slot);
    return slot;
  }

  /** Spawns the slot's next helper and moves it into the slot's cgroup, ahead of the container that will use it. */
  private warm(slot: Slot): void {
    // Never into a slot in use: its cgroup is the container's, and the reset kills what is left in it.
    if (this.closed || slot.helper || slot.busy) return;
    const h = spawnHelper({ stdio: this.stdio as unknown[] });
    if (!h.child.pid) return;
    try {
      slot.cgroup.addProcess(h.child.pid);
    } catch (e) {
      h.child.kill('SIGKILL');
      throw e;
    }
    // A helper that dies while waiting (closed runner, killed) leaves the slot cold; the next use spawns again.
    void h.exited.then(() => {
      if (slot.helper === h) slot.helper = undefined;
    });
    slot.helper = h;
  }

  private acquire(): Promise<Slot> {
    const free = this.slots.find((s) => !s.busy && s.helper) ?? this.slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((r) => this.waiting.push(r));
  }

  /** Empties and resets the slot's cgroup, warms a new helper and hands the slot on. */
  private async release(slot: Slot): Promise<void> {
    try {
      if (slot.cgroup.pids().length > 0) await slot.cgroup.killAll(9);
      if (slot.cgroup.isFrozen()) await slot.cgroup.thaw();
      // `tsrun update` may have changed the last container's limits: the next one gets the config's.
      const { devices: _devices, ...limits } = this.spec.linux?.resources ?? {};
      slot.cgroup.apply(limits, { update: true });
      slot.cgroup.resetCounters?.();
    } catch {
      /* reset failures surface at the next use */
    }
    const next = this.waiting.shift();
    if (next) {
      next(slot);
    } else {
      slot.busy = false;
    }
    // Warm off the caller's path: a waiting container reuses the slot at once (spawning its own helper if needed).
    if (!next) setImmediate(() => {
      try {
        this.warm(slot);
      } catch {
        /* cold slot: the next use spawns its own helper */
      }
    });
  }

  /**
   * Runs one container to completion: create (through a pooled cgroup and a
   * warm helper), start, wait, delete. `args` replaces `process.args`.
   */
  async run(opts: { id?: string; args?: string[]; env?: string[] } = {}): Promise<ExitStatus> {
    if (this.closed) throw new UsageError('FastRunner: closed');
    const slot = await this.acquire();
    const id = opts.id ?? `${this.poolTag}-c${this.counter++}`;
    const helper = slot.helper;
    slot.helper = undefined;
    try {
      let config = this.spec;
      if (opts.args || opts.env) {
        config = { ...this.spec, process: { ...this.spec.process!, ...(opts.args ? { args: opts.args } : {}), ...(opts.env ? { env: opts.env } : {}) } };
      }
      // A cold slot (its warm helper not ready yet): createContainerProcess spawns one and moves it into the cgroup.
      const h = helper;
      const created = await createContainerProcess(this.ctx, {
        id, config, bundle: this.bundle, detached: false, stdio: this.stdio, cgroup: slot.cgroup, helper: h, compile: this.compile,
      });
      try {
        await startContainer(this.ctx, id);
        return await waitAttached(created.helper!);
      } finally {
        await deleteContainer(this.ctx, id, { force: true });
      }
    } finally {
      await this.release(slot);
    }
  }

  /**
   * compilePlan, once per process shape: every container of the runner has
   * the same config, cgroup layout and seccomp program, so its plan differs
   * only in the exec fifo's path and the session keyring's name, which are
   * patched into a copy of the cached plan.
   */
  private readonly compile = (spec: Spec, ctx: PlanContext): Plan => {
    // A seccomp notify agent gets the container's own state (its id) in the plan: no template for that.
    if (ctx.seccompListener) {
      this.compiledPlans++;
      return compilePlan(spec, ctx);
    }
    const key = JSON.stringify([spec.process?.args, spec.process?.env, ctx.extraEnv, ctx.preserveFds]);
    let template = this.plans.get(key);
    if (!template) {
      template = compilePlan(spec, { ...ctx, execFifo: ctx.execFifo && TEMPLATE_FIFO, sessionKeyring: ctx.sessionKeyring && TEMPLATE_KEYRING });
      this.compiledPlans++;
      this.plans.set(key, template);
    }
    return {
      steps: template.steps.map((s) => {
        if (s.op === 'EXEC_FIFO') return { ...s, args: { ...s.args, path: ctx.execFifo! } };
        if (s.op === 'SESSION_KEYRING') return { ...s, args: { ...s.args, name: ctx.sessionKeyring! } };
        return s;
      }),
    } as Plan;
  };

  /** The pool's cgroups (their directories), for tests and stats. */
  get cgroups(): CgroupManager[] {
    return this.slots.map((s) => s.cgroup);
  }

  /** Kills the warm helpers and removes every pooled cgroup. Containers still running are killed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.slots) {
      const h = s.helper;
      s.helper = undefined;
      if (h) {
        h.child.kill('SIGKILL');
        await h.exited;
        h.channel.close();
      }
    }
    for (const s of this.slots) {
      try {
        if (s.cgroup.pids().length) await s.cgroup.killAll(9);
      } catch {
        /* gone */
      }
      await s.cgroup.destroy();
    }
    this.slots.length = 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
