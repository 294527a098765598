/**
 * Step 6: a cgroup with a memory limit, and watching the container hit it.
 *
 *   sudo node build/examples/06-cgroup-memory.js
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MS } from '../lib/spec/tables.js';
import { step, type Plan } from '../lib/plan/index.js';
import { runPlan } from '../lib/runtime/run-plan.js';
import { createCgroupManager } from '../lib/cgroups/index.js';
import { CLONE, block, explain, heading, makeRootfs, onCleanup, requireRoot, result, runExample, say, scratchDir, showPlan } from './lib/tutorial.js';

const X = '(example 06)';
const LIMIT = 32 * 1024 * 1024;
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

await runExample(async () => {
  requireRoot('build/examples/06-cgroup-memory.js');
  heading('Step 6: a cgroup and a memory limit');
  explain(`
    Namespaces decide what a container can see; cgroups decide how much it
    may use. A cgroup is a directory in the cgroup filesystem
    (/sys/fs/cgroup): its processes are listed in cgroup.procs, and its
    limits are files (memory.max on cgroup v2, memory.limit_in_bytes on v1).
    There is no system call involved, only file writes, so this part is
    done by Node itself, with lib/cgroups.`);
  explain(`
    Order matters: tsrun writes the helper's pid into the cgroup before it
    sends the plan, so the container init is born inside it and no
    allocation escapes the limit. The program then allocates without end
    ("tail /dev/zero" keeps its input looking for a newline that never
    comes); at the limit the kernel first reclaims, then the cgroup's OOM
    killer ends it with SIGKILL. Only the container dies, not the host's
    biggest process.`);

  const work = scratchDir('06');
  const rootfs = join(work, 'rootfs');
  await makeRootfs(rootfs);

  const cg = createCgroupManager({ id: `tsrun-example-06-${process.pid}` });
  cg.create();
  onCleanup(() => cg.destroy({ killLeftovers: true }));
  // With swap on the host, memory+swap is capped too, or the program would swap instead of
  // hitting the limit. (cgroup v1 then counts no failcnt: the OOM kill count still shows it.)
  const hostHasSwap = readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
  const warnings = cg.apply({ memory: hostHasSwap ? { limit: LIMIT, swap: LIMIT } : { limit: LIMIT } });
  say(`  cgroup driver ${cg.driver}:`);
  block(Object.entries(cg.paths).map(([k, v]) => `${k.padEnd(8)} ${v}`).join('\n'));
  result(hostHasSwap ? 'memory limit (memory and memory+swap)' : 'memory limit (the host has no swap)', mib(LIMIT));
  for (const w of warnings) say(`  note: ${w}`);

  const plan: Plan = {
    steps: [
      step('CLONE', { flags: CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS, detached: 0 }, X, 'creates the init (already inside the cgroup, like its parent) in its own namespaces'),
      step('ROOTFS', { propagation: MS.SLAVE | MS.REC, rootfs }, X, 'keeps mount events from reaching the host and makes the rootfs a mount point'),
      step('MOUNT', { source: 'tmpfs', dest: '/dev', fstype: 'tmpfs', flags: MS.NOSUID, data: 'mode=755,size=64k', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }, X, 'an empty /dev of the container\'s own'),
      step('MKNOD', { path: '/dev/zero', type: 0o020000, major: 1, minor: 5, mode: 0o666, uid: 0, gid: 0 }, X, 'the one device the program needs: endless zero bytes'),
      step('MKNOD', { path: '/dev/null', type: 0o020000, major: 1, minor: 3, mode: 0o666, uid: 0, gid: 0 }, X, 'and /dev/null, which shells expect'),
      step('PIVOT_ROOT', {}, X, 'makes the rootfs "/" and detaches the host\'s root'),
      step('RESOLVE_EXEC', { name: 'sh', path: '/bin' }, X, 'finds /bin/sh'),
      step('WAIT_START', {}, X, 'reports ready'),
      step('EXEC', { argv: ['sh', '-c', 'echo "allocating until the limit..."; exec tail /dev/zero'], env: ['PATH=/bin'], keepFds: 3 }, X, 'a program that allocates memory without end'),
    ],
  };
  showPlan(plan);

  heading('Running it');
  const r = await runPlan(plan, { stdio: ['ignore', 'pipe', 'pipe'], timeoutMs: 60_000, cgroup: cg });
  say();
  block(r.stdout ?? '');
  if (r.stderr) block(r.stderr);
  say();
  const stats = cg.stats();
  const oom = cg.oomEvents?.() ?? 0;
  result('container ended by', r.signal ? `signal ${r.signal}${r.signal === 9 ? ' (SIGKILL)' : ''}` : `exit code ${r.exitCode}`, r.signal === 9);
  result('peak memory usage', mib(stats.memory.usage.max), stats.memory.usage.max > 0 && stats.memory.usage.max <= LIMIT + 1024 * 1024);
  const failcnt = stats.memory.usage.failcnt;
  result('times the limit was hit (failcnt)', String(failcnt), hostHasSwap ? undefined : failcnt > 0);
  result('OOM kills in the cgroup', String(oom), oom >= 1);
  explain(`
    The kernel charged every page the program touched to its cgroup, refused
    to go past ${mib(LIMIT)}, and killed it: the OOM is visible as the
    SIGKILL, the failure counter and the cgroup's oom_kill count. Step 7 does
    all of this, and the security steps this tutorial leaves out (capabilities,
    seccomp, masked paths, devices), from one config, through the library.`);
});
