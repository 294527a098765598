/**
 * Real cgroup2 core files on this host's cgroup2 mount (/sys/fs/cgroup/unified
 * on hybrid hosts, /sys/fs/cgroup on v2 hosts), driven by the v2 driver:
 * create, cgroup.procs, cgroup.freeze + cgroup.events, cgroup.kill, hugetlb
 * limit files, and the device eBPF program enforced on a real process.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupError } from '../../../lib/errors.js';
import { createCgroupManager, detectCgroupLayout, loadCgroupManager, type CgroupLayout, type CgroupManager } from '../../../lib/cgroups/index.js';
import { queryCgroupDevicePrograms } from '../../../lib/sys/bpf.js';
import { gated, sleep, type Gated } from './proc.js';

const host = detectCgroupLayout();
const unified = host.unified;
const layout: CgroupLayout | undefined = unified ? { kind: 'v2', root: unified, v1: {}, unified } : undefined;
const skip = process.getuid?.() !== 0 ? 'needs root' : !layout ? 'no cgroup2 mount' : false;
const available = unified ? readFileSync(join(unified, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean) : [];

let n = 0;
function manager(t: { teardown(fn: () => unknown): void }, procs: Gated[] = []): CgroupManager {
  const m = createCgroupManager({ id: 'x', cgroupsPath: `/tsrun-test-${process.pid}-v2-${++n}`, layout: layout! });
  t.teardown(async () => {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exited));
    await m.destroy({ killLeftovers: true });
  });
  return m;
}
const read = (m: CgroupManager, f: string) => readFileSync(join(m.paths['unified']!, f), 'utf8');

t.test('cgroup2 core files', { skip }, async (t) => {
  t.test('create, cgroup.procs, cgroup.events populated', async (t) => {
    const p = gated('sleep 60');
    const m = manager(t, [p]);
    t.equal(m.driver, 'v2');
    m.create();
    t.ok(existsSync(m.paths['unified']!));
    t.match(read(m, 'cgroup.events'), /^populated 0$/m);
    m.addProcess(p.pid);
    p.go();
    t.ok(m.pids().includes(p.pid));
    t.match(read(m, 'cgroup.procs'), new RegExp(`^${p.pid}$`, 'm'));
    t.match(read(m, 'cgroup.events'), /^populated 1$/m);
  });

  t.test('cgroup.freeze stops a counter; thaw resumes it', async (t) => {
    const p = gated('i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done');
    const m = manager(t, [p]);
    m.create();
    m.addProcess(p.pid);
    p.go();
    await p.waitFor(/\n5\n/);
    await m.freeze();
    t.ok(m.isFrozen());
    t.match(read(m, 'cgroup.events'), /^frozen 1$/m);
    const at = p.output().length;
    await sleep(400);
    t.equal(p.output().length, at, 'no output while frozen');
    await m.thaw();
    t.notOk(m.isFrozen());
    t.match(read(m, 'cgroup.events'), /^frozen 0$/m);
    await sleep(300);
    t.ok(p.output().length > at, 'counting again');
  });

  t.test('killAll(SIGKILL) through cgroup.kill, also while frozen', async (t) => {
    const p = gated('sleep 60 & sleep 60 & wait');
    const m = manager(t, [p]);
    m.create();
    m.addProcess(p.pid);
    p.go();
    await sleep(100);
    t.equal(m.pids().length, 3);
    await m.freeze();
    await m.killAll(9);
    t.equal((await p.exited).signal, 'SIGKILL');
    for (let i = 0; i < 100 && m.pids().length > 0; i++) await sleep(20);
    t.same(m.pids(), []);
    t.match(read(m, 'cgroup.events'), /^populated 0$/m);
  });

  t.test('killAll(SIGTERM): freeze, signal each, thaw', async (t) => {
    const p = gated('sleep 60');
    const m = manager(t, [p]);
    m.create();
    m.addProcess(p.pid);
    p.go();
    await sleep(100);
    await m.killAll(15);
    const r = await p.exited;
    t.ok(r.signal === 'SIGTERM' || r.code !== 0, `the shell or its sleep got SIGTERM (${JSON.stringify(r)})`);
    t.notOk(m.isFrozen(), 'thawed afterwards');
  });

  t.test('hugetlb limit files', { skip: available.includes('hugetlb') ? false : 'hugetlb not in cgroup.controllers' }, async (t) => {
    const m = manager(t);
    m.create();
    m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }, { pageSize: '1GB', limit: 0 }] });
    t.equal(read(m, 'hugetlb.2MB.max').trim(), String(4 << 20));
    t.equal(read(m, 'hugetlb.1GB.max').trim(), '0');
    if (existsSync(join(m.paths['unified']!, 'hugetlb.2MB.rsvd.max'))) t.equal(read(m, 'hugetlb.2MB.rsvd.max').trim(), String(4 << 20));
    m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: -1 }] }, { update: true });
    t.equal(read(m, 'hugetlb.2MB.max').trim(), 'max');
    t.same(Object.keys(m.stats().hugetlb).sort(), ['1GB', '2MB']);
  });

  t.test('a controller the mount does not offer: an error naming the field, nothing left', async (t) => {
    const missing = ['memory', 'pids', 'cpu', 'io'].find((c) => !available.includes(c));
    if (!missing) {
      t.pass('every controller is available here');
      return;
    }
    const key = `${missing}.max`;
    const m = createCgroupManager({ id: 'x', cgroupsPath: `/tsrun-test-${process.pid}-v2-missing`, layout: layout! });
    t.teardown(() => m.destroy());
    m.create();
    try {
      m.apply({ unified: { [key]: '100' } });
      t.fail('should throw');
    } catch (err) {
      t.ok(err instanceof CgroupError);
      t.equal((err as CgroupError).detail.field, `linux.resources.unified["${key}"]`);
      t.match((err as Error).message, /not available/);
    }
    t.notOk(existsSync(m.paths['unified']!));
  });

  t.test('device eBPF program: denied /dev/full, allowed /dev/null; replaced on update', async (t) => {
    const probe = '( : < /dev/null ) 2>/dev/null && echo null-open || echo null-denied; ( : < /dev/full ) 2>/dev/null && echo full-open || echo full-denied';
    const p = gated(probe);
    const m = manager(t, [p]);
    m.create();
    m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] });
    const id = m.save().deviceProgramId;
    t.ok(typeof id === 'number' && id > 0, `program id ${id} saved`);
    t.same(queryCgroupDevicePrograms(m.paths['unified']!), [id]);
    m.addProcess(p.pid);
    p.go();
    await p.waitFor(/full-(open|denied)/);
    t.match(p.output(), /null-open/);
    t.match(p.output(), /full-denied/);

    // A later command loads the manager from the state and updates the rules.
    const later = loadCgroupManager(JSON.parse(JSON.stringify(m.save())));
    later.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 7, access: 'r' }] }, { update: true });
    const newId = later.save().deviceProgramId;
    t.not(newId, id);
    t.same(queryCgroupDevicePrograms(m.paths['unified']!), [newId], 'the old program is detached');
    const q = gated(`${probe}; ( echo x > /dev/full ) 2>&1 | grep -q 'Operation not permitted' && echo full-write-denied || echo full-write-other`);
    t.teardown(() => q.kill());
    later.addProcess(q.pid);
    q.go();
    await q.waitFor(/full-write-/);
    t.match(q.output(), /null-open/);
    t.match(q.output(), /full-open/, 'read access to /dev/full now allowed');
    t.match(q.output(), /full-write-denied/, 'write access still denied');
    await q.exited;
  });

  t.test('destroy removes the directory', async (t) => {
    const m = manager(t);
    m.create();
    await m.destroy();
    t.notOk(existsSync(m.paths['unified']!));
  });
});
