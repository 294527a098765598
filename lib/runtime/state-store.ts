/**
 * The state store: one directory per container under the root
 * (`/run/tsrun/<id>/`), holding `state.json` and, between create and start,
 * `exec.fifo`. The layout is private to tsrun (no engine reads it), and is
 * shared by the CLI and the library, so containers made by one are seen by
 * the other.
 */
import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NamespaceType, Spec } from '../spec/types.js';
import { InvalidIdError, NotFoundError, ExistsError } from '../errors.js';
import { readProcStat, isProcessAlive } from './proc.js';

/** What tsrun records about a container (its private format). */
export interface SavedState {
  version: 1;
  ociVersion: string;
  id: string;
  bundle: string;
  rootfs: string;
  /** RFC3339 time the container was created. */
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** Host pid of the container init, and its start time (pid reuse protection). */
  initPid: number;
  initStartTime: string;
  /** `creating` until the init reported ready; a killed create can still be deleted. */
  phase: 'creating' | 'created';
  /** The config as validated at create: later edits of config.json must not matter. */
  config: Spec;
  /** The cgroup driver and paths, from the cgroup manager's save(). */
  cgroup?: unknown;
  /** Namespace types the container has (created or joined), for exec. */
  namespaces: NamespaceType[];
  /** The container has its own pid namespace: killing init kills everything. */
  privatePidNs: boolean;
  /** `--no-new-keyring` at create: execs keep the caller's session keyring too. */
  noNewKeyring?: boolean;
  rootless: boolean;
  /** The cgroup belongs to a pool (the fast path): delete leaves it for the pool to reset and reuse. */
  pooledCgroup?: boolean;
}

const ID_PATTERN = /^[A-Za-z0-9_+.-]+$/;

/** Throws InvalidIdError unless `id` is a valid container id (runc's rule). */
export function validateId(id: string): void {
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') throw new InvalidIdError(id);
}

/** The default state root: /run/tsrun as real root, else $XDG_RUNTIME_DIR/tsrun (as runc). */
export function defaultRoot(): string {
  const euid = process.geteuid?.() ?? 0;
  if (euid !== 0 && process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, 'tsrun');
  return '/run/tsrun';
}

export class StateStore {
  readonly root: string;
  constructor(root: string = defaultRoot()) {
    this.root = resolve(root);
    if (this.root === '/') throw new Error('the state root cannot be /');
  }

  dir(id: string): string {
    validateId(id);
    return join(this.root, id);
  }

  fifoPath(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }

  /** Makes the container directory; exactly one of several concurrent creates of an id wins. */
  claim(id: string): string {
    const dir = this.dir(id);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ExistsError(id);
      throw e;
    }
    return dir;
  }

  /** Writes state.json atomically: a temp file, fsync, rename. Never truncated in place. */
  save(state: SavedState): void {
    const dir = this.dir(state.id);
    const tmp = join(dir, `.state.json.${process.pid}`);
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    try {
      writeSync(fd, JSON.stringify(state));
      // No fsync: the state root lives in /run, which no reboot keeps (the pids in it would be meaningless), as with runc. It cost 1-3 ms per save on a disk-backed /run.
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, 'state.json'));
  }

  /** The saved state; NotFoundError when the container does not exist; null when its dir has no state yet. */
  load(id: string): SavedState | null {
    const dir = this.dir(id);
    try {
      return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as SavedState;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        try {
          readdirSync(dir);
        } catch {
          throw new NotFoundError(id);
        }
        return null;
      }
      throw e;
    }
  }

  /** Ids of every container directory under the root. */
  list(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true })
        .filter((d) => d.isDirectory() && ID_PATTERN.test(d.name))
        .map((d) => d.name)
        .sort();
    } catch {
      return [];
    }
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  /**
   * Serializes commands on one container: an O_EXCL lock file holding the
   * holder's pid and start time. A lock whose holder is gone is taken over,
   * so a killed tsrun never wedges a container.
   */
  async lock(id: string, timeoutMs = 30_000): Promise<() => void> {
    const path = join(this.dir(id), '.lock');
    const me = readProcStat(process.pid);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        writeSync(fd, `${process.pid} ${me?.startTime ?? ''}`);
        closeSync(fd);
        return () => {
          try {
            unlinkSync(path);
          } catch {
            /* the container dir is already gone (delete) */
          }
        };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new NotFoundError(id);
        if (code !== 'EEXIST') throw e;
      }
      let holderAlive = true;
      try {
        const [pid, start] = readFileSync(path, 'utf8').split(' ');
        holderAlive = isProcessAlive(Number(pid), start ?? '');
      } catch {
        holderAlive = false;
      }
      if (!holderAlive) {
        try {
          unlinkSync(path);
        } catch {
          /* another waiter took it over first */
        }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock of container ${id}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
