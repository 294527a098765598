import t from 'tap';
import { encodePlan, decodePlan, PlanCodecError } from '../../../lib/plan/codec.js';
import { compilePlan } from '../../../lib/plan/compile.js';
import { step, type Plan } from '../../../lib/plan/types.js';
import { OPS, type OpName } from '../../../lib/plan/ops.js';
import { baseSpec } from './fixtures.js';

/** Normalizes a plan's args the way the decoder returns them (u64 as bigint). */
function normalized(plan: Plan) {
  return plan.steps.map((s) => {
    const args: Record<string, unknown> = {};
    for (const [name, type] of OPS[s.op].args) {
      const v = (s.args as Record<string, unknown>)[name];
      args[name] = type === 'u64' ? BigInt.asUintN(64, BigInt(v as number)) : type === 'bytes' ? new Uint8Array(v as Uint8Array) : v;
    }
    return { op: s.op, args };
  });
}

t.test('a compiled plan round-trips exactly', async (tt) => {
  const plan = compilePlan(baseSpec(), { bundle: '/b', execFifo: '/f', detached: true, sourceKind: () => 'dir', seccomp: { program: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), flags: 1 } });
  tt.same(decodePlan(encodePlan(plan)), normalized(plan));
});

t.test('negative and large numbers survive as two\'s complement u64', async (tt) => {
  const plan: Plan = { steps: [step('OOM_SCORE_ADJ', { value: -1000 }, 'x', ''), step('RLIMIT', { resource: 7, soft: (1n << 64n) - 1n, hard: (1n << 64n) - 1n }, 'y', '')] };
  const d = decodePlan(encodePlan(plan));
  tt.equal(BigInt.asIntN(64, d[0]!.args.value as bigint), -1000n);
  tt.equal(d[1]!.args.soft, (1n << 64n) - 1n);
});

t.test('oversized inputs round-trip or fail cleanly (CVE-2021-43784)', async (tt) => {
  const uidMap = Array.from({ length: 6000 }, (_, i) => `${i} ${100000 + i} 1\n`).join('');
  const env = Array.from({ length: 100_000 }, (_, i) => `VAR_${i}=${'x'.repeat(20)}`);
  const longPath = '/proc/self/ns/' + 'a'.repeat(70 * 1024);
  const plan: Plan = {
    steps: [
      step('USER_MAPS', { uidMap, gidMap: uidMap, setgroups: '' }, 'linux.uidMappings', ''),
      step('JOIN_NS', { nstype: 0x40000000, path: longPath }, 'linux.namespaces[0]', ''),
      step('EXEC', { argv: ['sh'], env, keepFds: 3 }, 'process.args', ''),
    ],
  };
  const d = decodePlan(encodePlan(plan));
  tt.equal(d[0]!.args.uidMap, uidMap);
  tt.equal((d[1]!.args.path as string).length, longPath.length);
  tt.same(d[2]!.args.env, env);
  tt.throws(() => encodePlan({ steps: [step('HOSTNAME', { name: 'a\0b' }, 'hostname', '')] }), PlanCodecError, 'an inner NUL is refused');
});

t.test('the decoder rejects truncated, padded and mistyped plans', async (tt) => {
  const buf = encodePlan({ steps: [step('HOSTNAME', { name: 'box' }, 'hostname', ''), step('UMASK', { mask: 18 }, 'u', '')] });
  for (let cut = 0; cut < buf.length; cut++) {
    tt.throws(() => decodePlan(buf.subarray(0, cut)), PlanCodecError, `truncated at ${cut}`);
  }
  const padded = Buffer.concat([buf, Buffer.from([0])]);
  tt.throws(() => decodePlan(padded), PlanCodecError);
  const wrongType = Buffer.from(buf);
  wrongType[12 + 8] = 1; // HOSTNAME's first arg claims to be a u64
  tt.throws(() => decodePlan(wrongType), PlanCodecError);
  const unknownOp = Buffer.from(buf);
  unknownOp.writeUInt16LE(999, 12);
  tt.throws(() => decodePlan(unknownOp), /unknown op 999/);
});

t.test('every op has a unique code', async (tt) => {
  const codes = Object.values(OPS).map((o) => o.code);
  tt.equal(new Set(codes).size, codes.length);
  tt.ok((Object.keys(OPS) as OpName[]).every((n) => OPS[n].syscall.length > 0));
});
