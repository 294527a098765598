/**
 * Step 4: a PID namespace, and a /proc that shows it.
 *
 *   sudo node build/examples/04-pid-namespace.js
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MS } from '../lib/spec/tables.js';
import { step, type Plan } from '../lib/plan/index.js';
import { runPlan } from '../lib/runtime/run-plan.js';
import { CLONE, block, explain, heading, makeRootfs, requireRoot, result, runExample, say, scratchDir, showPlan } from './lib/tutorial.js';

const X = '(example 04)';

await runExample(async () => {
  requireRoot('build/examples/04-pid-namespace.js');
  heading('Step 4: a PID namespace');
  explain(`
    Process ids are numbered per PID namespace. The first process cloned
    with CLONE_NEWPID is pid 1 of the new namespace: its init. It has a
    second, ordinary pid in the host's namespace, which is how the host
    signals and waits for it; the processes inside can only see and signal
    each other. When pid 1 exits, the kernel kills everything else in the
    namespace, so a container cannot leave stray processes behind.`);
  explain(`
    A PID namespace applies to children only: unshare(CLONE_NEWPID) leaves
    the caller where it is. That is one more reason tsrun-init clones the
    container init instead of moving itself.`);
  explain(`
    /proc shows the pid namespace of whoever mounted it, so a new procfs is
    mounted from inside (by hand: unshare --pid --fork --mount-proc). The
    procfs of step 3 listed the host's processes; this one lists only the
    container's.`);

  const work = scratchDir('04');
  const rootfs = join(work, 'rootfs');
  await makeRootfs(rootfs);
  const script = 'echo "my pid: $$"; ps -o pid,args; echo done';
  const plan: Plan = {
    steps: [
      step('EXEC_FIFO', { path: join(work, 'exec.fifo') }, X, 'holds the init before its program, so the host can look at its pids'),
      step('CLONE', { flags: CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS, detached: 0 }, X, 'creates the init as pid 1 of a new PID namespace, with its own mounts and hostname'),
      step('ROOTFS', { propagation: MS.SLAVE | MS.REC, rootfs }, X, 'keeps mount events from reaching the host and makes the rootfs a mount point'),
      step('MOUNT', { source: 'proc', dest: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }, X, 'a procfs mounted from inside the new PID namespace shows only its processes'),
      step('PIVOT_ROOT', {}, X, 'makes the rootfs "/" and detaches the host\'s root'),
      step('HOSTNAME', { name: 'tsrun-box' }, X, 'names the container'),
      step('RESOLVE_EXEC', { name: 'sh', path: '/bin' }, X, 'finds /bin/sh in the rootfs'),
      step('WAIT_START', {}, X, 'reports ready, then waits on the fifo'),
      step('EXEC', { argv: ['sh', '-c', script], env: ['PATH=/bin'], keepFds: 3 }, X, 'the shell becomes pid 1\'s program and reports what it sees'),
    ],
  };
  showPlan(plan);

  heading('Running it');
  let nspid = '';
  const r = await runPlan(plan, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeoutMs: 30_000,
    onReady: (pid) => {
      nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().replace(/\s+/g, ' ') ?? '';
    },
  });
  say();
  block(r.stdout ?? '');
  if (r.stderr) block(r.stderr);
  say();
  const out = r.stdout ?? '';
  const get = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(out)?.[1] ?? '';
  const hostProcs = readFileSync('/proc/loadavg', 'utf8').split(' ')[3]?.split('/')[1] ?? '?';
  result('exit code', String(r.exitCode), r.exitCode === 0);
  result('pid inside', get('my pid'), get('my pid') === '1');
  result('pid on the host', String(r.initPid), r.initPid > 1);
  result('NSpid in /proc/<pid>/status', `${nspid} (host pid, then pid inside)`, nspid === `${r.initPid} 1`);
  const psRows = out.split('\n').filter((l) => /^\s*\d+\s/.test(l));
  result('processes listed by ps inside', `${psRows.length} (the shell and ps)`, psRows.length === 2);
  result('processes on the host', hostProcs);
  explain(`
    Inside, the shell is pid 1 and sees only itself and its children; the
    host sees it as pid ${r.initPid}. Everything so far needed root on the host.
    Next: the same as an unprivileged user, through a user namespace
    (step 5).`);
});
