/**
 * `tsrun debug`: runs a tool from the host (or a tools rootfs) inside a
 * running container's pid, network, ipc, uts and cgroup namespaces, with the
 * container's root at `/container`; see lib/plan/debug.ts for the plan.
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StdioOptions } from 'node:child_process';
import { compileDebugPlan, type ToolsEntry } from '../plan/debug.js';
import { InternalError, ProtocolError, StatusError, UsageError } from '../errors.js';
import { helperError, sendPlan, spawnHelper, type HelperHandle } from './helper.js';
import { loadContainerState, waitAttached, type RuntimeContext } from './lifecycle.js';
import { StateStore } from './state-store.js';

export interface DebugOptions {
  /** The command and its arguments. */
  args: string[];
  /** A tools rootfs; the host's root by default. */
  tools?: string;
  env?: string[];
  cwd?: string;
  stdio?: StdioOptions;
}

/** The top-level entries of a tools root: directories (bound) and symlinks (re-created). */
export function toolsEntries(tools: string): ToolsEntry[] {
  const out: ToolsEntry[] = [];
  for (const name of readdirSync(tools)) {
    const p = join(tools, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) out.push({ name, kind: 'symlink', target: readlinkSync(p) });
    else if (st.isDirectory()) out.push({ name, kind: 'dir' });
  }
  return out;
}

/** The pid of `pid` inside its innermost pid namespace (`NSpid` of /proc/<pid>/status). */
export function innermostPid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
  const fields = line?.split(/\s+/).slice(1).filter(Boolean) ?? [];
  return Number(fields[fields.length - 1] ?? pid);
}

/** A debug process, started: its host pid, the helper to wait on, and the staging dir to remove. */
export interface DebugStarted {
  pid: number;
  helper: HelperHandle;
  /** Waits for the process, then removes the staging directory. */
  wait(): Promise<{ exitCode: number | null; signal: number | null }>;
}

export async function debugContainer(ctx: RuntimeContext, id: string, opts: DebugOptions): Promise<DebugStarted> {
  const { saved, status } = loadContainerState(ctx, id);
  if (status === 'stopped') throw new StatusError('cannot debug a stopped container', 'debug', status);
  if (opts.args.length === 0) throw new UsageError('"debug" needs a command');
  const tools = resolve(opts.tools ?? '/');
  const st = new StateStore(ctx.root);
  // Outside every container's dir ('@' is not in the id charset), so a delete of the container cannot race with it.
  const stage = join(st.root, '@debug', `${id}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(stage, { recursive: true, mode: 0o755 });
  const cleanup = () => rmSync(stage, { recursive: true, force: true });
  let h: HelperHandle | undefined;
  try {
    const plan = compileDebugPlan(
      { initPid: saved.initPid, initNsPid: innermostPid(saved.initPid), namespaces: saved.namespaces },
      { stage, tools, entries: toolsEntries(tools), args: opts.args, env: opts.env, cwd: opts.cwd },
    );
    h = spawnHelper({ stdio: (opts.stdio as unknown[]) ?? [0, 1, 2] });
    if (!h.child.pid) throw new InternalError('could not start tsrun-init');
    sendPlan(h, plan);
    let pid = 0;
    for (;;) {
      const m = await h.channel.next();
      if (!m) {
        const { code, signal } = await h.exited;
        throw new InternalError(`tsrun-init exited (${signal ? `signal ${signal}` : `status ${code}`}) before the debug process started`);
      }
      if (m.type === 'PID') pid = m.payload.readUInt32LE(0);
      else if (m.type === 'ERROR') throw helperError(plan, m.payload);
      else if (m.type === 'READY') break;
      else throw new ProtocolError('PID, READY or ERROR', m.type);
    }
    const helper = h;
    return {
      pid,
      helper,
      wait: async () => {
        try {
          return await waitAttached(helper);
        } finally {
          cleanup();
        }
      },
    };
  } catch (e) {
    h?.child.kill('SIGKILL');
    h?.channel.close();
    if (h) await h.exited;
    cleanup();
    throw e;
  }
}
