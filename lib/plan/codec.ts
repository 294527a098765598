/**
 * The binary plan format of native/PROTOCOL.md: every length 32-bit and
 * checked, so an oversized value fails cleanly instead of wrapping
 * (CVE-2021-43784 was a 16-bit length overflow in runc's bootstrap data).
 */
import { OPS, PLAN_MAGIC, PLAN_MAX_BYTES, PLAN_MAX_STEPS, STRLIST_MAX, opName, type ArgType, type OpName } from './ops.js';
import type { Plan } from './types.js';

const TYPE_CODE: Record<ArgType, number> = { u64: 1, str: 2, strs: 3, bytes: 4 };
const CODE_TYPE: Record<number, ArgType> = { 1: 'u64', 2: 'str', 3: 'strs', 4: 'bytes' };

/** The plan could not be encoded or decoded. */
export class PlanCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanCodecError';
  }
}

class Writer {
  private chunks: Buffer[] = [];
  size = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    if (this.size > PLAN_MAX_BYTES) throw new PlanCodecError(`plan larger than ${PLAN_MAX_BYTES} bytes`);
  }
  u8x4(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt8(v, 0);
    this.push(b);
  }
  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.push(b);
  }
  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new PlanCodecError(`length ${v} does not fit 32 bits`);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  done(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

function cString(s: string, what: string): Buffer {
  if (s.includes('\0')) throw new PlanCodecError(`${what} contains a NUL byte`);
  return Buffer.from(s + '\0', 'utf8');
}

function toU64(v: bigint | number, what: string): bigint {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  if (b < -(1n << 63n) || b >= 1n << 64n) throw new PlanCodecError(`${what} does not fit 64 bits`);
  return BigInt.asUintN(64, b);
}

function encodeArg(type: ArgType, value: unknown, what: string): Buffer {
  let payload: Buffer;
  switch (type) {
    case 'u64': {
      payload = Buffer.alloc(8);
      payload.writeBigUInt64LE(toU64(value as bigint | number, what));
      break;
    }
    case 'str':
      payload = cString(value as string, what);
      break;
    case 'strs': {
      const list = value as readonly string[];
      if (list.length > STRLIST_MAX) throw new PlanCodecError(`${what} has more than ${STRLIST_MAX} entries`);
      const parts: Buffer[] = [];
      const count = Buffer.alloc(4);
      count.writeUInt32LE(list.length);
      parts.push(count);
      for (const s of list) {
        const str = cString(s, what);
        const len = Buffer.alloc(4);
        len.writeUInt32LE(str.length);
        parts.push(len, str);
      }
      payload = Buffer.concat(parts);
      break;
    }
    case 'bytes':
      payload = Buffer.from(value as Uint8Array);
      break;
  }
  const header = Buffer.alloc(8);
  header.writeUInt8(TYPE_CODE[type], 0);
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Encodes a plan for tsrun-init. Throws PlanCodecError on values that cannot be represented. */
export function encodePlan(plan: Plan): Buffer {
  if (plan.steps.length > PLAN_MAX_STEPS) throw new PlanCodecError(`plan has more than ${PLAN_MAX_STEPS} steps`);
  const body = new Writer();
  for (const [i, s] of plan.steps.entries()) {
    const sig = OPS[s.op];
    const args = s.args as Record<string, unknown>;
    const encoded = sig.args.map(([name, type]) => {
      if (!(name in args)) throw new PlanCodecError(`step ${i} (${s.op}) lacks argument ${name}`);
      return encodeArg(type, args[name], `step ${i} (${s.op}) ${name}`);
    });
    const len = encoded.reduce((n, b) => n + b.length, 0);
    body.u16(sig.code);
    body.u16(encoded.length);
    body.u32(len);
    for (const b of encoded) body.push(b);
  }
  const bodyBuf = body.done();
  const total = 12 + bodyBuf.length;
  if (total > PLAN_MAX_BYTES) throw new PlanCodecError(`plan larger than ${PLAN_MAX_BYTES} bytes`);
  const header = Buffer.alloc(12);
  header.writeUInt32LE(PLAN_MAGIC, 0);
  header.writeUInt32LE(total, 4);
  header.writeUInt32LE(plan.steps.length, 8);
  return Buffer.concat([header, bodyBuf]);
}

/** A decoded step (as tsrun-init sees it): no field or why, u64 values as bigint. */
export interface DecodedStep {
  op: OpName;
  args: Record<string, bigint | string | string[] | Uint8Array>;
}

function readCString(buf: Buffer, start: number, len: number, what: string): string {
  if (len === 0 || buf[start + len - 1] !== 0) throw new PlanCodecError(`${what}: string not NUL-terminated`);
  const s = buf.subarray(start, start + len - 1);
  if (s.includes(0)) throw new PlanCodecError(`${what}: string contains a NUL byte`);
  return s.toString('utf8');
}

/** Decodes a plan with the same checks tsrun-init makes (used by tests and `tsrun plan --decode`). */
export function decodePlan(buf: Buffer): DecodedStep[] {
  if (buf.length < 12) throw new PlanCodecError('plan shorter than its header');
  if (buf.readUInt32LE(0) !== PLAN_MAGIC) throw new PlanCodecError('bad plan magic');
  const total = buf.readUInt32LE(4);
  if (total !== buf.length) throw new PlanCodecError(`plan length ${total} does not match ${buf.length} bytes received`);
  const count = buf.readUInt32LE(8);
  if (count > PLAN_MAX_STEPS) throw new PlanCodecError('too many steps');
  let off = 12;
  const steps: DecodedStep[] = [];
  for (let i = 0; i < count; i++) {
    if (off + 8 > buf.length) throw new PlanCodecError(`step ${i}: truncated header`);
    const code = buf.readUInt16LE(off);
    const argc = buf.readUInt16LE(off + 2);
    const len = buf.readUInt32LE(off + 4);
    off += 8;
    if (len > buf.length - off) throw new PlanCodecError(`step ${i}: length ${len} past the end`);
    const name = opName(code);
    if (!name) throw new PlanCodecError(`step ${i}: unknown op ${code}`);
    const sig = OPS[name];
    if (argc !== sig.args.length) throw new PlanCodecError(`step ${i} (${name}): ${argc} arguments, expected ${sig.args.length}`);
    const end = off + len;
    const args: DecodedStep['args'] = {};
    for (const [argName, type] of sig.args) {
      const what = `step ${i} (${name}) ${argName}`;
      if (off + 8 > end) throw new PlanCodecError(`${what}: truncated`);
      const t = CODE_TYPE[buf.readUInt8(off)];
      const alen = buf.readUInt32LE(off + 4);
      off += 8;
      if (t !== type) throw new PlanCodecError(`${what}: type ${t ?? buf.readUInt8(off - 8)}, expected ${type}`);
      if (alen > end - off) throw new PlanCodecError(`${what}: length ${alen} past the step`);
      switch (type) {
        case 'u64':
          if (alen !== 8) throw new PlanCodecError(`${what}: u64 of ${alen} bytes`);
          args[argName] = buf.readBigUInt64LE(off);
          break;
        case 'str':
          args[argName] = readCString(buf, off, alen, what);
          break;
        case 'strs': {
          if (alen < 4) throw new PlanCodecError(`${what}: truncated list`);
          const n = buf.readUInt32LE(off);
          if (n > STRLIST_MAX) throw new PlanCodecError(`${what}: too many entries`);
          const list: string[] = [];
          let p = off + 4;
          const lend = off + alen;
          for (let k = 0; k < n; k++) {
            if (p + 4 > lend) throw new PlanCodecError(`${what}[${k}]: truncated`);
            const sl = buf.readUInt32LE(p);
            p += 4;
            if (sl > lend - p) throw new PlanCodecError(`${what}[${k}]: length past the list`);
            list.push(readCString(buf, p, sl, `${what}[${k}]`));
            p += sl;
          }
          if (p !== lend) throw new PlanCodecError(`${what}: trailing bytes in list`);
          args[argName] = list;
          break;
        }
        case 'bytes':
          args[argName] = Uint8Array.prototype.slice.call(buf, off, off + alen);
          break;
      }
      off += alen;
    }
    if (off !== end) throw new PlanCodecError(`step ${i} (${name}): trailing bytes`);
    steps.push({ op: name, args });
  }
  if (off !== buf.length) throw new PlanCodecError('trailing bytes after the last step');
  return steps;
}
