/**
 * Real cgroup v1 (this host is hybrid: v1 controllers plus a cgroup2 mount),
 * enforced rather than just written: OOM kill past a memory limit, fork
 * failures past a pids limit, a frozen counter, a live update, and destroy
 * leaving nothing in any hierarchy. Needs root.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupError } from '../../../lib/errors.js';
import { createCgroupManager, detectCgroupLayout, type CgroupManager } from '../../../lib/cgroups/index.js';
import { gated, sleep, type Gated } from './proc.js';

const layout = detectCgroupLayout();
const skip = process.getuid?.() !== 0 ? 'needs root' : layout.kind !== 'v1' && layout.kind !== 'hybrid' ? `needs cgroup v1 (host is ${layout.kind})` : false;

let n = 0;
/** A manager with a unique name; the cgroup and every process are removed at teardown. */
function manager(t: Tap, procs: Gated[] = []): CgroupManager {
  const m = createCgroupManager({ id: 'x', cgroupsPath: `/tsrun-test-${process.pid}-${++n}` });
  t.teardown(async () => {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exited));
    await m.destroy({ killLeftovers: true });
  });
  return m;
}
type Tap = { teardown(fn: () => unknown): void };
const file = (m: CgroupManager, ctrl: string, f: string) => readFileSync(join(m.paths[ctrl]!, f), 'utf8').trim();

t.test('v1 enforcement', { skip }, async (t) => {
  t.test('a process past its memory limit is OOM-killed', async (t) => {
    const p = gated(`exec node -e "const a = []; for (;;) a.push(Buffer.alloc(8 << 20, 1))"`);
    const m = manager(t, [p]);
    m.create();
    const limit = 96 << 20;
    m.apply({ memory: { limit, swap: limit } });
    m.addProcess(p.pid);
    p.go();
    const r = await p.exited;
    t.equal(r.signal, 'SIGKILL', 'killed by the OOM killer');
    t.ok((m.oomEvents?.() ?? 0) >= 1, `oom_kill counted (${m.oomEvents?.()})`);
    const s = m.stats();
    t.equal(s.memory.usage.limit, limit);
    t.ok(s.memory.usage.max >= limit - (8 << 20), 'max usage reached the limit');
  });

  t.test('forks past the pids limit fail', async (t) => {
    const p = gated('for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo spawned; wait');
    const m = manager(t, [p]);
    m.create();
    m.apply({ pids: { limit: 4 } });
    m.addProcess(p.pid);
    p.go();
    // dash gives up on the first failed fork ("Cannot fork"); other shells go on.
    await p.waitFor(/fork|Resource temporarily unavailable/i);
    t.pass('the shell reports a failed fork');
    t.ok(m.pids().length <= 4, `at most 4 processes (${m.pids().length})`);
    t.equal(m.stats().pids.limit, 4);
    t.match(file(m, 'pids', 'pids.events'), /^max [1-9]/, 'pids.events counts refusals');
  });

  t.test('pids limit 0: even the first fork fails', async (t) => {
    const p = gated('sleep 0 && echo forked; echo after');
    const m = manager(t, [p]);
    m.create();
    m.apply({ pids: { limit: 0 } });
    t.equal(file(m, 'pids', 'pids.max'), '0');
    m.addProcess(p.pid);
    p.go();
    await p.waitFor(/fork|after/i);
    t.notMatch(p.output(), /forked/);
  });

  t.test('freeze stops a counter, thaw resumes it', async (t) => {
    const p = gated('i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done');
    const m = manager(t, [p]);
    m.create();
    m.addProcess(p.pid);
    p.go();
    await p.waitFor(/\n5\n/);
    await m.freeze();
    t.ok(m.isFrozen());
    t.equal(file(m, 'freezer', 'freezer.state'), 'FROZEN');
    const at = p.output().length;
    await sleep(400);
    t.equal(p.output().length, at, 'no output while frozen');
    await m.thaw();
    t.notOk(m.isFrozen());
    await sleep(300);
    t.ok(p.output().length > at, 'counting again after thaw');
  });

  t.test('update changes a live limit', async (t) => {
    const p = gated('while read cmd; do eval "$cmd"; done');
    const m = manager(t, [p]);
    m.create();
    m.apply({ pids: { limit: 10 }, memory: { limit: 256 << 20 }, cpu: { shares: 1024 } });
    m.addProcess(p.pid);
    p.go();
    p.go('/bin/true && echo first-ok');
    await p.waitFor(/first-ok/);
    const w = m.apply({ pids: { limit: 1 }, memory: { limit: 128 << 20 }, cpu: { shares: 256, quota: 20000, period: 100000 } }, { update: true });
    t.same(w, []);
    t.equal(file(m, 'pids', 'pids.max'), '1');
    t.equal(file(m, 'memory', 'memory.limit_in_bytes'), String(128 << 20));
    t.equal(file(m, 'cpu', 'cpu.shares'), '256');
    t.equal(file(m, 'cpu', 'cpu.cfs_quota_us'), '20000');
    p.go('/bin/true && echo second-ok; echo second-done');
    await p.waitFor(/second-done|fork/i);
    t.notMatch(p.output(), /second-ok/, 'the new pids limit is enforced at once');
  });

  t.test('raising memory and memsw together works in either order', async (t) => {
    const m = manager(t);
    m.create();
    m.apply({ memory: { limit: 64 << 20, swap: 64 << 20 } });
    m.apply({ memory: { limit: 512 << 20, swap: 1024 << 20 } }, { update: true });
    t.equal(file(m, 'memory', 'memory.limit_in_bytes'), String(512 << 20));
    t.equal(file(m, 'memory', 'memory.memsw.limit_in_bytes'), String(1024 << 20));
    m.apply({ memory: { limit: 32 << 20, swap: 32 << 20 } }, { update: true });
    t.equal(file(m, 'memory', 'memory.limit_in_bytes'), String(32 << 20));
    t.equal(file(m, 'memory', 'memory.memsw.limit_in_bytes'), String(32 << 20));
  });

  t.test('kernel memory: written where the kernel takes it, with a warning', async (t) => {
    const m = manager(t);
    m.create();
    const w = m.apply({ memory: { kernel: 16 << 20, kernelTCP: 16 << 20, useHierarchy: false } });
    t.ok(w.some((x) => /memory\.kernel:/.test(x)));
    t.ok(w.some((x) => /useHierarchy/.test(x)), 'use_hierarchy=0 is refused by this kernel: a warning');
    t.equal(file(m, 'memory', 'memory.kmem.tcp.limit_in_bytes'), String(16 << 20));
  });

  t.test('devices: deny all, then the rules', async (t) => {
    const p = gated('( : < /dev/null ) 2>/dev/null && echo null-open || echo null-denied; ( : < /dev/full ) 2>/dev/null && echo full-open || echo full-denied');
    const m = manager(t, [p]);
    m.create();
    m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] });
    t.equal(file(m, 'devices', 'devices.list'), 'c 1:3 rwm');
    m.addProcess(p.pid);
    p.go();
    await p.waitFor(/full-(open|denied)/);
    t.match(p.output(), /null-open/);
    t.match(p.output(), /full-denied/);
  });

  t.test('a blkio device that does not exist: an error naming the field, nothing left', async (t) => {
    const m = createCgroupManager({ id: 'x', cgroupsPath: `/tsrun-test-${process.pid}-blk` });
    t.teardown(() => m.destroy());
    m.create();
    try {
      m.apply({ pids: { limit: 5 }, blockIO: { throttleReadBpsDevice: [{ major: 250, minor: 250, rate: 1000 }] } });
      t.fail('should throw');
    } catch (err) {
      t.ok(err instanceof CgroupError);
      t.equal((err as CgroupError).detail.field, 'linux.resources.blockIO.throttleReadBpsDevice[0].rate');
    }
    for (const [c, d] of Object.entries(m.paths)) t.notOk(existsSync(d), `${c}: removed`);
  });

  t.test('SIGKILL reaches a paused (frozen) cgroup and thaws it', async (t) => {
    const p = gated('sleep 60 & sleep 60; wait');
    const m = manager(t, [p]);
    m.create();
    m.addProcess(p.pid);
    p.go();
    await sleep(100);
    await m.freeze();
    await m.killAll(9);
    t.equal((await p.exited).signal, 'SIGKILL');
    t.notOk(m.isFrozen());
    for (let i = 0; i < 100 && m.pids().length > 0; i++) await sleep(20);
    t.same(m.pids(), []);
  });

  t.test('SIGTERM to every process: freeze, signal, thaw', async (t) => {
    const p = gated('sleep 60');
    const m = manager(t, [p]);
    m.create();
    m.addProcess(p.pid);
    p.go();
    await sleep(100);
    await m.killAll(15);
    const r = await p.exited;
    t.ok(r.signal === 'SIGTERM' || r.code !== 0, JSON.stringify(r));
    t.notOk(m.isFrozen());
  });

  t.test('destroy leaves no directory in any hierarchy', async (t) => {
    const p = gated('sleep 60 & sleep 60; wait');
    const m = manager(t, [p]);
    m.create();
    t.equal(m.driver, layout.kind);
    for (const d of Object.values(m.paths)) t.ok(existsSync(d));
    m.addProcess(p.pid);
    p.go();
    await sleep(100);
    t.ok(m.pids().length >= 2, 'the shell and its children are in the cgroup');
    await m.destroy({ killLeftovers: true });
    for (const [c, d] of Object.entries(m.paths)) t.notOk(existsSync(d), `${c}: ${d} removed`);
    t.equal((await p.exited).signal, 'SIGKILL');
  });
});
