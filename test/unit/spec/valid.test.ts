/**
 * Configs that must pass: the default spec (root and rootless), a minimal
 * config, every 1.x version; warnings for unknown capabilities; process
 * documents for `exec --process`.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  validateConfig, validateProcess, checkConfig, loadBundleConfig, loadProcessFile, defaultSpec,
  DEFAULT_CAPABILITIES, MOUNT_OPTIONS, isFilesystemDataOption,
} from '../../../lib/spec/index.js';
import { issuesOf, makeBundle, minimalConfig } from './helpers.js';

t.test('the default spec is valid', async (t) => {
  const b = makeBundle(t);
  const spec = defaultSpec();
  b.writeConfig(spec);
  const r = loadBundleConfig(b.dir);
  t.same(r.warnings, []);
  t.same(r.spec, spec);
  t.same(validateConfig(spec, { bundle: b.dir }).warnings, []);
});

t.test('the default spec has runc-like secure defaults', async (t) => {
  const s = defaultSpec();
  const p = s.process!;
  t.same(p.args, ['sh']);
  t.equal(p.terminal, true);
  t.equal(p.cwd, '/');
  t.same(p.user, { uid: 0, gid: 0 });
  t.ok(p.env!.some((e) => e.startsWith('PATH=/')) && p.env!.includes('TERM=xterm'));
  t.same(p.capabilities, { bounding: [...DEFAULT_CAPABILITIES], effective: [...DEFAULT_CAPABILITIES], permitted: [...DEFAULT_CAPABILITIES] });
  t.same([...DEFAULT_CAPABILITIES].sort(), ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  t.notOk(p.capabilities!.inheritable, 'no inheritable capabilities');
  t.notOk(p.capabilities!.ambient, 'no ambient capabilities');
  t.same(p.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
  t.equal(p.noNewPrivileges, true);
  t.same(s.root, { path: 'rootfs', readonly: true });
  t.equal(s.hostname, 'tsrun');
  t.same(s.mounts!.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
  t.same(s.mounts![1]!.options, ['nosuid', 'strictatime', 'mode=755', 'size=65536k']);
  t.same(s.mounts![2]!.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
  t.same(s.mounts![5], { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
  t.same(s.mounts![6]!.options, ['nosuid', 'noexec', 'nodev', 'relatime', 'ro']);
  t.same(s.linux!.resources, { devices: [{ allow: false, access: 'rwm' }] });
  t.same(s.linux!.namespaces!.map((n) => n.type), ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']);
  t.ok(s.linux!.maskedPaths!.includes('/proc/kcore') && s.linux!.maskedPaths!.includes('/sys/firmware'));
  t.equal(s.linux!.maskedPaths!.length, 11);
  t.same(s.linux!.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  // Every option of the default mounts is a known option or filesystem data.
  for (const m of s.mounts!) for (const o of m.options ?? []) t.ok(o in MOUNT_OPTIONS || isFilesystemDataOption(o), o);
  // Fresh objects: changing one result does not change the next.
  p.args!.push('-c');
  t.same(defaultSpec().process!.args, ['sh']);
});

t.test('the rootless default spec', async (t) => {
  const b = makeBundle(t);
  const s = defaultSpec({ rootless: true, uid: 1000, gid: 1001 });
  t.same(validateConfig(s, { bundle: b.dir }).warnings, []);
  const types = s.linux!.namespaces!.map((n) => n.type);
  t.ok(types.includes('user'));
  t.notOk(types.includes('network'), 'no network namespace');
  t.same(s.linux!.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  t.same(s.linux!.gidMappings, [{ containerID: 0, hostID: 1001, size: 1 }]);
  t.notOk(s.linux!.resources, 'no cgroup resources');
  const sys = s.mounts!.find((m) => m.destination === '/sys')!;
  t.same(sys.options, ['rbind', 'nosuid', 'noexec', 'nodev', 'ro', 'rro'], 'rro: the host\'s cgroup mounts under /sys are read-only too (CVE-2023-25809)');
  t.equal(sys.source, '/sys');
  t.notOk(s.mounts!.find((m) => m.destination === '/dev/pts')!.options!.includes('gid=5'));
  // Without uid/gid the current user is mapped.
  const cur = defaultSpec({ rootless: true });
  t.equal(cur.linux!.uidMappings![0]!.hostID, process.getuid!());
  t.equal(cur.linux!.gidMappings![0]!.hostID, process.getgid!());
});

t.test('a minimal config is valid', async (t) => {
  const b = makeBundle(t);
  t.same(validateConfig(minimalConfig(), { bundle: b.dir }).warnings, []);
  // process is optional at create.
  const noProcess = minimalConfig();
  delete noProcess.process;
  t.same(validateConfig(noProcess, { bundle: b.dir }).warnings, []);
  // An absolute root path, and unknown properties (the spec says to ignore them).
  const abs = { ...minimalConfig(), root: { path: join(b.dir, 'rootfs') }, vm: { hypervisor: {} }, 'x-extra': 1 };
  t.same(validateConfig(abs, { bundle: b.dir }).warnings, []);
});

t.test('every 1.x version passes, 2.0.0 fails', async (t) => {
  const b = makeBundle(t);
  for (const v of ['1.0.0', '1.0.2', '1.1.0', '1.2.0', '1.2.1', '1.3.0', '1.3.0+dev', '1.4.0-rc.1']) {
    t.doesNotThrow(() => validateConfig({ ...minimalConfig(), ociVersion: v }, { bundle: b.dir }), v);
  }
  for (const v of ['2.0.0', '0.9.0']) {
    const issues = issuesOf(() => validateConfig({ ...minimalConfig(), ociVersion: v }, { bundle: b.dir }));
    t.same(issues.map((i) => i.field), ['ociVersion'], v);
  }
});

t.test('host checks pass for real namespaces, bind sources and relative paths', async (t) => {
  const b = makeBundle(t);
  const c = minimalConfig();
  c.hostname = 'box';
  c.linux!.namespaces = [
    { type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' },
    { type: 'network', path: '/proc/self/ns/net' },
    { type: 'cgroup', path: '/proc/self/ns/cgroup' },
  ];
  c.linux!.sysctl = { 'kernel.shmmax': '1024', 'fs.mqueue.msg_max': '10', 'kernel.domainname': 'x' };
  c.mounts = [
    { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'rro', 'idmap'], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] },
    { destination: '/etc/hosts', type: 'none', source: '/etc/hosts', options: ['bind'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=64m', 'mode=1777', 'nr_inodes=1k'] },
  ];
  c.linux!.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 438 }, { type: 'p', path: '/dev/fifo' }];
  c.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }];
  c.process!.terminal = true;
  c.process!.consoleSize = { height: 24, width: 80 };
  t.same(validateConfig(c, { bundle: b.dir }).warnings, []);
  // With host checks off, paths are not looked at.
  const off = { ...c, root: { path: 'not-there' } };
  t.same(checkConfig(off, { bundle: b.dir, host: false }).errors, []);
  t.equal(checkConfig(off, { bundle: b.dir }).errors[0]!.field, 'root.path');
});

t.test('unknown capabilities are warnings, not errors', async (t) => {
  const b = makeBundle(t);
  const c = minimalConfig();
  c.process!.capabilities = { bounding: ['CAP_KILL', 'CAP_FOO'], effective: ['CAP_SYS_ADMN'], ambient: ['CAP_BPF'] };
  const { warnings } = validateConfig(c, { bundle: b.dir });
  t.same(warnings.map((w) => w.field), ['process.capabilities.bounding[1]', 'process.capabilities.effective[0]']);
  t.match(warnings[0]!.message, /"CAP_FOO" is not a capability tsrun knows.*ignored/);
  t.match(warnings[1]!.message, /did you mean "CAP_SYS_ADMIN"\?/);
});

t.test('console size without a terminal is a warning', async (t) => {
  const b = makeBundle(t);
  const c = minimalConfig();
  c.process!.consoleSize = { height: 24, width: 80 };
  const { warnings } = validateConfig(c, { bundle: b.dir });
  t.same(warnings.map((w) => w.field), ['process.consoleSize']);
  t.match(warnings[0]!.message, /ignored because process\.terminal is not true/);
});

t.test('process documents (exec --process)', async (t) => {
  const b = makeBundle(t);
  const good = { cwd: '/', user: { uid: 0, gid: 0 }, args: ['ls', '-l'], capabilities: { bounding: ['CAP_NOPE'] } };
  const r = validateProcess(good);
  t.same(r.process, good);
  t.same(r.warnings.map((w) => w.field), ['capabilities.bounding[0]']);

  const cases: [string, object, string, RegExp][] = [
    ['empty args', { ...good, args: [] }, 'args', /must not be empty/],
    ['no args', { cwd: '/', user: { uid: 0, gid: 0 } }, 'args', /is required/],
    ['relative cwd', { ...good, cwd: 'tmp' }, 'cwd', /"tmp" is relative/],
    ['no user', { cwd: '/', args: ['ls'] }, 'user', /is required/],
    ['unknown rlimit', { ...good, rlimits: [{ type: 'NOFILE', soft: 1, hard: 1 }] }, 'rlimits[0].type', /"NOFILE" is not an rlimit type/],
    ['duplicate rlimit', { ...good, rlimits: [{ type: 'RLIMIT_AS', soft: 1, hard: 1 }, { type: 'RLIMIT_AS', soft: 1, hard: 1 }] }, 'rlimits[1].type', /duplicate rlimit type "RLIMIT_AS" \(already set at rlimits\[0\]\)/],
    ['scheduler policy', { ...good, scheduler: { policy: 'FIFO' } }, 'scheduler.policy', /"FIFO" is not a scheduling policy/],
    ['affinity', { ...good, execCPUAffinity: { initial: '0-a' } }, 'execCPUAffinity.initial', /CPU list/],
  ];
  for (const [name, doc, field, message] of cases) {
    const issues = issuesOf(() => validateProcess(doc));
    t.same(issues.map((i) => i.field), [field], name);
    t.match(issues[0]!.message, message, name);
  }
  t.same(issuesOf(() => validateProcess(['ls'])).map((i) => i.field), ['process.json']);

  const file = join(b.dir, 'proc.json');
  writeFileSync(file, JSON.stringify(good));
  t.same(loadProcessFile(file).process, good);
  writeFileSync(file, '{"cwd": "/",\n"args": ["ls"]\n"user": {}}');
  let issues = issuesOf(() => loadProcessFile(file));
  t.same(issues.map((i) => i.field), ['proc.json']);
  t.match(issues[0]!.message, /not valid JSON: expected "," or "}" but found """ at line 3, column 1/);
  issues = issuesOf(() => loadProcessFile(join(b.dir, 'none.json')));
  t.match(issues[0]!.message, /none\.json does not exist/);
  writeFileSync(file, JSON.stringify({ ...good, cwd: 'x' }));
  try {
    loadProcessFile(file);
    t.fail('should throw');
  } catch (e) {
    t.match((e as Error).message, /^invalid proc\.json: cwd: "x" is relative/);
  }
});
