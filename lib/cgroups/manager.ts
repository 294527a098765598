/**
 * The cgroupfs manager: one directory per hierarchy, written through a
 * CgroupFs (the kernel, or a plain directory in tests).
 *
 * Drivers:
 * - `v1`: one directory per mounted v1 controller (and `name=systemd`).
 * - `v2`: one directory in the unified hierarchy; device rules are an eBPF program.
 * - `hybrid`: the v1 directories plus one in the cgroup2 mount. Resources go
 *   to v1 controllers; a resource whose controller is only on the cgroup2
 *   mount (hugetlb on the development hosts) goes there, and `unified` keys
 *   go there too. The v1 freezer is authoritative for freeze/thaw/isFrozen
 *   (it is what `runc pause` uses on such hosts and what reads as "paused");
 *   cgroup2's `cgroup.kill` is used for SIGKILL because it cannot miss a
 *   process forked during the kill.
 */
import { join, dirname } from 'node:path';
import { CgroupError, errnoMessage } from '../errors.js';
import type { Resources } from '../spec/types.js';
import * as bpf from '../sys/bpf.js';
import { buildDeviceProgram, encodeProgram } from './device-program.js';
import { normalizeDeviceRule } from './devices.js';
import { cgroupJoin, errnoOf, kernelCgroupFs } from './fs.js';
import { planCgroup } from './plan.js';
import { DEFAULT_CGROUP_PARENT } from './paths.js';
import { readStatsV1, readStatsV2 } from './stats.js';
import type {
  ApplyOptions,
  CgroupDriver,
  CgroupFs,
  CgroupLayout,
  CgroupManager,
  CgroupStats,
  CgroupWrite,
  DestroyOptions,
  SavedCgroup,
} from './types.js';

const SIGKILL = 9;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Which OCI resource group feeds each controller (to route hybrid writes). */
const RESOURCE_OF_CONTROLLER: Record<string, keyof Resources> = {
  memory: 'memory',
  cpu: 'cpu',
  cpuset: 'cpu',
  pids: 'pids',
  blkio: 'blockIO',
  io: 'blockIO',
  hugetlb: 'hugepageLimits',
  rdma: 'rdma',
};

/** v1 controllers whose absence only earns a warning (often not mounted). */
const OPTIONAL_V1 = new Set(['net_cls', 'net_prio', 'rdma']);

/** Pluggable device program handling (tests of the plain-directory fs skip the kernel). */
export interface DeviceProgramLoader {
  /** Attach a program for `rules` to `dir`, detach `previousId`; return the new id. */
  replace(dir: string, rules: ReturnType<typeof normalizeDeviceRule>[], previousId: number | undefined): number;
}

/** The real loader: bpf(2) through koffi (libc is only opened on first use). */
export const kernelDeviceProgramLoader: DeviceProgramLoader = {
  replace(dir, rules, previousId) {
    const fd = bpf.loadCgroupDeviceProgram(encodeProgram(buildDeviceProgram(rules)));
    try {
      const id = bpf.programId(fd);
      bpf.attachCgroupDeviceProgram(dir, fd);
      // Replace after attaching: between the two both programs apply and the
      // stricter wins, so there is no moment without rules.
      const old = previousId !== undefined && previousId !== id ? [previousId] : [];
      for (const oldId of old) {
        let oldFd: number | undefined;
        try {
          oldFd = bpf.programFdById(oldId);
          bpf.detachCgroupDeviceProgram(dir, oldFd);
        } catch (err) {
          // Already gone (the cgroup was recreated): nothing to replace.
          if (!(err instanceof Error && /ENOENT/.test(err.message))) throw err;
        } finally {
          if (oldFd !== undefined) bpf.closeFd(oldFd);
        }
      }
      return id;
    } finally {
      bpf.closeFd(fd);
    }
  },
};

/** Internal options of the cgroupfs manager. */
export interface FsManagerInit {
  driver: Exclude<CgroupDriver, 'null'>;
  paths: Record<string, string>;
  layout: CgroupLayout;
  fs?: CgroupFs;
  deviceProgramId?: number;
  created?: string[];
  devices?: DeviceProgramLoader;
}

/** The cgroupfs manager for the v1, v2 and hybrid drivers. */
export class FsCgroupManager implements CgroupManager {
  readonly driver: Exclude<CgroupDriver, 'null'>;
  readonly paths: Record<string, string>;
  private readonly layout: CgroupLayout;
  private readonly fs: CgroupFs;
  private readonly devices: DeviceProgramLoader;
  private deviceProgramId: number | undefined;
  private created: string[];
  /** create() ran in this object and no apply has succeeded yet: a failed apply undoes it. */
  private fresh = false;

  constructor(init: FsManagerInit) {
    this.driver = init.driver;
    this.paths = { ...init.paths };
    this.layout = init.layout;
    this.fs = init.fs ?? kernelCgroupFs;
    this.devices = init.devices ?? kernelDeviceProgramLoader;
    this.deviceProgramId = init.deviceProgramId;
    this.created = [...(init.created ?? [])];
  }

  /** Distinct directories (co-mounted controllers share one). */
  private dirs(): string[] {
    return [...new Set(Object.values(this.paths))];
  }

  private get unifiedDir(): string | undefined {
    return this.paths['unified'];
  }

  private hierarchyRootOf(dir: string): string {
    const roots = [...Object.values(this.layout.v1), ...(this.layout.unified ? [this.layout.unified] : [])];
    return roots.filter((r) => dir === r || dir.startsWith(r + '/')).sort((a, b) => b.length - a.length)[0] ?? dirname(dir);
  }

  private err(message: string, detail: { file?: string; value?: string; field?: string } = {}, cause?: unknown): CgroupError {
    return new CgroupError(message, { driver: this.driver, ...detail }, cause === undefined ? undefined : { cause });
  }

  private readOr(path: string, fallback = ''): string {
    try {
      return this.fs.read(path);
    } catch {
      return fallback;
    }
  }

  private procsIn(dir: string): number[] {
    return this.readOr(join(dir, 'cgroup.procs'))
      .split('\n')
      .filter((l) => /^[0-9]+$/.test(l.trim()))
      .map(Number);
  }

  private frozenDir(dir: string): boolean {
    if (this.fs.exists(join(dir, 'freezer.state'))) return this.readOr(join(dir, 'freezer.state')).trim() !== 'THAWED' && this.readOr(join(dir, 'freezer.state')).trim() !== '';
    if (this.fs.exists(join(dir, 'cgroup.events'))) return /^frozen 1$/m.test(this.readOr(join(dir, 'cgroup.events')));
    return false;
  }

  // ---- create ------------------------------------------------------------

  create(): void {
    const made: string[] = [];
    try {
      for (const dir of this.dirs()) {
        if (this.fs.exists(dir)) {
          const procs = this.procsIn(dir);
          if (procs.length > 0) throw this.err(`container's cgroup is not empty: ${procs.length} process(es) found in ${dir}`, { file: dir });
          if (this.frozenDir(dir)) throw this.err(`container's cgroup unexpectedly frozen: ${dir}`, { file: dir });
          continue;
        }
        const root = this.hierarchyRootOf(dir);
        // A concurrent destroy may remove the shared default parent between our
        // mkdirs (ENOENT): start over from what exists then, a few times.
        for (let attempt = 0; ; attempt++) {
          const missing: string[] = [];
          for (let d = dir; d !== root && d.length > root.length && !this.fs.exists(d); d = dirname(d)) missing.unshift(d);
          let raced = false;
          for (const d of missing) {
            try {
              this.fs.mkdir(d);
            } catch (err) {
              if (errnoOf(err) === 'ENOENT' && attempt < 5) {
                raced = true;
                break;
              }
              if (errnoOf(err) !== 'EEXIST') throw this.err(`mkdir ${d}: ${describe(err)}`, { file: d }, err);
              continue;
            }
            made.push(d);
            this.inheritCpuset(d);
          }
          if (!raced) break;
        }
      }
      if (this.unifiedDir !== undefined) this.enableControllers(this.unifiedDir, this.availableV2(), false);
    } catch (err) {
      const cleanup = this.removeDirs(made.slice().reverse());
      if (err instanceof CgroupError) {
        if (cleanup.length) (err as CgroupError & { cleanupErrors?: unknown[] }).cleanupErrors = cleanup;
        throw err;
      }
      throw this.err(`creating cgroup: ${describe(err)}`, {}, err);
    }
    this.created.push(...made);
    this.fresh = made.length > 0;
  }

  /**
   * v1 cpuset children start with empty cpus/mems and refuse tasks (ENOSPC)
   * until set: copy the parent's. The parent may be the shared default one
   * that a concurrent create has just made and not filled yet: fill it first,
   * from its own parent, up to the hierarchy root.
   */
  private inheritCpuset(dir: string, root = this.hierarchyRootOf(dir)): void {
    if (this.paths['cpuset'] === undefined || !(dir === this.paths['cpuset'] || this.paths['cpuset'].startsWith(dir + '/'))) return;
    if (dir === root || dir.length <= root.length) return;
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const mine = this.readOr(join(dir, f)).trim();
      if (mine !== '') continue;
      let parent = this.readOr(join(dirname(dir), f)).trim();
      if (parent === '') {
        this.inheritCpuset(dirname(dir), root);
        parent = this.readOr(join(dirname(dir), f)).trim();
      }
      if (parent === '') continue;
      try {
        this.fs.write(join(dir, f), parent);
      } catch (err) {
        throw this.err(`copying ${f} from the parent cgroup: ${describe(err)}`, { file: join(dir, f), value: parent }, err);
      }
    }
  }

  private removeDirs(dirs: string[]): unknown[] {
    const errors: unknown[] = [];
    for (const d of dirs) {
      try {
        this.fs.rmdir(d);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') errors.push(err);
      }
    }
    return errors;
  }

  /** Controllers the cgroup2 hierarchy offers (its root's cgroup.controllers). */
  private availableV2(): Set<string> {
    const root = this.layout.unified;
    if (root === undefined) return new Set();
    return new Set(this.readOr(join(root, 'cgroup.controllers')).split(/\s+/).filter(Boolean));
  }

  /**
   * Enable `wanted` in cgroup.subtree_control of every ancestor of `dir`
   * below the hierarchy root (and the root itself). With `strict`, a
   * controller that ends up unavailable to `dir` is an error.
   */
  private enableControllers(dir: string, wanted: Set<string>, strict: boolean, fieldOf?: Map<string, string>): void {
    if (wanted.size === 0) return;
    const root = this.layout.unified!;
    const chain: string[] = [];
    for (let d = dirname(dir); d.length >= root.length; d = dirname(d)) {
      chain.unshift(d);
      if (d === root) break;
    }
    for (const d of chain) {
      const file = join(d, 'cgroup.subtree_control');
      const on = new Set(this.readOr(file).split(/\s+/).filter(Boolean).map((c) => c.replace(/^\+/, '')));
      const add = [...wanted].filter((c) => !on.has(c));
      if (add.length === 0) continue;
      try {
        this.fs.write(file, add.map((c) => `+${c}`).join(' '));
      } catch {
        // One at a time, so one refused controller does not block the others.
        for (const c of add) {
          try {
            this.fs.write(file, `+${c}`);
          } catch (err) {
            if (strict) {
              const field = fieldOf?.get(c) ?? 'linux.resources';
              throw this.err(`${field}: cannot enable the ${c} controller in ${file}: ${describe(err)}`, { file, value: `+${c}`, field }, err);
            }
          }
        }
      }
    }
    if (strict) {
      const own = join(dir, 'cgroup.controllers');
      if (this.fs.exists(own)) {
        const mine = new Set(this.readOr(own).split(/\s+/).filter(Boolean));
        for (const c of wanted) {
          if (!mine.has(c)) {
            const field = fieldOf?.get(c) ?? 'linux.resources';
            throw this.err(`${field}: the ${c} controller is not enabled for ${dir}`, { file: own, field });
          }
        }
      }
    }
  }

  // ---- processes -----------------------------------------------------------

  addProcess(pid: number): void {
    for (const dir of this.dirs()) {
      const file = join(dir, 'cgroup.procs');
      try {
        this.fs.write(file, String(pid));
      } catch (err) {
        throw this.err(`adding pid ${pid} to ${file}: ${describe(err)}`, { file, value: String(pid) }, err);
      }
    }
  }

  /** The directory whose cgroup.procs lists the container: the freezer's on v1, else the unified one. */
  private processDir(): string {
    return this.paths['freezer'] ?? this.unifiedDir ?? this.paths['pids'] ?? this.paths['memory'] ?? this.dirs()[0]!;
  }

  pids(): number[] {
    const out: number[] = [];
    const walk = (dir: string) => {
      out.push(...this.procsIn(dir));
      let subs: string[] = [];
      try {
        subs = this.fs.subdirs(dir);
      } catch {
        return;
      }
      for (const s of subs) walk(join(dir, s));
    };
    walk(this.processDir());
    return [...new Set(out)];
  }

  // ---- resources -----------------------------------------------------------

  apply(resources: Resources | undefined, opts: ApplyOptions = {}): string[] {
    if (!resources) return [];
    try {
      const warnings = this.applyOrThrow(resources, opts);
      this.fresh = false;
      return warnings;
    } catch (err) {
      if (this.fresh && !opts.update) {
        // The first apply after create failed: leave no cgroup behind.
        const mine = this.created.slice().reverse();
        if (mine.every((d) => this.procsIn(d).length === 0)) {
          const cleanup = this.removeDirs(mine);
          this.created = [];
          this.fresh = false;
          if (cleanup.length && err instanceof CgroupError) (err as CgroupError & { cleanupErrors?: unknown[] }).cleanupErrors = cleanup;
        }
      }
      throw err;
    }
  }

  /** Split `resources` into what goes to v1 and what goes to cgroup2 (hybrid routing). */
  private route(resources: Resources): { v1?: Resources; v2?: Resources } {
    if (this.driver === 'v2') return { v2: resources };
    if (this.driver === 'v1') return { v1: resources };
    const available = this.availableV2();
    const v1: Resources = { ...resources };
    const v2: Resources = {};
    for (const [ctrl, key] of Object.entries(RESOURCE_OF_CONTROLLER)) {
      if (ctrl === 'io' || ctrl === 'cpuset') continue;
      if (this.paths[ctrl] === undefined && available.has(ctrl) && resources[key] !== undefined) {
        (v2 as Record<string, unknown>)[key] = resources[key];
        delete (v1 as Record<string, unknown>)[key];
      }
    }
    if (resources.unified !== undefined) {
      v2.unified = resources.unified;
      delete v1.unified;
    }
    return { v1, v2: Object.keys(v2).length ? v2 : undefined };
  }

  private applyOrThrow(resources: Resources, opts: ApplyOptions): string[] {
    const { v1, v2 } = this.route(opts.skipDevices ? { ...resources, devices: undefined } : resources);
    const warnings: string[] = [];
    // Plan everything before touching a file: invalid values fail with nothing written.
    const p1 = v1 ? planCgroup(v1, 1) : undefined;
    const p2 = v2 ? planCgroup(v2, 2) : undefined;
    const targets: { write: CgroupWrite; dir: string }[] = [];
    if (p1) {
      warnings.push(...p1.warnings);
      for (const w of p1.writes) {
        const dir = this.paths[w.controller];
        if (dir === undefined) {
          if (OPTIONAL_V1.has(w.controller)) {
            warnings.push(`${w.field}: the ${w.controller} controller is not mounted, ignored`);
            continue;
          }
          throw this.err(`${w.field}: the ${w.controller} controller is not mounted on this host`, { field: w.field, file: w.file, value: w.value });
        }
        targets.push({ write: w, dir });
      }
    }
    let wantV2 = new Map<string, string>();
    if (p2) {
      warnings.push(...p2.warnings);
      const dir = this.unifiedDir;
      if (dir === undefined) throw this.err('linux.resources: no cgroup2 hierarchy on this host');
      const available = this.availableV2();
      for (const w of p2.writes) {
        if (w.controller !== 'cgroup') {
          if (!available.has(w.controller)) {
            throw this.err(`${w.field}: the ${w.controller} controller is not available in ${this.layout.unified} (cgroup.controllers: ${[...available].join(' ') || 'none'})`, {
              field: w.field,
              file: w.file,
              value: w.value,
            });
          }
          if (!wantV2.has(w.controller)) wantV2.set(w.controller, w.field);
        }
        targets.push({ write: w, dir });
      }
    }
    const devRules = this.driver === 'v2' && resources.devices !== undefined && !opts.skipDevices ? resources.devices.map((r, i) => normalizeDeviceRule(r, i)) : undefined;

    if (opts.update && resources.memory?.checkBeforeUpdate && resources.memory.limit !== undefined && resources.memory.limit >= 0) {
      const memDir = this.driver === 'v2' ? this.unifiedDir : this.paths['memory'];
      const usage = Number(this.readOr(join(memDir ?? '/nonexistent', this.driver === 'v2' ? 'memory.current' : 'memory.usage_in_bytes'), '0').trim());
      if (resources.memory.limit < usage) {
        const field = 'linux.resources.memory.limit';
        throw this.err(`${field}: the new limit ${resources.memory.limit} is below the current usage ${usage} (checkBeforeUpdate)`, { field, value: String(resources.memory.limit) });
      }
    }

    if (wantV2.size > 0) this.enableControllers(this.unifiedDir!, new Set(wantV2.keys()), true, wantV2);

    for (let i = 0; i < targets.length; i++) {
      const { write, dir } = targets[i]!;
      const next = targets[i + 1];
      try {
        this.writeOne(write, dir, warnings);
      } catch (err) {
        // v1: raising the limit above memsw (or lowering memsw below it) is
        // refused; doing the pair in the other order works.
        if (write.file === 'memory.limit_in_bytes' && next?.write.file === 'memory.memsw.limit_in_bytes') {
          this.writeOne(next.write, next.dir, warnings);
          this.writeOne(write, dir, warnings);
          i++;
          continue;
        }
        throw err;
      }
    }
    if (devRules) {
      try {
        this.deviceProgramId = this.devices.replace(this.unifiedDir!, devRules, this.deviceProgramId);
      } catch (err) {
        throw this.err(`linux.resources.devices: loading the device eBPF program: ${describe(err)}`, { field: 'linux.resources.devices', file: this.unifiedDir }, err);
      }
    }
    return warnings;
  }

  private writeOne(w: CgroupWrite, dir: string, warnings: string[]): void {
    let file = w.file;
    let value = w.value;
    if (!this.fs.exists(join(dir, file))) {
      const alt = (w.alternatives ?? []).find((a) => this.fs.exists(join(dir, a.file)));
      if (alt) ({ file, value } = alt);
      else if (w.optional) return;
    }
    const path = join(dir, file);
    try {
      this.fs.write(path, value);
    } catch (err) {
      const e = this.err(`${w.field}: writing ${JSON.stringify(value)} to ${path}: ${describe(err)}`, { file: path, value, field: w.field }, err);
      if (w.soft) {
        warnings.push(e.message);
        return;
      }
      throw e;
    }
  }

  // ---- freezer -------------------------------------------------------------

  private freezerV1(): string | undefined {
    return this.paths['freezer'];
  }

  async freeze(): Promise<void> {
    const v1 = this.freezerV1();
    if (v1) return this.setV1Freezer(v1, 'FROZEN');
    return this.setV2Freeze(true);
  }

  async thaw(): Promise<void> {
    const v1 = this.freezerV1();
    if (v1) return this.setV1Freezer(v1, 'THAWED');
    return this.setV2Freeze(false);
  }

  private async setV1Freezer(dir: string, state: 'FROZEN' | 'THAWED'): Promise<void> {
    const file = join(dir, 'freezer.state');
    const deadline = Date.now() + 10_000;
    for (let i = 0; ; i++) {
      // Re-writing FROZEN makes the kernel retry tasks that were busy (FREEZING).
      if (i % 10 === 0) {
        try {
          this.fs.write(file, state);
        } catch (err) {
          throw this.err(`writing ${state} to ${file}: ${describe(err)}`, { file, value: state }, err);
        }
      }
      if (this.readOr(file).trim() === state) return;
      if (Date.now() > deadline) {
        if (state === 'FROZEN') this.fs.write(file, 'THAWED');
        throw this.err(`timed out waiting for ${file} to become ${state}`, { file, value: state });
      }
      await sleep(Math.min(1 + i, 20));
    }
  }

  private async setV2Freeze(frozen: boolean): Promise<void> {
    const dir = this.unifiedDir;
    if (dir === undefined) throw this.err('no freezer: neither a v1 freezer nor a cgroup2 directory');
    const file = join(dir, 'cgroup.freeze');
    try {
      this.fs.write(file, frozen ? '1' : '0');
    } catch (err) {
      throw this.err(`writing ${frozen ? 1 : 0} to ${file}: ${describe(err)}`, { file }, err);
    }
    const events = join(dir, 'cgroup.events');
    const want = `frozen ${frozen ? 1 : 0}`;
    const deadline = Date.now() + 10_000;
    for (let i = 0; ; i++) {
      if (new RegExp(`^${want}$`, 'm').test(this.readOr(events))) return;
      if (Date.now() > deadline) throw this.err(`timed out waiting for "${want}" in ${events}`, { file: events });
      await sleep(Math.min(1 + i, 20));
    }
  }

  isFrozen(): boolean {
    const v1 = this.freezerV1();
    if (v1) return this.readOr(join(v1, 'freezer.state')).trim() === 'FROZEN';
    const dir = this.unifiedDir;
    if (dir === undefined) return false;
    const events = this.readOr(join(dir, 'cgroup.events'));
    if (/^frozen /m.test(events)) return /^frozen 1$/m.test(events);
    return this.readOr(join(dir, 'cgroup.freeze')).trim() === '1';
  }

  // ---- kill, stats, destroy -------------------------------------------------

  async killAll(signal: number): Promise<void> {
    const dir = this.unifiedDir;
    if (signal === SIGKILL && dir !== undefined && this.fs.exists(join(dir, 'cgroup.kill'))) {
      try {
        this.fs.write(join(dir, 'cgroup.kill'), '1');
        // v1-frozen tasks only die once thawed (runc thaws on SIGKILL too).
        if (this.freezerV1() !== undefined && this.isFrozen()) await this.thaw();
        return;
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return;
        throw this.err(`writing 1 to ${join(dir, 'cgroup.kill')}: ${describe(err)}`, { file: join(dir, 'cgroup.kill') }, err);
      }
    }
    // Freeze so nothing forks between listing and signalling; SIGKILL reaches
    // frozen tasks, other signals are delivered on thaw.
    const canFreeze = this.freezerV1() !== undefined || (dir !== undefined && this.fs.exists(join(dir, 'cgroup.freeze')));
    const wasFrozen = canFreeze && this.isFrozen();
    if (canFreeze && !wasFrozen) await this.freeze();
    try {
      for (const pid of this.pids()) {
        try {
          process.kill(pid, signal);
        } catch (err) {
          if (errnoOf(err) !== 'ESRCH') throw this.err(`kill ${pid}: ${describe(err)}`, {}, err);
        }
      }
    } finally {
      // A paused container stays paused for other signals; SIGKILL needs the thaw to finish dying.
      if (canFreeze && (!wasFrozen || signal === SIGKILL)) await this.thaw();
    }
  }

  stats(): CgroupStats {
    if (this.driver === 'v2') return readStatsV2(this.unifiedDir!, this.fs);
    return readStatsV1(this.paths, this.fs, this.unifiedDir);
  }

  oomEvents(): number {
    const mem = this.paths['memory'];
    const file = mem !== undefined ? join(mem, 'memory.oom_control') : join(this.unifiedDir ?? '/nonexistent', 'memory.events');
    const m = /^oom_kill ([0-9]+)$/m.exec(this.readOr(file));
    return m ? Number(m[1]) : 0;
  }

  resetCounters(): void {
    const resettable: [string, string][] = [
      ['memory', 'memory.max_usage_in_bytes'], ['memory', 'memory.memsw.max_usage_in_bytes'],
      ['memory', 'memory.failcnt'], ['memory', 'memory.memsw.failcnt'], ['cpuacct', 'cpuacct.usage'], ['cpu', 'cpuacct.usage'],
    ];
    for (const [controller, file] of resettable) {
      const dir = this.paths[controller];
      if (dir === undefined) continue;
      try {
        this.fs.write(join(dir, file), '0');
      } catch {
        /* not on this kernel (memsw without swap accounting) or another hierarchy's file */
      }
    }
  }

  async destroy(opts: DestroyOptions = {}): Promise<void> {
    if (opts.killLeftovers) {
      try {
        await this.killAll(SIGKILL);
      } catch {
        /* the rmdir below reports what is left */
      }
    }
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    const errors: unknown[] = [];
    for (const dir of this.dirs()) {
      try {
        await this.removeTree(dir, deadline);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) {
      const first = errors[0];
      throw this.err(`removing cgroup: ${describe(first)}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`, {}, first);
    }
    this.removeEmptyDefaultParents();
    this.created = [];
  }

  /**
   * The default parent (`<hierarchy>/tsrun`) is shared by every container
   * without a cgroupsPath; the last one out removes it, so tsrun leaves no
   * trace in any hierarchy. A parent still in use refuses (ENOTEMPTY/EBUSY).
   */
  private removeEmptyDefaultParents(): void {
    for (const dir of this.dirs()) {
      // Relative cgroupsPaths nest under it (`tsrun/pod/<id>`): climb to it, removing what is empty.
      const top = join(this.hierarchyRootOf(dir), DEFAULT_CGROUP_PARENT);
      if (!dir.startsWith(top + '/')) continue;
      for (let d = dirname(dir); d.length >= top.length; d = dirname(d)) {
        try {
          this.fs.rmdir(d);
        } catch {
          break; // still used by another container, or already gone
        }
      }
    }
  }

  /** rmdir children first, retrying EBUSY while exiting processes leave. */
  private async removeTree(dir: string, deadline: number): Promise<void> {
    let subs: string[];
    try {
      subs = this.fs.subdirs(dir);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw err;
    }
    for (const s of subs) await this.removeTree(join(dir, s), deadline);
    for (let i = 0; ; i++) {
      try {
        this.fs.rmdir(dir);
        return;
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || Date.now() > deadline) {
          throw this.err(`rmdir ${dir}: ${describe(err)}`, { file: dir }, err);
        }
        await sleep(Math.min(5 * (i + 1), 100));
      }
    }
  }

  save(): SavedCgroup {
    const s: SavedCgroup = { driver: this.driver, paths: { ...this.paths }, layout: this.layout };
    if (this.deviceProgramId !== undefined) s.deviceProgramId = this.deviceProgramId;
    if (this.created.length) s.created = [...this.created];
    return s;
  }
}

function describe(err: unknown): string {
  const code = errnoOf(err);
  if (code && /^E[A-Z]+$/.test(code)) return `${code} (${errnoMessage(code)})`;
  return err instanceof Error ? err.message : String(err);
}

/** Paths of a cgroup at `rel` (absolute inside each hierarchy) for a layout. */
export function cgroupPaths(layout: CgroupLayout, rel: string): Record<string, string> {
  const paths: Record<string, string> = {};
  if (layout.kind === 'v1' || layout.kind === 'hybrid') {
    for (const [ctrl, mount] of Object.entries(layout.v1)) paths[ctrl] = cgroupJoin(mount, rel);
  }
  if ((layout.kind === 'v2' || layout.kind === 'hybrid') && layout.unified !== undefined) paths['unified'] = cgroupJoin(layout.unified, rel);
  return paths;
}
