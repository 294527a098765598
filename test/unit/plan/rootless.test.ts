/**
 * Rootless decisions without a kernel: how an unprivileged caller's maps get
 * written (directly, with setgroups deny, or through newuidmap/newgidmap),
 * which missing prerequisite is named, and the steps compilePlan emits for
 * the map tools and for idmapped mounts.
 */
import t from 'tap';
import { planIdMaps, parseSubIds, resolveRootless, kernelSupportsIdmap, RootlessError, type RootlessHost } from '../../../lib/runtime/rootless.js';
import { compilePlan } from '../../../lib/plan/compile.js';
import { SpecError } from '../../../lib/errors.js';
import type { IdMapping, Spec } from '../../../lib/spec/types.js';

function host(over: Partial<RootlessHost> = {}): RootlessHost {
  return {
    euid: 1000,
    egid: 1000,
    user: 'alice',
    subuid: 'alice:100000:65536\n',
    subgid: 'alice:100000:65536\n',
    which: (n) => `/usr/bin/${n}`,
    ...over,
  };
}

function spec(uid?: IdMapping[], gid = uid, ns = ['pid', 'mount', 'uts', 'ipc', 'user']): Spec {
  return {
    ociVersion: '1.3.0',
    process: { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 } },
    root: { path: '/rootfs' },
    linux: { namespaces: ns.map((type) => ({ type })) as NonNullable<Spec['linux']>['namespaces'], uidMappings: uid, gidMappings: gid },
  };
}

t.test('resolveRootless: true/false win, auto means not root', async (t) => {
  t.equal(resolveRootless('true', 0), true);
  t.equal(resolveRootless(false, 1000), false);
  t.equal(resolveRootless('auto', 1000), true);
  t.equal(resolveRootless(undefined, 0), false);
});

t.test('parseSubIds', async (t) => {
  t.same(parseSubIds('# c\nalice:100000:65536\nbad\n1000:5:0\nbob:1:2\n'), [{ owner: 'alice', start: 100000, count: 65536 }, { owner: 'bob', start: 1, count: 2 }]);
});

t.test('root needs nothing; one mapping of the own ids is written directly with setgroups denied', async (t) => {
  const own = [{ containerID: 0, hostID: 1000, size: 1 }];
  t.same(planIdMaps(spec(own), host({ euid: 0 })), { setgroupsDenied: false });
  t.same(planIdMaps(spec(own), host()), { setgroupsDenied: true });
});

t.test('several ranges go through the tools; a directly written gid map is the only reason to deny setgroups', async (t) => {
  const many = [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }];
  t.same(planIdMaps(spec(many), host()), { setgroupsDenied: false, idMapTools: { newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap' } });
  t.same(planIdMaps(spec(many, [{ containerID: 0, hostID: 1000, size: 1 }]), host()), { setgroupsDenied: true, idMapTools: { newuidmap: '/usr/bin/newuidmap', newgidmap: '' } });
  t.same(planIdMaps(spec(many), host({ subuid: '1000:100000:65536\n' })).idMapTools?.newuidmap, '/usr/bin/newuidmap', 'subuid entries by uid count too');
});

t.test('missing prerequisites are named', async (t) => {
  const many = [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }];
  t.throws(() => planIdMaps(spec(many), host({ subuid: undefined })), { name: 'RootlessError', message: /linux\.uidMappings\[1\].*100000-165535.*\/etc\/subuid does not exist/ });
  t.throws(() => planIdMaps(spec(many), host({ subgid: 'bob:100000:65536\n' })), { message: /gidMappings\[1\].*its ranges: none.*"alice:100000:65536"/ });
  t.throws(() => planIdMaps(spec(many), host({ which: () => undefined })), { message: /newuidmap was not found \(install the "uidmap" package\)/ });
  t.throws(() => planIdMaps(spec([{ containerID: 0, hostID: 0, size: 1 }]), host()), { message: /host uids 0, which are not subordinate/ });
  t.throws(() => planIdMaps(spec([], []), host()), { message: /linux\.uidMappings is empty/ });
  t.throws(() => planIdMaps(spec(undefined, undefined, ['pid', 'mount']), host()), { message: /no user namespace.*tsrun spec --rootless/ });
  t.ok(new RootlessError('x') instanceof Error);
});

t.test('kernelSupportsIdmap', async (t) => {
  t.equal(kernelSupportsIdmap('5.11.0'), false);
  t.equal(kernelSupportsIdmap('5.12.1-arch'), true);
  t.equal(kernelSupportsIdmap('6.1.0'), true);
  t.equal(kernelSupportsIdmap('garbage'), false);
});

const ctx = { bundle: '/bundle', detached: false, sourceKind: () => 'dir' as const };

t.test('compilePlan: ID_MAP_TOOLS before USER_MAPS, setgroups deny only when asked', async (t) => {
  const s = spec([{ containerID: 0, hostID: 1000, size: 1 }]);
  const plain = compilePlan(s, { ...ctx, setgroupsDenied: true });
  t.notOk(plain.steps.some((x) => x.op === 'ID_MAP_TOOLS'));
  t.equal(plain.steps.find((x) => x.op === 'USER_MAPS')?.args.setgroups, 'deny');
  t.equal(plain.steps.find((x) => x.op === 'USER')?.args.setgroups, 0, 'no setgroups(2) where it is denied');
  const tools = compilePlan(s, { ...ctx, idMapTools: { newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap' } });
  const ops = tools.steps.map((x) => x.op);
  t.ok(ops.indexOf('ID_MAP_TOOLS') >= 0 && ops.indexOf('ID_MAP_TOOLS') < ops.indexOf('USER_MAPS') && ops.indexOf('USER_MAPS') < ops.indexOf('CLONE'));
});

t.test('compilePlan: idmapped binds become IDMAP_TREE (host) + MOUNT_TREE (container)', async (t) => {
  const s = spec([{ containerID: 0, hostID: 100000, size: 65536 }]);
  s.mounts = [
    { destination: '/a', type: 'bind', source: '/srv/a', options: ['rbind', 'ro', 'idmap'], uidMappings: [{ containerID: 1000, hostID: 100000, size: 1 }], gidMappings: [{ containerID: 1000, hostID: 100000, size: 1 }] },
    { destination: '/b', type: 'bind', source: '/srv/b', options: ['bind', 'ridmap'] },
    { destination: '/c', type: 'bind', source: '/srv/c', options: ['rbind'] },
  ];
  const plan = compilePlan(s, ctx);
  const trees = plan.steps.filter((x) => x.op === 'IDMAP_TREE');
  t.same(trees.map((x) => [x.field, x.args]), [
    ['mounts[0]', { source: '/srv/a', uidMap: '1000 100000 1\n', gidMap: '1000 100000 1\n', recursive: 1 }],
    ['mounts[1]', { source: '/srv/b', uidMap: '0 100000 65536\n', gidMap: '0 100000 65536\n', recursive: 2 }],
  ]);
  const ops = plan.steps.map((x) => x.op);
  t.ok(ops.lastIndexOf('IDMAP_TREE') < ops.indexOf('CLONE'), 'prepared in the host before the clone');
  const attach = plan.steps.filter((x) => x.op === 'MOUNT_TREE');
  t.same(attach.map((x) => [x.field, x.args.tree, x.args.dest, x.args.flags]), [['mounts[0]', 0, '/a', 1], ['mounts[1]', 1, '/b', 0]], 'attached in mount order with the remaining flags (MS_RDONLY)');
  t.ok(plan.steps.some((x) => x.op === 'MOUNT' && x.field === 'mounts[2]'), 'a plain bind stays a MOUNT');
});

function issues(f: () => unknown): { field: string; message: string }[] {
  try {
    f();
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
  return [];
}

t.test('compilePlan: idmap refusals', async (t) => {
  const noUser = spec(undefined, undefined, ['pid', 'mount']);
  noUser.mounts = [{ destination: '/a', type: 'bind', source: '/srv/a', options: ['rbind', 'idmap'] }];
  t.ok(issues(() => compilePlan(noUser, ctx)).some((i) => i.field === 'mounts[0].uidMappings' && /no new user namespace/.test(i.message)), 'idmap without mappings needs the container\'s');
  const tmpfs = spec([{ containerID: 0, hostID: 100000, size: 65536 }]);
  tmpfs.mounts = [{ destination: '/a', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }];
  t.ok(issues(() => compilePlan(tmpfs, ctx)).some((i) => i.field === 'mounts[0].options' && /only bind mounts/.test(i.message)), 'only binds');
});
