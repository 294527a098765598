/**
 * The bpf(2) calls the cgroup v2 device controller needs, through koffi:
 * load a BPF_PROG_TYPE_CGROUP_DEVICE program, attach it to a cgroup
 * directory fd, find and detach earlier programs. Attribute structs are
 * built by hand in Buffers (union bpf_attr, linux/bpf.h); the kernel accepts
 * a larger attr as long as the tail is zero.
 */
import { koffi } from './koffi.js';
import { closeSync, openSync, constants } from 'node:fs';
import { SysError, errnoMessage } from '../errors.js';
import { constants as osConstants } from 'node:os';

const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280, arm: 386, riscv64: 280, s390x: 351, ppc64: 361, loong64: 280 };

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_OBJ_GET_INFO_BY_FD = 15;
const BPF_PROG_QUERY = 16;

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 2;

const ATTR_SIZE = 128;

type SyscallFn = (nr: number, cmd: number, attr: Buffer, size: number) => number;
let syscallFn: SyscallFn | undefined;

function sys(): SyscallFn {
  if (syscallFn) return syscallFn;
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new SysError('bpf', 38, 'ENOSYS');
  const libc = koffi().load('libc.so.6');
  // syscall(2) is variadic in C; glibc's is plain assembly that reads integer
  // registers, so a fixed prototype with integer arguments is call-compatible.
  const fn = libc.func('long syscall(long nr, int cmd, _Inout_ uint8_t *attr, unsigned int size)') as unknown as SyscallFn;
  syscallFn = fn;
  return fn;
}

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(osConstants.errno).map(([name, n]) => [n as number, name]),
);

function bpf(cmd: number, attr: Buffer, what: string, path?: string): number {
  const r = Number(sys()(SYS_BPF[process.arch]!, cmd, attr, attr.length));
  if (r < 0) {
    const errno = koffi().errno();
    throw new SysError(`bpf(${what})`, errno, ERRNO_NAMES[errno] ?? `errno ${errno}`, path);
  }
  return r;
}

/** Kernel verifier output of a failed load, attached to the error. */
export class BpfLoadError extends SysError {
  constructor(errno: number, errnoName: string, readonly verifierLog: string) {
    super('bpf(BPF_PROG_LOAD)', errno, errnoName);
    this.message = `bpf(BPF_PROG_LOAD): ${errnoName} (${errnoMessage(errnoName)})${verifierLog ? `: ${verifierLog.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
  }
}

/** Load a cgroup device program; returns its fd. */
export function loadCgroupDeviceProgram(insns: Buffer, name = 'tsrun_dev', license = 'Apache-2.0'): number {
  const lic = Buffer.from(`${license}\0`);
  const log = Buffer.alloc(64 * 1024);
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
  attr.writeUInt32LE(insns.length / 8, 4);
  attr.writeBigUInt64LE(BigInt(koffi().address(insns)), 8);
  attr.writeBigUInt64LE(BigInt(koffi().address(lic)), 16);
  attr.writeUInt32LE(1, 24); // log_level
  attr.writeUInt32LE(log.length, 28);
  attr.writeBigUInt64LE(BigInt(koffi().address(log)), 32);
  attr.write(name.slice(0, 15), 48, 'latin1'); // prog_name[16]
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 68); // expected_attach_type
  try {
    return bpf(BPF_PROG_LOAD, attr, 'BPF_PROG_LOAD');
  } catch (err) {
    if (err instanceof SysError) {
      const end = log.indexOf(0);
      throw new BpfLoadError(err.errno, err.errnoName, log.toString('utf8', 0, end < 0 ? log.length : end));
    }
    throw err;
  }
}

/** The kernel id of a loaded program (stable across processes, unlike the fd). */
export function programId(progFd: number): number {
  const info = Buffer.alloc(128);
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(progFd, 0);
  attr.writeUInt32LE(info.length, 4);
  attr.writeBigUInt64LE(BigInt(koffi().address(info)), 8);
  bpf(BPF_OBJ_GET_INFO_BY_FD, attr, 'BPF_OBJ_GET_INFO_BY_FD');
  return info.readUInt32LE(4); // bpf_prog_info.id
}

/** An fd for a program id (for detaching a program loaded by an earlier process). */
export function programFdById(id: number): number {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(id, 0);
  return bpf(BPF_PROG_GET_FD_BY_ID, attr, 'BPF_PROG_GET_FD_BY_ID');
}

function withCgroupFd<T>(cgroupDir: string, fn: (fd: number) => T): T {
  const fd = openSync(cgroupDir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** Attach with BPF_F_ALLOW_MULTI, so programs of parent cgroups keep applying too. */
export function attachCgroupDeviceProgram(cgroupDir: string, progFd: number): void {
  withCgroupFd(cgroupDir, (fd) => {
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(fd, 0);
    attr.writeUInt32LE(progFd, 4);
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
    attr.writeUInt32LE(BPF_F_ALLOW_MULTI, 12);
    bpf(BPF_PROG_ATTACH, attr, 'BPF_PROG_ATTACH', cgroupDir);
  });
}

/** Detach one program from a cgroup. */
export function detachCgroupDeviceProgram(cgroupDir: string, progFd: number): void {
  withCgroupFd(cgroupDir, (fd) => {
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(fd, 0);
    attr.writeUInt32LE(progFd, 4);
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
    bpf(BPF_PROG_DETACH, attr, 'BPF_PROG_DETACH', cgroupDir);
  });
}

/** Ids of the device programs attached directly to a cgroup. */
export function queryCgroupDevicePrograms(cgroupDir: string): number[] {
  return withCgroupFd(cgroupDir, (fd) => {
    const ids = Buffer.alloc(64 * 4);
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(fd, 0);
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4);
    attr.writeBigUInt64LE(BigInt(koffi().address(ids)), 16);
    attr.writeUInt32LE(64, 24);
    bpf(BPF_PROG_QUERY, attr, 'BPF_PROG_QUERY', cgroupDir);
    const n = attr.readUInt32LE(24);
    return Array.from({ length: n }, (_, i) => ids.readUInt32LE(i * 4));
  });
}

/** Close an fd returned by the functions above. */
export function closeFd(fd: number): void {
  closeSync(fd);
}
