/**
 * The null driver: rootless containers without a delegated cgroup (and hosts
 * with no cgroup mount). Resources cannot be enforced, so apply reports each
 * set resource group as a warning; everything else is a no-op, except
 * freeze/thaw which cannot be faked: a "paused" container that keeps running
 * would be a lie, so they fail.
 */
import { CgroupError } from '../errors.js';
import type { Resources } from '../spec/types.js';
import { emptyStats } from './stats.js';
import type { CgroupManager, CgroupStats, SavedCgroup } from './types.js';

/**
 * The driver for a container without a cgroup (rootless without a delegated
 * cgroup): nothing to create or destroy; resource limits are refused with a
 * CgroupError and the process list is the init alone.
 */
export class NullCgroupManager implements CgroupManager {
  readonly driver = 'null' as const;
  readonly paths: Record<string, string> = {};
  /**
   * @param reason Why there is no cgroup, and what would give one: every
   *   warning and error of this driver ends with it.
   */
  constructor(readonly reason = 'rootless without a delegated cgroup') {}
  create(): void {}
  addProcess(_pid: number): void {}
  apply(resources: Resources | undefined): string[] {
    if (!resources) return [];
    return Object.entries(resources)
      .filter(([k, v]) => v !== undefined && !(k === 'devices' && Array.isArray(v)))
      .map(([k]) => `linux.resources.${k}: ignored, no cgroup is available (${this.reason})`);
  }
  async freeze(): Promise<void> {
    throw new CgroupError(`cannot freeze: the container has no cgroup (${this.reason})`, { driver: 'null' });
  }
  async thaw(): Promise<void> {
    throw new CgroupError(`cannot thaw: the container has no cgroup (${this.reason})`, { driver: 'null' });
  }
  isFrozen(): boolean {
    return false;
  }
  pids(): number[] {
    return [];
  }
  async killAll(_signal: number): Promise<void> {}
  stats(): CgroupStats {
    return emptyStats();
  }
  oomEvents(): number {
    return 0;
  }
  async destroy(): Promise<void> {}
  save(): SavedCgroup {
    return { driver: 'null', paths: {}, reason: this.reason };
  }
}
