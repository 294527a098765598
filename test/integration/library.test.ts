/**
 * The library API a Node program uses: createContainer from a bundle or a
 * config object, streams, wait, kill, exec, stats, pause/resume, update,
 * state, delete, `await using`, AbortSignal, and one state store shared
 * with the CLI. Real containers, as root.
 */
import t from 'tap';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContainer, loadContainer, listContainers, SpecError, NotFoundError, ExistsError, ExecNotFoundError, StatusError, InvalidIdError, ChildSetupError, CgroupError } from '../../lib/index.js';
import { makeBundle, type TestBundle } from '../helpers/bundle.js';
import { makeStateRoot, type StateRoot } from '../helpers/cli.js';
import { guardLeaks } from '../helpers/leaks.js';

async function setup(tt: { teardown(fn: () => unknown): void }, args: string[], edit?: (c: any) => void): Promise<{ bundle: TestBundle; state: StateRoot }> {
  await guardLeaks(tt);
  const bundle = await makeBundle({ args, config: edit });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  return { bundle, state };
}

function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve) => {
    if (!stream) return resolve('');
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('end', () => resolve(text));
    stream.on('close', () => resolve(text));
  });
}

t.test('create, pipe stdout, start, wait, delete', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', 'echo hello from $(hostname); echo oops >&2; exit 3']);
  const c = await createContainer({ id: 'lib1', bundle: bundle.dir, root: state.root, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(c.stdout);
  const err = collect(c.stderr);
  tt.equal(c.state().status, 'created');
  await c.start();
  const exit = await c.wait();
  tt.same(exit, { exitCode: 3, signal: null });
  tt.equal(await out, 'hello from tsrun-test\n');
  tt.equal(await err, 'oops\n');
  tt.equal(c.state().status, 'stopped');
  await c.delete();
  tt.throws(() => c.state(), NotFoundError);
});

t.test('a config object and a rootfs instead of a bundle; kill reports the signal', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  const config = structuredClone(bundle.config);
  delete config.root;
  const c = await createContainer({ id: 'lib2', config, rootfs: bundle.rootfs, root: state.root, stdio: 'ignore' });
  let exitEvent: unknown;
  c.on('exit', (e) => (exitEvent = e));
  await c.start();
  tt.equal(c.state().status, 'running');
  await c.kill('SIGKILL');
  tt.same(await c.wait(), { exitCode: null, signal: 9 });
  tt.same(exitEvent, { exitCode: null, signal: 9 }, 'the exit event fires');
  await c.delete();
});

t.test('exec, stats, pause/resume, update; the CLI sees library containers and the other way round', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  const c = await createContainer({ id: 'lib3', bundle: bundle.dir, root: state.root, stdio: 'ignore' });
  await c.start();
  const p = await c.exec({ args: ['/bin/sh', '-c', 'echo $$; exit 5'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] }, { stdio: ['ignore', 'pipe', 'ignore'] });
  const printed = collect(p.stdout);
  tt.same(await p.wait(), { exitCode: 5, signal: null }, 'exec wait() gives the process status');
  tt.match(await printed, /^\d+\n$/);
  const stats = c.stats();
  tt.ok(stats.pids.current >= 1, 'stats: pids');
  tt.ok(stats.memory.usage.usage > 0, 'stats: memory usage');
  await c.pause();
  tt.equal(c.state().status, 'paused');
  await c.resume();
  tt.equal(c.state().status, 'running');
  c.update({ pids: { limit: 50 } });
  const listed = JSON.parse((await state.cli(['list', '--format', 'json'])).stdout);
  tt.same(listed.map((s: any) => s.id), ['lib3'], 'tsrun list shows the library\'s container');
  tt.same(listContainers({ root: state.root }).map((s) => s.id), ['lib3']);
  const again = loadContainer('lib3', { root: state.root });
  tt.equal(again.state().pid, c.state().pid);
  await c.delete({ force: true });
  tt.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), []);
});

t.test('await using deletes at the end of the scope; AbortSignal kills and deletes', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  {
    await using c = await createContainer({ id: 'scoped', bundle: bundle.dir, root: state.root, stdio: 'ignore' });
    await c.start();
    tt.ok(existsSync(join(state.root, 'scoped')));
  }
  tt.notOk(existsSync(join(state.root, 'scoped')), 'disposed');
  const ac = new AbortController();
  const c = await createContainer({ id: 'aborted', bundle: bundle.dir, root: state.root, stdio: 'ignore', signal: ac.signal });
  await c.start();
  ac.abort();
  const exit = await c.wait();
  tt.equal(exit.signal, 9);
  for (let i = 0; i < 100 && existsSync(join(state.root, 'aborted')); i++) await new Promise((r) => setTimeout(r, 20));
  tt.notOk(existsSync(join(state.root, 'aborted')), 'aborting deleted it');
});

t.test('typed errors', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  await tt.rejects(createContainer({ id: 'bad/id', bundle: bundle.dir, root: state.root }), InvalidIdError);
  const badConfig = structuredClone(bundle.config);
  badConfig.process.cwd = 'relative';
  const err = await createContainer({ id: 'badcfg', config: badConfig, rootfs: bundle.rootfs, root: state.root }).catch((e) => e);
  tt.ok(err instanceof SpecError, 'SpecError');
  tt.equal(err.code, 'SPEC_INVALID');
  tt.ok(err.issues.some((i: any) => i.field === 'process.cwd'), 'names the field');
  const noBin = structuredClone(bundle.config);
  noBin.process.args = ['nosuch'];
  delete noBin.root;
  const e2 = await createContainer({ id: 'nobin', config: noBin, rootfs: bundle.rootfs, root: state.root, stdio: 'ignore' }).catch((e) => e);
  tt.ok(e2 instanceof ExecNotFoundError, `ExecNotFoundError: ${e2}`);
  tt.equal(e2.message, 'exec: "nosuch": executable file not found in $PATH');
  const c = await createContainer({ id: 'dup', bundle: bundle.dir, root: state.root, stdio: 'ignore' });
  await tt.rejects(createContainer({ id: 'dup', bundle: bundle.dir, root: state.root }), ExistsError);
  await c.start();
  await tt.rejects(c.start(), StatusError);
  await tt.rejects(c.delete(), /not stopped: running/);
  await c.delete({ force: true });
  tt.throws(() => loadContainer('dup', { root: state.root }), NotFoundError);
  tt.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), [], 'failed creates left nothing');
});

t.test('terminal: a pty as a duplex stream; typing, resize (SIGWINCH inside), the end of input as EOF', async (tt) => {
  // /probe signals, in the terminal's foreground process group, reports the SIGWINCH a resize causes.
  const script = 'stty size; tty; /probe signals & p=$!; echo READY; while read line; do [ "$line" = size ] && echo "size $(stty size)"; echo "typed: $line"; done; kill $p; wait $p; echo BYE; exit 4';
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', script]);
  const c = await createContainer({ id: 'lib-tty', bundle: bundle.dir, root: state.root, terminal: { rows: 20, cols: 70 } });
  tt.ok(c.terminal, 'c.terminal is there');
  tt.equal(c.stdout, null, 'no separate stdout: the pty carries everything');
  let seen = '';
  const waitFor = async (text: string) => {
    const end = Date.now() + 10_000;
    while (!seen.includes(text)) {
      if (Date.now() > end) throw new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  c.terminal!.on('data', (d: Buffer) => (seen += d.toString()));
  await c.start();
  await waitFor('READY');
  await waitFor('ready'); // the probe's handlers are in place
  c.terminal!.resize(33, 99);
  await waitFor('SIGWINCH');
  c.terminal!.write('size\n');
  await waitFor('size 33 99');
  c.terminal!.write('hello\n');
  await waitFor('typed: hello');
  c.terminal!.end();
  const exit = await c.wait();
  tt.same(exit, { exitCode: 4, signal: null }, 'the end of input reached read as EOF; the exit status comes back');
  const lines = seen.replace(/\r/g, '').split('\n');
  tt.equal(lines[0], '20 70', 'the initial size');
  tt.match(lines[1], /^\/dev\/pts\/\d+$/, 'a pty of the container\'s devpts');
  tt.ok(lines.includes('SIGWINCH'), 'the resize signalled the terminal\'s foreground process group');
  tt.ok(lines.includes('size 33 99'), 'and the pty has the new size');
  tt.ok(lines.includes('BYE'));
  tt.throws(() => c.terminal!.resize(-1, 5), RangeError);
  await c.delete();
});

t.test('oom events: one per OOM kill while listened for, the last before exit', async (tt) => {
  const MiB = 1024 * 1024;
  // A child is OOM-killed, then the init itself.
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', '/probe alloc 96; echo child-killed; exec /probe alloc 96'], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 24 * MiB, swap: 24 * MiB } };
  });
  const c = await createContainer({ id: 'lib-oom', bundle: bundle.dir, root: state.root, stdio: ['ignore', 'pipe', 'ignore'] });
  const order: string[] = [];
  c.on('oom', (count: number) => order.push(`oom ${count}`));
  c.on('exit', () => order.push('exit'));
  const out = collect(c.stdout);
  await c.start();
  const exit = await c.wait();
  tt.same(exit, { exitCode: null, signal: 9 }, 'the init was OOM-killed');
  tt.equal(await out, 'child-killed\n');
  tt.same(order, ['oom 1', 'oom 2', 'exit'], 'both OOM kills, in order, before exit');
  await c.delete();
});

t.test('cgroupDriver: systemd is refused where no systemd runs, nothing left; a bad value is a usage error', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/true']);
  const noSystemd = !existsSync('/run/systemd/system');
  if (noSystemd) {
    await tt.rejects(createContainer({ id: 'lib-sd', bundle: bundle.dir, root: state.root, cgroupDriver: 'systemd' }), /systemd is not running on this host/);
    tt.same(readdirSync(state.root).filter((n) => n === 'lib-sd'), [], 'no state left');
  } else {
    tt.comment('systemd runs here: only the cgroupfs and bad-value cases apply');
  }
  await tt.rejects(createContainer({ id: 'lib-sd2', bundle: bundle.dir, root: state.root, cgroupDriver: 'nosuch' as 'systemd' }), /not a cgroup driver; valid: "cgroupfs", "systemd"/);
  const c = await createContainer({ id: 'lib-sd3', bundle: bundle.dir, root: state.root, cgroupDriver: 'cgroupfs', stdio: 'ignore' });
  await c.start();
  tt.same(await c.wait(), { exitCode: 0, signal: null });
  await c.delete();
});

t.test('stdio: numeric fds and a piped stdin', async (tt) => {
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', 'read line; echo "got $line"; cat >&2']);
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-libfd-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const outFd = openSync(join(dir, 'out'), 'w');
  const errFd = openSync(join(dir, 'err'), 'w');
  const c = await createContainer({ id: 'lib-fds', bundle: bundle.dir, root: state.root, stdio: ['pipe', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  tt.ok(c.stdin, 'a writable stdin');
  tt.equal(c.stdout, null, 'fd 1 is a file: no stream');
  await c.start();
  c.stdin!.end('first\nrest of it\n');
  tt.same(await c.wait(), { exitCode: 0, signal: null });
  tt.equal(readFileSync(join(dir, 'out'), 'utf8'), 'got first\n', 'fd 1 was the file');
  tt.equal(readFileSync(join(dir, 'err'), 'utf8'), 'rest of it\n', 'fd 2 was the other file');
  await c.delete();
});

t.test('a container made by the CLI: loadContainer and listContainers see it; kill and wait work on it', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  tt.equal((await state.cli(['run', '-d', '--bundle', bundle.dir, 'cli-made'])).code, 0);
  tt.same(listContainers({ root: state.root }).map((s) => [s.id, s.status]), [['cli-made', 'running']]);
  const c = loadContainer('cli-made', { root: state.root });
  tt.equal(c.state().pid, JSON.parse((await state.cli(['state', 'cli-made'])).stdout).pid, 'the same init');
  tt.equal(c.terminal, null);
  await c.kill('SIGKILL');
  tt.same(await c.wait(), { exitCode: null, signal: null }, 'not our child: wait resolves when it is gone, without a status');
  tt.equal(c.state().status, 'stopped');
  await c.delete();
  tt.equal((await state.cli(['state', 'cli-made'])).code, 1, 'gone for the CLI too');
});

t.test('typed errors from the kernel side: ChildSetupError names the step, field and errno; CgroupError the field', async (tt) => {
  const { bundle, state } = await setup(tt, ['/probe', 'sleep', '600']);
  const cfg = structuredClone(bundle.config);
  delete cfg.root;
  cfg.process.cwd = '/probe/inside-a-file';
  const e = await createContainer({ id: 'lib-cwd', config: cfg, rootfs: bundle.rootfs, root: state.root, stdio: 'ignore' }).catch((x) => x);
  tt.ok(e instanceof ChildSetupError, `ChildSetupError: ${e}`);
  tt.equal(e.op, 'CWD');
  tt.equal(e.field, 'process.cwd');
  tt.equal(e.errnoName, 'ENOTDIR');
  const unified = structuredClone(bundle.config);
  delete unified.root;
  unified.linux.resources = { ...unified.linux.resources, unified: { 'memory.high': '1000000' } };
  const ce = await createContainer({ id: 'lib-unified', config: unified, rootfs: bundle.rootfs, root: state.root, stdio: 'ignore' }).catch((x) => x);
  const cause = ce instanceof CgroupError ? ce : ce?.cause;
  tt.ok(cause instanceof CgroupError || ce instanceof CgroupError, `a CgroupError (or a CreateError caused by one): ${ce}`);
  tt.match(String(ce.message), /linux\.resources\.unified|unified/, 'names the field');
  tt.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), [], 'nothing left');
});
