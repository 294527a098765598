/**
 * Step 3: a mount namespace, a bind mount, pivot_root, and the old root
 * unmounted.
 *
 *   sudo node build/examples/03-mount-namespace.js
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MS } from '../lib/spec/tables.js';
import { step, type Plan } from '../lib/plan/index.js';
import { runPlan } from '../lib/runtime/run-plan.js';
import { CLONE, block, explain, heading, makeRootfs, mountsUnder, requireRoot, result, runExample, say, scratchDir, showPlan } from './lib/tutorial.js';

const NAME = 'tsrun-box';
const X = '(example 03)';

await runExample(async () => {
  requireRoot('build/examples/03-mount-namespace.js');
  heading('Step 3: a mount namespace and a new root');
  explain(`
    Which files a process sees is decided by its mount namespace: the table
    of mounts, and which of them is "/". A process cloned with CLONE_NEWNS
    gets a copy of the table; mounts made in the copy do not show up on the
    host, provided mount events cannot travel back (the host's mounts are
    often "shared", so the first thing to do is make them slaves of the
    host in the copy).`);
  explain(`
    Then the rootfs of step 1 becomes the root. pivot_root(2) swaps the
    root mount of the namespace for another mount, so the rootfs is first
    bind-mounted onto itself to make it a mount point. pivot_root(".", ".")
    stacks the old root on top of the new one, and umount2(".", MNT_DETACH)
    takes it away: after that no path leads back to the host's files (a
    chroot would leave them reachable by anyone with CAP_SYS_CHROOT).`);
  explain(`
    A bind mount also brings one host directory in, read-only, the way a
    volume is shared with a container.`);
  say('  The same by hand, for comparison:');
  block(`unshare --mount --uts sh                       # CLONE
mount --make-rslave /                           # ROOTFS: no events back to the host
mount --bind rootfs rootfs                      # ROOTFS: the rootfs becomes a mount point
mount --bind -o ro shared rootfs/mnt/shared     # MOUNT
mount -t proc proc rootfs/proc                  # MOUNT
cd rootfs && pivot_root . .                     # PIVOT_ROOT
umount -l .                                     # PIVOT_ROOT: the old root is gone
hostname ${NAME}                                # HOSTNAME
exec /bin/sh                                    # EXEC`);

  const work = scratchDir('03');
  const rootfs = join(work, 'rootfs');
  await makeRootfs(rootfs);
  const shared = join(work, 'shared');
  mkdirSync(shared);
  writeFileSync(join(shared, 'hello.txt'), 'hello from a host directory\n');

  const script = [
    'echo "hostname: $(hostname)"',
    'echo "root: $(ls / | tr "\\n" " ")"',
    'echo "shared: $(cat /mnt/shared/hello.txt)"',
    'if touch /mnt/shared/x 2>/dev/null; then echo "shared writable: yes"; else echo "shared writable: no"; fi',
    'echo "processes visible: $(ls -d /proc/[0-9]* | wc -l)"',
    'echo "mounts: $(wc -l < /proc/self/mountinfo)"',
    'cut -d" " -f5,9 /proc/self/mountinfo | sed "s/^/mount: /"',
  ].join('; ');
  const plan: Plan = {
    steps: [
      step('CLONE', { flags: CLONE.NEWNS | CLONE.NEWUTS, detached: 0 }, X, 'creates the init in a new mount namespace (a copy of the host\'s mount table) and a new UTS namespace'),
      step('ROOTFS', { propagation: MS.SLAVE | MS.REC, rootfs }, X, 'makes every mount a slave so nothing propagates back to the host, and bind-mounts the rootfs onto itself so pivot_root can use it'),
      step('MOUNT', { source: shared, dest: '/mnt/shared', fstype: '', flags: MS.BIND | MS.RDONLY, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }, X, 'shows one host directory inside, read-only (a bind, then a read-only remount)'),
      step('MOUNT', { source: 'proc', dest: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }, X, 'mounts a procfs so the shell can read its mount table (still the host\'s pids: see step 4)'),
      step('PIVOT_ROOT', {}, X, 'makes the rootfs "/" and detaches the old root, so no path leads back to the host'),
      step('HOSTNAME', { name: NAME }, X, 'names the container'),
      step('RESOLVE_EXEC', { name: 'sh', path: '/bin' }, X, 'finds /bin/sh, now in the new root'),
      step('WAIT_START', {}, X, 'reports ready'),
      step('EXEC', { argv: ['sh', '-c', script], env: ['PATH=/bin'], keepFds: 3 }, X, 'runs a shell that reports what it sees'),
    ],
  };
  showPlan(plan);

  heading('Running it');
  const hostMountsBefore = readFileSync('/proc/self/mountinfo', 'utf8');
  const r = await runPlan(plan, { stdio: ['ignore', 'pipe', 'pipe'], timeoutMs: 30_000 });
  say();
  block(r.stdout ?? '');
  if (r.stderr) block(r.stderr);
  say();
  const out = r.stdout ?? '';
  const get = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(out)?.[1] ?? '';
  const mountPoints = [...out.matchAll(/^mount: (\S+) (\S+)$/gm)].map((m) => m[1]!);
  const hostCount = hostMountsBefore.trim().split('\n').length;
  result('exit code', String(r.exitCode), r.exitCode === 0);
  result('mounts inside / on the host', `${mountPoints.length} / ${hostCount}`, mountPoints.length > 0 && mountPoints.length < hostCount);
  result('old root gone', mountPoints.every((m) => m === '/' || m === '/proc' || m === '/mnt/shared') ? 'yes: only /, /proc, /mnt/shared' : `no: ${mountPoints.join(' ')}`, mountPoints.every((m) => ['/', '/proc', '/mnt/shared'].includes(m)));
  result('host file through the bind mount', get('shared'), get('shared') === 'hello from a host directory');
  result('bind mount read-only', get('shared writable') === 'no' ? 'yes' : 'no', get('shared writable') === 'no');
  result('processes visible (the host\'s!)', get('processes visible'), Number(get('processes visible')) > 2);
  result('new mounts left on the host', String(mountsUnder(work).length), mountsUnder(work).length === 0);
  explain(`
    The shell's "/" is the rootfs, the host's root is not mounted anywhere in
    its namespace, and none of its mounts appeared on the host: they went
    away with the namespace when its last process exited. But "ps" in there
    would still list every process of the host. Next: a pid namespace
    (step 4).`);
});
