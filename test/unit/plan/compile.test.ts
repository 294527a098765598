import t from 'tap';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePlan, compileExecPlan, parseMountOptions, type PlanContext } from '../../../lib/plan/compile.js';
import { formatPlan } from '../../../lib/plan/explain.js';
import type { Plan } from '../../../lib/plan/types.js';
import { SpecError } from '../../../lib/errors.js';
import { MS } from '../../../lib/spec/tables.js';
import { baseSpec } from './fixtures.js';

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'test', 'unit', 'plan', 'golden');
const ctx = (extra: Partial<PlanContext> = {}): PlanContext => ({
  bundle: '/bundle',
  execFifo: '/run/tsrun/c1/exec.fifo',
  detached: true,
  sourceKind: (p) => (p.endsWith('.conf') ? 'file' : p.includes('missing') ? 'missing' : 'dir'),
  cgroupMounts: { v1: [{ name: 'memory', data: 'memory' }, { name: 'systemd', data: 'none,name=systemd' }], unified: 'unified' },
  ...extra,
});
const ops = (p: Plan) => p.steps.map((s) => s.op);
const idx = (p: Plan, op: string, from = 0) => p.steps.findIndex((s, i) => i >= from && s.op === op);

/** Compares a plan's text form with its golden file; UPDATE_GOLDEN=1 rewrites it. */
function golden(name: string, plan: Plan): [string, string, string] {
  const text = formatPlan(plan, { explain: true });
  const file = join(goldenDir, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text);
  return [text, readFileSync(file, 'utf8'), `plan ${name} matches test/unit/plan/golden/${name}.txt`];
}

t.test('default config: golden file and order of the big phases', async (tt) => {
  const plan = compilePlan(baseSpec(), ctx());
  tt.equal(...golden('default', plan));
  const o = ops(plan);
  tt.ok(o.indexOf('RLIMIT') < o.indexOf('CLONE'), 'rlimits are set before the clone (before any user namespace)');
  tt.ok(o.indexOf('EXEC_FIFO') < o.indexOf('CLONE'), 'the fifo is opened in the host');
  tt.ok(o.lastIndexOf('MOUNT') < o.indexOf('MKNOD'), 'devices after every mount');
  tt.ok(o.indexOf('MASK_PATH') < o.indexOf('PIVOT_ROOT'), 'masks before pivot_root');
  tt.ok(o.indexOf('PIVOT_ROOT') < o.indexOf('REMOUNT_ROOT_RO'), 'root made read-only after pivot_root');
  tt.ok(o.indexOf('CWD') < o.indexOf('REMOUNT_ROOT_RO'), 'the cwd is created before / turns read-only');
  tt.ok(o.indexOf('RESOLVE_EXEC') < o.indexOf('WAIT_START'), 'args[0] resolved before the container is reported created');
  tt.ok(o.indexOf('USER') < o.indexOf('WAIT_START') && o.indexOf('CAPS') < o.indexOf('WAIT_START'), 'the user switch and capabilities come before the container is reported created (runc: create reports their failure)');
  tt.equal(o.at(-1), 'EXEC', 'execve is last');
  tt.equal(o.at(-2), 'WAIT_START', 'the fifo wait is the last step before execve');
  tt.ok(o.indexOf('NO_NEW_PRIVS') < o.indexOf('WAIT_START'));
  const mountOrder = plan.steps.filter((s) => s.op === 'MOUNT').map((s) => s.field);
  tt.same(mountOrder, ['mounts[0]', 'mounts[1]', 'mounts[2]', 'mounts[3]', 'mounts[4]'], 'mounts in config order');
});

t.test('namespaces joined by path: user first, mount last, and not cloned', async (tt) => {
  const spec = baseSpec();
  spec.linux!.namespaces = [{ type: 'mount', path: '/proc/1/ns/mnt' }, { type: 'network', path: '/var/run/netns/x' }, { type: 'user', path: '/proc/1/ns/user' }, { type: 'pid' }, { type: 'uts' }];
  const plan = compilePlan(spec, ctx());
  tt.equal(...golden('join-namespaces', plan));
  const joins = plan.steps.filter((s) => s.op === 'JOIN_NS').map((s) => (s.args as { path: string }).path);
  tt.same(joins, ['/proc/1/ns/user', '/var/run/netns/x', '/proc/1/ns/mnt']);
  const clone = plan.steps.find((s) => s.op === 'CLONE')!;
  tt.equal(Number((clone.args as { flags: number }).flags), 0x20000000 | 0x04000000, 'only pid and uts are created');
  tt.ok(idx(plan, 'EXEC_FIFO') < idx(plan, 'JOIN_NS'), 'the fifo is opened before joining a mount namespace');
});

t.test('user and time namespaces: maps and offsets prepared before the clone', async (tt) => {
  const spec = baseSpec();
  spec.linux!.namespaces!.push({ type: 'user' }, { type: 'time' });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.linux!.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 }, boottime: { secs: 3600 } };
  const plan = compilePlan(spec, ctx());
  tt.equal(...golden('user-time', plan));
  tt.ok(idx(plan, 'NEW_TIMENS') < idx(plan, 'CLONE'));
  tt.ok(idx(plan, 'USER_MAPS') < idx(plan, 'CLONE'));
  const clone = plan.steps[idx(plan, 'CLONE')]!.args as { flags: number };
  tt.equal(Number(clone.flags) & 0x80, 0, 'CLONE_NEWTIME is never a clone flag');
  tt.ok(Number(clone.flags) & 0x10000000, 'CLONE_NEWUSER');
  tt.match((plan.steps[idx(plan, 'USER_MAPS')]!.args as { uidMap: string }).uidMap, '0 100000 65536\n');
});

t.test('hooks: a sync point for host hooks; createContainer before pivot_root; startContainer after the fifo', async (tt) => {
  const spec = baseSpec();
  spec.hooks = {
    prestart: [{ path: '/bin/true' }],
    createContainer: [{ path: '/usr/bin/hook', args: ['hook', 'cc'], timeout: 5 }],
    startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'true'] }],
  };
  const plan = compilePlan(spec, ctx({ hostHooks: true }));
  tt.equal(...golden('hooks', plan));
  const sync = idx(plan, 'SYNC');
  const cc = plan.steps.findIndex((s) => s.field === 'hooks.createContainer[0]');
  const sc = plan.steps.findIndex((s) => s.field === 'hooks.startContainer[0]');
  tt.ok(sync > 0 && sync < cc && cc < idx(plan, 'PIVOT_ROOT'));
  tt.ok(idx(plan, 'WAIT_START') < sc && sc < idx(plan, 'EXEC'));
  tt.same((plan.steps[sc]!.args as { env: string[] }).env, spec.process!.env, 'startContainer hook env defaults to the process env');
});

t.test('seccomp: last before execve with no_new_privs, before the user switch without', async (tt) => {
  const program = new Uint8Array(16);
  const withNnp = compilePlan(baseSpec(), ctx({ seccomp: { program, flags: 0 } }));
  tt.equal(ops(withNnp).at(-2), 'SECCOMP');
  const spec = baseSpec();
  spec.process!.noNewPrivileges = false;
  const without = compilePlan(spec, ctx({ seccomp: { program, flags: 0 } }));
  tt.ok(idx(without, 'SECCOMP') < idx(without, 'USER'));
  tt.equal(idx(without, 'NO_NEW_PRIVS'), -1);
});

t.test('mount options: flags, propagation, recursive attributes and data', async (tt) => {
  const o = parseMountOptions(['rbind', 'ro', 'nosuid', 'rprivate', 'rro', 'size=10m', 'mode=755']);
  tt.equal(o.flags, MS.BIND | MS.REC | MS.RDONLY | MS.NOSUID);
  tt.same(o.propagation, [MS.PRIVATE | MS.REC]);
  tt.equal(o.attrSet, 0x1);
  tt.same(o.data, ['size=10m', 'mode=755']);
  tt.same(parseMountOptions(['rw', 'ro']).flags, MS.RDONLY, 'the last of ro/rw wins');
  tt.same(parseMountOptions(['ro', 'rw']).flags, 0);
  tt.same(parseMountOptions(['noexe']).unknown, ['noexe'], 'a typo is not passed as data');
  const spec = baseSpec();
  spec.mounts!.push({ destination: '/etc/app.conf', type: 'bind', source: 'app.conf', options: ['rbind', 'ro'] });
  spec.mounts!.push({ destination: '/data', source: '/srv/data', options: ['bind', 'rslave'] });
  spec.mounts!.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid'] });
  const plan = compilePlan(spec, ctx());
  tt.equal(...golden('mounts', plan));
  const conf = plan.steps.find((s) => s.field === 'mounts[5]')!.args as { source: string; kind: bigint; fstype: string };
  tt.equal(conf.source, '/bundle/app.conf', 'relative bind sources resolve against the bundle');
  tt.equal(conf.kind, 1n, 'a file bind creates a file at the destination');
  tt.equal(conf.fstype, '');
  const cg = plan.steps.filter((s) => s.field === 'mounts[7]').map((s) => (s.args as { dest: string }).dest);
  tt.same(cg, ['/sys/fs/cgroup', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'], 'a cgroup mount on a hybrid host: tmpfs, each hierarchy, cgroup2, then read-only');
});

t.test('devices, terminal, no-pivot, propagation, sysctl, personality', async (tt) => {
  const spec = baseSpec();
  spec.process!.terminal = true;
  spec.process!.consoleSize = { height: 40, width: 120 };
  spec.linux!.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666 }, { type: 'c', path: '/dev/null', major: 1, minor: 3 }];
  spec.linux!.rootfsPropagation = 'shared';
  spec.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
  spec.linux!.personality = { domain: 'LINUX32' };
  spec.domainname = 'example.org';
  const plan = compilePlan(spec, ctx({ noPivot: true, consoleSocket: '/tmp/console.sock' }));
  tt.equal(...golden('misc', plan));
  tt.equal(plan.steps.filter((s) => s.op === 'MKNOD' && (s.args as { path: string }).path === '/dev/null').length, 1, 'a configured device replaces the default one');
  tt.equal(idx(plan, 'PIVOT_ROOT'), -1);
  tt.ok(idx(plan, 'CHROOT') > 0);
  tt.ok(idx(plan, 'CONSOLE') > idx(plan, 'SYMLINK') && idx(plan, 'CONSOLE') < idx(plan, 'CHROOT'), 'console after /dev is populated, before the root changes');
  tt.ok(idx(plan, 'ROOT_PROPAGATION') > idx(plan, 'CHROOT'));
});

t.test('problems are reported together as a SpecError', async (tt) => {
  const spec = baseSpec();
  spec.linux!.namespaces = [{ type: 'pid' }];
  spec.mounts!.push({ destination: '/x', source: '/missing/dir', options: ['bind', 'bogus'] });
  spec.process!.args = [];
  const err = (() => {
    try {
      compilePlan(spec, ctx());
    } catch (e) {
      return e;
    }
  })();
  tt.ok(err instanceof SpecError);
  const fields = (err as SpecError).issues.map((i) => i.field);
  tt.same(fields.sort(), ['linux.namespaces', 'mounts[5].options', 'mounts[5].source', 'process.args'].sort());
});

t.test('exec plan: joins every namespace of the container, user first, then forks', async (tt) => {
  const proc = baseSpec().process!;
  const plan = compileExecPlan(proc, { initPid: 4242, namespaces: ['mount', 'pid', 'user', 'network'] }, { bundle: '/b', detached: true });
  tt.equal(...golden('exec', plan));
  const joins = plan.steps.filter((s) => s.op === 'JOIN_NS').map((s) => (s.args as { path: string }).path);
  tt.same(joins, ['/proc/4242/ns/user', '/proc/4242/ns/net', '/proc/4242/ns/pid', '/proc/4242/ns/mnt']);
  tt.equal(idx(plan, 'ROOTFS'), -1, 'no rootfs set-up: the process joins the existing mount namespace');
  tt.equal(idx(plan, 'EXEC_FIFO'), -1);
  tt.ok(idx(plan, 'WAIT_START') > 0, 'still reports READY before execve');
});

t.test('exec plan into a paused container: a JOIN_CGROUP sync point in place of WAIT_START, before any privilege change', async (tt) => {
  const proc = baseSpec().process!;
  const plan = compileExecPlan(proc, { initPid: 4242, namespaces: ['mount', 'pid'] }, { bundle: '/b', detached: true, joinCgroupLate: true });
  tt.equal(idx(plan, 'WAIT_START'), -1, 'no READY: the caller may be gone when the container is resumed');
  const sync = idx(plan, 'SYNC');
  tt.ok(sync > idx(plan, 'CLONE'), 'the sync point is in the forked process');
  tt.same(plan.steps[sync]!.args, { point: 2 }, 'point JOIN_CGROUP');
  tt.equal(plan.steps[sync]!.field, '--ignore-paused');
  for (const op of ['CAP_BOUNDING', 'USER', 'CAPS', 'EXEC']) tt.ok(idx(plan, op) > sync, `${op} after the sync point`);
});

t.test('session keyring: joined right after SETSID (create and exec); none with --no-new-keyring', async (tt) => {
  const plan = compilePlan(baseSpec(), ctx({ sessionKeyring: '_ses.c1' }));
  const k = idx(plan, 'SESSION_KEYRING');
  tt.equal(k, idx(plan, 'SETSID') + 1, 'right after SETSID');
  tt.ok(k < idx(plan, 'ROOTFS'), 'before any mount');
  tt.same(plan.steps[k]!.args, { name: '_ses.c1' });
  tt.equal(idx(compilePlan(baseSpec(), ctx()), 'SESSION_KEYRING'), -1, 'none without a name');
  const exec = compileExecPlan(baseSpec().process!, { initPid: 1, namespaces: ['mount'] }, { bundle: '/b', detached: true, sessionKeyring: '_ses.c1' });
  tt.equal(idx(exec, 'SETSID'), idx(exec, 'CLONE') + 1, 'exec: a session of its own first (H.3, even without a terminal)');
  tt.equal(idx(exec, 'SESSION_KEYRING'), idx(exec, 'SETSID') + 1, 'then the keyring');
});

t.test('terminal: a console socket, a proxied pty when attached, nothing when detached without one', async (tt) => {
  const spec = baseSpec();
  spec.process!.terminal = true;
  const proxied = compilePlan(spec, ctx({ detached: false, resizeFd: 6 }));
  tt.equal(idx(proxied, 'CONSOLE_SOCKET'), -1);
  tt.ok(idx(proxied, 'CONSOLE_PROXY') >= 0 && idx(proxied, 'CONSOLE_PROXY') < idx(proxied, 'CLONE'), 'CONSOLE_PROXY before the clone');
  tt.same(proxied.steps[idx(proxied, 'CONSOLE_PROXY')]!.args, { resizeFd: 6 });
  tt.ok(idx(proxied, 'CONSOLE') > idx(proxied, 'CLONE'), 'CONSOLE in the init');
  const socket = compilePlan(spec, ctx({ detached: true, consoleSocket: '/tmp/c.sock' }));
  tt.ok(idx(socket, 'CONSOLE_SOCKET') >= 0);
  tt.equal(idx(socket, 'CONSOLE_PROXY'), -1);
  const exec = compileExecPlan(spec.process!, { initPid: 1, namespaces: ['mount'] }, { bundle: '/b', detached: false });
  tt.ok(idx(exec, 'CONSOLE_PROXY') >= 0 && idx(exec, 'CONSOLE') > idx(exec, 'CLONE'), 'exec -t in the foreground');
  const detachedExec = compileExecPlan(spec.process!, { initPid: 1, namespaces: ['mount'] }, { bundle: '/b', detached: true });
  tt.equal(idx(detachedExec, 'CONSOLE'), -1, 'detached without a socket: no pty (the CLI refuses that combination first)');
});
