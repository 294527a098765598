/**
 * Running a hand-built plan: the smallest complete use of tsrun-init, with
 * no config, no state directory and no cgroup of its own. The examples use
 * it to build a container one step at a time:
 *
 * ```ts
 * const plan = { steps: [
 *   step('CLONE', { flags: CLONE_NEWUTS, detached: 0 }, '(example)', 'a new UTS namespace'),
 *   step('HOSTNAME', { name: 'box' }, '(example)', 'names it'),
 *   step('RESOLVE_EXEC', { name: 'hostname', path: '/bin:/usr/bin' }, '(example)', 'finds the program'),
 *   step('WAIT_START', {}, '(example)', 'reports ready'),
 *   step('EXEC', { argv: ['hostname'], env: [], keepFds: 3 }, '(example)', 'runs it'),
 * ] };
 * const { exitCode, stdout } = await runPlan(plan, { stdio: 'pipe' });
 * ```
 *
 * The helper is spawned attached (the plan's `CLONE` should say
 * `detached: 0`): it stays the parent of the init, reaps it and reports its
 * exit status, so nothing outlives the call.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, constants, openSync, readSync, rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { encodePlan } from '../plan/codec.js';
import type { Plan } from '../plan/types.js';
import { InternalError, ProtocolError, TsrunError } from '../errors.js';
import { SyncChannel, helperError, helperPath, type HelperHandle } from './helper.js';
import { waitAttached } from './lifecycle.js';

/** How one of the init's fds 0-2 is connected. */
export type PlanStdio = 'inherit' | 'pipe' | 'ignore' | number;

/** Options of {@link runPlan}. */
export interface RunPlanOptions {
  /**
   * fds 0-2 of the container: one value for all three or one per fd
   * (default `'inherit'`, as raw fds, so Node's stream objects are never
   * handed over). With `'pipe'` on fd 1 or 2 the output is collected into
   * the result.
   */
  stdio?: PlanStdio | [PlanStdio, PlanStdio, PlanStdio];
  /** Kill the init and the helper (SIGKILL, by their pids) after this long. Default: no limit. */
  timeoutMs?: number;
  /** Run the helper as this uid (an unprivileged user for user-namespace plans). */
  uid?: number;
  /** Run the helper as this gid. */
  gid?: number;
  /**
   * Put the helper into a cgroup before it receives the plan, so the init is
   * born in it (a `CgroupManager` from lib/cgroups fits).
   */
  cgroup?: {
    /** Moves a process (the helper) into the cgroup. */
    addProcess(pid: number): void;
  };
  /**
   * Called once the init reported READY (set-up done) and before it is let
   * go through the exec fifo: the moment to look at it from the host.
   */
  onReady?: (initPid: number) => void | Promise<void>;
}

/** How a plan's program ended. */
export interface PlanResult {
  /** Exit code, or null when killed by a signal. */
  exitCode: number | null;
  /** The signal number that killed it, or null. */
  signal: number | null;
  /** The init's pid in the host pid namespace. */
  initPid: number;
  /** What the init wrote to fd 1, when `stdio` piped it. */
  stdout?: string;
  /** What the init wrote to fd 2, when `stdio` piped it. */
  stderr?: string;
}

/** A plan that ran past {@link RunPlanOptions.timeoutMs}. */
export class PlanTimeoutError extends TsrunError {
  /** The error code shared with other internal failures. */
  readonly code = 'INTERNAL' as const;
  /** @param timeoutMs the limit that was passed */
  constructor(readonly timeoutMs: number) {
    super(`plan did not finish within ${timeoutMs} ms: killed`);
  }
}

function stdioArray(s: RunPlanOptions['stdio']): PlanStdio[] {
  const arr = Array.isArray(s) ? s : [s ?? 'inherit', s ?? 'inherit', s ?? 'inherit'];
  return arr.map((v, fd) => (v === 'inherit' ? fd : v));
}

function collect(stream: Readable | null | undefined): Promise<string> | undefined {
  if (!stream) return undefined;
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => {
    stream.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function killPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Opens the exec fifo for reading, which lets the init exec, and waits for its byte. */
async function releaseFifo(path: string, initPid: number): Promise<void> {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1);
    for (let delay = 0; ; delay = Math.min(delay + 1, 10)) {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n === 1) return;
      try {
        process.kill(initPid, 0);
      } catch {
        throw new InternalError('the container init exited before it was started');
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs a plan with tsrun-init and waits for its program to exit: spawns the
 * helper, sends the plan, answers each `SYNC` with an empty `CONTINUE`,
 * waits for `READY`, calls `onReady`, opens the exec fifo if the plan has an
 * `EXEC_FIFO` step, then waits for `EXIT`.
 * @throws ChildSetupError when a step fails (with the step and its field),
 *   PlanTimeoutError past `timeoutMs`.
 */
export async function runPlan(plan: Plan, opts: RunPlanOptions = {}): Promise<PlanResult> {
  const fifo = plan.steps.find((s) => s.op === 'EXEC_FIFO');
  const fifoPath = fifo?.op === 'EXEC_FIFO' ? fifo.args.path : undefined;
  const child = spawn(helperPath(), [], {
    stdio: [...stdioArray(opts.stdio), 'pipe'] as StdioOptions,
    env: { _TSRUN_SYNC_FD: '3' },
    // Its own session: a terminal's ^C reaches Node, not the helper and the container twice.
    detached: true,
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: 255, signal: null }));
  });
  const h: HelperHandle = { child, channel: new SyncChannel(child.stdio[3] as Socket), exited };
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let initPid = 0;
  let timedOut = false;
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        killPid(initPid);
        killPid(child.pid);
      }, opts.timeoutMs)
    : undefined;
  try {
    if (!child.pid) throw new InternalError('could not start tsrun-init');
    opts.cgroup?.addProcess(child.pid);
    h.channel.send('PLAN', encodePlan(plan));
    for (let ready = false; !ready; ) {
      const m = await h.channel.next();
      if (!m) {
        if (timedOut) throw new PlanTimeoutError(opts.timeoutMs!);
        const { code, signal } = await exited;
        throw new InternalError(`tsrun-init exited (${signal ? `signal ${signal}` : `status ${code}`}) before the plan was ready`);
      }
      switch (m.type) {
        case 'PID':
          initPid = m.payload.readUInt32LE(0);
          break;
        case 'SYNC':
          h.channel.send('CONTINUE');
          break;
        case 'READY':
          if (!initPid) throw new ProtocolError('PID', 'READY');
          ready = true;
          break;
        case 'ERROR':
          throw helperError(plan, m.payload);
        default:
          throw new ProtocolError('PID, SYNC, READY or ERROR', m.type);
      }
    }
    await opts.onReady?.(initPid);
    if (fifoPath) await releaseFifo(fifoPath, initPid);
    const status = await waitAttached(h, plan);
    if (timedOut) throw new PlanTimeoutError(opts.timeoutMs!);
    const result: PlanResult = { ...status, initPid };
    const [out, err] = await Promise.all([stdout, stderr]);
    if (out !== undefined) result.stdout = out;
    if (err !== undefined) result.stderr = err;
    return result;
  } catch (e) {
    killPid(initPid);
    killPid(child.pid);
    await exited;
    h.channel.close();
    if (timedOut && !(e instanceof PlanTimeoutError)) throw new PlanTimeoutError(opts.timeoutMs!);
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
    if (fifoPath) rmSync(fifoPath, { force: true });
  }
}
