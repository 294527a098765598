/**
 * Temporary OCI bundles for integration tests: a busybox rootfs (built once
 * per test process from the host's busybox, then copied), the static probe
 * at `/probe`, and a self-contained runc-like default config.json.
 *
 * The config is written inline on purpose: a test of the spec module must
 * not get its input from the spec module.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildBusyboxRootfs } from '../../lib/rootfs/host.js';
import { removeTree } from './fsutil.js';
import { probeBin, repoRoot } from './paths.js';

const execFileAsync = promisify(execFile);

/* eslint-disable @typescript-eslint/no-explicit-any -- tests poke at arbitrary config fields */

/** Options of {@link makeBundle}. */
export interface BundleOptions {
  /** `process.args` (default `['/probe', 'info']`). */
  args?: string[];
  /** Edits the config in place before it is written. */
  config?: (spec: any) => void;
  /** The rootfs to copy (only busybox for now). */
  rootfs?: 'busybox';
}

/** A bundle on disk; `cleanup()` removes it (never crossing a mount). */
export interface TestBundle {
  dir: string;
  rootfs: string;
  configPath: string;
  config: any;
  cleanup(): Promise<void>;
}

/** The default capability set of runc's `spec`, which engines assume. */
const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/**
 * A minimal valid runc-like config: pid, ipc, uts, mount and network
 * namespaces; /proc, /dev (tmpfs), /dev/pts, /dev/shm and a read-only /sys;
 * the usual masked and read-only paths.
 */
export function defaultTestConfig(args: string[] = ['/probe', 'info']): any {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsrun-test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
        '/sys/devices/virtual/powercap',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

let cachedRootfs: Promise<string> | undefined;

/** Builds the probe if it is missing (the normal path is `npm run build:native`). */
function ensureProbe(): void {
  if (existsSync(probeBin)) return;
  try {
    execFileSync('make', ['-s', '-C', join(repoRoot, 'test', 'probe')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`the probe is not built and make failed (run npm run build:native): ${(err as Error).message}`);
  }
}

/** The per-process template rootfs: busybox with applets, plus /probe. Removed when the process exits. */
function templateRootfs(): Promise<string> {
  cachedRootfs ??= (async () => {
    ensureProbe();
    const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-rootfs-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const rootfs = join(dir, 'rootfs');
    await buildBusyboxRootfs(rootfs);
    await copyFile(probeBin, join(rootfs, 'probe'));
    await chmod(join(rootfs, 'probe'), 0o755);
    return rootfs;
  })();
  return cachedRootfs;
}

/**
 * Creates a bundle in a fresh temp dir (`tsrun-test-*` under the OS temp
 * dir): `rootfs/` is a full copy of the busybox template (a copy, not hard
 * links, so a container writing a file cannot change other tests' rootfs),
 * `config.json` is {@link defaultTestConfig} edited by `opts.config`.
 */
export async function makeBundle(opts: BundleOptions = {}): Promise<TestBundle> {
  const template = await templateRootfs();
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-test-bundle-'));
  try {
    const rootfs = join(dir, 'rootfs');
    await mkdir(rootfs);
    await execFileAsync('cp', ['-a', '--', template + '/.', rootfs]);
    const config = defaultTestConfig(opts.args ?? ['/probe', 'info']);
    opts.config?.(config);
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify(config, null, 2) + '\n');
    return { dir, rootfs, configPath, config, cleanup: () => removeTree(dir) };
  } catch (err) {
    await removeTree(dir).catch(() => undefined);
    throw err;
  }
}

/** Rewrites `config.json` after further edits to `bundle.config`. */
export async function writeBundleConfig(bundle: TestBundle): Promise<void> {
  await writeFile(bundle.configPath, JSON.stringify(bundle.config, null, 2) + '\n');
}
