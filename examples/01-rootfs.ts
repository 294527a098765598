/**
 * Step 1: a root filesystem from the host's own binaries, and the smallest
 * plan there is: no namespace at all, just fork and exec.
 *
 *   sudo node build/examples/01-rootfs.js
 */
import { join } from 'node:path';
import { step, type Plan } from '../lib/plan/index.js';
import { runPlan } from '../lib/runtime/run-plan.js';
import { block, explain, heading, makeRootfs, requireRoot, result, runExample, say, scratchDir, showPlan } from './lib/tutorial.js';

await runExample(async () => {
  requireRoot('build/examples/01-rootfs.js');
  heading('Step 1: a root filesystem');
  explain(`
    A container image is, at bottom, a directory tree: the programs, the
    shared libraries they load, and a few files programs expect (/etc/passwd,
    empty /proc, /dev, /tmp). tsrun builds one from this machine's own
    binaries: it reads each program's ELF header in TypeScript to find its
    interpreter and libraries (no ldd, nothing downloaded), and copies that
    closure in at the same paths.`);

  const work = scratchDir('01');
  const rootfs = join(work, 'rootfs');
  const report = await makeRootfs(rootfs);
  result('rootfs', rootfs);
  result('programs', report.programs.map((p) => `${p.path} (${p.kind}${p.needed.length ? `, needs ${p.needed.join(' ')}` : ', static'})`).join('; '));
  result('paths created', String(report.entries.length));
  result('busybox applets linked', String(report.applets.length));
  say('  top level:');
  block(report.entries.filter((e) => e.path.split('/').length === 2).map((e) => `${e.kind.padEnd(8)} ${e.path}`).join('\n'), '    ');

  explain(`
    Nothing isolates anything yet. The plan below has a CLONE step with no
    namespace flags: tsrun-init forks, and the child execs the rootfs's own
    shell by its host path. It is an ordinary process of this host; every
    later step adds one kind of isolation to this skeleton.`);

  const sh = join(rootfs, 'bin', 'sh');
  const plan: Plan = {
    steps: [
      step('CLONE', { flags: 0, detached: 0 }, '(example 01)', 'forks the future container process; no namespace flags, so it shares everything with the host'),
      step('RESOLVE_EXEC', { name: sh, path: '' }, '(example 01)', 'checks the program exists and is executable before reporting ready'),
      step('WAIT_START', {}, '(example 01)', 'tells Node that set-up is done'),
      step('EXEC', { argv: [sh, '-c', 'echo "hello from $0"; echo "my hostname: $(hostname)"; echo "my pid: $$"'], env: ['PATH=/bin'], keepFds: 3 }, '(example 01)', 'replaces tsrun-init with the shell from the rootfs'),
    ],
  };
  showPlan(plan);

  heading('Running it');
  const r = await runPlan(plan, { stdio: ['ignore', 'pipe', 'pipe'], timeoutMs: 30_000 });
  block(r.stdout ?? '');
  result('exit code', String(r.exitCode), r.exitCode === 0);
  result('pid seen by the host', String(r.initPid));
  explain(`
    The shell ran from the new tree, but it saw the host's hostname and a
    host pid: it is not isolated at all. Next: its own hostname (step 2).`);
});
