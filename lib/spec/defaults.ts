/**
 * The config `tsrun spec` writes: secure defaults in the shape runc's `spec`
 * command produces, because people compare the two and tools expect it
 * (a shell on a terminal, three capabilities, a read-only rootfs, /proc and
 * /sys masked where they leak host information).
 */
import { SPEC_VERSION, type Mount, type Namespace, type Spec } from './types.js';

/** Options of {@link defaultSpec}. */
export interface DefaultSpecOptions {
  /**
   * A config an unprivileged user can run: a user namespace mapping the
   * current user to root, no network namespace (creating one needs privilege
   * on the host side to be useful), the host /sys bound read-only (sysfs
   * cannot be mounted without owning the network namespace), no gid=5 on
   * devpts (that group is not mapped) and no cgroup resources.
   */
  rootless?: boolean;
  /** Host uid mapped to root in the rootless config; default the current uid. */
  uid?: number;
  /** Host gid mapped to root in the rootless config; default the current gid. */
  gid?: number;
}

/** The only capabilities of the default process: enough for a shell, nothing that reaches the host. */
export const DEFAULT_CAPABILITIES: readonly string[] = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** Paths masked by default: they expose host kernel state (keys, timers, firmware, power capping). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/sys/devices/virtual/powercap', '/proc/scsi',
];

/** Paths made read-only by default: writing them changes the host kernel. */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

/**
 * The default config.json (what `tsrun spec` writes), as a fresh object the
 * caller may change.
 *
 * @param opts - `rootless: true` for a config an unprivileged user can run
 */
export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const rootless = opts.rootless ?? false;
  const caps = [...DEFAULT_CAPABILITIES];
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(rootless ? [] : ['gid=5'])],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    rootless
      // rro, not ro: ro on an rbind makes only its top read-only, and the host's cgroup mounts
      // under it would stay writable to the container (CVE-2023-25809); rro reaches every submount.
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro', 'rro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
  const namespaces: Namespace[] = [
    { type: 'pid' },
    ...(rootless ? [] : [{ type: 'network' as const }]),
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'cgroup' },
    ...(rootless ? [{ type: 'user' as const }] : []),
  ];
  const spec: Spec = {
    ociVersion: SPEC_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsrun',
    mounts,
    linux: {
      ...(rootless
        ? {
            uidMappings: [{ containerID: 0, hostID: opts.uid ?? process.getuid?.() ?? 0, size: 1 }],
            gidMappings: [{ containerID: 0, hostID: opts.gid ?? process.getgid?.() ?? 0, size: 1 }],
          }
        : { resources: { devices: [{ allow: false, access: 'rwm' }] } }),
      namespaces,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  return spec;
}
