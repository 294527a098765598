/**
 * The cgroup v2 device controller is an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE, run on every open/mknod of a device node with
 * a `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
 * (access_type = access << 16 | type). It returns 1 to allow, 0 to deny.
 *
 * Semantics match the v1 controller as runtimes use it: everything is denied
 * unless a rule allows it, and rules are evaluated in order with the last
 * matching rule deciding. The program checks the rules from last to first
 * and returns on the first match, which is the same thing.
 */
import type { DeviceRule } from './devices.js';

/** BPF_DEVCG_DEV_* and BPF_DEVCG_ACC_* from linux/bpf.h. */
const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC_MKNOD = 1;
const ACC_READ = 2;
const ACC_WRITE = 4;

/** One 8-byte instruction, before encoding. */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Opcodes (class | op | source) used below.
const LDX_MEM_W = 0x61; // dst = *(u32 *)(src + off)
const ALU64_AND_K = 0x57;
const ALU64_RSH_K = 0x77;
const ALU64_MOV_K = 0xb7;
const ALU64_MOV_X = 0xbf;
const JMP_JNE_K = 0x55;
const JMP_EXIT = 0x95;

const ins = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

function accessMask(access: string): number {
  let m = 0;
  if (access.includes('r')) m |= ACC_READ;
  if (access.includes('w')) m |= ACC_WRITE;
  if (access.includes('m')) m |= ACC_MKNOD;
  return m;
}

/**
 * Build the program for `rules` (already normalized, defaults included).
 * Registers: r2 = device type, r3 = requested access, r4 = major, r5 = minor.
 */
export function buildDeviceProgram(rules: readonly DeviceRule[]): BpfInsn[] {
  const out: BpfInsn[] = [
    ins(LDX_MEM_W, 2, 1, 0, 0),
    ins(ALU64_AND_K, 2, 0, 0, 0xffff),
    ins(LDX_MEM_W, 3, 1, 0, 0),
    ins(ALU64_RSH_K, 3, 0, 0, 16),
    ins(LDX_MEM_W, 4, 1, 4, 0),
    ins(LDX_MEM_W, 5, 1, 8, 0),
  ];
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    const block: BpfInsn[] = [];
    // Each conditional jump skips to the end of this block (offset patched below).
    const jumps: number[] = [];
    if (r.type !== 'a') {
      jumps.push(block.length);
      block.push(ins(JMP_JNE_K, 2, 0, 0, r.type === 'b' ? DEV_BLOCK : DEV_CHAR));
      const mask = accessMask(r.access);
      if (mask !== (ACC_READ | ACC_WRITE | ACC_MKNOD)) {
        // Match only if every requested access bit is in the rule.
        block.push(ins(ALU64_MOV_X, 6, 3, 0, 0));
        block.push(ins(ALU64_AND_K, 6, 0, 0, ~mask & 7));
        jumps.push(block.length);
        block.push(ins(JMP_JNE_K, 6, 0, 0, 0));
      }
      if (r.major >= 0) {
        jumps.push(block.length);
        block.push(ins(JMP_JNE_K, 4, 0, 0, r.major | 0));
      }
      if (r.minor >= 0) {
        jumps.push(block.length);
        block.push(ins(JMP_JNE_K, 5, 0, 0, r.minor | 0));
      }
    }
    block.push(ins(ALU64_MOV_K, 0, 0, 0, r.allow ? 1 : 0));
    block.push(ins(JMP_EXIT, 0, 0, 0, 0));
    for (const j of jumps) block[j]!.off = block.length - j - 1;
    out.push(...block);
    // A type 'a' rule matches everything: nothing before it can be reached.
    if (r.type === 'a') return out;
  }
  out.push(ins(ALU64_MOV_K, 0, 0, 0, 0), ins(JMP_EXIT, 0, 0, 0, 0));
  return out;
}

/** Encode instructions as the kernel reads them (struct bpf_insn, little endian). */
export function encodeProgram(program: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(program.length * 8);
  program.forEach((p, i) => {
    buf.writeUInt8(p.code, i * 8);
    buf.writeUInt8(((p.src & 0xf) << 4) | (p.dst & 0xf), i * 8 + 1);
    buf.writeInt16LE(p.off, i * 8 + 2);
    buf.writeInt32LE(p.imm | 0, i * 8 + 4);
  });
  return buf;
}

/**
 * Run the program in TypeScript on one access (for tests and `explain`):
 * the same decision the kernel would make. `access` is a subset of "rwm".
 */
export function evaluateDeviceProgram(program: readonly BpfInsn[], type: 'b' | 'c', major: number, minor: number, access: string): boolean {
  const ctx = [((accessMask(access) << 16) | (type === 'b' ? DEV_BLOCK : DEV_CHAR)) >>> 0, major >>> 0, minor >>> 0];
  const reg: bigint[] = new Array(11).fill(0n);
  const M = (1n << 64n) - 1n;
  for (let pc = 0; pc < program.length; pc++) {
    const p = program[pc]!;
    const immU = BigInt.asUintN(64, BigInt(p.imm));
    switch (p.code) {
      case LDX_MEM_W:
        reg[p.dst] = BigInt(ctx[p.off / 4]!);
        break;
      case ALU64_AND_K:
        reg[p.dst] = reg[p.dst]! & immU;
        break;
      case ALU64_RSH_K:
        reg[p.dst] = (reg[p.dst]! >> BigInt(p.imm)) & M;
        break;
      case ALU64_MOV_K:
        reg[p.dst] = immU;
        break;
      case ALU64_MOV_X:
        reg[p.dst] = reg[p.src]!;
        break;
      case JMP_JNE_K:
        if (reg[p.dst] !== immU) pc += p.off;
        break;
      case JMP_EXIT:
        return reg[0] === 1n;
      default:
        throw new Error(`unknown opcode ${p.code}`);
    }
  }
  throw new Error('program fell off its end');
}
