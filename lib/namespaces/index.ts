/**
 * Namespaces as data: the kinds with their clone(2) flags, and which
 * namespaces a process is in, compared with the host's (pid 1's). Reading
 * these needs no privileges beyond seeing the process; changing a thread's
 * namespaces is `sys` territory (and never done from Node by the runtime:
 * see the thread caveat there).
 */
import { readlinkSync } from 'node:fs';
import { NAMESPACES } from '../spec/tables.js';
import type { NamespaceType } from '../spec/types.js';

/** Every namespace kind with its clone(2)/unshare(2) flag and its file name under /proc/<pid>/ns. */
export const NAMESPACE_KINDS: readonly { type: NamespaceType; flag: number; procName: string }[] = (
  Object.entries(NAMESPACES) as [NamespaceType, { flag: number; procName: string }][]
).map(([type, ns]) => ({ type, flag: ns.flag, procName: ns.procName }));

/** One namespace of a process. */
export interface ProcessNamespace {
  type: NamespaceType;
  /** The namespace's inode number: two processes share a namespace when these are equal. */
  inode: number;
  /** Whether it is the same namespace as the host's (pid 1's). */
  sharedWithHost: boolean;
}

function inodeOf(pid: number | 'self', procName: string, procRoot: string): number | undefined {
  try {
    const link = readlinkSync(`${procRoot}/${pid}/ns/${procName}`);
    const m = /\[(\d+)\]$/.exec(link);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The namespaces of a process, each with its inode and whether the host
 * (pid 1 of the caller's pid namespace) is in the same one. Where pid 1's
 * namespaces cannot be read (a sandbox, or no CAP_SYS_PTRACE over it), the
 * caller's own namespaces stand in for the host's. Kinds the kernel does not
 * show for that process are left out.
 */
export function processNamespaces(pid: number | 'self', opts: { procRoot?: string; hostPid?: number } = {}): ProcessNamespace[] {
  const procRoot = opts.procRoot ?? '/proc';
  const hostPid = opts.hostPid ?? 1;
  const out: ProcessNamespace[] = [];
  for (const k of NAMESPACE_KINDS) {
    const inode = inodeOf(pid, k.procName, procRoot);
    if (inode === undefined) continue;
    const host = inodeOf(hostPid, k.procName, procRoot) ?? inodeOf('self', k.procName, procRoot);
    out.push({ type: k.type, inode, sharedWithHost: inode === host });
  }
  return out;
}
