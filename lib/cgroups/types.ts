/**
 * Public shapes of the cgroup library. Nothing here knows about containers:
 * a cgroup is a set of directories, one per hierarchy, and resources are the
 * OCI `linux.resources` object.
 */
import type { Resources } from '../spec/types.js';

/** Which cgroup hierarchies a host mounts, and where. */
export type CgroupLayout = {
  /** `hybrid`: v1 controllers plus a cgroup2 mount (usually `<root>/unified`). */
  kind: 'v1' | 'v2' | 'hybrid' | 'none';
  /** The directory holding the hierarchies (`/sys/fs/cgroup`). */
  root: string;
  /** v1 controller (`memory`, `cpu`, `name=systemd`, ...) -> mount directory. */
  v1: Record<string, string>;
  /** The cgroup2 mount directory, on `v2` and `hybrid`. */
  unified?: string;
};

/** The driver a manager uses: `hybrid` writes v1 controllers and also joins the cgroup2 mount. */
export type CgroupDriver = 'v1' | 'v2' | 'hybrid' | 'null';

/** How to find and name a cgroup. */
export interface CgroupOptions {
  /** Names the default cgroup (`tsrun/<id>`) when `cgroupsPath` is empty. */
  id: string;
  /** `linux.cgroupsPath` as the config gives it. */
  cgroupsPath?: string;
  /** `--systemd-cgroup`: needs a running systemd (`/run/systemd/system`). */
  systemd?: boolean;
  /** Rootless without a writable (delegated) cgroup: the null driver is used. */
  rootless?: boolean;
  /** Hierarchy root, default `/sys/fs/cgroup` (tests pass a temp directory). */
  root?: string;
  /** A layout detected earlier (or made up by a test); detected from `root` if absent. */
  layout?: CgroupLayout;
  /** File access; tests pass a plain-directory implementation. */
  fs?: CgroupFs;
  /** Where `/run/systemd/system` is looked for (tests). Default `/`. */
  hostRoot?: string;
}

/** One file write planned from `linux.resources`. */
export interface CgroupWrite {
  /** v1 controller name, or the v2 controller the file belongs to (`cgroup` for core files). */
  controller: string;
  /** File name inside the cgroup directory. */
  file: string;
  value: string;
  /** The OCI field the value comes from, e.g. `linux.resources.memory.limit`. */
  field: string;
  /** Written instead, in order, when `file` does not exist (e.g. `blkio.bfq.weight`). */
  alternatives?: { file: string; value: string }[];
  /** Skip silently when neither `file` nor an alternative exists (e.g. `hugetlb.*.rsvd.*`). */
  optional?: boolean;
  /** Failures become warnings (a setting newer kernels refuse, e.g. `memory.use_hierarchy=0`). */
  soft?: boolean;
}

/** The result of planning: the writes, and notes about values that are ignored. */
export interface CgroupPlan {
  writes: CgroupWrite[];
  warnings: string[];
}

/** What the manager stores in the container state, so later calls need no flags. */
export interface SavedCgroup {
  driver: CgroupDriver;
  paths: Record<string, string>;
  layout?: CgroupLayout;
  /** Id of the device program tsrun attached (cgroup v2). */
  deviceProgramId?: number;
  /** Directories create() made (deepest last), so destroy can report what it owned. */
  created?: string[];
  /** The null driver: why there is no cgroup (repeated by pause, resume and update). */
  reason?: string;
}

/** One blkio entry of runc's events data. */
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** Usage numbers of one memory counter. */
export interface MemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}

/** runc `events --stats` "data" shape (the parts a cgroup provides). */
export interface CgroupStats {
  cpu: {
    usage: { total: number; percpu: number[]; percpu_kernel: number[]; percpu_user: number[]; kernel: number; user: number };
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  memory: {
    cache: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw: Record<string, number>;
  };
  pids: { current: number; limit: number };
  blkio: {
    ioServiceBytesRecursive: BlkioEntry[];
    ioServicedRecursive: BlkioEntry[];
    ioQueueRecursive: BlkioEntry[];
    ioServiceTimeRecursive: BlkioEntry[];
    ioWaitTimeRecursive: BlkioEntry[];
    ioMergedRecursive: BlkioEntry[];
    ioTimeRecursive: BlkioEntry[];
    sectorsRecursive: BlkioEntry[];
  };
  hugetlb: Record<string, { usage: number; max: number; failcnt: number }>;
}

/** Options of `apply`. */
export interface ApplyOptions {
  /** `tsrun update`: honour `memory.checkBeforeUpdate`; a failure does not undo create. */
  update?: boolean;
  /** Leave device rules alone (runc `update` does). */
  skipDevices?: boolean;
}

/** Options of `destroy`. */
export interface DestroyOptions {
  /** SIGKILL what is left in the cgroup before removing it (shared pid namespace). */
  killLeftovers?: boolean;
  /** How long to retry EBUSY while processes exit. Default 5000 ms. */
  timeoutMs?: number;
}

/** One container's cgroup in every hierarchy. */
export interface CgroupManager {
  readonly driver: CgroupDriver;
  /** Controller (or `unified`) -> absolute directory. */
  readonly paths: Record<string, string>;
  /** mkdir in every hierarchy; refuses an existing non-empty or frozen cgroup; undoes itself on failure. */
  create(): void;
  /** Move a process into the cgroup in every hierarchy. */
  addProcess(pid: number): void;
  /** Write `linux.resources`; returns warnings. Validates everything before the first write. */
  apply(resources: Resources | undefined, opts?: ApplyOptions): string[];
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  isFrozen(): boolean;
  /** Every process in the cgroup and its descendants (host pids). */
  pids(): number[];
  /** cgroup.kill for SIGKILL on v2; otherwise freeze, signal every process, thaw. */
  killAll(signal: number): Promise<void>;
  stats(): CgroupStats;
  /** OOM kills so far. */
  oomEvents?(): number;
  /**
   * Zeroes the usage peaks and failure counters the kernel lets a writer
   * reset (v1: memory max_usage and failcnt, cpuacct.usage), for a cgroup
   * that is reused (the fast path's pool). Best effort; v2 has no such files.
   */
  resetCounters?(): void;
  destroy(opts?: DestroyOptions): Promise<void>;
  save(): SavedCgroup;
}

/** File access used by the manager; the default talks to the kernel. */
export interface CgroupFs {
  /** mkdir of one level; throws EEXIST like fs.mkdirSync. */
  mkdir(path: string): void;
  /** rmdir of an (empty of sub-cgroups) cgroup directory. */
  rmdir(path: string): void;
  /** Write an existing control file (no O_CREAT on the kernel fs). */
  write(path: string, value: string): void;
  read(path: string): string;
  exists(path: string): boolean;
  /** Names of entries that are directories. */
  subdirs(path: string): string[];
  /** Names of every entry. */
  list(path: string): string[];
}
