/**
 * Step 5: a user namespace, as an unprivileged user.
 *
 *   sudo node build/examples/05-user-namespace.js
 *
 * (root only to start the helper as the unprivileged user `nobody`, uid
 * 65534; everything in the plan then runs without any host privilege.)
 */
import { chmodSync, chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MS } from '../lib/spec/tables.js';
import { step, type Plan } from '../lib/plan/index.js';
import { runPlan } from '../lib/runtime/run-plan.js';
import { CLONE, block, explain, heading, makeRootfs, requireRoot, result, runExample, say, scratchDir, showPlan } from './lib/tutorial.js';

const X = '(example 05)';
/** The unprivileged user the helper runs as: nobody. */
const UID = 65534;
const GID = 65534;

await runExample(async () => {
  requireRoot('build/examples/05-user-namespace.js');
  heading('Step 5: a user namespace, without privileges');
  explain(`
    Every namespace so far needed CAP_SYS_ADMIN on the host. A user
    namespace is the exception: any user may create one (CLONE_NEWUSER),
    and inside it the new process has every capability, over the
    namespaces that the user namespace owns. Namespaces created together
    with it (mount, PID, UTS) are owned by it, so the process may mount,
    pivot_root and set the hostname there, and nothing on the host.`);
  explain(`
    What uid the process has inside is decided by /proc/<pid>/uid_map, which
    the parent writes once: "0 ${UID} 1" maps uid 0 inside to uid ${UID} (nobody)
    outside, and nothing else. An unprivileged user may write exactly one
    such line, mapping its own uid (more needs the setuid helper
    newuidmap); setgroups must be denied first for the gid map. tsrun-init
    writes the maps from the parent side (USER_MAPS) before it lets the
    child go on.`);
  explain(`
    This is the other half of the rule behind tsrun's design: the kernel
    refuses unshare(CLONE_NEWUSER) from a multithreaded process, so Node
    itself can never do this (test/unit/sys shows the EINVAL). Here Node,
    as root, only starts tsrun-init as uid ${UID}; the helper does the rest.`);
  say('  The same by hand, as an ordinary user:');
  block(`unshare --user --map-root-user --mount --pid --fork --uts sh
mount --make-rslave / && mount --bind rootfs rootfs && ... pivot_root (as in steps 3 and 4)
id   # uid=0(root) inside, still ${UID} on the host`);

  const work = scratchDir('05');
  // The helper runs as nobody: it must be able to reach the rootfs and create the fifo.
  chmodSync(work, 0o755);
  const rootfs = join(work, 'rootfs');
  await makeRootfs(rootfs);
  const run = join(work, 'run');
  mkdirSync(run);
  chownSync(run, UID, GID);

  const script = [
    'echo "id: $(id)"',
    'echo "uid_map: $(cat /proc/self/uid_map | tr -s " " | sed "s/^ //")"',
    'echo "hostname: $(hostname)"',
    'if echo x > /proc/sys/kernel/hostname 2>/dev/null; then echo "host sysctl writable: yes"; else echo "host sysctl writable: no"; fi',
    'echo "capabilities: $(grep CapEff /proc/self/status | cut -f2)"',
  ].join('; ');
  const plan: Plan = {
    steps: [
      step('EXEC_FIFO', { path: join(run, 'exec.fifo') }, X, 'holds the init before its program, so the host can look at its uid'),
      step('USER_MAPS', { uidMap: `0 ${UID} 1\n`, gidMap: `0 ${GID} 1\n`, setgroups: 'deny' }, X, 'maps root inside to nobody outside; setgroups is denied, as the kernel requires of an unprivileged gid map'),
      step('CLONE', { flags: CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS, detached: 0 }, X, 'creates the init in a new user namespace and the mount, PID and UTS namespaces it owns'),
      step('ROOTFS', { propagation: MS.SLAVE | MS.REC, rootfs }, X, 'allowed without host privileges: the mount namespace belongs to our user namespace'),
      step('MOUNT', { source: 'proc', dest: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }, X, 'a procfs for the PID namespace we own'),
      step('PIVOT_ROOT', {}, X, 'makes the rootfs "/" and detaches the host\'s root'),
      step('HOSTNAME', { name: 'tsrun-rootless' }, X, 'allowed: the UTS namespace belongs to our user namespace'),
      step('RESOLVE_EXEC', { name: 'sh', path: '/bin' }, X, 'finds /bin/sh'),
      step('WAIT_START', {}, X, 'reports ready, then waits on the fifo'),
      step('EXEC', { argv: ['sh', '-c', script], env: ['PATH=/bin'], keepFds: 3 }, X, 'a shell that believes it is root reports what it can do'),
    ],
  };
  showPlan(plan);

  heading(`Running it (tsrun-init as uid ${UID})`);
  let hostUid = '';
  let uidMap = '';
  const r = await runPlan(plan, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeoutMs: 30_000,
    uid: UID,
    gid: GID,
    onReady: (pid) => {
      hostUid = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/)[0] ?? '';
      uidMap = readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().replace(/\s+/g, ' ');
    },
  });
  say();
  block(r.stdout ?? '');
  if (r.stderr) block(r.stderr);
  say();
  const out = r.stdout ?? '';
  const get = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(out)?.[1] ?? '';
  result('exit code', String(r.exitCode), r.exitCode === 0);
  result('uid inside', get('id').split(' ')[0] ?? '', get('id').startsWith('uid=0'));
  result('uid of the same process on the host', hostUid, hostUid === String(UID));
  result('uid_map (written by the helper)', uidMap, uidMap === `0 ${UID} 1`);
  result('hostname inside', get('hostname'), get('hostname') === 'tsrun-rootless');
  result('can change host sysctls', get('host sysctl writable'), get('host sysctl writable') === 'no');
  explain(`
    Root inside, nobody outside: its capabilities stop at the edge of its
    own namespaces, and a file owned by the real root on the host stays out
    of reach. This is how rootless containers work. Next: limits on what the
    container may consume, with a cgroup (step 6).`);
});
