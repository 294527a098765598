/**
 * libseccomp.so.2 and the few libc calls seccomp compilation needs, bound
 * through koffi on first use.
 *
 * koffi is required lazily (createRequire, not a static import): loading it
 * costs about 18 ms, and a CLI invocation whose config has no seccomp must
 * not pay that.
 */
import { createRequire } from 'node:module';
import { closeSync, fstatSync, readSync } from 'node:fs';
import { constants as osConstants, endianness } from 'node:os';
import type * as Koffi from 'koffi';
import { SysError, TsrunError, type ErrorCode } from '../errors.js';

/** The soname the dynamic linker resolves when no path is given. */
export const DEFAULT_LIBSECCOMP = 'libseccomp.so.2';

/** Environment variable naming another libseccomp to load (tests, odd installs). */
export const LIBSECCOMP_ENV = 'TSRUN_LIBSECCOMP';

/**
 * libseccomp could not be loaded, so a config asking for seccomp cannot run.
 *
 * `code` is `'INTERNAL'` because `ErrorCode` has no seccomp member yet;
 * `reason` is the specific, stable tag to match on.
 */
export class SeccompUnavailableError extends TsrunError {
  readonly code: ErrorCode = 'INTERNAL';
  readonly reason = 'SECCOMP_UNAVAILABLE' as const;
  constructor(readonly libraryPath: string, options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message.split('\n')[0]}` : '';
    super(
      `seccomp: cannot load ${libraryPath}${detail}; install libseccomp ` +
        '(Debian/Ubuntu: apt-get install libseccomp2; Fedora/RHEL: dnf install libseccomp; Alpine: apk add libseccomp)',
      options,
    );
  }
}

/** An opaque `scmp_filter_ctx`. */
export type FilterContext = { readonly __brand: 'scmp_filter_ctx' };

/** The libseccomp entry points tsrun uses; return values are libseccomp's (negative errno on failure). */
export interface Libseccomp {
  readonly path: string;
  /** `major.minor.micro` of the loaded library. */
  readonly version: string;
  /** `seccomp_api_get()`: which kernel features libseccomp found. */
  readonly apiLevel: number;
  init(defaultAction: number): FilterContext | null;
  release(ctx: FilterContext): void;
  archAdd(ctx: FilterContext, token: number): number;
  archNative(): number;
  /** 0 when this libseccomp does not know the name. */
  archResolveName(name: string): number;
  /** -1 (`__NR_SCMP_ERROR`) for a name unknown on every architecture; other negatives are pseudo-syscalls. */
  syscallResolveName(name: string): number;
  ruleAddArray(ctx: FilterContext, action: number, syscall: number, count: number, args: Buffer | null): number;
  exportBpf(ctx: FilterContext, fd: number): number;
}

const requireCjs = createRequire(import.meta.url);
let koffiModule: typeof Koffi | undefined;

/** koffi itself, loaded on first call. */
export function koffi(): typeof Koffi {
  koffiModule ??= requireCjs('koffi') as typeof Koffi;
  return koffiModule;
}

/** Whether koffi has been loaded by this module (for the lazy-load test and timings). */
export function koffiLoaded(): boolean {
  return koffiModule !== undefined;
}

/** The library path to load: explicit option, then `$TSRUN_LIBSECCOMP`, then the soname. */
export function libseccompPath(explicit?: string): string {
  return explicit || process.env[LIBSECCOMP_ENV] || DEFAULT_LIBSECCOMP;
}

const loaded = new Map<string, Libseccomp>();

/** Load (once per path) and bind libseccomp; throws {@link SeccompUnavailableError}. */
export function loadLibseccomp(explicit?: string): Libseccomp {
  const path = libseccompPath(explicit);
  const known = loaded.get(path);
  if (known) return known;
  const k = koffi();
  let lib: Koffi.IKoffiLib;
  try {
    lib = k.load(path);
  } catch (err) {
    throw new SeccompUnavailableError(path, { cause: err });
  }
  try {
    const init = lib.func('void *seccomp_init(uint32_t def_action)');
    const release = lib.func('void seccomp_release(void *ctx)');
    const archAdd = lib.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)');
    const archNative = lib.func('uint32_t seccomp_arch_native(void)');
    const archResolve = lib.func('uint32_t seccomp_arch_resolve_name(const char *name)');
    const resolve = lib.func('int seccomp_syscall_resolve_name(const char *name)');
    const ruleAdd = lib.func(
      'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const void *arg_array)',
    );
    const exportBpf = lib.func('int seccomp_export_bpf(void *ctx, int fd)');
    const apiGet = lib.func('unsigned int seccomp_api_get(void)');
    const versionFn = lib.func('void *seccomp_version(void)');
    // struct scmp_version is three unsigned ints.
    const v = k.decode(versionFn(), 'unsigned int', 3) as number[];
    const binding: Libseccomp = {
      path,
      version: v.join('.'),
      apiLevel: Number(apiGet()),
      init: (a) => (init(a >>> 0) as FilterContext | null) ?? null,
      release: (ctx) => void release(ctx),
      archAdd: (ctx, token) => Number(archAdd(ctx, token >>> 0)),
      archNative: () => Number(archNative()),
      archResolveName: (name) => Number(archResolve(name)),
      syscallResolveName: (name) => Number(resolve(name)),
      ruleAddArray: (ctx, action, nr, count, args) => Number(ruleAdd(ctx, action >>> 0, nr, count, args)),
      exportBpf: (ctx, fd) => Number(exportBpf(ctx, fd)),
    };
    loaded.set(path, binding);
    return binding;
  } catch (err) {
    // A library that loads but lacks the symbols is not a usable libseccomp.
    throw new SeccompUnavailableError(path, { cause: err });
  }
}

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(osConstants.errno).map(([name, n]) => [n as number, name]),
);

/** `EINVAL` for 22, `errno 999` for what the platform does not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[Math.abs(errno)] ?? `errno ${Math.abs(errno)}`;
}

interface Libc {
  memfdCreate(name: string, flags: number): number;
  seccomp(op: number, flags: number, args: Buffer | null): number;
}

let libc: Libc | undefined;

// seccomp(2) has no glibc wrapper; these are the generic syscall numbers.
const SYS_SECCOMP: Partial<Record<string, number>> = {
  x64: 317, ia32: 354, arm64: 277, arm: 383, riscv64: 277, loong64: 277, ppc64: 358, s390x: 348,
};

function bindLibc(): Libc {
  if (libc) return libc;
  const lib = koffi().load('libc.so.6');
  const memfd = lib.func('int memfd_create(const char *name, unsigned int flags)');
  // syscall(2) is variadic; glibc's reads integer registers, so a fixed
  // prototype with integer and pointer arguments is call-compatible.
  const sys = lib.func('long syscall(long nr, unsigned int op, unsigned int flags, void *args)');
  const nr = SYS_SECCOMP[process.arch];
  libc = {
    memfdCreate: (name, flags) => Number(memfd(name, flags)),
    seccomp: (op, flags, args) => {
      if (nr === undefined) {
        koffi().errno(38);
        return -1;
      }
      return Number(sys(nr, op, flags, args));
    },
  };
  return libc;
}

const MFD_CLOEXEC = 1;

/** Run `seccomp_export_bpf` into a memfd and read the bytes back. */
export function exportProgram(lib: Libseccomp, ctx: FilterContext): Uint8Array {
  const c = bindLibc();
  const fd = c.memfdCreate('tsrun-seccomp', MFD_CLOEXEC);
  if (fd < 0) {
    const e = koffi().errno();
    throw new SysError('memfd_create', e, errnoName(e));
  }
  try {
    const r = lib.exportBpf(ctx, fd);
    if (r < 0) throw new SysError('seccomp_export_bpf', -r, errnoName(r));
    const size = fstatSync(fd).size;
    const out = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, out, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return new Uint8Array(out.buffer, out.byteOffset, done);
  } finally {
    closeSync(fd);
  }
}

const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_GET_ACTION_AVAIL = 2;
const EFAULT = 14;

/**
 * Whether the kernel accepts a filter flag combination: seccomp(2) checks
 * the flags before it reads the program, so a NULL program gives EFAULT for
 * flags it knows and EINVAL for others, and installs nothing.
 */
export function kernelAcceptsFlags(flags: number): boolean {
  const c = bindLibc();
  const r = c.seccomp(SECCOMP_SET_MODE_FILTER, flags >>> 0, null);
  return r < 0 && koffi().errno() === EFAULT;
}

/** SECCOMP_GET_ACTION_AVAIL for one SECCOMP_RET_* value. */
export function kernelHasAction(ret: number): boolean {
  const c = bindLibc();
  const buf = Buffer.alloc(4);
  if (endianness() === 'LE') buf.writeUInt32LE(ret >>> 0);
  else buf.writeUInt32BE(ret >>> 0);
  return c.seccomp(SECCOMP_GET_ACTION_AVAIL, 0, buf) === 0;
}
