/**
 * Process facts read from /proc. A pid alone does not identify a process
 * (pids are reused), so the container init is recorded as its pid plus its
 * start time (field 22 of /proc/<pid>/stat), and only counts as alive when
 * both match and it is neither a zombie nor dead.
 */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  startTime: string;
}

/** Parses /proc/<pid>/stat; undefined when the process does not exist. */
export function readProcStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), startTime: rest[19] ?? '' };
}

/** True when `pid` is the same living process that was recorded with `startTime`. */
export function isProcessAlive(pid: number, startTime: string, procRoot = '/proc'): boolean {
  if (!pid) return false;
  const st = readProcStat(pid, procRoot);
  if (!st || st.startTime !== startTime) return false;
  return st.state !== 'Z' && st.state !== 'X' && st.state !== 'x';
}

/** Resolves when the process is gone (or a zombie), or after `timeoutMs`; returns whether it is gone. */
export async function waitForExit(pid: number, startTime: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (isProcessAlive(pid, startTime)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
  return true;
}
