/**
 * Drives tsrun-init directly from Node for the integration tests: a busybox
 * rootfs in a temp dir, hand-built plans, the sync channel, reaping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { encodePlan } from '../../../lib/plan/codec.js';
import { MSG, type OpName } from '../../../lib/plan/ops.js';
import type { Plan, PlanStep } from '../../../lib/plan/types.js';

export const HELPER = fileURLToPath(new URL('../../../../native/build/tsrun-init', import.meta.url));

export const CLONE = { NEWNS: 0x20000, NEWUTS: 0x04000000, NEWIPC: 0x08000000, NEWUSER: 0x10000000, NEWPID: 0x20000000, NEWNET: 0x40000000 };
export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 4096, REC: 16384,
  PRIVATE: 1 << 18, SLAVE: 1 << 19, STRICTATIME: 1 << 24,
};
export const S_IFCHR = 0o020000;
/** Every capability this test process holds (a sandbox may lack some): what a container can be given. */
export const ALL_CAPS = BigInt('0x' + (/CapPrm:\s+([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'));

export function st(op: OpName, args: Record<string, unknown> = {}): PlanStep {
  return { op, args, field: '(test)', why: 'integration test' } as unknown as PlanStep;
}

const APPLETS = ['sh', 'cat', 'hostname', 'echo', 'ls', 'stat', 'touch', 'id', 'sleep', 'readlink', 'wc', 'tr', 'pwd', 'kill', 'true', 'stty', 'tty'];

/** A temp dir holding rootfs/ (busybox and its applets) and host/ (scratch space outside the rootfs). */
export function makeBundle(): { dir: string; rootfs: string; host: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-native-'));
  chmodSync(dir, 0o755); // a user-namespaced root (host uid 100000) must reach the rootfs
  const rootfs = join(dir, 'rootfs');
  const host = join(dir, 'host');
  for (const d of ['bin', 'proc', 'dev', 'tmp', 'etc', 'sys']) mkdirSync(join(rootfs, d), { recursive: true });
  mkdirSync(host);
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  return { dir, rootfs, host, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The container's filesystem, as the plan compiler would lay it out (simplified). */
export function rootfsSteps(rootfs: string): PlanStep[] {
  return [
    st('ROOTFS', { propagation: MS.SLAVE | MS.REC, rootfs }),
    st('MOUNT', { source: 'proc', dest: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NOEXEC | MS.NODEV, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }),
    st('MOUNT', { source: 'tmpfs', dest: '/dev', fstype: 'tmpfs', flags: MS.NOSUID | MS.STRICTATIME, data: 'mode=755,size=65536k', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }),
    st('MOUNT', { source: 'devpts', dest: '/dev/pts', fstype: 'devpts', flags: MS.NOSUID | MS.NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }),
    st('MKNOD', { path: '/dev/null', type: S_IFCHR, major: 1, minor: 3, mode: 0o666, uid: 0, gid: 0 }),
    st('MKNOD', { path: '/dev/zero', type: S_IFCHR, major: 1, minor: 5, mode: 0o666, uid: 0, gid: 0 }),
    st('SYMLINK', { target: '/proc/self/fd', path: '/dev/fd' }),
    st('MOUNT', { source: 'tmpfs', dest: '/tmp', fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }),
  ];
}

export interface Msg {
  type: keyof typeof MSG | number;
  payload: Buffer;
}

export function describe(m: Msg): string {
  if (m.type === 'ERROR') return `ERROR step=${m.payload.readUInt32LE(0)} errno=${m.payload.readInt32LE(4)} ${m.payload.subarray(8).toString()}`;
  return String(m.type);
}

export function errorOf(m: Msg): { step: number; errno: number; detail: string } {
  return { step: m.payload.readUInt32LE(0), errno: m.payload.readInt32LE(4), detail: m.payload.subarray(8).toString() };
}

const NAMES = new Map<number, keyof typeof MSG>(Object.entries(MSG).map(([k, v]) => [v, k as keyof typeof MSG]));

/** The helper process P with its sync channel and captured output. */
export class Helper {
  readonly child: ChildProcess;
  readonly sync: Socket;
  stdout = '';
  stderr = '';
  private buf = Buffer.alloc(0);
  private queue: Msg[] = [];
  private waiters: ((m: Msg | null) => void)[] = [];
  private closed = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly outputDone: Promise<void>;

  constructor() {
    this.child = spawn(HELPER, [], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: { _TSRUN_SYNC_FD: '3' } });
    this.sync = this.child.stdio[3] as Socket;
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.outputDone = new Promise((resolve) => this.child.stdout!.on('close', () => resolve()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    this.sync.on('data', (d: Buffer) => this.onData(d));
    this.sync.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    this.sync.on('error', () => {});
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32LE(0);
      if (this.buf.length < len) break;
      const type = this.buf.readUInt16LE(4);
      const m: Msg = { type: NAMES.get(type) ?? type, payload: Buffer.from(this.buf.subarray(8, len)) };
      this.buf = this.buf.subarray(len);
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    }
  }

  send(type: keyof typeof MSG, payload: Buffer): void {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(8 + payload.length, 0);
    h.writeUInt16LE(MSG[type], 4);
    this.sync.write(Buffer.concat([h, payload]));
  }

  sendPlan(plan: Plan): void {
    this.send('PLAN', encodePlan(plan));
  }

  /** The next message, or null once the channel is closed (every holder of the socket exited). */
  next(timeoutMs = 10_000): Promise<Msg | null> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.waiters.push((msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
  }

  close(): void {
    this.sync.destroy();
  }
}

const libc = koffi.load('libc.so.6');
const waitpidC = libc.func('int waitpid(int pid, _Out_ int *status, int options)');
const WNOHANG = 1;

/** Reaps a detached container init (our own child through CLONE_PARENT) and returns its wait status. */
export async function reap(pid: number, timeoutMs = 10_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const status = [0];
    const r = waitpidC(pid, status, WNOHANG) as number;
    if (r === pid) return status[0]!;
    if (r < 0) throw new Error(`waitpid(${pid}) failed`);
    if (Date.now() > end) throw new Error(`pid ${pid} did not exit within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Kills a process by its own pid if it still exists. */
export function killPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
