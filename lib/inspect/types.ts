/**
 * The shape of `tsrun inspect`: one running container as data, gathered
 * from the kernel (procfs, the cgroup files) and its saved state.
 */
import type { ContainerStatus, NamespaceType } from '../spec/types.js';
import type { CgroupDriver } from '../cgroups/types.js';

/** One process of the container. */
export interface InspectProcess {
  /** Pid in the host's pid namespace. */
  pid: number;
  /** Parent pid in the host's pid namespace (a host process for the init). */
  ppid: number;
  /** Pid as the container sees it (innermost `NSpid`), when known. */
  nsPid?: number;
  /** Command line (`/proc/<pid>/cmdline`), or `[comm]` for a kernel-emptied one. */
  command: string[];
  /** True for the container's init. */
  init: boolean;
}

/** One namespace of the container's init. */
export interface InspectNamespace {
  /** Which kind of namespace. */
  type: NamespaceType;
  /** nsfs inode: equal inodes mean the same namespace. */
  inode: number;
  /** The host (pid 1) is in the same namespace: not isolated on this axis. */
  sharedWithHost: boolean;
}

/** A memory counter of the cgroup, in bytes (`limit` null when unlimited). */
export interface InspectMemory {
  /** Bytes in use now. */
  usage: number;
  /** The highest usage seen. */
  max: number;
  /** The limit, or null when unlimited. */
  limit: number | null;
  /** How many times an allocation hit the limit. */
  failcnt: number;
}

/** The container's cgroup: where it is, its limits and current usage. */
export interface InspectCgroup {
  /** The cgroup driver saved at create. */
  driver: CgroupDriver;
  /** Controller (or `unified`) -> directory. */
  paths: Record<string, string>;
  /** Memory use and limit. */
  memory: InspectMemory;
  /** Processes now and the limit (null when unlimited). */
  pids: { current: number; limit: number | null };
  /** CPU time used so far, nanoseconds. */
  cpuNs: number;
  /** OOM kills so far, when the driver can tell. */
  oomKills?: number;
}

/** One mount of the container's mount namespace (a line of /proc/<pid>/mountinfo). */
export interface InspectMount {
  /** Mount id. */
  id: number;
  /** Id of the mount this one is mounted on. */
  parentId: number;
  /** `major:minor` of the filesystem. */
  device: string;
  /** The path in the filesystem that is mounted (`/` for a whole filesystem). */
  root: string;
  /** Where, inside the container. */
  mountPoint: string;
  /** Per-mount options (`rw,nosuid,...`). */
  options: string;
  /** Propagation fields (`shared:1`, `master:3`), may be empty. */
  propagation: string[];
  /** Filesystem type. */
  fstype: string;
  /** Mount source (device, or the filesystem's name). */
  source: string;
  /** Per-superblock options. */
  superOptions: string;
}

/** Everything `tsrun inspect` shows about one container. */
export interface InspectReport {
  /** Container id. */
  id: string;
  /** Status derived from the kernel, as `tsrun state` shows it. */
  status: ContainerStatus;
  /** Bundle directory. */
  bundle: string;
  /** Rootfs directory on the host. */
  rootfs: string;
  /** Host pid of the init (0 when stopped). */
  initPid: number;
  /** Every process of the container, by host pid (empty when stopped). */
  processes: InspectProcess[];
  /** The init's namespaces (empty when stopped). */
  namespaces: InspectNamespace[];
  /** null when the container has no cgroup (null driver) or it is gone. */
  cgroup: InspectCgroup | null;
  /** The init's mount table (empty when stopped). */
  mounts: InspectMount[];
  /** What could not be read, in words (a process that exited meanwhile, a missing cgroup file). */
  notes: string[];
}
