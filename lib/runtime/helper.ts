/**
 * Spawning tsrun-init and talking to it over the sync socket
 * (native/PROTOCOL.md). Node only ever sends the plan and CONTINUE; every
 * other message comes from the helper (P) or the container init (C), and the
 * order is checked against the plan.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { MSG, NO_STEP, type MsgName } from '../plan/ops.js';
import type { Plan } from '../plan/types.js';
import { encodePlan } from '../plan/codec.js';
import { ChildSetupError, ExecNotFoundError, HookError, InternalError, ProtocolError, TsrunError } from '../errors.js';
import { constants as osConstants } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));

/** Where the built helper is: `native/build/tsrun-init` in the package, or TSRUN_INIT. */
export function helperPath(): string {
  const fromEnv = process.env.TSRUN_INIT;
  if (fromEnv) return fromEnv;
  const p = join(here, '..', '..', '..', 'native', 'build', 'tsrun-init');
  if (!existsSync(p)) throw new HelperMissingError(p);
  return p;
}

export class HelperMissingError extends TsrunError {
  readonly code = 'CHILD_SETUP' as const;
  constructor(readonly path: string) {
    super(`tsrun-init not found at ${path}: run \`npm run build\``);
  }
}

export interface HelperMessage {
  type: MsgName;
  payload: Buffer;
}

const NAME_BY_TYPE = new Map<number, MsgName>(Object.entries(MSG).map(([k, v]) => [v, k as MsgName]));

/** Frames messages on the sync socket: len:u32 type:u16 pad:u16 payload. */
export class SyncChannel {
  private buf: Buffer = Buffer.alloc(0);
  private queue: HelperMessage[] = [];
  private waiters: { resolve: (m: HelperMessage | null) => void; reject: (e: unknown) => void }[] = [];
  private ended = false;

  constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.parse();
    });
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  private finish(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w.resolve(null);
  }

  private parse(): void {
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32LE(0);
      if (len < 8) {
        const err = new ProtocolError('a message of at least 8 bytes', `length ${len}`);
        for (const w of this.waiters.splice(0)) w.reject(err);
        this.socket.destroy();
        return;
      }
      if (this.buf.length < len) return;
      const type = NAME_BY_TYPE.get(this.buf.readUInt16LE(4));
      const payload = this.buf.subarray(8, len);
      this.buf = this.buf.subarray(len);
      const msg: HelperMessage = { type: type ?? ('UNKNOWN' as MsgName), payload };
      const w = this.waiters.shift();
      if (w) w.resolve(msg);
      else this.queue.push(msg);
    }
  }

  /** The next message, or null once the socket is closed (every holder exited or exec'd). */
  next(): Promise<HelperMessage | null> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  send(type: MsgName, payload: Buffer = Buffer.alloc(0)): void {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(8 + payload.length, 0);
    header.writeUInt16LE(MSG[type], 4);
    this.socket.write(Buffer.concat([header, payload]));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Turns an ERROR message into the typed error, pointing at the plan step. */
export function helperError(plan: Plan, payload: Buffer): TsrunError {
  const stepIndex = payload.length >= 4 ? payload.readUInt32LE(0) : NO_STEP;
  const errno = payload.length >= 8 ? payload.readInt32LE(4) : 0;
  const detail = payload.subarray(8).toString('utf8');
  if (detail.startsWith('exec: "') && detail.endsWith('executable file not found in $PATH')) {
    return new ExecNotFoundError(detail.slice(7, detail.indexOf('"', 7)));
  }
  const denied = /^exec: "(.*)": permission denied$/s.exec(detail);
  if (denied) return new ExecNotFoundError(denied[1]!, true);
  const step = stepIndex !== NO_STEP ? plan.steps[stepIndex] : undefined;
  if (step?.op === 'HOOK') {
    const hookError = containerHookError(step.field, detail);
    if (hookError) return hookError;
  }
  return new ChildSetupError(stepIndex, step?.op ?? 'helper', step?.field ?? '', errno, errnoName(errno), detail);
}

/**
 * A createContainer or startContainer hook (run by the helper in the
 * container) that failed: the same HookError and runc wording as the hooks
 * Node runs in the host, which engines show to users.
 */
function containerHookError(field: string, detail: string): HookError | undefined {
  const at = /^hooks\.([A-Za-z]+)\[(\d+)\]$/.exec(field);
  if (!at) return undefined;
  const [kind, index] = [at[1]!, Number(at[2])];
  const prefix = `error running ${kind} hook #${index}`;
  const status = /: exit status (\d+)$/.exec(detail);
  if (status) return new HookError(`${prefix}: exit status ${status[1]}`, kind, index);
  const signal = /: killed by signal (\d+)$/.exec(detail);
  if (signal) return new HookError(`${prefix}: signal: ${signalName(Number(signal[1]))}`, kind, index);
  const timeout = /: killed after its timeout of (\d+) seconds$/.exec(detail);
  if (timeout) return new HookError(`${prefix}: hook ran past specified timeout of ${Number(timeout[1]).toFixed(1)}s`, kind, index);
  return new HookError(`${prefix}: ${detail}`, kind, index);
}

function signalName(n: number): string {
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC', 9: 'EBADF', 11: 'EAGAIN',
  12: 'ENOMEM', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV', 19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR',
  22: 'EINVAL', 26: 'ETXTBSY', 28: 'ENOSPC', 30: 'EROFS', 36: 'ENAMETOOLONG', 38: 'ENOSYS', 39: 'ENOTEMPTY',
  40: 'ELOOP', 95: 'EOPNOTSUPP',
};

export function errnoName(errno: number): string {
  if (!errno) return '';
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

export interface SpawnHelperOptions {
  /** fds 0, 1 and 2 of the container (numbers, or Node's stdio words). */
  stdio: [StdioOptions extends (infer T)[] ? T : never, unknown, unknown] | unknown[];
  /** fds to pass after stdio (`--preserve-fds`, LISTEN_FDS), in order. */
  preserveFds?: number[];
  /** A proxied terminal's resize channel, the fd after the sync socket ({@link resizeChannelFd}). */
  resizeChannel?: boolean;
}

/** The helper's fd of the resize channel: after stdio, the preserved fds and the sync socket. */
export function resizeChannelFd(preserved: number): number {
  return 3 + preserved + 1;
}

/** A running tsrun-init: the child process (P) and its sync channel. */
export interface HelperHandle {
  child: ChildProcess;
  channel: SyncChannel;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** A proxied terminal's window sizes go here (rows:u16 cols:u16 records). */
  resize?: Socket;
}

/**
 * Spawns P. It is started in its own session (`detached`), so a terminal's
 * ^C reaches tsrun, which forwards it, and not P and the container twice.
 */
export function spawnHelper(opts: SpawnHelperOptions): HelperHandle {
  const preserved = opts.preserveFds ?? [];
  const syncIndex = 3 + preserved.length;
  const stdio = [...(opts.stdio as unknown[]), ...preserved, 'pipe', ...(opts.resizeChannel ? ['pipe'] : [])] as StdioOptions;
  const child = spawn(helperPath(), [], {
    stdio,
    env: { _TSRUN_SYNC_FD: String(syncIndex), ...(opts.resizeChannel ? { _TSRUN_RESIZE_FD: String(resizeChannelFd(preserved.length)) } : {}) },
    detached: true,
  });
  if (child.pid === undefined) {
    // The spawn failed (ENOENT, ETXTBSY...; the 'error' event comes later). Never hand
    // this child out: until that event, Node's child.kill() on it is kill(0, sig), which
    // signals tsrun's whole process group (conmon, the shim), not a helper.
    child.on('error', () => undefined);
    (child.stdio[syncIndex] as Socket | null)?.destroy();
    throw new InternalError(`could not start tsrun-init (${helperPath()})`);
  }
  const socket = child.stdio[syncIndex] as Socket;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: 255, signal: null }));
  });
  const resize = opts.resizeChannel ? (child.stdio[resizeChannelFd(preserved.length)] as Socket) : undefined;
  return { child, channel: new SyncChannel(socket), exited, ...(resize ? { resize } : {}) };
}

/** Sends the encoded plan to P. */
export function sendPlan(h: HelperHandle, plan: Plan): void {
  h.channel.send('PLAN', encodePlan(plan));
}
