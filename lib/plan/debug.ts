/**
 * The plan of `tsrun debug` (after CNTR): a process with the host's tools (or
 * a tools rootfs) inside a running container's pid, network, ipc, uts and
 * cgroup namespaces, with the container's root filesystem at `/container`,
 * without touching the container's image or its mount namespace.
 *
 * The container's mount namespace is never joined. The debug process gets a
 * mount namespace of its own (`CLONE` with `CLONE_NEWNS`), whose root is an
 * empty staging directory where every top-level entry of the tools root is
 * bind-mounted (directories) or re-created (symlinks), a fresh procfs of the
 * container's pid namespace is mounted on `/proc`, and `/container` is a
 * symlink to `/proc/<init>/root`: the kernel's view of the container's root,
 * with all its mounts, reached through procfs (a bind mount from another
 * mount namespace would copy only the bare root mount). The staging
 * directory holds nothing but empty mount points and symlinks; the caller
 * removes it after the process exits.
 * @module
 */
import { join } from 'node:path';
import type { NamespaceType } from '../spec/types.js';
import { MS, NAMESPACES, NAMESPACE_JOIN_ORDER } from '../spec/tables.js';
import { SpecError } from '../errors.js';
import { DEFAULT_PATH } from './compile.js';
import { step, type Plan, type PlanStep } from './types.js';

/** One top-level entry of the tools root. */
export interface ToolsEntry {
  name: string;
  kind: 'dir' | 'symlink';
  /** Symlink target, as in the tools root. */
  target?: string;
}

export interface DebugTarget {
  /** Host pid of the container init. */
  initPid: number;
  /** The init's pid as seen inside its own pid namespace (the last `NSpid` field). */
  initNsPid: number;
  /** Namespace types the container has of its own. */
  namespaces: NamespaceType[];
}

export interface DebugPlanOptions {
  /** Host directory (empty) that becomes the debug process's `/`. */
  stage: string;
  /** The tools root: `/` (the host) or a tools rootfs. */
  tools: string;
  /** Its top-level entries (read by the caller: a plan is pure). */
  entries: ToolsEntry[];
  args: string[];
  env?: string[];
  cwd?: string;
}

/** The namespaces `tsrun debug` joins: never mount (the debug process has its own), never user (it stays host root). */
export const DEBUG_JOINED: readonly NamespaceType[] = ['ipc', 'uts', 'network', 'pid', 'cgroup'];

/** Entries of the tools root that are not bound: /proc is a fresh procfs, /container is ours. */
const NOT_BOUND = new Set(['proc', 'container', 'lost+found']);

export function compileDebugPlan(target: DebugTarget, opts: DebugPlanOptions): Plan {
  if (opts.args.length === 0) throw new SpecError([{ field: 'args', message: 'tsrun debug needs a command' }]);
  const steps: PlanStep[] = [];
  const nsDir = `/proc/${target.initPid}/ns`;
  for (const type of NAMESPACE_JOIN_ORDER) {
    if (!DEBUG_JOINED.includes(type) || !target.namespaces.includes(type)) continue;
    steps.push(step('JOIN_NS', { nstype: NAMESPACES[type].flag, path: join(nsDir, NAMESPACES[type].procName) }, `(debug) ${type}`, `joins the container's ${type} namespace`));
  }
  steps.push(step('CLONE', { flags: NAMESPACES.mount.flag, detached: 0 }, '(debug)', 'forks the debug process in the joined namespaces and a new mount namespace of its own (a copy of the host\'s, never the container\'s)'));
  steps.push(step('ROOTFS', { propagation: MS.SLAVE | MS.REC, rootfs: opts.stage }, '(debug)', 'stops mount events from reaching the host and makes the empty staging directory the future root'));
  for (const e of [...opts.entries].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (NOT_BOUND.has(e.name) || e.name.includes('/')) continue;
    if (e.kind === 'symlink') {
      steps.push(step('SYMLINK', { target: e.target ?? '', path: `/${e.name}` }, '(debug tools)', `re-creates the tools root's /${e.name} symlink`));
    } else {
      steps.push(step('MOUNT', {
        source: join(opts.tools, e.name), dest: `/${e.name}`, fstype: '', flags: MS.BIND | MS.REC, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0,
      }, '(debug tools)', `binds the tools root's /${e.name} (recursively) into the debug root`));
    }
  }
  steps.push(step('MOUNT', { source: 'proc', dest: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }, '(debug)', 'mounts a procfs of the container\'s pid namespace: ps shows the container\'s processes'));
  steps.push(step('SYMLINK', { target: `/proc/${target.initNsPid}/root`, path: '/container' }, '(debug)', 'shows the container\'s root filesystem (with its mounts) at /container through its init\'s procfs root link; nothing is mounted in, or changed on, the container'));
  steps.push(step('PIVOT_ROOT', {}, '(debug)', 'makes the staging directory the debug process\'s root and detaches the rest of the host tree'));
  const env = opts.env ?? [`PATH=${DEFAULT_PATH}`, 'HOME=/root', 'TERM=xterm'];
  steps.push(step('CWD', { path: opts.cwd ?? '/' }, '(debug)', 'moves into the working directory'));
  const path = env.find((v) => v.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  steps.push(step('RESOLVE_EXEC', { name: opts.args[0]!, path }, '(debug) args[0]', 'finds the tool in the tools root\'s PATH'));
  steps.push(step('WAIT_START', {}, '(debug)', 'reports that set-up is done'));
  steps.push(step('EXEC', { argv: opts.args, env, keepFds: 3 }, '(debug) args', 'replaces tsrun-init with the debug tool'));
  return { steps };
}
