/**
 * The fast path: containers through pooled cgroups and warm helpers, on a
 * read-only rootfs used in place, without a network namespace; the pool is
 * reused (the same cgroup serves several containers) and removed on close.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FastRunner } from '../../../lib/index.js';
import { makeBundle } from '../../helpers/bundle.js';
import { makeStateRoot } from '../../helpers/cli.js';
import { guardLeaks } from '../../helpers/leaks.js';

t.test('FastRunner runs containers correctly and leaves nothing', async (tt) => {
  await guardLeaks(tt);
  const bundle = await makeBundle({ args: ['/bin/true'] });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  const runner = await FastRunner.open({ bundle: bundle.dir, root: state.root, poolSize: 2, stdio: 'ignore' });
  let closed = false;
  tt.teardown(async () => {
    if (!closed) await runner.close();
  });
  const dirs = runner.cgroups.flatMap((c) => Object.values(c.paths));
  tt.ok(dirs.length > 0 && dirs.every((d) => existsSync(d)), 'pool cgroups exist');

  tt.same(await runner.run(), { exitCode: 0, signal: null });
  tt.same(await runner.run({ args: ['/bin/sh', '-c', 'exit 7'] }), { exitCode: 7, signal: null });
  tt.same(await runner.run({ args: ['/bin/sh', '-c', 'touch /x 2>/dev/null && exit 1; exit 0'] }), { exitCode: 0, signal: null }, 'the rootfs is read-only');
  const hostNet = readlinkSync('/proc/self/ns/net');
  tt.same(await runner.run({ args: ['/bin/sh', '-c', `test "$(readlink /proc/self/ns/net)" = "${hostNet}"`] }), { exitCode: 0, signal: null }, 'no network namespace by default');
  tt.same(await runner.run({ args: ['/bin/sh', '-c', 'test "$(cat /proc/1/cmdline | tr -d "\\0")" = "/bin/sh-ctest1"; test $$ = 1'] }), { exitCode: 0, signal: null }, 'its own pid namespace');
  // Several at once: more than the pool, so some wait for a slot.
  const many = await Promise.all(Array.from({ length: 5 }, (_, i) => runner.run({ args: ['/bin/sh', '-c', `exit ${i}`] })));
  tt.same(many.map((s) => s.exitCode), [0, 1, 2, 3, 4]);
  tt.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), [], 'every container deleted');
  tt.ok(dirs.every((d) => existsSync(d)), 'pool cgroups kept between containers');
  await runner.close();
  closed = true;
  tt.ok(dirs.every((d) => !existsSync(d)), 'pool cgroups removed on close');
  await tt.rejects(runner.run(), /closed/);
});

t.test('CLI run --fast: read-only root in place, no network namespace, nothing left', async (tt) => {
  await guardLeaks(tt);
  const hostNet = readlinkSync('/proc/self/ns/net');
  const bundle = await makeBundle({ args: ['/bin/sh', '-c', `test "$(readlink /proc/self/ns/net)" = "${hostNet}" && ! touch /x 2>/dev/null`], config: (c) => { c.root.readonly = false; } });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  const r = await state.cli(['run', '--fast', '--bundle', bundle.dir, 'f1']);
  tt.equal(r.code, 0, r.stderr);
  const withNet = await state.cli(['run', '--fast', '--fast-network', '--bundle', bundle.dir, 'f2']);
  tt.equal(withNet.code, 1, 'with --fast-network the container has its own network namespace');
  tt.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), []);
});

t.test('FastRunner: one plan compiled for many runs; a pooled cgroup is reset between uses (limits, usage peaks)', async (tt) => {
  await guardLeaks(tt);
  const MiB = 1024 * 1024;
  const bundle = await makeBundle({ args: ['/bin/true'], config: (c) => { c.linux.resources = { ...c.linux.resources, pids: { limit: 100 }, memory: { limit: 256 * MiB } }; } });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  const runner = await FastRunner.open({ bundle: bundle.dir, root: state.root, poolSize: 1, stdio: 'ignore' });
  tt.teardown(() => runner.close());
  for (let i = 0; i < 3; i++) tt.same(await runner.run(), { exitCode: 0, signal: null });
  tt.equal(runner.compiledPlans, 1, 'three containers, one compiled plan (per-container strings patched in)');
  tt.same(await runner.run({ args: ['/bin/sh', '-c', 'exit 3'] }), { exitCode: 3, signal: null });
  tt.equal(runner.compiledPlans, 2, 'other args: one more plan');

  const cg = runner.cgroups[0]!;
  const file = (controller: string, name: string) => readFileSync(join(cg.paths[controller]!, name), 'utf8').trim();
  const running = runner.run({ id: 'fast-reset', args: ['/bin/sh', '-c', '/probe alloc 48; sleep 2'] });
  const end = Date.now() + 10_000;
  while (!/"status":\s*"running"/.test((await state.cli(['state', 'fast-reset'])).stdout)) {
    if (Date.now() > end) throw new Error('fast-reset never ran');
    await new Promise((r) => setTimeout(r, 50));
  }
  const u = await state.cli(['update', '--pids-limit', '7', 'fast-reset']);
  tt.equal(u.code, 0, u.stderr);
  tt.equal(file('pids', 'pids.max'), '7', 'the running container was updated');
  tt.same(await running, { exitCode: 0, signal: null });
  tt.equal(file('pids', 'pids.max'), '100', 'the next container gets the config\'s limit back');
  tt.ok(Number(file('memory', 'memory.max_usage_in_bytes')) < 32 * MiB, `the previous container's 48 MiB peak is reset (${file('memory', 'memory.max_usage_in_bytes')} bytes now)`);
  tt.equal(file('memory', 'memory.failcnt'), '0');
});
