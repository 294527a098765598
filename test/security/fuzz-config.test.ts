/**
 * Config fuzzing: a seeded, reproducible mutator of valid configs. Every
 * mutation must come out of `validateConfig` + `compilePlan` either as a
 * SpecError whose issues each name a field and say what is wrong, or as a
 * plan; never any other exception. A sample of mutations that pass
 * validation then runs through the real `tsrun run`: each exits 0 or with a
 * clear one-line error (exit 1, no stack trace), and leaves no state dir,
 * cgroup, mount or process behind.
 *
 *   TSRUN_FUZZ_SEED=<n>    the seed (default 1; the failing seed is printed)
 *   TSRUN_FUZZ_COUNT=<n>   mutations checked in process (default 12000)
 *   TSRUN_FUZZ_RUNS=<n>    mutations run through `tsrun run` (default 100; 0 skips; about 0.6 s each, within the file's 120 s)
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../lib/spec/index.js';
import { compilePlan } from '../../lib/plan/compile.js';
import { encodePlan } from '../../lib/plan/codec.js';
import { SpecError } from '../../lib/errors.js';
import { defaultTestConfig, makeBundle, writeBundleConfig } from '../helpers/bundle.js';
import { makeStateRoot } from '../helpers/cli.js';
import { guardLeaks } from '../helpers/leaks.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the fuzzer builds arbitrary JSON */

const SEED = Number(process.env.TSRUN_FUZZ_SEED ?? 1);
const COUNT = Number(process.env.TSRUN_FUZZ_COUNT ?? 12_000);
const RUNS = Number(process.env.TSRUN_FUZZ_RUNS ?? 100);

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
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

class Mutator {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }

  static readonly STRINGS = [
    '', ' ', '/', '.', '..', '../../..', '/../../etc/passwd', '/proc/self/fd/3', '/proc/sys/kernel/core_pattern', '/dev/null',
    'relative/path', '//double//slash', '/a\u0000b', 'x'.repeat(5000), '/' + 'd/'.repeat(300), '\u00e9\u2713\ud83d\ude00', 'bind', 'rbind', 'ro', 'idmap', 'ridmap',
    'proc', 'sysfs', 'tmpfs', 'cgroup', 'none', 'user', 'pid', 'network', 'mount', 'uts', 'ipc', 'cgroup', 'time', 'bogus',
    'CAP_SYS_ADMIN', 'CAP_BOGUS', 'RLIMIT_NOFILE', 'RLIMIT_BOGUS', 'SCMP_ACT_ALLOW', 'SCMP_ACT_NOTIFY', 'shared', 'private', 'slave', 'rslave',
    'mode=755', 'size=1k', 'a=b=c', '$(reboot)', '%s%n', '\n', 'true', '1.0.0', '9.9.9', '1.3.0', '/probe', 'PATH=/bin', '=', 'A',
  ];
  static readonly NUMBERS = [0, 1, -1, 2, 5, 7, 1000, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 1.5, NaN, Infinity, 0o777, 0o7777];

  value(depth = 0): unknown {
    switch (this.int(depth > 2 ? 4 : 7)) {
      case 0: return this.pick(Mutator.STRINGS);
      case 1: return this.pick(Mutator.NUMBERS);
      case 2: return this.chance(0.5);
      case 3: return null;
      case 4: return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      case 5: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(4); i > 0; i--) o[this.pick(['type', 'path', 'source', 'destination', 'options', 'x', 'size', 'containerID', 'hostID', 'allow'])] = this.value(depth + 1);
        return o;
      }
      default: return this.pick(Mutator.STRINGS) + String(this.int(100));
    }
  }

  /** Every [container, key] in a JSON tree, with the container's path. */
  slots(root: any): { parent: any; key: string | number; path: string }[] {
    const out: { parent: any; key: string | number; path: string }[] = [];
    const walk = (node: any, path: string) => {
      if (Array.isArray(node)) node.forEach((v, i) => { out.push({ parent: node, key: i, path: `${path}[${i}]` }); walk(v, `${path}[${i}]`); });
      else if (node && typeof node === 'object') for (const k of Object.keys(node)) { out.push({ parent: node, key: k, path: path ? `${path}.${k}` : k }); walk(node[k], path ? `${path}.${k}` : k); }
    };
    walk(root, '');
    return out;
  }

  /** One structural mutation; returns what it did (for the failure report). */
  mutateOnce(c: any): string {
    const slots = this.slots(c);
    const s = this.pick(slots);
    const v = s.parent[s.key];
    switch (this.int(12)) {
      case 0:
        if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
        else delete s.parent[s.key];
        return `delete ${s.path}`;
      case 1: {
        const w = this.value();
        s.parent[s.key] = w;
        return `${s.path} = ${JSON.stringify(w)?.slice(0, 60)}`;
      }
      case 2: {
        const w = typeof v === 'number' ? this.pick([-v, v * 1000003, v + 2 ** 32, -1, 2 ** 63, 0.5]) : this.pick(Mutator.NUMBERS);
        s.parent[s.key] = w;
        return `${s.path} = ${w} (number)`;
      }
      case 3: {
        const w = this.pick(Mutator.STRINGS);
        s.parent[s.key] = w;
        return `${s.path} = ${JSON.stringify(w).slice(0, 60)} (string)`;
      }
      case 4:
        if (Array.isArray(v) && v.length) {
          v.push(structuredClone(this.pick(v)));
          return `duplicate an entry of ${s.path}`;
        }
        s.parent[s.key] = [v];
        return `wrap ${s.path} in an array`;
      case 5:
        if (Array.isArray(v)) {
          const n = this.pick([100, 1000, 10_000]);
          const e = v.length ? v[0] : this.value();
          for (let i = 0; i < n; i++) v.push(structuredClone(e));
          return `${s.path} grows by ${n}`;
        }
        s.parent[s.key] = {};
        return `${s.path} = {}`;
      case 6: {
        const ns = c?.linux?.namespaces;
        if (Array.isArray(ns) && ns.length) {
          ns.push({ ...this.pick(ns) });
          return 'duplicate a namespace';
        }
        return 'no namespaces to duplicate';
      }
      case 7: {
        const mounts = c?.mounts;
        if (Array.isArray(mounts)) {
          const dest = this.pick(['/proc', '/sys', '/dev', '/dev/null', '/../../tmp', '/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger', 'relative', '/a/../../b', '/etc/hostname', '/']);
          const type = this.pick(['bind', 'tmpfs', 'proc', 'sysfs', 'cgroup', 'bogus', 'none', 'devpts']);
          const source = this.pick(['/', '/etc', '/nonexistent', 'tmpfs', '/proc/self/exe', '/dev/null', '']);
          const options = Array.from({ length: this.int(4) }, () => this.pick(['rbind', 'bind', 'ro', 'rro', 'nosuid', 'idmap', 'ridmap', 'rprivate', 'shared', 'mode=700', 'bogus', 'size=1k', 'nosymfollow']));
          mounts.push({ destination: dest, type, source, options });
          return `add mount ${type} ${source} on ${dest} ${JSON.stringify(options)}`;
        }
        return 'no mounts';
      }
      case 8: {
        const p = this.pick(['/../..', '/proc/self/root', '/dev/fd/3', 'sh', '/x/' + 'y'.repeat(300), '']);
        if (c?.process) {
          const f = this.pick(['cwd', 'args']);
          c.process[f] = f === 'args' ? [p] : p;
          return `process.${f} = ${JSON.stringify(p)}`;
        }
        return 'no process';
      }
      case 9:
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          v[this.pick(['bogus', 'type', 'path', 'uidMappings', 'options', '__proto__'])] = this.value();
          return `add a key to ${s.path}`;
        }
        s.parent[s.key] = { nested: v };
        return `nest ${s.path}`;
      case 10: {
        const enums: [string[], string[]][] = [
          [['linux', 'rootfsPropagation'], ['shared', 'rslave', 'bogus', '']],
          [['process', 'user', 'uid'], ['0', '-1', '65534']],
          [['linux', 'personality'], ['linux', 'LINUX']],
          [['ociVersion'], ['', '0.9', '2.0.0', '1.0.0-rc1', 'x']],
          [['hostname'], ['', 'a'.repeat(200), 'h\n', 'ok']],
        ];
        const [path, vals] = this.pick(enums);
        let o = c;
        for (const k of path.slice(0, -1)) {
          if (!o || typeof o !== 'object') return 'path missing';
          o[k] ??= {};
          o = o[k];
        }
        if (!o || typeof o !== 'object') return 'path missing';
        o[path.at(-1)!] = this.pick(vals);
        return `${path.join('.')} = ${JSON.stringify(o[path.at(-1)!])}`;
      }
      default: {
        const ns = this.pick(['user', 'time', 'cgroup', 'network', 'bogus']);
        if (c?.linux && Array.isArray(c.linux.namespaces)) {
          c.linux.namespaces.push(this.chance(0.3) ? { type: ns, path: this.pick(['/proc/1/ns/net', '/nonexistent', 'relative', '/proc/self/ns/user']) } : { type: ns });
          if (ns === 'user' && this.chance(0.5)) {
            c.linux.uidMappings = [{ containerID: 0, hostID: this.pick([0, 1000, 100000, 2 ** 32 - 1]), size: this.pick([0, 1, 65536, 2 ** 32]) }];
            c.linux.gidMappings = structuredClone(c.linux.uidMappings);
          }
          return `add namespace ${ns}`;
        }
        return 'no namespaces';
      }
    }
  }

  mutate(base: any): { config: any; steps: string[] } {
    const config = structuredClone(base);
    const steps: string[] = [];
    const n = 1 + this.int(3);
    for (let i = 0; i < n; i++) {
      try {
        steps.push(this.mutateOnce(config));
      } catch (e) {
        steps.push(`mutator: ${(e as Error).message}`);
      }
    }
    return { config, steps };
  }
}

/** What the library does with one config: a plan, or a SpecError; anything else is returned as a failure. */
function check(config: unknown, bundle: string): { ok: true; compiled: boolean } | { ok: false; why: string } {
  try {
    const { spec } = validateConfig(config, { bundle });
    const plan = compilePlan(spec, { bundle, detached: false, execFifo: join(bundle, 'exec.fifo') });
    encodePlan(plan);
    return { ok: true, compiled: true };
  } catch (e) {
    if (!(e instanceof SpecError)) return { ok: false, why: `${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}` };
    if (e.issues.length === 0) return { ok: false, why: 'SpecError without issues' };
    for (const i of e.issues) {
      if (typeof i.field !== 'string' || i.field === '' || typeof i.message !== 'string' || i.message.trim() === '') {
        return { ok: false, why: `issue without a field or message: ${JSON.stringify(i)}` };
      }
    }
    return { ok: true, compiled: false };
  }
}

t.test(`${COUNT} mutations (seed ${SEED}): a SpecError with fields and messages, or a plan`, async (t) => {
  const bundle = mkdtempSync(join(tmpdir(), 'tsrun-test-fuzz-'));
  mkdirSync(join(bundle, 'rootfs'));
  t.teardown(() => rmSync(bundle, { recursive: true, force: true }));
  const base = defaultTestConfig(['/probe', 'info']);
  const m = new Mutator(SEED);
  let compiled = 0;
  let refused = 0;
  const failures: string[] = [];
  const started = Date.now();
  for (let i = 0; i < COUNT; i++) {
    const { config, steps } = m.mutate(base);
    const r = check(config, bundle);
    if (!r.ok) {
      failures.push(`#${i} [${steps.join('; ')}]: ${r.why.split('\n').slice(0, 4).join(' | ')}`);
      if (failures.length >= 10) break;
    } else if (r.compiled) compiled++;
    else refused++;
  }
  t.same(failures, [], `no other exception (seed ${SEED}; rerun with TSRUN_FUZZ_SEED=${SEED})`);
  t.ok(compiled > 0 && refused > 0, `both outcomes seen: ${compiled} compiled, ${refused} refused, in ${Date.now() - started} ms`);
});

t.test(`${RUNS} mutations that pass validation run through tsrun run: success or one clear line, nothing left`, { skip: RUNS === 0 || process.getuid?.() !== 0 ? 'needs root (TSRUN_FUZZ_RUNS=0 skips)' : false }, async (t) => {
  await guardLeaks(t);
  const b = await makeBundle();
  const state = await makeStateRoot();
  t.teardown(async () => {
    await state.cleanup();
    await b.cleanup();
  });
  const base = defaultTestConfig(['/probe', 'info']);
  const m = new Mutator(SEED + 1_000_003);
  let ran = 0;
  let ok = 0;
  for (let i = 0; ran < RUNS && i < RUNS * 200; i++) {
    const { config, steps } = m.mutate(base);
    // Host paths a mutation may point a bind at are only read, but keep runs short and local.
    if (!check(config, b.dir).ok) continue;
    try {
      validateConfig(config, { bundle: b.dir });
    } catch {
      continue;
    }
    if (JSON.stringify(config).length > 200_000) continue;
    // The fuzzer's configs run a short program only, always in the bundle's own rootfs (a
    // mutated root.path of "/" would let mkdir -p of mount destinations reach the host).
    config.process = { ...(config.process ?? {}), args: ['/probe', 'info'], terminal: false };
    config.root = { path: 'rootfs', readonly: config.root?.readonly === true };
    try {
      validateConfig(config, { bundle: b.dir });
    } catch {
      continue;
    }
    ran++;
    b.config = config;
    await writeBundleConfig(b);
    const id = `fuzz-${i}`;
    const r = await state.cli(['run', '--bundle', b.dir, id], { timeoutMs: 30_000 });
    const what = `#${i} [${steps.join('; ')}]`;
    if (r.code === 0) ok++;
    else {
      t.equal(r.code, 1, `${what}: exit 0 or 1 (got ${r.code}: ${r.stderr.trim().slice(0, 300)})`);
      t.notMatch(r.stderr, /\n\s+at |TypeError|ReferenceError|RangeError/, `${what}: no stack trace`);
      t.equal(r.stderr.trim().split('\n').filter((l) => /level=error/.test(l)).length, 1, `${what}: one error line: ${r.stderr.trim().slice(0, 300)}`);
    }
    // The state root itself, not `tsrun list` (a CLI call per run would halve the runs that fit).
    const left = readdirSync(state.root).filter((n) => !n.startsWith('@'));
    t.same(left, [], `${what}: no container left in the state root`);
    for (const l of left) await state.cli(['delete', '--force', l]); // one leftover must not fail every later run
    writeFileSync(join(b.dir, 'last-fuzz.txt'), what);
  }
  t.equal(ran, RUNS, `${RUNS} valid mutations ran (${ok} succeeded)`);
});
