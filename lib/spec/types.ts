/**
 * OCI runtime-spec v1.3.0 types for config.json (Linux), process.json and the
 * state. Keys are spelled as in the spec's JSON. Unknown properties are
 * allowed by the spec and ignored by tsrun.
 */

export const SPEC_VERSION = '1.3.0';

/** A container's `config.json` (runtime-spec config.md): what to run and how to isolate it. */
export interface Spec {
  ociVersion: string;
  root?: Root;
  mounts?: Mount[];
  process?: Process;
  hostname?: string;
  domainname?: string;
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

/** `root`: the container's root filesystem, relative to the bundle or absolute, optionally read-only. */
export interface Root {
  path: string;
  readonly?: boolean;
}

/** One range of a uid or gid map: `size` ids from `containerID` inside map to `hostID` outside. */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** One entry of `mounts`: what is mounted where in the container, with which type and options, in config order. */
export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

/** `process` (and `tsrun exec --process`): the program, its environment, user, capabilities, limits and terminal. */
export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: User;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: { class: string; priority?: number };
  execCPUAffinity?: { initial?: string; final?: string };
}

/** `process.user`: the numeric uid, gid, supplementary groups and umask the process runs with. */
export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

/** `process.capabilities`: the five capability sets, by `CAP_*` name. */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** One of `process.rlimits`: a `RLIMIT_*` resource with its soft and hard limits (set before the user namespace). */
export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

/** `process.scheduler`: the scheduling policy and its parameters (sched_setattr). */
export interface Scheduler {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

/** One hook: a host program (or, for startContainer, one in the container) with its args, env and timeout in seconds. */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** `hooks`: the programs run at each point of the lifecycle, with the container state on their stdin. */
export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

/** A Linux namespace kind, as `linux.namespaces[].type` names it. */
export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

/** One of `linux.namespaces`: a namespace to create, or to join when `path` names one. */
export interface Namespace {
  type: NamespaceType;
  path?: string;
}

/** One of `linux.devices`: a device node to create in the container's /dev. */
export interface Device {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** One of `linux.resources.devices`: an allow or deny rule of the devices cgroup (or the v2 eBPF program), in order. */
export interface DeviceCgroupRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number | null;
  minor?: number | null;
  access?: string;
}

/** A per-device block I/O weight (`blockIO.weightDevice`), by major:minor. */
export interface WeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

/** A per-device block I/O limit in bytes or operations per second (`blockIO.throttle*Device`). */
export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

/** `linux.resources` (and `tsrun update`): the cgroup limits of the container, for cgroup v1 and v2. */
export interface Resources {
  devices?: DeviceCgroupRule[];
  memory?: {
    limit?: number;
    reservation?: number;
    swap?: number;
    kernel?: number;
    kernelTCP?: number;
    swappiness?: number;
    disableOOMKiller?: boolean;
    useHierarchy?: boolean;
    checkBeforeUpdate?: boolean;
  };
  cpu?: {
    shares?: number;
    quota?: number;
    burst?: number;
    period?: number;
    realtimeRuntime?: number;
    realtimePeriod?: number;
    cpus?: string;
    mems?: string;
    idle?: number;
  };
  pids?: { limit: number };
  blockIO?: {
    weight?: number;
    leafWeight?: number;
    weightDevice?: WeightDevice[];
    throttleReadBpsDevice?: ThrottleDevice[];
    throttleWriteBpsDevice?: ThrottleDevice[];
    throttleReadIOPSDevice?: ThrottleDevice[];
    throttleWriteIOPSDevice?: ThrottleDevice[];
  };
  hugepageLimits?: { pageSize: string; limit: number }[];
  network?: { classID?: number; priorities?: { name: string; priority: number }[] };
  rdma?: Record<string, { hcaHandles?: number; hcaObjects?: number }>;
  unified?: Record<string, string>;
}

/** A comparison of one syscall argument in a seccomp rule (`value`, and `valueTwo` for masked equality). */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** One seccomp rule: the syscalls it names, the action, and optional argument comparisons. */
export interface SeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
}

/** `linux.seccomp`: the default action, architectures, flags and rules, compiled to BPF with libseccomp. */
export interface Seccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

/** `linux`: namespaces, id maps, devices, resources, seccomp, sysctls, masked and read-only paths. */
export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  timeOffsets?: Record<string, { secs?: number; nanosecs?: number }>;
  devices?: Device[];
  netDevices?: Record<string, { name?: string }>;
  cgroupsPath?: string;
  resources?: Resources;
  rootfsPropagation?: string;
  seccomp?: Seccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: { domain: string; flags?: string[] };
  intelRdt?: Record<string, unknown>;
  memoryPolicy?: { mode: string; nodes?: string; flags?: string[] };
}

/** Status values runc and its clients use (`creating` is never printed by runc). */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** The state document as `tsrun state` prints it (runc's fields). */
export interface State {
  ociVersion: string;
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  owner: string;
}
