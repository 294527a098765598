/**
 * The runtime-spec v1.3.0 features document (`tsrun features`), built from
 * the same tables the validator and the plan compiler read, so what tsrun
 * advertises is what it accepts and does.
 *
 * containerd and CRI-O read it: `rro` in mountOptions enables recursive
 * read-only mounts, `user` in namespaces plus idmap enables user namespaces
 * for pods. So idmap is only advertised when the caller knows it works.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SPEC_VERSION } from './types.js';
import { CAPABILITIES, HOOK_NAMES, MOUNT_OPTIONS, NAMESPACES } from './tables.js';

/** Seccomp part of the features document (features-linux.md "Seccomp"). */
export interface SeccompFeatures {
  enabled: boolean;
  actions?: string[];
  operators?: string[];
  archs?: string[];
  knownFlags?: string[];
  supportedFlags?: string[];
}

/** The features document of runtime-spec v1.3.0 (features.md, features-linux.md). */
export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks?: string[];
  mountOptions?: string[];
  annotations?: Record<string, string>;
  potentiallyUnsafeConfigAnnotations?: string[];
  linux?: {
    namespaces?: string[];
    capabilities?: string[];
    cgroup?: { v1?: boolean; v2?: boolean; systemd?: boolean; systemdUser?: boolean; rdma?: boolean };
    seccomp?: SeccompFeatures;
    apparmor?: { enabled?: boolean };
    selinux?: { enabled?: boolean };
    intelRdt?: { enabled?: boolean; schemata?: boolean; monitoring?: boolean };
    memoryPolicy?: { modes?: string[]; flags?: string[] };
    mountExtensions?: { idmap?: { enabled?: boolean } };
    netDevices?: { enabled?: boolean };
  };
}

/** Options of {@link features}: what only the caller can know. */
export interface FeaturesOptions {
  /** Seccomp support (from the seccomp module, which knows whether libseccomp loads); default `{ enabled: false }`. */
  seccomp?: SeccompFeatures;
  /** Whether idmapped mounts work (mount_setattr with MOUNT_ATTR_IDMAP); default false. */
  idmap?: boolean;
  /** tsrun version for the annotations; default the version in package.json. */
  version?: string;
  /** Git commit for the annotations; default the one postbuild recorded in build/commit. */
  commit?: string;
}

/** The oldest runtime-spec version whose configs tsrun runs. */
export const OCI_VERSION_MIN = '1.0.0';

/** Annotation keys of the features document. */
export const FEATURE_ANNOTATIONS = {
  version: 'org.opencontainers.runtime.tsrun.version',
  commit: 'org.opencontainers.runtime.tsrun.commit',
} as const;

const here = dirname(fileURLToPath(import.meta.url));

function readPackageVersion(): string | undefined {
  // lib/spec (sources) and build/lib/spec (compiled) are 2 and 3 levels below the package.
  for (const up of ['../../..', '../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(here, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tsrun' && pkg.version) return pkg.version;
    } catch { /* try the next level */ }
  }
  return undefined;
}

function readCommit(): string | undefined {
  try {
    const c = readFileSync(join(here, '..', '..', 'commit'), 'utf8').trim();
    return c && c !== 'unknown' ? c : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The features document `tsrun features` prints. Compile-time knowledge, as
 * the spec asks; nothing on the host is probed here.
 */
export function features(opts: FeaturesOptions = {}): Features {
  const annotations: Record<string, string> = {};
  const version = opts.version ?? readPackageVersion();
  if (version) annotations[FEATURE_ANNOTATIONS.version] = version;
  const commit = opts.commit ?? readCommit();
  if (commit) annotations[FEATURE_ANNOTATIONS.commit] = commit;
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: SPEC_VERSION,
    hooks: [...HOOK_NAMES],
    mountOptions: Object.keys(MOUNT_OPTIONS),
    annotations,
    potentiallyUnsafeConfigAnnotations: [],
    linux: {
      namespaces: Object.keys(NAMESPACES),
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      seccomp: opts.seccomp ? structuredClone(opts.seccomp) : { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: opts.idmap ?? false } },
      netDevices: { enabled: false },
    },
  };
}
