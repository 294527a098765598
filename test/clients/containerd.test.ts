/**
 * containerd (from Debian's packages) with its runc shim v2 driving tsrun
 * end to end. The test starts a throwaway daemon (its own root, state, gRPC
 * and ttrpc sockets under a work dir, CRI disabled), imports a docker
 * archive of a busybox rootfs built from the host, and runs containers with
 * `ctr run --runc-binary <abs>/bin/tsrun --runc-root <work>/tsrun-state`:
 * the shim then calls tsrun exactly as it calls runc (go-runc: `--root`,
 * `--log <bundle>/log.json --log-format json`, create with a pid file, start,
 * exec --detach, kill, delete, ps --format json, pause, resume).
 *
 * The daemon is stopped by its pid, and every temp dir, mount, cgroup and
 * process is checked and removed.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { guardLeaks, type LeakOptions } from '../helpers/leaks.js';
import {
  buildDockerArchive,
  buildRootfsTar,
  cgroupChildren,
  listDir,
  makeWorkDir,
  missingPrerequisite,
  processesMentioning,
  procCgroups,
  removeCgroupTree,
  removeWorkDir,
  runCmd,
  runOnPty,
  sleep,
  tsrunBin,
  waitFor,
  type CmdOptions,
  type CmdResult,
} from './engines.js';

const IMAGE = 'localhost/tsrun-busybox:latest';
// A hung engine call fails its own assertion (runCmd's deadline) long before this.
t.setTimeout(300_000);

const why = missingPrerequisite(['containerd', 'ctr', 'containerd-shim-runc-v2', 'tar', 'script']);
if (why) {
  t.fail(`containerd cannot drive tsrun on this machine: ${why}`);
} else {
  t.test('containerd + runc shim v2 drive tsrun', async (t) => {
    const w = await makeWorkDir();
    const ns = w.tag; // the containerd namespace; ctr names cgroups /<namespace>/<id>
    const runcRoot = join(w.dir, 'tsrun-state'); // the shim uses <runc-root>/<namespace>
    const stateDir = join(runcRoot, ns);
    const sock = join(w.dir, 'containerd.sock');
    const leakOpts = (persistentOk: boolean): LeakOptions => ({
      ignore: (kind, item) => {
        if (kind === 'host') return false;
        if (!item.includes(w.tag)) return true;
        return persistentOk && kind === 'cgroups' && item.endsWith(`/${ns}`);
      },
    });
    await guardLeaks(t, leakOpts(false));

    const runDirExisted = existsSync('/run/containerd');
    await writeFile(
      join(w.dir, 'config.toml'),
      [
        'version = 2',
        `root = "${join(w.dir, 'root')}"`,
        `state = "${join(w.dir, 'state')}"`,
        // No kubelet here: the CRI plugin is not needed (and would want CNI).
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${sock}"`,
        '[ttrpc]',
        `  address = "${sock}.ttrpc"`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    await mkdir(runcRoot);
    const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERD_SNAPSHOTTER: 'native' };
    const ctr = (args: string[], opts: CmdOptions = {}): Promise<CmdResult> => runCmd('ctr', ['--address', sock, '--namespace', ns, ...args], { env, timeoutMs: 30_000, ...opts });
    const ctrArgv = (args: string[]) => ['--address', sock, '--namespace', ns, ...args];
    const runtime = ['--runc-binary', tsrunBin, '--runc-root', runcRoot];

    const taskStatus = async (id: string): Promise<{ pid: number; status: string } | undefined> => {
      const line = (await ctr(['task', 'list'])).stdout.split('\n').find((l) => l.split(/\s+/)[0] === id);
      if (!line) return undefined;
      const [, pid, status] = line.trim().split(/\s+/);
      return { pid: Number(pid), status: status ?? '' };
    };

    // The daemon, logging to a file; stopped by its pid in the teardown.
    const logPath = join(w.dir, 'containerd.log');
    const logFd = openSync(logPath, 'w');
    const daemon = spawn('containerd', ['--config', join(w.dir, 'config.toml'), '--log-level', 'info'], { stdio: ['ignore', logFd, logFd], env });
    closeSync(logFd);
    // Last resort if this process is ended before the teardown runs (tap's timeout).
    const killDaemon = () => daemon.pid && daemon.exitCode === null && process.kill(daemon.pid, 'SIGKILL');
    process.once('exit', killDaemon);
    const daemonExited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
    const logTail = () => {
      try {
        return readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        return '';
      }
    };

    t.teardown(async () => {
      // Whatever a failed scenario left: kill the tasks, delete tasks and containers.
      const left = (await ctr(['containers', 'list', '--quiet'])).stdout.split('\n').filter(Boolean);
      for (const id of left) {
        await ctr(['task', 'kill', '--signal', 'KILL', id]);
        await waitFor(async () => (await taskStatus(id))?.status !== 'RUNNING', 5000);
        await ctr(['task', 'delete', '--force', id]);
        await ctr(['containers', 'delete', id]);
      }
      process.removeListener('exit', killDaemon);
      if (daemon.pid && daemon.exitCode === null && daemon.signalCode === null) {
        process.kill(daemon.pid, 'SIGTERM');
        const stopped = await Promise.race([daemonExited.then(() => true), sleep(10_000).then(() => false)]);
        if (!stopped) {
          t.fail('containerd did not stop on SIGTERM within 10 s');
          process.kill(daemon.pid, 'SIGKILL');
          await daemonExited;
        }
      }
      // Shims exit once their task is deleted.
      const busy = () => processesMentioning(w.dir);
      if (!(await waitFor(() => busy().length === 0, 10_000))) t.fail(`processes left behind: ${busy().join('; ')}`);
      const cg = await removeCgroupTree(ns);
      if (cg.length) t.fail(`cgroups left behind: ${cg.join(', ')}`);
      if (!runDirExisted) {
        // ctr's fifo dir and the shims' socket dir are fixed under /run/containerd.
        for (const d of ['/run/containerd/fifo', '/run/containerd/s', '/run/containerd']) {
          try {
            rmdirSync(d);
          } catch {
            /* not empty or gone */
          }
        }
      }
      await removeWorkDir(w);
    });

    const up = await waitFor(async () => daemon.exitCode === null && (await ctr(['version'], { timeoutMs: 5000 })).code === 0, 20_000);
    if (!up) {
      t.fail(`containerd did not come up: ${logTail()}`);
      return;
    }
    t.pass('containerd is up on its own socket');

    const rootfsTar = await buildRootfsTar(w.dir);
    const archive = await buildDockerArchive(rootfsTar, w.dir, IMAGE);
    const imported = await ctr(['images', 'import', archive], { timeoutMs: 120_000 });
    t.equal(imported.code, 0, `ctr images import of a docker archive (${imported.stderr.trim()})`);
    t.match((await ctr(['images', 'list', '--quiet'])).stdout, IMAGE, 'the image is listed');

    /** After a scenario: containerd forgot the containers, tsrun's state and the container cgroups are gone. */
    const assertClean = async (tt: Test) => {
      tt.equal((await ctr(['containers', 'list', '--quiet'])).stdout.trim(), '', 'ctr lists no container');
      const leftState = () => listDir(stateDir).filter((n) => !n.startsWith('@'));
      tt.ok(await waitFor(() => leftState().length === 0, 5000), `tsrun's state root holds no container (${leftState().join(', ')})`);
      tt.ok(await waitFor(() => cgroupChildren(ns).length === 0, 5000), `no container cgroup left under /${ns} (${cgroupChildren(ns).join(', ')})`);
    };

    t.test('ctr run --rm: output, stdin, exit status, runtime errors', async (t) => {
      await guardLeaks(t, leakOpts(true));
      const r = await ctr(['run', '--rm', ...runtime, IMAGE, 'r1', 'sh', '-c', 'echo hello from tsrun; echo to-stderr >&2; hostname; exit 4']);
      t.equal(r.code, 4, `exit status of the container (stderr: ${r.stderr.trim()})`);
      t.equal(r.stdout.split('\n')[0], 'hello from tsrun', 'stdout');
      t.match(r.stderr, /to-stderr/, 'stderr');

      // (No stdin here: `ctr run` of containerd 1.6 never closes the task's stdin on EOF,
      // with runc as well; `task exec` does, and is tested below.)
      const env = await ctr(['run', '--rm', ...runtime, '--env', 'GREETING=hi there', '--cwd', '/tmp', IMAGE, 'r3', 'sh', '-c', 'echo "$GREETING|$(pwd)|$$"']);
      t.equal(env.stdout.trim(), 'hi there|/tmp|1', `env and cwd from ctr, the shell is pid 1 (stderr: ${env.stderr.trim()})`);

      // The shim reports tsrun's error from <bundle>/log.json (the last "error" line).
      const missing = await ctr(['run', '--rm', ...runtime, IMAGE, 'r4', '/no/such/binary']);
      t.not(missing.code, 0, 'a missing binary fails the run');
      t.match(missing.stderr, /OCI runtime create failed: .*exec: "\/no\/such\/binary": executable file not found in \$PATH/, `tsrun's error reaches the user through log.json (${missing.stderr.trim()})`);
      await ctr(['containers', 'delete', 'r4']);
      await assertClean(t);
    });

    t.test('ctr run -d, task exec, task ps, task kill, task delete', async (t) => {
      await guardLeaks(t, leakOpts(true));
      const run = await ctr(['run', '-d', ...runtime, IMAGE, 'd1', 'sh', '-c', 'trap "exit 42" TERM; while :; do sleep 0.1; done']);
      t.equal(run.code, 0, `run -d (${run.stderr.trim()})`);
      const task = await taskStatus('d1');
      t.equal(task?.status, 'RUNNING', 'ctr task list: RUNNING');
      const pid = task?.pid ?? 0;
      t.ok(pid > 0, 'the init pid');
      t.ok(procCgroups(pid).some((l) => l.endsWith(`/${ns}/d1`)), 'the init is in the cgroup containerd asked for');
      const st = await runCmd(tsrunBin, ['--root', stateDir, 'state', 'd1']);
      t.match(JSON.parse(st.stdout || '{}'), { id: 'd1', status: 'running', pid }, 'tsrun state agrees: tsrun runs it');

      const ex = await ctr(['task', 'exec', '--exec-id', 'e1', 'd1', 'sh', '-c', 'echo in-exec; ps -o pid,comm; exit 6']);
      t.equal(ex.code, 6, `task exec exit status (stderr: ${ex.stderr.trim()})`);
      t.match(ex.stdout, /^in-exec\n/, 'exec output');
      t.match(ex.stdout, /^\s*1 sh$/m, 'the exec sees the container init as pid 1');
      const exi = await ctr(['task', 'exec', '--exec-id', 'e2', 'd1', 'cat'], { input: 'to exec stdin' });
      t.equal(exi.stdout, 'to exec stdin', 'exec stdin');
      const exMissing = await ctr(['task', 'exec', '--exec-id', 'e3', 'd1', '/no/such/binary']);
      t.not(exMissing.code, 0, 'exec of a missing binary fails');
      t.match(exMissing.stderr, /executable file not found/, `and says why (${exMissing.stderr.trim()})`);

      // ctr cannot know when a detached exec ends, so it leaves its fifos: keep them in the work dir.
      const bg = await ctr(['task', 'exec', '--detach', '--fifo-dir', join(w.dir, 'fifo'), '--exec-id', 'bg', 'd1', 'sleep', '1000']);
      t.equal(bg.code, 0, `exec --detach (${bg.stderr.trim()})`);
      let pids: number[] = [];
      await waitFor(async () => {
        const ps = await ctr(['task', 'ps', 'd1']);
        pids = ps.stdout.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => n > 0);
        return pids.length >= 2 && pids.every((p) => procCgroups(p).length > 0);
      }, 5000);
      t.ok(pids.includes(pid), `task ps lists the init (${pids.join(' ')})`);
      const bgPid = pids.find((p) => p !== pid && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\x001000'));
      t.ok(bgPid, 'task ps lists the detached exec');

      const kill = await ctr(['task', 'kill', 'd1']);
      t.equal(kill.code, 0, `task kill (SIGTERM) (${kill.stderr.trim()})`);
      t.ok(await waitFor(async () => (await taskStatus('d1'))?.status === 'STOPPED', 10_000), 'the task stops');
      const del = await ctr(['task', 'delete', 'd1']);
      t.equal(del.code, 0, `task delete (${del.stderr.trim()})`);
      t.match(del.stderr, /exit code 42/, 'the trap ran: exit code 42');
      t.ok(bgPid && (await waitFor(() => procCgroups(bgPid).length === 0, 5000)), 'the detached exec died with the pid namespace');
      t.equal(await taskStatus('d1'), undefined, 'no task any more');
      const rm = await ctr(['containers', 'delete', 'd1']);
      t.equal(rm.code, 0, 'containers delete');
      await assertClean(t);
    });

    t.test('tty: ctr run -t, task exec -t', async (t) => {
      await guardLeaks(t, leakOpts(true));
      const r = await runOnPty('ctr', ctrArgv(['run', '--rm', '-t', ...runtime, IMAGE, 't1', 'sh', '-c', 'tty; echo tty-ok; exit 5']), { env });
      t.equal(r.code, 5, `exit status through the tty (${r.stderr.trim()})`);
      t.match(r.stdout, /\/dev\/pts\/\d+\r+\n/, 'the container has a pty as its terminal');
      t.match(r.stdout, /tty-ok/, 'output through the pty');

      const d = await ctr(['run', '-d', ...runtime, IMAGE, 't2', 'sleep', '1000']);
      t.equal(d.code, 0, `run -d (${d.stderr.trim()})`);
      const ex = await runOnPty('ctr', ctrArgv(['task', 'exec', '-t', '--exec-id', 'tty1', 't2', 'sh', '-c', 'tty; exit 9']), { env });
      t.equal(ex.code, 9, `task exec -t exit status (${ex.stderr.trim()})`);
      t.match(ex.stdout, /\/dev\/pts\/\d+\r*\n/, 'the exec has a pty');
      await ctr(['task', 'kill', '--signal', 'KILL', 't2']);
      t.ok(await waitFor(async () => (await taskStatus('t2'))?.status === 'STOPPED', 10_000), 'SIGKILL stops it');
      const del = await ctr(['task', 'delete', 't2']);
      t.match(del.stderr, /exit code 137/, 'exit code 137');
      await ctr(['containers', 'delete', 't2']);
      await assertClean(t);
    });

    t.test('task pause, resume; delete --force of a running task', async (t) => {
      await guardLeaks(t, leakOpts(true));
      await ctr(['run', '-d', ...runtime, IMAGE, 'p1', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done']);
      const pid = (await taskStatus('p1'))?.pid ?? 0;
      const counter = () => Number(readFileSync(`/proc/${pid}/root/tmp/n`, 'utf8').trim() || '0');
      await waitFor(() => counter() > 0, 5000);
      const p = await ctr(['task', 'pause', 'p1']);
      t.equal(p.code, 0, `task pause (${p.stderr.trim()})`);
      t.equal((await taskStatus('p1'))?.status, 'PAUSED', 'ctr reports PAUSED');
      const st = await runCmd(tsrunBin, ['--root', stateDir, 'state', 'p1']);
      t.equal(JSON.parse(st.stdout || '{}').status, 'paused', 'tsrun state: paused');
      const frozenAt = counter();
      await sleep(400);
      t.equal(counter(), frozenAt, 'nothing runs while paused');
      const r = await ctr(['task', 'resume', 'p1']);
      t.equal(r.code, 0, `task resume (${r.stderr.trim()})`);
      t.equal((await taskStatus('p1'))?.status, 'RUNNING', 'RUNNING again');
      t.ok(await waitFor(() => counter() > frozenAt, 3000), 'and it runs again');

      const del = await ctr(['task', 'delete', '--force', 'p1']);
      t.equal(del.code, 0, `task delete --force of a running task (${del.stderr.trim()})`);
      t.equal(await taskStatus('p1'), undefined, 'the task is gone');
      await ctr(['containers', 'delete', 'p1']);
      await assertClean(t);
    });
  });
}
