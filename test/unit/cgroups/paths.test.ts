/** linux.cgroupsPath for every client form, and the systemd driver's checks. */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupError } from '../../../lib/errors.js';
import { createCgroupManager, expandSlice, loadCgroupManager, parseSystemdCgroupsPath, resolveCgroupsPath } from '../../../lib/cgroups/index.js';
import type { CgroupLayout } from '../../../lib/cgroups/index.js';
import { throwsField } from './helpers.js';

t.test('resolveCgroupsPath', async (t) => {
  t.equal(resolveCgroupsPath(undefined, 'abc'), '/tsrun/abc', 'absent: default from the id');
  t.equal(resolveCgroupsPath('', 'abc'), '/tsrun/abc', 'empty: default from the id (podman rootless cgroupfs)');
  t.equal(resolveCgroupsPath('/libpod_parent/libpod-0123abcd', 'x'), '/libpod_parent/libpod-0123abcd', 'podman cgroupfs');
  t.equal(resolveCgroupsPath('/kubepods/burstable/pod1234/0123abcd', 'x'), '/kubepods/burstable/pod1234/0123abcd', 'containerd cgroupfs');
  t.equal(resolveCgroupsPath('/kubepods/besteffort/pod12/crio-0123abcd', 'x'), '/kubepods/besteffort/pod12/crio-0123abcd', 'CRI-O cgroupfs');
  t.equal(resolveCgroupsPath('/machine/c1', 'x'), '/machine/c1', 'absolute: as given');
  t.equal(resolveCgroupsPath('mygroup/c1', 'x'), '/tsrun/mygroup/c1', 'relative: under tsrun/');
  t.equal(resolveCgroupsPath('//a/./b/', 'x'), '/a/b', 'empty and . components dropped');
  throwsField(t, () => resolveCgroupsPath('/a/../../etc', 'x'), 'linux.cgroupsPath', /"\.\."/);
  throwsField(t, () => resolveCgroupsPath('..', 'x'), 'linux.cgroupsPath');
  throwsField(t, () => resolveCgroupsPath('a/..', 'x'), 'linux.cgroupsPath');
  throwsField(t, () => resolveCgroupsPath('/', 'x'), 'linux.cgroupsPath', /root/);
  t.equal(resolveCgroupsPath('/a/..b', 'x'), '/a/..b', '"..b" is a name, not a parent');
  t.throws(() => resolveCgroupsPath('', '../x'), CgroupError);
});

t.test('systemd cgroupsPath parsing', async (t) => {
  t.same(parseSystemdCgroupsPath('machine.slice:libpod:abc', 'abc'), { slice: 'machine.slice', prefix: 'libpod', name: 'abc', unit: 'libpod-abc.scope' });
  t.same(parseSystemdCgroupsPath('kubepods-burstable-pod1.slice:cri-containerd:abc', 'abc').unit, 'cri-containerd-abc.scope');
  t.same(parseSystemdCgroupsPath('kubepods.slice:crio:abc', 'abc').unit, 'crio-abc.scope');
  t.same(parseSystemdCgroupsPath(':tsrun:abc', 'abc').slice, '-.slice');
  t.same(parseSystemdCgroupsPath('', 'abc'), { slice: 'system.slice', prefix: 'tsrun', name: 'abc', unit: 'tsrun-abc.scope' });
  t.equal(parseSystemdCgroupsPath('system.slice::my.slice', 'x').unit, 'my.slice');
  throwsField(t, () => parseSystemdCgroupsPath('/a/b', 'x'), 'linux.cgroupsPath', /slice:prefix:name/);
  throwsField(t, () => parseSystemdCgroupsPath('machine:libpod:abc', 'x'), 'linux.cgroupsPath', /slice/);
  throwsField(t, () => parseSystemdCgroupsPath('machine.slice:libpod:', 'x'), 'linux.cgroupsPath');
  t.equal(expandSlice('kubepods-burstable-pod1.slice'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice');
  t.equal(expandSlice('-.slice'), '/');
  t.throws(() => expandSlice('a--b.slice'), CgroupError);
});

t.test('createCgroupManager', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsrun-test-cgpaths-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const layout: CgroupLayout = {
    kind: 'hybrid',
    root,
    v1: { memory: join(root, 'memory'), cpu: join(root, 'cpu,cpuacct'), cpuacct: join(root, 'cpu,cpuacct') },
    unified: join(root, 'unified'),
  };
  const noSystemd = join(root, 'host');
  mkdirSync(noSystemd);

  t.test('systemd without systemd: a clear error', async (t) => {
    try {
      createCgroupManager({ id: 'c', cgroupsPath: 'machine.slice:libpod:c', systemd: true, layout, hostRoot: noSystemd });
      t.fail('should throw');
    } catch (err) {
      t.ok(err instanceof CgroupError);
      t.match((err as Error).message, /systemd is not running/);
    }
    // The path is validated first: a malformed one is named as such.
    throwsField(t, () => createCgroupManager({ id: 'c', cgroupsPath: 'nope', systemd: true, layout, hostRoot: noSystemd }), 'linux.cgroupsPath');
  });

  t.test('paths per hierarchy, nothing created', async (t) => {
    const m = createCgroupManager({ id: 'c1', cgroupsPath: '/libpod_parent/libpod-c1', layout });
    t.equal(m.driver, 'hybrid');
    t.same(m.paths, {
      memory: join(root, 'memory/libpod_parent/libpod-c1'),
      cpu: join(root, 'cpu,cpuacct/libpod_parent/libpod-c1'),
      cpuacct: join(root, 'cpu,cpuacct/libpod_parent/libpod-c1'),
      unified: join(root, 'unified/libpod_parent/libpod-c1'),
    });
    const d = createCgroupManager({ id: 'c2', layout });
    t.equal(d.paths['memory'], join(root, 'memory/tsrun/c2'));
    throwsField(t, () => createCgroupManager({ id: 'c3', cgroupsPath: '../../x', layout }), 'linux.cgroupsPath');
  });

  t.test('null driver: no cgroups, or rootless without delegation', async (t) => {
    t.equal(createCgroupManager({ id: 'c', layout: { kind: 'none', root, v1: {} } }).driver, 'null');
    const hybrid = createCgroupManager({ id: 'c', layout, rootless: true });
    t.equal(hybrid.driver, 'null', 'rootless on a hybrid host');
    t.match(hybrid.apply({ pids: { limit: 5 } })[0], /^linux\.resources\.pids: ignored, no cgroup is available \(rootless needs a cgroup v2 subtree delegated to the user; this host's cgroups are hybrid/, 'the warning says why');
    const m = createCgroupManager({ id: 'c', layout: { kind: 'none', root, v1: {} } });
    m.create();
    m.addProcess(1);
    t.same(m.pids(), []);
    const saved = m.save();
    t.same(saved, { driver: 'null', paths: {}, reason: 'this host has no cgroup filesystem mounted under /sys/fs/cgroup' });
    t.equal(m.apply({ memory: { limit: 1 } }).length, 1, 'a warning that nothing is enforced');
    await t.rejects(m.freeze(), CgroupError);
    await t.rejects(loadCgroupManager(saved).freeze(), { message: /no cgroup \(this host has no cgroup filesystem mounted/ }, 'the reason survives the state file');
    await m.destroy();
  });
});
