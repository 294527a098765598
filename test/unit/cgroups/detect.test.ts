/**
 * Layout detection on fake roots: from an injected mount table, and from the
 * directory shape alone (mountinfo '') for all four layouts.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectCgroupLayout, parseCgroupMounts } from '../../../lib/cgroups/index.js';

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tsrun-test-detect-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const v1Dir = (root: string, name: string) => {
  mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, name, 'cgroup.procs'), '');
};
const v2Dir = (dir: string, controllers: string) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cgroup.controllers'), controllers);
  writeFileSync(join(dir, 'cgroup.procs'), '');
};

/** The mountinfo of this project's hybrid hosts, with the root replaced. */
function hybridMountinfo(root: string): string {
  return [
    `31 23 0:28 / ${root} rw,relatime - tmpfs tmpfs rw,mode=755`,
    `32 31 0:29 / ${root}/cpu rw,relatime - cgroup cgroup rw,cpu`,
    `33 31 0:30 / ${root}/cpuacct rw,relatime - cgroup cgroup rw,cpuacct`,
    `35 31 0:32 / ${root}/memory rw,relatime - cgroup cgroup rw,memory`,
    `37 31 0:34 / ${root}/freezer rw,relatime - cgroup cgroup rw,freezer`,
    `40 31 0:37 / ${root}/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd`,
    `41 31 0:38 / ${root}/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate`,
    `50 1 0:50 / /other/cgroup rw - cgroup cgroup rw,pids`,
  ].join('\n');
}

t.test('parseCgroupMounts', async (t) => {
  const m = parseCgroupMounts(
    '36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n' +
      '37 25 0:32 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n' +
      '38 25 8:1 / / rw - ext4 /dev/sda1 rw\n',
  );
  t.same(m, [
    { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', fsType: 'cgroup', controllers: ['cpu', 'cpuacct'] },
    { mountPoint: '/mnt/with space', fsType: 'cgroup2', controllers: [] },
  ]);
});

t.test('from the mount table', async (t) => {
  const root = '/fake/cg';
  const hybrid = detectCgroupLayout(root, { mountinfo: hybridMountinfo(root) });
  t.same(hybrid, {
    kind: 'hybrid',
    root,
    v1: {
      cpu: `${root}/cpu`,
      cpuacct: `${root}/cpuacct`,
      memory: `${root}/memory`,
      freezer: `${root}/freezer`,
      'name=systemd': `${root}/systemd`,
    },
    unified: `${root}/unified`,
  });
  const v1only = hybridMountinfo(root).split('\n').filter((l) => !l.includes('cgroup2')).join('\n');
  t.equal(detectCgroupLayout(root, { mountinfo: v1only }).kind, 'v1');
  t.same(detectCgroupLayout(root, { mountinfo: `29 23 0:26 / ${root} rw - cgroup2 cgroup2 rw,nsdelegate` }), { kind: 'v2', root, v1: {}, unified: root });
  t.same(detectCgroupLayout(`${root}/`, { mountinfo: `29 23 0:26 / ${root} rw - cgroup2 cgroup2 rw` }).kind, 'v2', 'trailing slash');
  t.equal(detectCgroupLayout('/nonexistent-root', { mountinfo: hybridMountinfo(root) }).kind, 'none');
});

t.test('from the directory shape', async (t) => {
  t.test('v2', async (t) => {
    const root = tmp(t);
    v2Dir(root, 'cpuset cpu io memory hugetlb pids rdma misc');
    t.same(detectCgroupLayout(root, { mountinfo: '' }), { kind: 'v2', root, v1: {}, unified: root });
  });
  t.test('v1 (with a cpu,cpuacct co-mount and its symlinks)', async (t) => {
    const root = tmp(t);
    for (const c of ['cpu,cpuacct', 'memory', 'pids', 'systemd']) v1Dir(root, c);
    symlinkSync('cpu,cpuacct', join(root, 'cpu'));
    symlinkSync('cpu,cpuacct', join(root, 'cpuacct'));
    mkdirSync(join(root, 'not-a-hierarchy'));
    const l = detectCgroupLayout(root, { mountinfo: '' });
    t.equal(l.kind, 'v1');
    t.same(l.v1, {
      cpu: join(root, 'cpu,cpuacct'),
      cpuacct: join(root, 'cpu,cpuacct'),
      memory: join(root, 'memory'),
      pids: join(root, 'pids'),
      'name=systemd': join(root, 'systemd'),
    });
    t.equal(l.unified, undefined);
  });
  t.test('hybrid', async (t) => {
    const root = tmp(t);
    for (const c of ['cpu', 'memory', 'freezer', 'devices']) v1Dir(root, c);
    v2Dir(join(root, 'unified'), 'hugetlb');
    const l = detectCgroupLayout(root, { mountinfo: '' });
    t.equal(l.kind, 'hybrid');
    t.equal(l.unified, join(root, 'unified'));
    t.same(Object.keys(l.v1).sort(), ['cpu', 'devices', 'freezer', 'memory']);
  });
  t.test('none', async (t) => {
    const root = tmp(t);
    t.same(detectCgroupLayout(root, { mountinfo: '' }), { kind: 'none', root, v1: {} });
    t.equal(detectCgroupLayout(join(root, 'missing'), { mountinfo: '' }).kind, 'none');
  });
});

t.test('this host', async (t) => {
  const l = detectCgroupLayout();
  t.ok(['v1', 'v2', 'hybrid', 'none'].includes(l.kind));
  t.equal(l.root, '/sys/fs/cgroup');
});
