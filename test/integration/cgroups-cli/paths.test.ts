/**
 * Where a container's cgroup lives, and that nothing is left of it: the
 * cgroupsPath forms engines send in cgroupfs mode show in
 * /proc/<pid>/cgroup in every hierarchy; delete removes the directory from
 * every hierarchy (v1 and the cgroup2 mount); bad values and
 * `--systemd-cgroup` without systemd fail at create, naming the field, with
 * no cgroup directory and no state left.
 */
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeBundleConfig } from '../../helpers/bundle.js';
import { existingIn, hierarchies, hierarchyDirs, procCgroups, removeCgroupDirs, setup } from './common.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- config edits */

interface Form {
  name: string;
  id: string;
  /** linux.cgroupsPath as the engine sends it. */
  path: string | undefined;
  /** The path every hierarchy shows. */
  expect: string;
  /** Parents the engine owns (the test removes them). */
  parents: string[];
}

const forms: Form[] = [
  { name: 'empty: tsrun/<id>', id: 'cgcli-p-empty', path: undefined, expect: '/tsrun/cgcli-p-empty', parents: [] },
  { name: 'podman: <parent>/libpod-<id>', id: 'cgcli-p-podman', path: '/cgcli-libpod_parent/libpod-cgcli-p-podman', expect: '/cgcli-libpod_parent/libpod-cgcli-p-podman', parents: ['/cgcli-libpod_parent'] },
  { name: 'containerd: /<namespace>/<id>', id: 'cgcli-p-ctrd', path: '/cgcli-default/cgcli-p-ctrd', expect: '/cgcli-default/cgcli-p-ctrd', parents: ['/cgcli-default'] },
  {
    name: 'CRI-O: <pod parent>/crio-<id>',
    id: 'cgcli-p-crio',
    path: '/cgcli-kubepods/burstable/pod0a1b/crio-cgcli-p-crio',
    expect: '/cgcli-kubepods/burstable/pod0a1b/crio-cgcli-p-crio',
    parents: ['/cgcli-kubepods', '/cgcli-kubepods/burstable', '/cgcli-kubepods/burstable/pod0a1b'],
  },
  { name: 'absolute', id: 'cgcli-p-abs', path: '/cgcli-abs/x/./y', expect: '/cgcli-abs/x/y', parents: ['/cgcli-abs', '/cgcli-abs/x'] },
  { name: 'relative: under tsrun/', id: 'cgcli-p-rel', path: 'cgcli-rel/box', expect: '/tsrun/cgcli-rel/box', parents: [] },
];

t.test('cgroupsPath forms engines send: /proc/<pid>/cgroup shows the path in every hierarchy', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  t.teardown(() => removeCgroupDirs(forms.flatMap((f) => f.parents)));
  const controllers = Object.keys(hierarchies());
  for (const f of forms) {
    if (f.path === undefined) delete env.bundle.config.linux.cgroupsPath;
    else env.bundle.config.linux.cgroupsPath = f.path;
    await writeBundleConfig(env.bundle);
    await env.launch(f.id);
    const pid = (await env.info(f.id)).pid as number;
    const seen = procCgroups(pid);
    for (const c of controllers) t.equal(seen[c], f.expect, `${f.name}: ${c} shows ${f.expect}`);
    t.same(existingIn(f.expect).length, hierarchyDirs().length, `${f.name}: the directory exists in all ${hierarchyDirs().length} hierarchies`);
    const ps = JSON.parse((await env.tsrun(['ps', '--format', 'json', f.id])).stdout);
    t.same(ps, [pid], `${f.name}: ps finds the init there`);
    t.equal((await env.tsrun(['kill', f.id, 'KILL'])).code, 0);
    await env.waitStatus(f.id, 'stopped');
    const d = await env.tsrun(['delete', f.id]);
    t.equal(d.code, 0, d.stderr);
    t.same(existingIn(f.expect), [], `${f.name}: delete removed it from every hierarchy`);
    for (const p of f.parents) t.equal(existingIn(p).length, hierarchyDirs().length, `${f.name}: the engine's parent ${p} is left to the engine (as runc does)`);
  }
  // (Whether tsrun/ itself goes depends on other containers on this machine, so it is not checked here.)
  t.same(existingIn('/tsrun/cgcli-rel'), [], 'the relative form leaves no intermediate directory under tsrun/');
});

t.test('create, then delete: no directory in any hierarchy, v1 and cgroup2', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'exec /probe sleep 600'], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 20 } };
  });
  await env.launch('cgcli-del1');
  const pid = (await env.info('cgcli-del1')).pid as number;
  const rel = procCgroups(pid)['memory']!;
  t.equal(rel, '/tsrun/cgcli-del1');
  t.equal(procCgroups(pid)['unified'], rel, 'the init is in the cgroup2 mount too (0::)');
  const dirs = existingIn(rel);
  t.equal(dirs.length, hierarchyDirs().length, `in every hierarchy: ${dirs.join(' ')}`);
  t.ok(dirs.includes(join(hierarchies()['unified']!, rel)), 'including /sys/fs/cgroup/unified');
  const d = await env.tsrun(['delete', '--force', 'cgcli-del1']);
  t.equal(d.code, 0, d.stderr);
  t.same(existingIn(rel), [], 'no directory left in any hierarchy');
  for (const dir of hierarchyDirs()) {
    let names: string[] = [];
    try {
      names = readdirSync(join(dir, 'tsrun'));
    } catch {
      /* tsrun/ removed with its last container */
    }
    t.notOk(names.includes('cgcli-del1'), `${dir}/tsrun has no cgcli-del1`);
  }
});

t.test('bad values at create: exit 1, the field named, no cgroup and no state left', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  const cases: { name: string; edit: (c: any) => void; field: string }[] = [
    { name: 'negative cpu shares', edit: (c) => (c.linux.resources.cpu = { shares: -2 }), field: 'linux.resources.cpu.shares' },
    { name: 'cpus "0-"', edit: (c) => (c.linux.resources.cpu = { cpus: '0-' }), field: 'linux.resources.cpu.cpus' },
    { name: 'cpus beyond the host', edit: (c) => (c.linux.resources.cpu = { cpus: '0-63' }), field: 'linux.resources.cpu.cpus' },
    { name: 'a cgroupsPath with ..', edit: (c) => (c.linux.cgroupsPath = '/cgcli-a/../../escape'), field: 'linux.cgroupsPath' },
    { name: 'an unknown unified key', edit: (c) => (c.linux.resources.unified = { 'bogus.knob': '1' }), field: 'linux.resources.unified' },
    { name: 'a unified key of a controller the cgroup2 mount lacks', edit: (c) => (c.linux.resources.unified = { 'memory.max': '1000000' }), field: 'linux.resources.unified' },
    { name: 'a blkio device that does not exist', edit: (c) => (c.linux.resources.blockIO = { throttleReadBpsDevice: [{ major: 250, minor: 250, rate: 1000 }] }), field: 'linux.resources.blockIO.throttleReadBpsDevice[0]' },
    { name: 'memory swap below the limit', edit: (c) => (c.linux.resources.memory = { limit: 64 * 1024 * 1024, swap: 1024 * 1024 }), field: 'linux.resources.memory.swap' },
  ];
  for (const [i, c] of cases.entries()) {
    const config = structuredClone(env.bundle.config);
    c.edit(config);
    env.bundle.config = config;
    await writeBundleConfig(env.bundle);
    const id = `cgcli-bad${i}`;
    const r = await env.tsrun(['create', '--bundle', env.bundle.dir, id]);
    t.equal(r.code, 1, `${c.name}: exit 1`);
    t.ok(r.stderr.includes(c.field), `${c.name}: names ${c.field}: ${r.stderr.trim()}`);
    t.notMatch(r.stderr, /\n\s+at /, `${c.name}: no stack trace`);
    t.same(readdirSync(env.state.root).filter((n) => !n.startsWith('@')), [], `${c.name}: no state directory`);
    t.same(existingIn(`/tsrun/${id}`), [], `${c.name}: no cgroup directory`);
    delete env.bundle.config.linux.resources.cpu;
    delete env.bundle.config.linux.resources.unified;
    delete env.bundle.config.linux.resources.blockIO;
    delete env.bundle.config.linux.resources.memory;
    delete env.bundle.config.linux.cgroupsPath;
  }
  t.same(existingIn('/cgcli-a'), [], 'the .. path made nothing either');
});

t.test('--systemd-cgroup without systemd: a clear error, nothing left', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  t.notOk(existsSync('/run/systemd/system'), 'this host runs no systemd');
  for (const [i, path] of [undefined, 'system.slice:cgcli:sd1', 'machine-cgcli.slice:tsrun:sd2'].entries()) {
    if (path === undefined) delete env.bundle.config.linux.cgroupsPath;
    else env.bundle.config.linux.cgroupsPath = path;
    await writeBundleConfig(env.bundle);
    const r = await env.tsrun(['--systemd-cgroup', 'create', '--bundle', env.bundle.dir, `cgcli-sd${i}`]);
    t.equal(r.code, 1, `${path ?? 'no cgroupsPath'}: exit 1`);
    t.match(r.stderr, /systemd is not running/, r.stderr.trim());
    t.same(readdirSync(env.state.root).filter((n) => !n.startsWith('@')), [], 'no state directory');
  }
  env.bundle.config.linux.cgroupsPath = '/not/a/slice/form';
  await writeBundleConfig(env.bundle);
  const bad = await env.tsrun(['--systemd-cgroup', 'create', '--bundle', env.bundle.dir, 'cgcli-sd9']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /linux\.cgroupsPath: expected \\?"slice:prefix:name\\?"/, 'a cgroupfs path with --systemd-cgroup names the expected form');
  t.same(readdirSync(env.state.root).filter((n) => !n.startsWith('@')), []);
  t.same(existingIn('/not'), []);
});
