/**
 * koffi, loaded on first use. Its native addon takes about 25 ms to load,
 * which every CLI call would pay at import time (`state`, `kill`, a `run`
 * whose config needs no FFI call), although only seccomp, cgroup v2 device
 * programs, namespace-file checks and the teaching syscall wrappers use it.
 */
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

let loaded: typeof Koffi | undefined;

/** The koffi module (loaded synchronously the first time). */
export function koffi(): typeof Koffi {
  return (loaded ??= createRequire(import.meta.url)('koffi') as typeof Koffi);
}
