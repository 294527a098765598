/**
 * The C-side decode of TypeScript-encoded plans: `tsrun-init --decode` must
 * print exactly what lib/plan/codec.ts encoded, and refuse (exit 2, never a
 * crash) every plan the TypeScript decoder refuses. No root needed.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodePlan, decodePlan, PlanCodecError, type DecodedStep } from '../../../lib/plan/codec.js';
import { OPS, type OpName } from '../../../lib/plan/ops.js';
import type { Plan, PlanStep } from '../../../lib/plan/types.js';

const HELPER = fileURLToPath(new URL('../../../../native/build/tsrun-init', import.meta.url));

type Value = bigint | number | string | readonly string[] | Uint8Array;

/** The canonical text form of native/decode.c, computed in TypeScript. */
function formatValue(v: Value): string {
  if (typeof v === 'bigint' || typeof v === 'number') return BigInt.asUintN(64, BigInt(v)).toString();
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return `[${v.map((s) => JSON.stringify(s)).join(',')}]`;
}

function formatStep(op: OpName, args: Record<string, Value>): string {
  return [op, ...OPS[op].args.map(([name]) => `${name}=${formatValue(args[name] as Value)}`)].join(' ');
}

function formatPlan(steps: readonly { op: OpName; args: unknown }[]): string[] {
  return steps.map((s) => formatStep(s.op, s.args as Record<string, Value>));
}

function decodeC(buf: Buffer): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(HELPER, ['--decode'], { input: buf, maxBuffer: 1 << 30 });
  return { status: r.status, signal: r.signal, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const s = (op: OpName, args: Record<string, Value>): PlanStep => ({ op, args, field: '(test)', why: 'test' }) as unknown as PlanStep;

/** One step of every op, with edge values: u64 limits, negative numbers, quoting, unicode, empty lists. */
function everyOpPlan(): Plan {
  return {
    steps: [
      s('RLIMIT', { resource: 7, soft: 1024n, hard: 0xffffffffffffffffn }),
      s('OOM_SCORE_ADJ', { value: -1000 }),
      s('JOIN_NS', { nstype: 0x20000, path: '/proc/123/ns/mnt' }),
      s('NEW_TIMENS', { offsets: 'monotonic 5 0\nboottime 7 0\n' }),
      s('EXEC_FIFO', { path: '/run/tsrun/c1/exec.fifo' }),
      s('USER_MAPS', { uidMap: '0 100000 65536\n', gidMap: '0 100000 65536\n', setgroups: 'deny' }),
      s('IDMAP_TREE', { source: '/srv/data', uidMap: '0 1000 1\n', gidMap: '0 1000 1\n', recursive: 3 }),
      s('ID_MAP_TOOLS', { newuidmap: '/usr/bin/newuidmap', newgidmap: '' }),
      s('CLONE', { flags: 0x7c020000, detached: 1 }),
      s('ROOTFS', { propagation: 0x84000, rootfs: '/var/lib/c1/rootfs' }),
      s('MOUNT', { source: 'proc', dest: '/proc', fstype: 'proc', flags: 0xe, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }),
      s('MOUNT', { source: '/host/file', dest: '/etc/hosts', fstype: 'bind', flags: 0x5001, data: 'a=b,c', propagation: 0x40000, attrSet: 1, attrClr: 2, kind: 1 }),
      s('MKNOD', { path: '/dev/null', type: 0o20000, major: 1, minor: 3, mode: 0o666, uid: 0, gid: 0 }),
      s('MOUNT_TREE', { tree: 0, dest: '/data', flags: 0x1, propagation: 0, attrSet: 0, attrClr: 0x100000, kind: 0 }),
      s('SYMLINK', { target: '/proc/self/fd', path: '/dev/fd' }),
      s('SYNC', { point: 1 }),
      s('HOOK', { path: '/usr/bin/hook', args: ['hook', 'a b', ''], env: [], timeout: 5, kind: 1 }),
      s('PIVOT_ROOT', {}),
      s('CHROOT', {}),
      s('MASK_PATH', { path: '/proc/kcore' }),
      s('READONLY_PATH', { path: '/proc/sys' }),
      s('SYSCTL', { key: 'net.ipv4.ip_forward', value: '1' }),
      s('HOSTNAME', { name: 'quote"back\\slash\ttab\u0001ctl é ✓ 😀' }),
      s('DOMAINNAME', { name: '' }),
      s('REMOUNT_ROOT_RO', {}),
      s('ROOT_PROPAGATION', { flags: 0x44000 }),
      s('CWD', { path: '/home/user' }),
      s('UMASK', { mask: 0o022 }),
      s('PERSONALITY', { persona: 8 }),
      s('NO_NEW_PRIVS', {}),
      s('CAP_BOUNDING', { keep: 0x1ffffffffffn }),
      s('USER', { uid: 1000, gid: 1000, additionalGids: ['10', '20'], setgroups: 1 }),
      s('CAPS', { effective: 1, permitted: 2n, inheritable: 0, ambient: 0 }),
      s('SECCOMP', { flags: 0, program: new Uint8Array([0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x7f]) }),
      s('RESOLVE_EXEC', { name: 'sh', path: '/usr/bin:/bin' }),
      s('WAIT_START', {}),
      s('SETSID', {}),
      s('CONSOLE', { socket: '/run/console.sock', rows: 24, cols: 80 }),
      s('CONSOLE', { socket: '', rows: 0, cols: 0 }),
      s('CONSOLE_SOCKET', { path: '/run/console.sock' }),
      s('CONSOLE_PROXY', { resizeFd: 5 }),
      s('SESSION_KEYRING', { name: '_ses.c1' }),
      s('SECCOMP_LISTENER', { path: '/run/agent.sock', state: ['{"ociVersion":"1.3.0","pid":', ',"state":{}}'] }),
      s('EXEC', { argv: ['sh', '-c', 'echo "$HOME"'], env: ['PATH=/bin', 'HOME=/root', 'X='], keepFds: 3 }),
      s('SECCOMP', { flags: 8, program: new Uint8Array(0) }),
    ],
  };
}

t.test('the helper is built', async (t) => {
  t.ok(existsSync(HELPER), `${HELPER} exists (npm run build:native)`);
});

t.test('C-side decode of a TypeScript-encoded plan: every op', async (t) => {
  const plan = everyOpPlan();
  const names = new Set(plan.steps.map((st) => st.op));
  t.same([...Object.keys(OPS)].filter((n) => !names.has(n as OpName)), [], 'the plan uses every op of OPS');
  const r = decodeC(encodePlan(plan));
  t.equal(r.signal, null, 'no signal');
  t.equal(r.status, 0, `exit 0 (${r.stderr})`);
  const got = r.stdout.split('\n');
  t.equal(got.pop(), '', 'output ends with a newline');
  const want = formatPlan(plan.steps);
  t.equal(got.length, want.length, 'one line per step');
  for (const [i, line] of want.entries()) t.equal(got[i], line, `step ${i} (${plan.steps[i]?.op})`);
});

t.test('an empty plan decodes to nothing', async (t) => {
  const r = decodeC(encodePlan({ steps: [] }));
  t.equal(r.status, 0);
  t.equal(r.stdout, '');
});

t.test('invalid plans are refused with exit 2 and a reason', async (t) => {
  const good = encodePlan({ steps: [s('HOSTNAME', { name: 'x' })] });
  const cases: [string, Buffer, RegExp][] = [
    ['empty input', Buffer.alloc(0), /shorter than its header/],
    ['bad magic', Buffer.concat([Buffer.from('XXXX'), good.subarray(4)]), /bad plan magic/],
    ['trailing byte', (() => { const b = Buffer.concat([good, Buffer.from([0])]); b.writeUInt32LE(b.length, 4); return b; })(), /trailing bytes/],
    ['total mismatch', Buffer.concat([good, Buffer.from([0])]), /does not match/],
    ['unknown op', (() => { const b = Buffer.from(good); b.writeUInt16LE(999, 12); return b; })(), /unknown op 999/],
    ['wrong argc', (() => { const b = Buffer.from(good); b.writeUInt16LE(2, 14); return b; })(), /2 arguments, expected 1/],
    ['wrong type', (() => { const b = Buffer.from(good); b.writeUInt8(1, 20); return b; })(), /type u64, expected str/],
    ['no NUL', (() => { const b = Buffer.from(good); b[b.length - 1] = 0x41; return b; })(), /not NUL-terminated/],
    ['step length past the end', (() => { const b = Buffer.from(good); b.writeUInt32LE(0xffffffff, 16); return b; })(), /past the end/],
    ['too many steps', (() => { const b = Buffer.from(good); b.writeUInt32LE(1_000_001, 8); return b; })(), /too many steps/],
    ['count larger than the buffer', (() => { const b = Buffer.from(good); b.writeUInt32LE(1000, 8); return b; })(), /truncated header/],
  ];
  for (const [name, buf, re] of cases) {
    const r = decodeC(buf);
    t.equal(r.signal, null, `${name}: no signal`);
    t.equal(r.status, 2, `${name}: exit 2`);
    t.match(r.stderr, /^decode error: /, `${name}: "decode error:" on stderr`);
    t.match(r.stderr, re, `${name}: reason`);
    t.throws(() => decodePlan(buf), PlanCodecError, `${name}: the TypeScript decoder refuses it too`);
  }
});

t.test('oversize values round-trip exactly (CVE-2021-43784)', async (t) => {
  const uidMap = Array.from({ length: 6000 }, (_, i) => `${i} ${100000 + i} 1\n`).join('');
  t.ok(uidMap.length > 65535, 'uid map text is longer than 16 bits can count');
  const nsPath = '/' + 'n'.repeat(70 * 1024);
  const env = Array.from({ length: 100_000 }, (_, i) => `VAR_${i}=value ${i}`);
  const plan: Plan = {
    steps: [
      s('JOIN_NS', { nstype: 0x20000, path: nsPath }),
      s('USER_MAPS', { uidMap, gidMap: uidMap, setgroups: 'deny' }),
      s('CLONE', { flags: 0x10000000, detached: 0 }),
      s('EXEC', { argv: ['/bin/true'], env, keepFds: 3 }),
    ],
  };
  const r = decodeC(encodePlan(plan));
  t.equal(r.status, 0, `exit 0 ${r.stderr}`);
  const lines = r.stdout.split('\n');
  lines.pop();
  const want = formatPlan(plan.steps);
  t.equal(lines.length, 4);
  for (let i = 0; i < 4; i++) t.ok(lines[i] === want[i], `step ${i} identical (${want[i]?.length} characters)`);
  const execLine = lines[3] ?? '';
  const envJson = JSON.parse(execLine.slice(execLine.indexOf('env=') + 4, execLine.lastIndexOf(' keepFds='))) as string[];
  t.equal(envJson.length, 100_000, '100,000 env entries');
  t.equal(envJson[99_999], 'VAR_99999=value 99999');
});

/** mulberry32: a small seeded generator, so a failing fuzz case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0, 1, 3, 4, 7, 8, 9, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 4_000_000, 4_000_001, 1_000_000, 1_000_001];

function mutate(base: Buffer, rand: () => number): Buffer {
  const pick = (n: number) => Math.floor(rand() * n);
  let b = Buffer.from(base);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    switch (pick(8)) {
      case 0: // flip a bit
        if (b.length) b[pick(b.length)] ^= 1 << pick(8);
        break;
      case 1: // random byte
        if (b.length) b[pick(b.length)] = pick(256);
        break;
      case 2: // an interesting u32 at any offset (lengths, counts, types)
        if (b.length >= 4) b.writeUInt32LE(INTERESTING[pick(INTERESTING.length)]!, pick(b.length - 3));
        break;
      case 3: // truncate
        b = b.subarray(0, pick(b.length + 1));
        break;
      case 4: // insert random bytes
        {
          const at = pick(b.length + 1);
          const ins = Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256)));
          b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        }
        break;
      case 5: // delete a range
        {
          const at = pick(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + pick(16))]);
        }
        break;
      case 6: // duplicate a range
        {
          const at = pick(b.length + 1);
          const len = pick(64);
          b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
        }
        break;
      case 7: // keep "total" consistent so the mutation reaches the step decoder
        break;
    }
  }
  if (b.length >= 8 && rand() < 0.7) b.writeUInt32LE(b.length, 4);
  return b;
}

t.test('fuzz: mutated plans decode or are refused, never crash (seeded)', async (t) => {
  const seed = Number(process.env.TSRUN_FUZZ_SEED ?? 0x5eed);
  const N = Number(process.env.TSRUN_FUZZ_N ?? 12_000);
  const rand = rng(seed);
  const full = everyOpPlan();
  const bases = [
    encodePlan(full),
    encodePlan({ steps: full.steps.slice(0, 7) }),
    encodePlan({ steps: full.steps.filter((st) => ['HOOK', 'USER', 'EXEC', 'SECCOMP'].includes(st.op)) }),
    encodePlan({ steps: [s('PIVOT_ROOT', {})] }),
    encodePlan({ steps: [] }),
  ];
  const inputs: Buffer[] = [];
  for (let i = 0; i < N; i++) inputs.push(mutate(bases[i % bases.length]!, rand));
  const framed = Buffer.concat(inputs.flatMap((b) => {
    const h = Buffer.alloc(4);
    h.writeUInt32LE(b.length);
    return [h, b];
  }));
  const started = Date.now();
  const r = spawnSync(HELPER, ['--decode-stream'], { input: framed, maxBuffer: 1 << 30 });
  t.equal(r.signal, null, `seed ${seed}: no signal`);
  t.equal(r.status, 0, `seed ${seed}: exit 0 ${r.stderr}`);
  // Split the output into one record per input: step lines, then "end N" or "decode error: ...".
  const records: { lines: string[]; end: string }[] = [];
  let cur: string[] = [];
  for (const line of r.stdout.toString().split('\n')) {
    if (line.startsWith('end ') || line.startsWith('decode error: ')) {
      records.push({ lines: cur, end: line });
      cur = [];
    } else if (line !== '') cur.push(line);
  }
  t.equal(records.length, N, `${N} verdicts`);
  let accepted = 0;
  let mismatches = 0;
  for (const [i, input] of inputs.entries()) {
    const rec = records[i];
    if (!rec) break;
    let ts: DecodedStep[] | undefined;
    try {
      ts = decodePlan(input);
    } catch (e) {
      if (!(e instanceof PlanCodecError)) throw e;
    }
    const cAccepts = rec.end.startsWith('end ');
    if (cAccepts !== (ts !== undefined)) {
      if (mismatches++ < 5) t.fail(`input ${i} (seed ${seed}): C ${rec.end}, TypeScript ${ts ? 'accepts' : 'refuses'}`);
      continue;
    }
    if (!ts) continue;
    accepted++;
    const want = formatPlan(ts);
    if (rec.lines.join('\n') !== want.join('\n') && mismatches++ < 5) t.fail(`input ${i}: decoded text differs`);
  }
  t.equal(mismatches, 0, 'C and TypeScript decoders agree on every input');
  t.ok(accepted > 0, `${accepted} mutated plans still decoded`);
  t.ok(N - accepted > N / 2, `${N - accepted} refused`);
  t.comment(`${N} plans in ${Date.now() - started} ms`);

  // The single-plan mode's contract on a sample: exit 0 or exit 2 with "decode error:".
  for (const input of inputs.slice(0, 150)) {
    const one = decodeC(input);
    if (one.signal !== null || (one.status !== 0 && !(one.status === 2 && one.stderr.startsWith('decode error: ')))) {
      t.fail(`--decode: status ${one.status} signal ${one.signal} stderr ${one.stderr}`);
      break;
    }
  }
});
