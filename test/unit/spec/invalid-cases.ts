/**
 * The table of invalid configs: each case breaks one thing in the minimal
 * config (test/unit/spec/helpers.ts) and names the field and the message.
 * Used by the validator's unit test and by the CLI test that drives each
 * case through `tsrun create`.
 */
/** A config as loose JSON, so cases can break types. */
export type Loose = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Case {
  name: string;
  edit: (c: Loose) => void;
  field: string;
  message: RegExp;
  /** How many errors the case yields in total (default 1: nothing else may be reported). */
  count?: number;
}

const ns = (c: Loose) => c.linux.namespaces as Loose[];

export const cases: Case[] = [
  // ociVersion
  { name: 'major version 2', edit: (c) => { c.ociVersion = '2.0.0'; }, field: 'ociVersion', message: /"2\.0\.0" is not supported.*1\.x/ },
  { name: 'version not semver', edit: (c) => { c.ociVersion = 'latest'; }, field: 'ociVersion', message: /"latest" is not a SemVer version/ },
  { name: 'version missing', edit: (c) => { delete c.ociVersion; }, field: 'ociVersion', message: /is required/ },
  { name: 'version of wrong type', edit: (c) => { c.ociVersion = 1; }, field: 'ociVersion', message: /must be a string, not an integer \(1\)/ },
  // root
  { name: 'root missing', edit: (c) => { delete c.root; }, field: 'root', message: /is required on Linux.*root\.path/ },
  { name: 'root.path missing', edit: (c) => { c.root = { readonly: true }; }, field: 'root.path', message: /is required/ },
  { name: 'root.path does not exist', edit: (c) => { c.root.path = 'nope'; }, field: 'root.path', message: /"nope" \(.*\/nope\) does not exist/ },
  { name: 'root.path is a regular file', edit: (c) => { c.root.path = 'file'; }, field: 'root.path', message: /is not a directory/ },
  { name: 'root.path escapes the bundle', edit: (c) => { c.root.path = '../x'; }, field: 'root.path', message: /"\.\.\/x" is relative and leaves the bundle/ },
  { name: 'root.readonly of wrong type', edit: (c) => { c.root.readonly = 'yes'; }, field: 'root.readonly', message: /must be a boolean.*not a string/ },
  // process
  {
    name: 'an effective capability that is not permitted',
    edit: (c) => { c.process.capabilities = { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL', 'CAP_CHOWN'], permitted: ['CAP_KILL'] }; },
    field: 'process.capabilities.effective',
    message: /CAP_CHOWN is not in process\.capabilities\.permitted.*capset EPERM.*add it to permitted/,
  },
  {
    name: 'an inheritable capability outside the bounding set',
    edit: (c) => { c.process.capabilities = { bounding: ['CAP_KILL'], inheritable: ['CAP_KILL', 'CAP_NET_RAW', 'CAP_CHOWN'] }; },
    field: 'process.capabilities.inheritable',
    message: /CAP_NET_RAW, CAP_CHOWN are not in process\.capabilities\.bounding.*add them to bounding/,
  },
  { name: 'process.args missing', edit: (c) => { delete c.process.args; }, field: 'process.args', message: /is required.*program to run/ },
  { name: 'process.args empty', edit: (c) => { c.process.args = []; }, field: 'process.args', message: /must not be empty/ },
  { name: 'process.args a string', edit: (c) => { c.process.args = 'sh'; }, field: 'process.args', message: /must be an array, not a string \("sh"\)/ },
  { name: 'process.args with a number', edit: (c) => { c.process.args = ['sh', 3]; }, field: 'process.args[1]', message: /must be a string, not an integer/ },
  { name: 'relative cwd', edit: (c) => { c.process.cwd = 'home'; }, field: 'process.cwd', message: /"home" is relative.*absolute.*"\/home"/ },
  { name: 'cwd missing', edit: (c) => { delete c.process.cwd; }, field: 'process.cwd', message: /is required/ },
  { name: 'user missing', edit: (c) => { delete c.process.user; }, field: 'process.user', message: /is required/ },
  { name: 'negative uid', edit: (c) => { c.process.user.uid = -1; }, field: 'process.user.uid', message: /-1 is out of range.*0 to 4294967295/ },
  { name: 'terminal not a boolean', edit: (c) => { c.process.terminal = 'yes'; }, field: 'process.terminal', message: /must be a boolean/ },
  {
    name: 'unknown rlimit type',
    edit: (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILES', soft: 1, hard: 1 }]; },
    field: 'process.rlimits[0].type',
    message: /"RLIMIT_NOFILES" is not an rlimit type; did you mean "RLIMIT_NOFILE"\?; valid: RLIMIT_CPU,.*RLIMIT_RTTIME/,
  },
  {
    name: 'duplicate rlimit type',
    edit: (c) => { c.process.rlimits = [{ type: 'RLIMIT_CORE', soft: 1, hard: 1 }, { type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }]; },
    field: 'process.rlimits[2].type',
    message: /duplicate rlimit type "RLIMIT_CORE" \(already set at process\.rlimits\[0\]\)/,
  },
  {
    name: 'rlimit soft above hard',
    edit: (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 4096, hard: 1024 }]; },
    field: 'process.rlimits[0].soft',
    message: /soft limit 4096 is above the hard limit 1024/,
  },
  { name: 'rlimit without hard', edit: (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 }]; }, field: 'process.rlimits[0].hard', message: /is required/ },
  {
    name: 'console size beyond a winsize',
    edit: (c) => { c.process.terminal = true; c.process.consoleSize = { height: 70000, width: 80 }; },
    field: 'process.consoleSize.height',
    message: /70000 is too large.*65535/,
  },
  { name: 'unknown scheduling policy', edit: (c) => { c.process.scheduler = { policy: 'SCHED_FAST' }; }, field: 'process.scheduler.policy', message: /"SCHED_FAST" is not a scheduling policy; valid: SCHED_OTHER, SCHED_FIFO/ },
  { name: 'io priority out of range', edit: (c) => { c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 9 }; }, field: 'process.ioPriority.priority', message: /9 is out of range.*0 to 7/ },
  // namespaces
  {
    name: 'unknown namespace type',
    edit: (c) => { ns(c).push({ type: 'foo' }); },
    field: 'linux.namespaces[2].type',
    message: /^"foo" is not a namespace type; valid: pid, network, mount, ipc, uts, user, cgroup, time$/,
  },
  { name: 'namespace list not an array', edit: (c) => { c.linux.namespaces = { pid: true }; }, field: 'linux.namespaces', message: /must be an array, not an object/ },
  { name: 'duplicate namespace type', edit: (c) => { ns(c).push({ type: 'pid' }); }, field: 'linux.namespaces[2].type', message: /duplicate namespace type "pid" \(already at linux\.namespaces\[0\]\)/ },
  {
    name: 'namespace path to a regular file',
    edit: (c) => { ns(c).push({ type: 'network', path: '/etc/hostname' }); },
    field: 'linux.namespaces[2].path',
    message: /"\/etc\/hostname" is not a namespace file; expected a network namespace/,
  },
  { name: 'namespace path missing', edit: (c) => { ns(c).push({ type: 'ipc', path: '/nonexistent/ns/ipc' }); }, field: 'linux.namespaces[2].path', message: /does not exist; expected a ipc namespace/ },
  {
    name: 'namespace path of another type',
    edit: (c) => { ns(c)[0] = { type: 'pid', path: '/proc/self/ns/net' }; },
    field: 'linux.namespaces[0].path',
    message: /"\/proc\/self\/ns\/net" is a network namespace, not a pid namespace/,
  },
  { name: 'relative namespace path', edit: (c) => { ns(c).push({ type: 'uts', path: 'ns/uts' }); }, field: 'linux.namespaces[2].path', message: /is relative; a namespace path must be absolute/ },
  { name: 'hostname without uts', edit: (c) => { c.hostname = 'box'; }, field: 'hostname', message: /needs a uts namespace.*add \{"type": "uts"\}/ },
  { name: 'domainname without uts', edit: (c) => { c.domainname = 'example.org'; }, field: 'domainname', message: /needs a uts namespace/ },
  // mounts
  { name: 'relative mount destination', edit: (c) => { c.mounts = [{ destination: 'tmp', type: 'tmpfs', source: 'tmpfs' }]; }, field: 'mounts[0].destination', message: /"tmp" is relative.*absolute.*"\/tmp"/ },
  { name: 'mount destination missing', edit: (c) => { c.mounts = [{ type: 'tmpfs', source: 'tmpfs' }]; }, field: 'mounts[0].destination', message: /is required/ },
  { name: 'empty mount destination', edit: (c) => { c.mounts = [{ destination: '', type: 'tmpfs' }]; }, field: 'mounts[0].destination', message: /^must not be empty$/ },
  {
    name: 'unknown mount option',
    edit: (c) => { c.mounts = [{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'noexe', 'size=64m'] }]; },
    field: 'mounts[0].options[1]',
    message: /"noexe" is not a mount option; did you mean "noexec"\?/,
  },
  { name: 'mount options not strings', edit: (c) => { c.mounts = [{ destination: '/tmp', options: 'ro' }]; }, field: 'mounts[0].options', message: /must be an array/ },
  {
    name: 'bind source that does not exist (relative)',
    edit: (c) => { c.mounts = [{ destination: '/data', type: 'bind', source: 'missing', options: ['rbind'] }]; },
    field: 'mounts[0].source',
    message: /bind source "missing" \(.*\/missing\) does not exist/,
  },
  {
    name: 'bind source that does not exist (absolute, bind option only)',
    edit: (c) => { c.mounts = [{ destination: '/data', type: 'none', source: '/nonexistent/tsrun', options: ['bind', 'ro'] }]; },
    field: 'mounts[0].source',
    message: /bind source "\/nonexistent\/tsrun" does not exist/,
  },
  { name: 'bind without a source', edit: (c) => { c.mounts = [{ destination: '/data', type: 'bind' }]; }, field: 'mounts[0].source', message: /is required for a bind mount/ },
  {
    name: 'idmapped mount with uidMappings only',
    edit: (c) => { c.mounts = [{ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'idmap'], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }]; },
    field: 'mounts[0].gidMappings',
    message: /needs both uidMappings and gidMappings/,
  },
  { name: 'mount type not a string', edit: (c) => { c.mounts = [{ destination: '/tmp', type: 5 }]; }, field: 'mounts[0].type', message: /must be a string, not an integer/ },
  // ids, time, sysctl
  { name: 'uid mappings without a user namespace', edit: (c) => { c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }, field: 'linux.uidMappings', message: /needs a user namespace/ },
  {
    name: 'new user namespace without mappings',
    edit: (c) => { ns(c).push({ type: 'user' }); c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; },
    field: 'linux.gidMappings',
    message: /is required with a new user namespace \(linux\.namespaces\[2\]\)/,
  },
  { name: 'mapping size not an integer', edit: (c) => { ns(c).push({ type: 'user' }); c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1.5 }]; c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }, field: 'linux.uidMappings[0].size', message: /must be an integer, not a number \(1\.5\)/ },
  { name: 'time offsets without a time namespace', edit: (c) => { c.linux.timeOffsets = { monotonic: { secs: 10 } }; }, field: 'linux.timeOffsets', message: /needs a time namespace/ },
  {
    name: 'time offsets for an unknown clock',
    edit: (c) => { ns(c).push({ type: 'time' }); c.linux.timeOffsets = { realtime: { secs: 10 } }; },
    field: 'linux.timeOffsets.realtime',
    message: /"realtime" is not a clock of the time namespace; valid: monotonic, boottime/,
  },
  {
    name: 'sysctl outside any namespace',
    edit: (c) => { c.linux.sysctl = { 'vm.swappiness': '10' }; },
    field: 'linux.sysctl["vm.swappiness"]',
    message: /"vm\.swappiness" is not a namespaced sysctl: setting it would change the host; allowed: .*net\.\*/,
  },
  {
    name: 'net sysctl without a network namespace',
    edit: (c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; },
    field: 'linux.sysctl["net.ipv4.ip_forward"]',
    message: /belongs to the network namespace, which the container does not have/,
  },
  {
    name: 'net sysctl in the host network namespace',
    edit: (c) => { ns(c).push({ type: 'network', path: '/proc/self/ns/net' }); c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; },
    field: 'linux.sysctl["net.ipv4.ip_forward"]',
    message: /would change the host.*host's own network namespace/,
  },
  { name: 'ipc sysctl without an ipc namespace', edit: (c) => { c.linux.sysctl = { 'kernel.shmmax': '1' }; }, field: 'linux.sysctl["kernel.shmmax"]', message: /ipc namespace/ },
  { name: 'net devices without a network namespace', edit: (c) => { c.linux.netDevices = { eth1: { name: 'net1' } }; }, field: 'linux.netDevices', message: /needs a network namespace/ },
  // devices
  { name: 'relative device path', edit: (c) => { c.linux.devices = [{ type: 'c', path: 'fuse', major: 10, minor: 229 }]; }, field: 'linux.devices[0].path', message: /"fuse" is relative.*"\/dev\/fuse"/ },
  { name: 'char device without numbers', edit: (c) => { c.linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10 }]; }, field: 'linux.devices[0].minor', message: /is required for a device of type "c"/ },
  { name: 'unknown device type', edit: (c) => { c.linux.devices = [{ type: 'x', path: '/dev/x' }]; }, field: 'linux.devices[0].type', message: /"x" is not a device type; valid: c, b, u, p/ },
  { name: 'device rule access', edit: (c) => { c.linux.resources = { devices: [{ allow: true, access: 'rwx' }] }; }, field: 'linux.resources.devices[0].access', message: /r \(read\), w \(write\) and m \(mknod\)/ },
  { name: 'device rule without allow', edit: (c) => { c.linux.resources = { devices: [{ access: 'rwm' }] }; }, field: 'linux.resources.devices[0].allow', message: /is required/ },
  { name: 'memory limit not a number', edit: (c) => { c.linux.resources = { memory: { limit: '1G' } }; }, field: 'linux.resources.memory.limit', message: /must be an integer, not a string \("1G"\)/ },
  { name: 'blkio weight out of range', edit: (c) => { c.linux.resources = { blockIO: { weight: 70000 } }; }, field: 'linux.resources.blockIO.weight', message: /0 to 65535/ },
  // other linux fields
  { name: 'unknown rootfs propagation', edit: (c) => { c.linux.rootfsPropagation = 'rshared'; }, field: 'linux.rootfsPropagation', message: /"rshared" is not a rootfs propagation; valid: private, shared, slave, unbindable/ },
  { name: 'unknown seccomp action', edit: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_DENY' }; }, field: 'linux.seccomp.defaultAction', message: /"SCMP_ACT_DENY" is not a seccomp action; valid: SCMP_ACT_KILL/ },
  {
    name: 'seccomp notify without a listener',
    edit: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }] }; },
    field: 'linux.seccomp.listenerPath',
    message: /is required when an action is SCMP_ACT_NOTIFY/,
  },
  { name: 'seccomp operator', edit: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'EQ' }] }] }; }, field: 'linux.seccomp.syscalls[0].args[0].op', message: /"EQ" is not a seccomp operator; valid: SCMP_CMP_NE/ },
  { name: 'relative masked path', edit: (c) => { c.linux.maskedPaths = ['proc/kcore']; }, field: 'linux.maskedPaths[0]', message: /is relative/ },
  { name: 'personality domain', edit: (c) => { c.linux.personality = { domain: 'LINUX64' }; }, field: 'linux.personality.domain', message: /"LINUX64" is not a personality domain; valid: LINUX, LINUX32/ },
  // hooks, annotations, top level
  { name: 'relative hook path', edit: (c) => { c.hooks = { prestart: [{ path: 'hook.sh' }] }; }, field: 'hooks.prestart[0].path', message: /is relative; a hook path must be absolute/ },
  { name: 'hook timeout zero', edit: (c) => { c.hooks = { poststop: [{ path: '/bin/true', timeout: 0 }] }; }, field: 'hooks.poststop[0].timeout', message: /0 is out of range: must be an integer >= 1/ },
  { name: 'annotation value not a string', edit: (c) => { c.annotations = { 'org.example.n': 1 }; }, field: 'annotations["org.example.n"]', message: /must be a string, not an integer/ },
  { name: 'empty annotation key', edit: (c) => { c.annotations = { '': 'x' }; }, field: 'annotations[""]', message: /annotation keys must not be empty/ },
];
