/**
 * Step 2: a new UTS namespace and a hostname of its own.
 *
 *   sudo node build/examples/02-uts-namespace.js
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { step, type Plan } from '../lib/plan/index.js';
import { runPlan } from '../lib/runtime/run-plan.js';
import { processNamespaces } from '../lib/namespaces/index.js';
import { CLONE, block, explain, heading, requireRoot, result, runExample, say, scratchDir, showPlan } from './lib/tutorial.js';

const NAME = 'tsrun-box';

await runExample(async () => {
  requireRoot('build/examples/02-uts-namespace.js');
  heading('Step 2: a UTS namespace');
  explain(`
    The hostname is not a property of the machine but of a UTS namespace
    (named after struct utsname, which uname(2) fills in). Every process is
    in one; on a plain host they all share the first. A process cloned with
    CLONE_NEWUTS gets a copy of its parent's, and sethostname(2) in there
    changes the copy only.`);
  explain(`
    By hand this is "unshare --uts sh -c 'hostname ${NAME}; hostname'". Node
    cannot do it for itself: unshare(2) would move only Node's main thread
    (lib/sys documents why), so tsrun-init, a small single-threaded C
    program, does it from the plan below.`);
  explain(`
    The plan also holds the process before it runs its program (EXEC_FIFO and
    WAIT_START, the mechanism behind "tsrun create" then "tsrun start"), so
    that we can look at its namespaces from the host while it waits.`);

  const work = scratchDir('02');
  const plan: Plan = {
    steps: [
      step('EXEC_FIFO', { path: join(work, 'exec.fifo') }, '(example 02)', 'a fifo the init will wait on, so the host can inspect it before it runs its program'),
      step('CLONE', { flags: CLONE.NEWUTS, detached: 0 }, '(example 02)', 'creates the init in a new UTS namespace (a copy of the host\'s hostname)'),
      step('HOSTNAME', { name: NAME }, '(example 02)', 'renames the copy; the host keeps its name'),
      step('RESOLVE_EXEC', { name: 'hostname', path: '/usr/local/bin:/usr/bin:/bin' }, '(example 02)', 'finds the host\'s hostname program (there is no separate rootfs yet)'),
      step('WAIT_START', {}, '(example 02)', 'reports ready, then blocks on the fifo until Node opens it'),
      step('EXEC', { argv: ['hostname'], env: [], keepFds: 3 }, '(example 02)', 'prints the hostname as the container sees it'),
    ],
  };
  showPlan(plan);

  heading('Running it');
  const hostNs = processNamespaces('self');
  let seen: ReturnType<typeof processNamespaces> = [];
  const r = await runPlan(plan, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeoutMs: 30_000,
    onReady: (pid) => {
      seen = processNamespaces(pid);
    },
  });
  const inside = (r.stdout ?? '').trim();
  say();
  result('hostname inside the container', inside, inside === NAME);
  result('hostname of the host', hostname(), hostname() !== inside);
  say();
  say('  namespaces of the waiting init, seen from the host (/proc/<pid>/ns):');
  for (const ns of seen) {
    const mine = hostNs.find((n) => n.type === ns.type);
    block(`${ns.type.padEnd(8)} ${String(ns.inode).padEnd(12)} ${ns.sharedWithHost || ns.inode === mine?.inode ? 'shared with the host' : 'its own'}`);
  }
  const uts = seen.find((n) => n.type === 'uts');
  result('UTS namespace of its own', uts && !uts.sharedWithHost ? 'yes' : 'no', Boolean(uts && !uts.sharedWithHost));
  explain(`
    Only the UTS namespace differs: the process still sees the host's files,
    mounts and processes. Next: its own mount table and root (step 3).`);
});
