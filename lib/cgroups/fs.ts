/**
 * Control-file access. The kernel implementation never creates files: a
 * write to a file the kernel does not provide must fail with ENOENT, not
 * leave a stray regular file (cgroupfs refuses O_CREAT anyway).
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { CgroupFs } from './types.js';

/** The real cgroupfs (or any directory that already holds the control files). */
export const kernelCgroupFs: CgroupFs = {
  mkdir(path) {
    mkdirSync(path, { mode: 0o755 });
  },
  rmdir(path) {
    rmdirSync(path);
  },
  write(path, value) {
    // One write(2) per value: cgroup files parse each write on its own.
    const fd = openSync(path, constants.O_WRONLY);
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  },
  read(path) {
    return readFileSync(path, 'utf8');
  },
  exists(path) {
    return existsSync(path);
  },
  subdirs(path) {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  },
  list(path) {
    return readdirSync(path);
  },
};

/** Errno name of a Node fs error, or undefined. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** `join` that keeps the leading slash semantics simple for cgroup paths. */
export function cgroupJoin(dir: string, rel: string): string {
  return rel === '' || rel === '/' ? dir : join(dir, rel);
}
