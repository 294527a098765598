/**
 * `tsrun inspect` against a running container (root): its processes with
 * parent links, its own namespaces, the cgroup limits and the mounts, in
 * the three formats.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { makeBundle } from '../../helpers/bundle.js';
import { makeStateRoot } from '../../helpers/cli.js';
import { guardLeaks } from '../../helpers/leaks.js';
import type { InspectReport } from '../../../lib/inspect/index.js';

const LIMIT = 48 * 1024 * 1024;

t.test('tsrun inspect of a running container', async (t) => {
  await guardLeaks(t);
  const bundle = await makeBundle({
    args: ['/bin/sh', '-c', 'sleep 100 & exec sleep 200'],
    config: (c) => {
      c.linux.resources.memory = { limit: LIMIT };
      c.linux.resources.pids = { limit: 40 };
    },
  });
  const state = await makeStateRoot();
  t.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  const id = `inspect-${process.pid}`;
  const run = await state.cli(['run', '--detach', '--bundle', bundle.dir, id]);
  t.equal(run.code, 0, `run -d: ${run.stderr}`);
  // Wait until the background sleep is there too.
  let report: InspectReport | undefined;
  for (let i = 0; i < 50; i++) {
    const r = await state.cli(['inspect', '--format', 'json', id]);
    t.equal(r.code, 0, r.stderr);
    report = JSON.parse(r.stdout) as InspectReport;
    if (report.processes.length >= 2) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  if (!report) throw new Error('no report');

  t.test('json', async (t) => {
    t.equal(report.id, id);
    t.equal(report.status, 'running');
    t.ok(report.initPid > 1);
    t.equal(report.processes.length, 2, 'the init and its child');
    const init = report.processes.find((p) => p.init)!;
    t.equal(init.pid, report.initPid);
    t.equal(init.nsPid, 1, 'pid 1 inside');
    t.same(init.command, ['sleep', '200']);
    const child = report.processes.find((p) => !p.init)!;
    t.equal(child.ppid, init.pid, 'parent link');
    t.same(child.command, ['sleep', '100']);
    const own = (type: string) => report.namespaces.find((n) => n.type === type);
    for (const type of ['pid', 'mount', 'uts', 'ipc', 'network']) t.equal(own(type)?.sharedWithHost, false, `${type}: its own`);
    const mine = readlinkSync('/proc/self/ns/user').match(/\d+/)?.[0];
    t.equal(String(own('user')?.inode), mine, 'the user namespace is the host\'s');
    t.equal(own('user')?.sharedWithHost, true);
    t.ok(report.cgroup, 'a cgroup');
    t.equal(report.cgroup!.memory.limit, LIMIT);
    t.equal(report.cgroup!.pids.limit, 40);
    t.equal(report.cgroup!.pids.current, 2);
    t.ok(report.cgroup!.memory.usage > 0);
    t.ok(Object.values(report.cgroup!.paths).every((p) => p.includes(id)), 'cgroup paths name the container');
    const points = report.mounts.map((m) => m.mountPoint);
    for (const p of ['/', '/proc', '/dev', '/dev/pts', '/sys']) t.ok(points.includes(p), `mount ${p}`);
    t.equal(report.mounts.find((m) => m.mountPoint === '/proc')?.fstype, 'proc');
  });

  t.test('tree', async (t) => {
    const r = await state.cli(['inspect', id]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, new RegExp(`^container ${id} \\(running\\), init pid ${report.initPid} \\(pid 1 inside\\)`));
    t.match(r.stdout, new RegExp(`${report.initPid} \\[1\\] sleep 200  \\(init\\)\\n│     └─ \\d+ \\[2\\] sleep 100`));
    t.match(r.stdout, /pid +\d+ +own/);
    t.match(r.stdout, /memory .* of 48\.0 MiB/);
    t.match(r.stdout, /pids 2 of 40/);
    t.match(r.stdout, /├─ \/proc  proc/);
  });

  t.test('dot renders with graphviz', async (t) => {
    const r = await state.cli(['inspect', '--format', 'dot', id]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^digraph /);
    const dot = spawnSync('dot', ['-Tpng', '-o', '/dev/null'], { input: r.stdout, encoding: 'utf8' });
    if (dot.error) t.comment('graphviz not installed');
    else t.equal(dot.status, 0, dot.stderr);
  });

  t.test('errors', async (t) => {
    const bad = await state.cli(['inspect', '--format', 'svg', id]);
    t.not(bad.code, 0);
    t.match(bad.stderr, /invalid format \\"svg\\"/);
    const missing = await state.cli(['inspect', 'no-such-container']);
    t.not(missing.code, 0);
    t.match(missing.stderr, /container does not exist/);
  });

  t.test('a stopped container', async (t) => {
    const k = await state.cli(['kill', id, 'KILL']);
    t.equal(k.code, 0, k.stderr);
    let r;
    for (let i = 0; i < 50; i++) {
      r = await state.cli(['inspect', '--format', 'json', id]);
      if ((JSON.parse(r.stdout) as InspectReport).status === 'stopped') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const stopped = JSON.parse(r!.stdout) as InspectReport;
    t.equal(stopped.status, 'stopped');
    t.same(stopped.processes, []);
    const d = await state.cli(['delete', id]);
    t.equal(d.code, 0, d.stderr);
  });
});
