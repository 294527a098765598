import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpecError } from '../../../lib/errors.js';
import type { Seccomp } from '../../../lib/spec/types.js';
import { SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS } from '../../../lib/spec/tables.js';
import {
  compileSeccomp,
  seccompFeatures,
  SeccompUnavailableError,
  SECCOMP_FILTER_FLAG,
  type CompiledSeccomp,
} from '../../../lib/security/seccomp.js';
import { profileHash } from '../../../lib/security/seccomp-cache.js';
import { SECCOMP_ACTION_VALUES, SECCOMP_ARCH_NAMES, SECCOMP_FLAG_VALUES, SECCOMP_OPERATOR_VALUES } from '../../../lib/security/seccomp-tables.js';
import { LIBSECCOMP_ENV } from '../../../lib/security/libseccomp.js';
import { defaultLikeProfile, LOADER_C } from './fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'tsrun-test-seccomp-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** The loader, or undefined when there is no C compiler (the behaviour tests then skip). */
const loader = ((): string | undefined => {
  writeFileSync(join(work, 'loader.c'), LOADER_C);
  const out = join(work, 'loader');
  const r = spawnSync('cc', ['-O1', '-o', out, join(work, 'loader.c')], { encoding: 'utf8' });
  return r.status === 0 ? out : undefined;
})();
const noLoader = loader ? false : 'no C compiler to build the seccomp loader';

let progN = 0;
interface Run { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Run `args` (`--exec ...` or `--call ...`) under a compiled program. */
function runUnder(c: CompiledSeccomp, args: string[], cwd = work): Run {
  const file = join(work, `prog-${progN++}.bpf`);
  writeFileSync(file, c.program);
  const r = spawnSync(loader!, [file, String(c.flags), ...args], { cwd, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** `--call NAME ARGS`: the syscall's [return, errno]. */
function call(c: CompiledSeccomp, name: string, ...args: number[]): [number, number] {
  const r = runUnder(c, ['--call', name, ...args.map(String)]);
  if (r.status !== 0) throw new Error(`loader failed: ${r.status ?? r.signal} ${r.stderr}`);
  const [ret, errno] = r.stdout.trim().split(' ').map(Number);
  return [ret!, errno!];
}

interface Insn { code: number; jt: number; jf: number; k: number }
function instructions(program: Uint8Array): Insn[] {
  const v = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const out: Insn[] = [];
  for (let o = 0; o < program.byteLength; o += 8) {
    out.push({ code: v.getUint16(o, true), jt: v.getUint8(o + 2), jf: v.getUint8(o + 3), k: v.getUint32(o + 4, true) });
  }
  return out;
}

const BPF_RET = 0x06;
const AUDIT_ARCH = { X86_64: 0xc000003e, I386: 0x40000003, AARCH64: 0xc00000b7 };

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

function allow(...syscalls: Seccomp['syscalls'][]): Seccomp {
  return { defaultAction: 'SCMP_ACT_ALLOW', syscalls: syscalls.flat().filter((s) => s !== undefined) };
}

t.test('the name tables match the spec tables', async (t) => {
  t.same(Object.keys(SECCOMP_ACTION_VALUES).sort(), [...SECCOMP_ACTIONS].sort(), 'actions');
  t.same(Object.keys(SECCOMP_OPERATOR_VALUES).sort(), [...SECCOMP_OPERATORS].sort(), 'operators');
  t.same([...SECCOMP_ARCH_NAMES].sort(), [...SECCOMP_ARCHS].sort(), 'architectures');
  t.same(Object.keys(SECCOMP_FLAG_VALUES).sort(), [...SECCOMP_FLAGS].sort(), 'flags');
});

t.test('importing the module loads neither koffi nor libseccomp', async (t) => {
  const mod = fileURLToPath(new URL('../../../lib/security/index.js', import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then(() => {
    const { createRequire } = require('node:module');
    const loaded = Object.keys(createRequire(${JSON.stringify(mod)}).cache).filter((k) => k.includes('koffi'));
    const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8');
    console.log(JSON.stringify({ koffi: loaded.length, libseccomp: maps.includes('libseccomp') }));
  })`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { koffi: 0, libseccomp: false });
});

t.test('default-like allow-list profile', async (t) => {
  const c = compileSeccomp(defaultLikeProfile());
  t.ok(c.program.length > 0, 'non-empty');
  t.equal(c.program.length % 8, 0, 'whole sock_filter instructions');
  const insns = instructions(c.program);
  t.ok(insns.length < 4096, `${insns.length} instructions, under BPF_MAXINSNS`);
  t.equal(insns.at(-1)!.code & 0x07, BPF_RET, 'ends in a return');
  t.equal(c.flags, 0);
  t.equal(c.notify, false);
  t.equal(c.cached, false);
  const unknown = c.warnings.filter((w) => w.includes('unknown syscall'));
  t.ok(unknown.some((w) => w.includes('"tsrun_no_such_syscall"') && w.startsWith('linux.seccomp.syscalls[0].names[')), 'made-up name warned, with its field');
  t.notOk(c.warnings.some((w) => w.includes('"mkdir"')), 'known names are not warned');

  t.test('programs run; what is not listed gets the default errno', { skip: noLoader }, async (t) => {
    const ls = runUnder(c, ['--exec', 'ls', '/']);
    t.equal(ls.status, 0, `ls works: ${ls.stderr}`);
    t.match(ls.stdout, /\busr\b/);
    const sh = runUnder(c, ['--exec', 'sh', '-c', 'mkdir d && ls -d d && rmdir d && uname -s']);
    t.equal(sh.status, 0, `shell with fork, mkdir, uname works: ${sh.stderr}`);
    t.match(sh.stdout, /^d\nLinux/);
    t.same(call(c, 'acct', 0), [-1, 1], 'acct is not listed: EPERM from defaultErrnoRet');
    t.same(call(c, 'personality', 0xffffffff)[1], 0, 'personality query matches one of the ORed EQ rules');
    t.same(call(c, 'personality', 0x0400000), [-1, 1], 'another personality matches none: EPERM');
    const un = runUnder(c, ['--exec', 'unshare', '--user', 'true']);
    t.not(un.status, 0, 'unshare is not listed');
    t.match(un.stderr, /Operation not permitted/);
  });

  t.test('defaultErrnoRet changes the default errno', { skip: noLoader }, async (t) => {
    const c95 = compileSeccomp({ ...defaultLikeProfile(), defaultErrnoRet: 95 });
    t.same(call(c95, 'acct', 0), [-1, 95]);
  });
});

t.test('SCMP_ACT_ERRNO on mkdir: EPERM for mkdir, ls still works', { skip: noLoader }, async (t) => {
  const c = compileSeccomp(allow([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]));
  const mk = runUnder(c, ['--exec', 'mkdir', join(work, 'never')]);
  t.not(mk.status, 0);
  t.match(mk.stderr, /Operation not permitted/);
  t.notOk(existsSync(join(work, 'never')));
  const ls = runUnder(c, ['--exec', 'ls', work]);
  t.equal(ls.status, 0, ls.stderr);
  t.match(ls.stdout, /loader/);
  const c13 = compileSeccomp(allow([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }]));
  t.match(runUnder(c13, ['--exec', 'mkdir', join(work, 'never')]).stderr, /Permission denied/, 'errnoRet is the errno');
  const cDefault = compileSeccomp(allow([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }]));
  t.match(runUnder(cDefault, ['--exec', 'mkdir', join(work, 'never')]).stderr, /Operation not permitted/, 'no errnoRet: EPERM');
});

t.test('kill, trap, trace, log and notify actions', { skip: noLoader }, async (t) => {
  for (const action of ['SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP']) {
    const c = compileSeccomp(allow([{ names: ['uname'], action }]));
    const r = runUnder(c, ['--exec', 'uname']);
    t.equal(r.signal, 'SIGSYS', `${action}: uname dies with SIGSYS`);
  }
  const trace = compileSeccomp(allow([{ names: ['umask'], action: 'SCMP_ACT_TRACE', errnoRet: 7 }]));
  t.same(call(trace, 'umask', 0o22), [-1, 38], 'TRACE without a tracer: ENOSYS');
  const log = compileSeccomp(allow([{ names: ['umask'], action: 'SCMP_ACT_LOG' }]));
  t.equal(call(log, 'umask', 0o22)[1], 0, 'LOG allows');
  const notify = compileSeccomp({ ...allow([{ names: ['umask'], action: 'SCMP_ACT_NOTIFY' }]), listenerPath: '/run/x.sock' });
  t.equal(notify.notify, true);
  t.equal(notify.flags & SECCOMP_FILTER_FLAG.NEW_LISTENER, SECCOMP_FILTER_FLAG.NEW_LISTENER, 'NEW_LISTENER in the flags');
  t.same(notify.warnings, []);
  t.same(call(notify, 'umask', 0o22), [-1, 38], 'NOTIFY with the listener closed: ENOSYS');
  t.equal(call(notify, 'getppid')[1], 0, 'other syscalls unaffected');
});

t.test('argument comparisons', { skip: noLoader }, async (t) => {
  const E = 'SCMP_ACT_ERRNO';
  const masked = compileSeccomp(allow([{ names: ['umask'], action: E, errnoRet: 5, args: [{ index: 0, value: 0o077, valueTwo: 0o022, op: 'SCMP_CMP_MASKED_EQ' }] }]));
  t.same(call(masked, 'umask', 0o722), [-1, 5], 'MASKED_EQ: (0722 & 077) == 022 matches');
  t.same(call(masked, 'umask', 0o022), [-1, 5], 'MASKED_EQ: 022 matches');
  t.equal(call(masked, 'umask', 0o027)[1], 0, 'MASKED_EQ: 027 does not');

  const cases: [string, number, [number, boolean][]][] = [
    ['SCMP_CMP_EQ', 0o22, [[0o22, true], [0o23, false]]],
    ['SCMP_CMP_NE', 0o22, [[0o22, false], [0o23, true]]],
    ['SCMP_CMP_LT', 0o22, [[0o21, true], [0o22, false]]],
    ['SCMP_CMP_LE', 0o22, [[0o22, true], [0o23, false]]],
    ['SCMP_CMP_GE', 0o22, [[0o22, true], [0o21, false]]],
    ['SCMP_CMP_GT', 0o22, [[0o23, true], [0o22, false]]],
  ];
  for (const [op, value, probes] of cases) {
    const c = compileSeccomp(allow([{ names: ['umask'], action: E, errnoRet: 9, args: [{ index: 0, value, op }] }]));
    for (const [arg, blocked] of probes) {
      t.equal(call(c, 'umask', arg)[1], blocked ? 9 : 0, `${op} ${value.toString(8)}: umask(${arg.toString(8)}) ${blocked ? 'blocked' : 'allowed'}`);
    }
  }

  // getpriority(which, who): distinct indices are ANDed in one rule.
  const and = compileSeccomp(allow([{ names: ['getpriority'], action: E, errnoRet: 13, args: [
    { index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 1, value: 0, op: 'SCMP_CMP_EQ' },
  ] }]));
  t.same(call(and, 'getpriority', 0, 0), [-1, 13], 'arg0 == 0 && arg1 == 0: blocked');
  t.equal(call(and, 'getpriority', 1, 0)[1], 0, 'arg0 == 1: allowed');

  // A repeated index turns every comparison into its own rule (ORed), as runc does.
  const or = compileSeccomp(allow([{ names: ['umask'], action: E, errnoRet: 11, args: [
    { index: 0, value: 0o11, op: 'SCMP_CMP_EQ' }, { index: 0, value: 0o22, op: 'SCMP_CMP_EQ' },
  ] }]));
  t.same(call(or, 'umask', 0o11), [-1, 11]);
  t.same(call(or, 'umask', 0o22), [-1, 11]);
  t.equal(call(or, 'umask', 0o33)[1], 0);
});

t.test('architectures round-trip into the program', async (t) => {
  const native = instructions(compileSeccomp(allow([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }])).program);
  const multi = instructions(compileSeccomp({
    ...allow([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }]),
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'],
  }).program);
  const archs = (p: Insn[]) => new Set(p.filter((i) => i.code === 0x15).map((i) => i.k));
  if (process.arch === 'x64') t.ok(archs(native).has(AUDIT_ARCH.X86_64), 'native arch always present');
  t.notOk(archs(native).has(AUDIT_ARCH.I386));
  for (const [name, token] of Object.entries(AUDIT_ARCH)) t.ok(archs(multi).has(token), `${name} checked`);
  t.ok(multi.length > native.length);
  const withNativeTwice = compileSeccomp({ ...allow(), architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86_64'] });
  t.ok(withNativeTwice.program.length > 0, 'naming the native arch (twice) is fine');
});

t.test('flags', async (t) => {
  const features = seccompFeatures();
  const supported = new Set(features.supportedFlags);
  const want = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'];
  const c = compileSeccomp({ ...allow([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }]), flags: want });
  const expected = want.filter((f) => supported.has(f)).reduce((a, f) => a | SECCOMP_FLAG_VALUES[f]!, 0);
  t.equal(c.flags, expected, `flags 0x${c.flags.toString(16)}`);
  t.equal(c.warnings.length, want.length - want.filter((f) => supported.has(f)).length, 'a warning per unsupported flag');
  if (loader) t.equal(runUnder(c, ['--exec', 'true']).status, 0, 'the kernel accepts the flags');

  const wk = compileSeccomp({ ...allow([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }]), flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] });
  t.equal(wk.flags, 0, 'WAIT_KILLABLE_RECV without notify is dropped');
  t.match(wk.warnings.join('\n'), /WAIT_KILLABLE_RECV ignored/);

  if (supported.has('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV')) {
    const n = compileSeccomp({
      ...allow([{ names: ['umask'], action: 'SCMP_ACT_NOTIFY' }]),
      listenerPath: '/run/l.sock',
      flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
    });
    const F = SECCOMP_FILTER_FLAG;
    t.equal(n.flags, F.TSYNC | F.TSYNC_ESRCH | F.NEW_LISTENER | F.WAIT_KILLABLE_RECV, 'notify with TSYNC adds TSYNC_ESRCH');
    if (loader) t.same(call(n, 'umask', 0), [-1, 38], 'the kernel accepts the combination');
  }
});

t.test('names a profile gets wrong', async (t) => {
  const bad = caught(() => compileSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_Z80'],
    flags: ['SECCOMP_FILTER_FLAG_FAST'],
    syscalls: [
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
      { names: ['rmdir'], action: 'SCMP_ACT_DENY' },
      { names: ['umask'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_SAME' }, { index: 6, value: 1, op: 'SCMP_CMP_EQ' }] },
      { names: ['umask'], action: 'SCMP_ACT_ERRNO', errnoRet: 70000, args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] },
    ],
  }));
  t.ok(bad instanceof SpecError, 'a SpecError');
  const issues = (bad as SpecError).issues;
  const fields = issues.map((i) => i.field);
  t.same(fields.sort(), [
    'linux.seccomp.architectures[1]',
    'linux.seccomp.flags[0]',
    'linux.seccomp.syscalls[1].action',
    'linux.seccomp.syscalls[2].args[0].op',
    'linux.seccomp.syscalls[2].args[1].index',
    'linux.seccomp.syscalls[3].args[0].value',
    'linux.seccomp.syscalls[3].errnoRet',
  ].sort(), 'every problem at once, each naming its field');
  t.match(issues.find((i) => i.field.endsWith('.action'))!.message, /SCMP_ACT_DENY.*valid: .*SCMP_ACT_KILL_PROCESS/);
  t.match(issues.find((i) => i.field.endsWith('.op'))!.message, /valid: .*SCMP_CMP_MASKED_EQ/);
  t.match(issues.find((i) => i.field.includes('architectures'))!.message, /valid: .*SCMP_ARCH_AARCH64/);
  t.match((bad as SpecError).message, /^invalid config.json: /);

  const def = caught(() => compileSeccomp({ defaultAction: 'ALLOW' }));
  t.same((def as SpecError).issues.map((i) => i.field), ['linux.seccomp.defaultAction']);
  const notifyDefault = caught(() => compileSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' }));
  t.match((notifyDefault as SpecError).issues[0], { field: 'linux.seccomp.defaultAction', message: /cannot be the default/ });
  const field = caught(() => compileSeccomp({ defaultAction: 'x' }, { field: 'process.seccomp' }));
  t.equal((field as SpecError).issues[0]!.field, 'process.seccomp.defaultAction', 'field prefix is an option');
});

t.test('what libseccomp itself refuses is a SpecError too; nothing leaks on failure', async (t) => {
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  const same = { index: 0, value: 1, op: 'SCMP_CMP_EQ' };
  for (let i = 0; i < 20; i++) {
    const err = caught(() => compileSeccomp(allow([
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [same] },
      { names: ['rmdir', 'mkdir'], action: 'SCMP_ACT_KILL', args: [same] },
    ])));
    t.ok(err instanceof SpecError);
    if (i === 0) t.match((err as SpecError).issues, [{ field: 'linux.seccomp.syscalls[1].names[1]', message: /EEXIST: an earlier rule/ }]);
    compileSeccomp(allow([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }]));
  }
  t.equal(fds(), before, 'no fd left open by export or failed compiles');
  const seccompInfo = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' });
  t.equal(instructions(seccompInfo.program).at(-1)!.code & 0x07, BPF_RET, 'an empty rule list still compiles');
});

t.test('unknown syscall names and rules equal to the default are skipped, not fatal', async (t) => {
  const c = compileSeccomp({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['read', 'not_a_syscall', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 2 },
      { names: [], action: 'SCMP_ACT_ALLOW' },
    ],
  });
  t.same(c.warnings, [
    'linux.seccomp.syscalls[3].names: empty, the entry matches nothing',
    'linux.seccomp.syscalls[0].names[1]: unknown syscall "not_a_syscall", skipped',
    'linux.seccomp.syscalls[1]: action equals the default action, skipped',
  ]);
  const errnoIgnored = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 3, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_KILL', errnoRet: 4 }] });
  t.same(errnoIgnored.warnings, [
    'linux.seccomp.defaultErrnoRet: ignored, SCMP_ACT_ALLOW takes no errno',
    'linux.seccomp.syscalls[0].errnoRet: ignored, SCMP_ACT_KILL takes no errno',
  ]);
  const pseudo = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['socketcall', 'ipc'], action: 'SCMP_ACT_ERRNO' }] });
  t.same(pseudo.warnings, [], 'names of other architectures are not errors');
});

t.test('content-hash cache', async (t) => {
  const cacheDir = join(work, 'cache');
  const profile = defaultLikeProfile();
  const t0 = performance.now();
  const first = compileSeccomp(profile, { cacheDir });
  const compileMs = performance.now() - t0;
  t.equal(first.cached, false);
  const key = profileHash(profile);
  t.match(key, /^[0-9a-f]{64}$/);
  t.ok(existsSync(join(cacheDir, `${key}.bpf`)), '<sha256>.bpf written');
  t.same(readdirSync(cacheDir).filter((n) => n.endsWith('.tmp')), [], 'no temp files left');
  const t1 = performance.now();
  const second = compileSeccomp(structuredClone(profile), { cacheDir });
  const cachedMs = performance.now() - t1;
  t.equal(second.cached, true, 'served from the cache');
  t.same(Buffer.from(second.program), Buffer.from(first.program), 'identical bytes');
  t.same(second.warnings, first.warnings, 'warnings kept');
  t.equal(second.flags, first.flags);
  t.comment(`compile ${compileMs.toFixed(2)} ms, cached ${cachedMs.toFixed(2)} ms`);

  const reverseKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(reverseKeys)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]))
        : v;
  const reordered = reverseKeys(profile) as Seccomp;
  t.not(JSON.stringify(reordered), JSON.stringify(profile), 'the reordered copy serializes differently');
  t.equal(profileHash(reordered), key, 'key order does not change the hash');
  const other = compileSeccomp({ ...profile, defaultErrnoRet: 38 }, { cacheDir });
  t.equal(other.cached, false, 'a different errno is a different entry');

  writeFileSync(join(cacheDir, `${key}.bpf`), Buffer.from('garbage!'));
  const repaired = compileSeccomp(profile, { cacheDir });
  t.equal(repaired.cached, false, 'a corrupted entry is recompiled');
  t.same(Buffer.from(readFileSync(join(cacheDir, `${key}.bpf`))), Buffer.from(first.program), 'and rewritten');

  // A cache hit needs neither koffi nor libseccomp: prove it in a fresh process.
  const mod = fileURLToPath(new URL('../../../lib/security/index.js', import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then((m) => {
    const c = m.compileSeccomp(${JSON.stringify(profile)}, { cacheDir: ${JSON.stringify(cacheDir)} });
    const { createRequire } = require('node:module');
    const koffi = Object.keys(createRequire(${JSON.stringify(mod)}).cache).some((k) => k.includes('koffi'));
    console.log(JSON.stringify({ cached: c.cached, bytes: c.program.length, koffi }));
  })`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { cached: true, bytes: first.program.length, koffi: false });
});

t.test('libseccomp missing', async (t) => {
  const missing = join(work, 'nope', 'libseccomp.so.2');
  const err = caught(() => compileSeccomp(allow(), { libraryPath: missing }));
  t.ok(err instanceof SeccompUnavailableError);
  const e = err as SeccompUnavailableError;
  t.equal(e.reason, 'SECCOMP_UNAVAILABLE');
  t.equal(e.libraryPath, missing);
  t.match(e.message, /apt-get install libseccomp2/);
  t.match(e.message, missing);

  const saved = process.env[LIBSECCOMP_ENV];
  process.env[LIBSECCOMP_ENV] = missing;
  t.teardown(() => {
    if (saved === undefined) delete process.env[LIBSECCOMP_ENV];
    else process.env[LIBSECCOMP_ENV] = saved;
  });
  t.ok(caught(() => compileSeccomp(allow())) instanceof SeccompUnavailableError, `$${LIBSECCOMP_ENV} is honoured`);
  const f = seccompFeatures();
  t.equal(f.enabled, false, 'features: disabled, no throw');
  t.same(f.supportedFlags, []);
  t.ok(f.knownFlags.length > 0);
  t.ok(caught(() => compileSeccomp({ defaultAction: 'bad' })) instanceof SpecError, 'profile errors still come first');
});

t.test('features', async (t) => {
  const f = seccompFeatures();
  t.equal(f.enabled, true);
  t.match(f.version, /^\d+\.\d+\.\d+$/);
  t.ok(f.actions.includes('SCMP_ACT_ERRNO') && f.actions.includes('SCMP_ACT_ALLOW'));
  t.same(f.operators.sort(), [...SECCOMP_OPERATORS].sort());
  t.ok(f.archs.includes('SCMP_ARCH_X86_64') && f.archs.includes('SCMP_ARCH_AARCH64'));
  t.same(f.knownFlags.sort(), [...SECCOMP_FLAGS].sort());
  t.ok(f.supportedFlags.every((x) => f.knownFlags.includes(x)));
});
