/**
 * Namespace files (nsfs): what kind of namespace a path such as
 * `/proc/<pid>/ns/net` or a bind-mounted `/run/netns/x` refers to.
 *
 * The kernel answers with `ioctl(fd, NS_GET_NSTYPE)` (Linux 4.11), which
 * returns the CLONE_NEW* flag of the namespace. Reading the link text of
 * `/proc/<pid>/ns/*` is not enough: engines pass bind mounts of namespace
 * files, which are not links, and a link can point anywhere.
 *
 * Opening a namespace file and asking the kernel about it changes nothing in
 * the calling process, so this is safe from Node's multithreaded process.
 */
import { closeSync, fstatSync, openSync, constants as fsConstants } from 'node:fs';
import type * as Koffi from 'koffi';
import { koffi } from './koffi.js';
import { NAMESPACES } from '../spec/tables.js';
import type { NamespaceType } from '../spec/types.js';

/** `_IO(0xb7, 0x3)` from include/uapi/linux/nsfs.h. */
export const NS_GET_NSTYPE = 0xb703;

/** ENOTTY: the fd is not an nsfs file (the ioctl is not known there). */
const ENOTTY = 25;

/** What a path turned out to be. */
export type NamespaceFileInfo =
  /** A namespace of this type; `dev`/`ino` identify the namespace itself. */
  | { kind: 'namespace'; type: NamespaceType; flag: number; dev: number; ino: number }
  /** A namespace the tables do not know (a future CLONE_NEW* flag). */
  | { kind: 'unknown-namespace'; flag: number; dev: number; ino: number }
  /** The file exists but is not a namespace (a regular file, a directory, ...). */
  | { kind: 'not-namespace' }
  /** open(2) failed: `code` is the errno name (`ENOENT`, `EACCES`, ...). */
  | { kind: 'unopenable'; code: string; message: string };

/** glibc, then musl (Alpine) names of the C library. */
const LIBC_NAMES = ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so'];

function loadLibc(): ReturnType<typeof Koffi.load> {
  let first: unknown;
  for (const name of LIBC_NAMES) {
    try {
      return koffi().load(name);
    } catch (e) {
      first ??= e;
    }
  }
  throw first;
}

type IoctlFn = (fd: number, request: number, ...rest: unknown[]) => number;
let ioctlFn: IoctlFn | undefined;

function ioctl(): IoctlFn {
  if (!ioctlFn) {
    ioctlFn = loadLibc().func('int ioctl(int fd, unsigned long request, ...)') as IoctlFn;
  }
  return ioctlFn;
}

/** The namespace type of a CLONE_NEW* flag, or undefined when the tables do not know it. */
export function namespaceTypeOfFlag(flag: number): NamespaceType | undefined {
  for (const [type, ns] of Object.entries(NAMESPACES) as [NamespaceType, { flag: number }][]) {
    if (ns.flag === flag) return type;
  }
  return undefined;
}

/**
 * The CLONE_NEW* flag of the namespace an open fd refers to, or undefined
 * when the fd is not a namespace file.
 */
export function namespaceFlagOfFd(fd: number): number | undefined {
  const r = ioctl()(fd, NS_GET_NSTYPE);
  if (r >= 0) return r;
  const errno = koffi().errno();
  if (errno === ENOTTY || errno === 22 /* EINVAL */) return undefined;
  throw Object.assign(new Error(`ioctl NS_GET_NSTYPE: errno ${errno}`), { errno });
}

/**
 * Inspect a namespace file. Never throws for a bad path: the answer says what
 * the path is, so a validator can word its message.
 */
export function inspectNamespaceFile(path: string): NamespaceFileInfo {
  let fd: number;
  try {
    // O_NONBLOCK: a fifo given by mistake must not block the validator.
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { kind: 'unopenable', code: err.code ?? 'EIO', message: err.message };
  }
  try {
    const flag = namespaceFlagOfFd(fd);
    if (flag === undefined) return { kind: 'not-namespace' };
    const st = fstatSync(fd);
    const type = namespaceTypeOfFlag(flag);
    return type
      ? { kind: 'namespace', type, flag, dev: st.dev, ino: st.ino }
      : { kind: 'unknown-namespace', flag, dev: st.dev, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

/**
 * The namespace of the given type that the calling process is in (its
 * `/proc/self/ns/<name>`), or undefined when the kernel has no such namespace.
 */
export function currentNamespace(type: NamespaceType): { dev: number; ino: number } | undefined {
  const info = inspectNamespaceFile(`/proc/self/ns/${NAMESPACES[type].procName}`);
  return info.kind === 'namespace' ? { dev: info.dev, ino: info.ino } : undefined;
}
