/**
 * Content-addressed cache of compiled seccomp programs.
 *
 * `<dir>/<sha256 of the canonical profile JSON>.bpf` holds the program and
 * `<same>.json` what else compilation produced (flags, notify, warnings),
 * the program's own hash, and the environment it was compiled for. The
 * environment (machine arch, kernel release, identity of the libseccomp
 * file) is checked on read rather than hashed into the name, so the name
 * stays the profile's hash and a changed environment simply recompiles over
 * it. Files are written to a temp name and renamed; the .json goes last, so
 * a reader that finds it and a matching program hash has a whole entry.
 *
 * Nothing here loads koffi: a cache hit costs a few small file reads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { arch, release } from 'node:os';
import { join } from 'node:path';

/** What a cache entry holds besides the program. */
export interface CacheEntry {
  program: Uint8Array;
  flags: number;
  notify: boolean;
  warnings: string[];
}

interface CacheMeta {
  format: 1;
  env: string;
  programSha256: string;
  flags: number;
  notify: boolean;
  warnings: string[];
}

/** JSON with object keys sorted at every level: equal profiles give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}

/** The cache key of a profile: sha256 of its canonical JSON, hex. */
export function profileHash(profile: unknown): string {
  return createHash('sha256').update(canonicalJson(profile)).digest('hex');
}

const TRIPLETS: Partial<Record<string, string>> = {
  x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf', riscv64: 'riscv64-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu', loong64: 'loongarch64-linux-gnu', ia32: 'i386-linux-gnu',
};

/**
 * Which libseccomp file `path` names, found the cheap way (stat, not dlopen):
 * the real file, its size and mtime. A libseccomp upgrade changes it, so
 * entries compiled by an older version (which may not know newer syscall
 * names) are not reused.
 */
export function libraryIdentity(path: string): string {
  const candidates = path.includes('/')
    ? [path]
    : ['/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib']
        .flatMap((d) => (TRIPLETS[process.arch] ? [join(d, TRIPLETS[process.arch]!), d] : [d]))
        .map((d) => join(d, path));
  for (const c of candidates) {
    try {
      const real = realpathSync(c);
      const st = statSync(real);
      return `${real}:${st.size}:${Math.trunc(st.mtimeMs)}`;
    } catch {
      /* next */
    }
  }
  return `unresolved:${path}`;
}

/** The environment an entry is valid for. */
export function cacheEnvironment(libraryPath: string): string {
  return `${arch()}|${release()}|${libraryIdentity(libraryPath)}`;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The entry for `key` if present, whole and compiled for `env`; otherwise undefined. */
export function readCache(dir: string, key: string, env: string): CacheEntry | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(dir, `${key}.json`), 'utf8')) as CacheMeta;
    if (meta.format !== 1 || meta.env !== env) return undefined;
    const program = new Uint8Array(readFileSync(join(dir, `${key}.bpf`)));
    if (sha256(program) !== meta.programSha256) return undefined;
    return { program, flags: meta.flags, notify: meta.notify, warnings: meta.warnings };
  } catch {
    return undefined;
  }
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
    throw err;
  }
}

/** Store an entry; throws on I/O errors (the caller decides whether they matter). */
export function writeCache(dir: string, key: string, env: string, entry: CacheEntry): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeAtomic(join(dir, `${key}.bpf`), entry.program);
  const meta: CacheMeta = {
    format: 1,
    env,
    programSha256: sha256(entry.program),
    flags: entry.flags,
    notify: entry.notify,
    warnings: entry.warnings,
  };
  writeAtomic(join(dir, `${key}.json`), JSON.stringify(meta));
}
