/**
 * Step 7: the same container through the library: one config, createContainer.
 *
 *   sudo node build/examples/07-create-container.js
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createContainer } from '../lib/index.js';
import { defaultSpec, validateConfig } from '../lib/spec/index.js';
import { compilePlan } from '../lib/plan/index.js';
import { explain, heading, block, makeRootfs, onCleanup, requireRoot, result, runExample, say, scratchDir, showPlan } from './lib/tutorial.js';

const LIMIT = 64 * 1024 * 1024;

function collect(stream: Readable | null): Promise<string> {
  if (!stream) return Promise.resolve('');
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => stream.on('close', () => resolve(Buffer.concat(chunks).toString('utf8'))));
}

await runExample(async () => {
  requireRoot('build/examples/07-create-container.js');
  heading('Step 7: createContainer');
  explain(`
    Steps 2 to 6 built a container one system call at a time. A Node program
    that wants a container writes none of that: it gives createContainer an
    OCI config (here the default "tsrun spec" writes, with a command, a
    hostname and a memory limit) and a rootfs. tsrun validates the config,
    creates the cgroup, compiles the plan, runs tsrun-init, and keeps the
    container's state where "tsrun list" and "tsrun state" find it.`);
  explain(`
    The compiled plan is longer than ours: the same clone, rootfs, mounts,
    pivot_root and hostname, plus what a real runtime owes its users: the
    default devices, masked and read-only /proc paths, a read-only root,
    dropped capabilities, no_new_privs, the rlimits, and the exec fifo that
    separates "create" from "start".`);

  const work = scratchDir('07');
  const rootfs = join(work, 'rootfs');
  await makeRootfs(rootfs);
  const stateRoot = join(work, 'state');
  const id = `tsrun-example-07-${process.pid}`;

  const config = defaultSpec();
  config.process = { ...config.process!, terminal: false, args: ['sh', '-c', 'echo "hostname: $(hostname)"; echo "pid: $$"; echo "root: $(ls / | tr "\\n" " ")"'] };
  config.hostname = 'tsrun-library';
  config.linux = { ...config.linux!, resources: { ...config.linux!.resources, memory: { limit: LIMIT } } };

  const { spec } = validateConfig(config, { bundle: work });
  const plan = compilePlan({ ...spec, root: { ...spec.root, path: rootfs } }, { bundle: work, detached: false, execFifo: join(stateRoot, id, 'exec.fifo') });
  showPlan(plan);

  heading('Running it');
  say();
  const c = await createContainer({ id, config, rootfs, root: stateRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => c.delete({ force: true }).catch(() => undefined));
  const out = collect(c.stdout);
  const err = collect(c.stderr);
  const created = c.state();
  const stats = c.stats();
  result('status after createContainer', created.status, created.status === 'created');
  result('init pid on the host', String(created.pid), created.pid > 0);
  result('cgroup memory limit', `${stats.memory.usage.limit / 1024 / 1024} MiB`, stats.memory.usage.limit === LIMIT);
  result('processes in its cgroup', String(stats.pids.current));
  await c.start();
  const status = await c.wait();
  const stdout = await out;
  const stderr = await err;
  say();
  block(stdout);
  if (stderr) block(stderr);
  say();
  const get = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(stdout)?.[1] ?? '';
  result('exit code', String(status.exitCode), status.exitCode === 0);
  result('hostname inside / on the host', `${get('hostname')} / ${hostname()}`, get('hostname') === 'tsrun-library');
  result('pid inside', get('pid'), get('pid') === '1');
  await c.delete();
  result('deleted', 'yes', true);
  explain(`
    The library is the product; the CLI ("tsrun run", "tsrun create") is a
    thin client of it, and "tsrun plan --explain" prints this same plan for
    any bundle. "tsrun inspect <id>" draws a running container: its
    processes, namespaces, cgroup and mounts.`);
});
