/**
 * podman (and conmon) from Debian's packages driving tsrun end to end:
 * `podman --runtime <abs>/bin/tsrun --cgroup-manager=cgroupfs`, storage,
 * run dir, tmpdir and tsrun's state root (`--runtime-flag root=...`) in a
 * throwaway work dir, no systemd, `--network=none`, events in a file. The
 * image is a busybox rootfs built from the host and `podman import`ed.
 *
 * Each scenario asserts what podman reports (output, exit codes, statuses),
 * then that tsrun's state and the container's cgroup are gone.
 */
import t, { type Test } from 'tap';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { guardLeaks, type LeakOptions } from '../helpers/leaks.js';
import {
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
  sleep,
  tsrunBin,
  waitFor,
  type CmdOptions,
  type CmdResult,
} from './engines.js';

const IMAGE = 'localhost/tsrun-busybox:latest';
// A hung engine call fails its own assertion (runCmd's deadline) long before this.
t.setTimeout(300_000);

const why = missingPrerequisite(['podman', 'conmon', 'tar']);
if (why) {
  t.fail(`podman cannot drive tsrun on this machine: ${why}`);
} else {
  t.test('podman + conmon drive tsrun', async (t) => {
    const w = await makeWorkDir();
    const parent = `${w.tag}-podman`; // the cgroupfs parent of every container (and conmon)
    // tsrun's default state root: podman 4.3 passes its runtime flags (`--runtime-flag root=...`)
    // to create, start, kill and exec, but calls `delete --force <id>` without them.
    const stateRoot = '/run/tsrun';
    // podman's containers use seccomp: tsrun caches the compiled programs under the state root.
    // What this test made there (the root itself, the cache) goes in the teardown.
    const rootExisted = existsSync(stateRoot);
    const cacheExisted = existsSync(join(stateRoot, '@cache'));
    const podmanId = /^[0-9a-f]{64}$/;
    const containersInState = () => listDir(stateRoot).filter((n) => podmanId.test(n));
    // Only what carries our tag is ours: other test runs may share the machine.
    const leakOpts = (persistentOk: boolean): LeakOptions => ({
      ignore: (kind, item) => {
        if (kind === 'host') return false;
        // tsrun's state dirs of podman's containers are named by podman's 64-hex ids.
        if (kind === 'runtimeState') return !/\/[0-9a-f]{64}(\/|$)/.test(item);
        if (!item.includes(w.tag)) return true;
        // The engine's own cgroup parent lives until the end of the file.
        return persistentOk && kind === 'cgroups' && item.endsWith(`/${parent}`);
      },
    });
    await guardLeaks(t, leakOpts(false));

    for (const d of ['storage', 'run', 'tmp', 'import-tmp']) await mkdir(join(w.dir, d), { recursive: true });
    // The sandboxes this runs in have no CAP_SYS_RESOURCE, and podman (as
    // root) asks for RLIMIT_NOFILE/NPROC of 1048576 by default, which runc
    // and crun then fail to set just like tsrun: ask for limits under the
    // hard ones instead. `tsrun` in runtime_supports_json makes podman pass
    // `--log-format=json --log <rundir>/oci-log` as it does for runc and crun.
    await writeFile(
      join(w.dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        'runtime_supports_json = ["crun", "runc", "tsrun"]',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(w.dir, 'storage.conf'),
      ['[storage]', 'driver = "vfs"', `graphroot = "${join(w.dir, 'storage')}"`, `runroot = "${join(w.dir, 'run')}"`, ''].join('\n'),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CONTAINERS_CONF: join(w.dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: join(w.dir, 'storage.conf'),
      TMPDIR: join(w.dir, 'import-tmp'),
    };
    const globalArgs = [
      '--root', join(w.dir, 'storage'),
      '--runroot', join(w.dir, 'run'),
      '--tmpdir', join(w.dir, 'tmp'),
      '--storage-driver', 'vfs',
      '--cgroup-manager=cgroupfs',
      '--events-backend=file',
      '--runtime', tsrunBin,
    ];
    const podman = (args: string[], opts: CmdOptions = {}): Promise<CmdResult> =>
      runCmd('podman', [...globalArgs, ...args], { env, timeoutMs: 60_000, ...opts });
    /** `podman run` with the flags every scenario uses. */
    const runArgs = ['run', '--network=none', `--cgroup-parent=/${parent}`];
    const inspect = async (name: string, format: string) => (await podman(['inspect', '--format', format, name])).stdout.trim();

    /** After a scenario: podman forgot the containers, tsrun's state is empty, no container cgroup remains. */
    const before = new Set(containersInState()); // other runs' (there should be none)
    const assertClean = async (tt: Test) => {
      const ps = await podman(['ps', '-a', '--format', '{{.Names}}']);
      tt.equal(ps.stdout.trim(), '', 'podman ps -a lists nothing');
      const left = () => containersInState().filter((id) => !before.has(id));
      tt.ok(await waitFor(() => left().length === 0, 5000), `tsrun's state root holds none of podman's containers (${left().join(', ')})`);
      // conmon's own cgroup (<parent>/conmon) is podman's; the libpod-<id> ones are the containers'.
      const leftCg = () => cgroupChildren(parent).filter((n) => n !== 'conmon');
      tt.ok(await waitFor(() => leftCg().length === 0, 5000), `no container cgroup left under /${parent} (${leftCg().join(', ')})`);
    };

    t.teardown(async () => {
      await podman(['rm', '--all', '--force', '--time', '0']).catch(() => undefined);
      // conmon runs `podman container cleanup` when a container exits: let those finish.
      const busy = () => processesMentioning(w.dir);
      if (!(await waitFor(() => busy().length === 0, 15_000))) t.fail(`processes left behind: ${busy().join('; ')}`);
      const cg = await removeCgroupTree(parent);
      if (cg.length) t.fail(`cgroups left behind: ${cg.join(', ')}`);
      await removeWorkDir(w);
      if (!cacheExisted) rmSync(join(stateRoot, '@cache'), { recursive: true, force: true });
      if (!rootExisted && existsSync(stateRoot) && readdirSync(stateRoot).length === 0) rmdirSync(stateRoot);
    });

    const version = await podman(['--version']);
    t.match(version.stdout, /^podman version \d/, 'podman --version');
    const rootfsTar = await buildRootfsTar(w.dir);
    const imported = await podman(['import', rootfsTar, IMAGE], { timeoutMs: 120_000 });
    t.equal(imported.code, 0, `podman import of the busybox rootfs (${imported.stderr.trim()})`);

    t.test('run --rm: output, stdin and exit status', async (t) => {
      await guardLeaks(t, leakOpts(true));
      const r = await podman([...runArgs, '--rm', IMAGE, 'sh', '-c', 'echo hello from tsrun; echo to-stderr >&2; hostname; exit 3']);
      t.equal(r.code, 3, `exit status of the container (stderr: ${r.stderr.trim()})`);
      const lines = r.stdout.trim().split('\n');
      t.equal(lines[0], 'hello from tsrun', 'stdout');
      t.match(lines[1], /^[0-9a-f]{12}$/, 'hostname is the short container id');
      t.match(r.stderr, /to-stderr/, 'stderr');

      const ok = await podman([...runArgs, '--rm', IMAGE, 'true']);
      t.equal(ok.code, 0, 'true exits 0');

      const cat = await podman([...runArgs, '--rm', '-i', IMAGE, 'sh', '-c', 'cat; echo; echo pid=$$'], { input: 'piped into the container' });
      t.equal(cat.code, 0, 'run -i');
      t.equal(cat.stdout, 'piped into the container\npid=1\n', 'stdin reaches the container, whose shell is pid 1');

      // The container sees its own cgroup (and podman's limit) at /sys/fs/cgroup, not the host's tree.
      const mem = await podman([...runArgs, '--rm', '--memory', '64m', IMAGE, 'sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max']);
      t.equal(mem.stdout.trim(), '67108864', `--memory 64m, seen from inside (stderr: ${mem.stderr.trim()})`);

      const env = await podman([...runArgs, '--rm', '-e', 'GREETING=hi there', '-w', '/tmp', '-u', '1000:1000', IMAGE, 'sh', '-c', 'echo "$GREETING|$(pwd)|$(id -u):$(id -g)"']);
      t.equal(env.stdout.trim(), 'hi there|/tmp|1000:1000', 'env, workdir and user from podman');

      const missing = await podman([...runArgs, '--rm', IMAGE, '/no/such/binary']);
      t.equal(missing.code, 127, `a missing binary: podman exits 127 (stderr: ${missing.stderr.trim()})`);
      t.match(missing.stderr, /executable file not found/, 'the runtime error reaches the user');
      const notExec = await podman([...runArgs, '--rm', IMAGE, '/etc/passwd']);
      t.equal(notExec.code, 126, `a non-executable file: podman exits 126 (stderr: ${notExec.stderr.trim()})`);
      t.match(notExec.stderr, /permission denied/);

      await assertClean(t);
    });

    t.test('run -d, exec, stop, rm', async (t) => {
      await guardLeaks(t, leakOpts(true));
      const run = await podman([...runArgs, '-d', '--name', 'tsrun-d1', IMAGE, 'sh', '-c', 'trap "exit 42" TERM; while :; do sleep 0.1; done']);
      t.equal(run.code, 0, `run -d (${run.stderr.trim()})`);
      const id = run.stdout.trim();
      t.match(id, /^[0-9a-f]{64}$/, 'prints the container id');
      t.equal(await inspect('tsrun-d1', '{{.State.Status}}'), 'running', 'podman sees it running');
      const pid = Number(await inspect('tsrun-d1', '{{.State.Pid}}'));
      t.ok(pid > 0, 'podman knows the init pid');
      t.ok(procCgroups(pid).some((l) => l.endsWith(`/${parent}/libpod-${id}`)), 'the init is in the cgroup podman asked for');
      const st = await runCmd(tsrunBin, ['state', id]);
      t.match(JSON.parse(st.stdout), { id, status: 'running', pid }, 'tsrun state agrees: tsrun runs it');

      const ex = await podman(['exec', 'tsrun-d1', 'sh', '-c', 'echo in-exec; ps -o pid,comm; exit 7']);
      t.equal(ex.code, 7, `exec exit status (stderr: ${ex.stderr.trim()})`);
      t.match(ex.stdout, /^in-exec\n/, 'exec output');
      t.match(ex.stdout, /^\s*1 sh$/m, 'the exec sees the container init as pid 1');
      const exi = await podman(['exec', '-i', 'tsrun-d1', 'cat'], { input: 'to exec stdin' });
      t.equal(exi.stdout, 'to exec stdin', 'exec -i: stdin');
      const exEnv = await podman(['exec', '-e', 'X=y', '-w', '/etc', 'tsrun-d1', 'sh', '-c', 'echo $X $(pwd)']);
      t.equal(exEnv.stdout.trim(), 'y /etc', 'exec env and workdir');
      const exMissing = await podman(['exec', 'tsrun-d1', '/no/such/binary']);
      t.equal(exMissing.code, 127, 'exec of a missing binary exits 127');
      t.match(exMissing.stderr, /executable file not found/);

      const stop = await podman(['stop', '--time', '10', 'tsrun-d1']);
      t.equal(stop.code, 0, `stop (${stop.stderr.trim()})`);
      t.equal(await inspect('tsrun-d1', '{{.State.Status}}'), 'exited', 'exited after stop');
      t.equal(await inspect('tsrun-d1', '{{.State.ExitCode}}'), '42', 'SIGTERM ran the trap: exit code 42');

      const rm = await podman(['rm', 'tsrun-d1']);
      t.equal(rm.code, 0, `rm (${rm.stderr.trim()})`);
      await assertClean(t);
    });

    t.test('run -t (console socket), exec -t', async (t) => {
      await guardLeaks(t, leakOpts(true));
      const r = await podman([...runArgs, '--rm', '-t', IMAGE, 'sh', '-c', 'tty; stty size; echo tty-ok; exit 5']);
      t.equal(r.code, 5, `exit status through the tty (stderr: ${r.stderr.trim()})`);
      t.match(r.stdout, /^\/dev\/pts\/\d+\r\n/, 'the container has a pty as its terminal');
      t.match(r.stdout, /tty-ok\r\n/, 'output through the pty (conmon sets ONLCR)');

      const d = await podman([...runArgs, '-d', '-t', '--name', 'tsrun-t1', IMAGE, 'sh']);
      t.equal(d.code, 0, `run -d -t (${d.stderr.trim()})`);
      const ex = await podman(['exec', '-t', 'tsrun-t1', 'sh', '-c', 'tty; ls -l /proc/1/fd/0 | sed "s/.*-> //"; exit 9']);
      t.equal(ex.code, 9, `exec -t exit status (stderr: ${ex.stderr.trim()})`);
      const [execTty, initTty] = ex.stdout.split('\r\n');
      t.match(execTty, /^\/dev\/pts\/\d+$/, 'exec -t gets its own pty');
      t.match(initTty, /^\/dev\/pts\/\d+$/, "the init's terminal is a pty too");
      t.not(execTty, initTty, 'a different pty from the init');
      const rm = await podman(['rm', '--force', '--time', '0', 'tsrun-t1']);
      t.equal(rm.code, 0, 'rm -f');
      await assertClean(t);
    });

    t.test('kill', async (t) => {
      await guardLeaks(t, leakOpts(true));
      await podman([...runArgs, '-d', '--name', 'tsrun-k1', IMAGE, 'sh', '-c', 'trap "exit 10" USR1; while :; do sleep 0.1; done']);
      await podman([...runArgs, '-d', '--name', 'tsrun-k2', IMAGE, 'sleep', '1000']);
      t.equal(await inspect('tsrun-k1', '{{.State.Status}}'), 'running');
      const k1 = await podman(['kill', '--signal', 'USR1', 'tsrun-k1']);
      t.equal(k1.code, 0, `kill -s USR1 (${k1.stderr.trim()})`);
      const w1 = await podman(['wait', 'tsrun-k1']);
      t.equal(w1.stdout.trim(), '10', 'the signal reached the init: its trap exited 10');
      const k2 = await podman(['kill', 'tsrun-k2']);
      t.equal(k2.code, 0, `kill (SIGKILL) (${k2.stderr.trim()})`);
      const w2 = await podman(['wait', 'tsrun-k2']);
      t.equal(w2.stdout.trim(), '137', 'killed by SIGKILL: 137');
      t.equal(await inspect('tsrun-k2', '{{.State.Status}}'), 'exited');
      const again = await podman(['kill', 'tsrun-k2']);
      t.not(again.code, 0, 'kill of an exited container fails');
      t.match(again.stderr, /not running|exited|state/i, 'and says why');
      const rm = await podman(['rm', 'tsrun-k1', 'tsrun-k2']);
      t.equal(rm.code, 0, 'rm');
      await assertClean(t);
    });

    t.test('pause, unpause', async (t) => {
      await guardLeaks(t, leakOpts(true));
      const run = await podman([...runArgs, '-d', '--name', 'tsrun-p1', IMAGE, 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done']);
      t.equal(run.code, 0, 'run -d');
      const pid = Number(await inspect('tsrun-p1', '{{.State.Pid}}'));
      const counter = () => Number(readFileSync(`/proc/${pid}/root/tmp/n`, 'utf8').trim() || '0');
      await waitFor(() => counter() > 0, 5000);

      const p = await podman(['pause', 'tsrun-p1']);
      t.equal(p.code, 0, `pause (${p.stderr.trim()})`);
      t.equal(await inspect('tsrun-p1', '{{.State.Status}}'), 'paused', 'podman reports paused');
      const st = await runCmd(tsrunBin, ['state', run.stdout.trim()]);
      t.equal(JSON.parse(st.stdout).status, 'paused', 'tsrun state: paused');
      const frozenAt = counter();
      await sleep(400);
      t.equal(counter(), frozenAt, 'nothing runs while paused');
      const ex = await podman(['exec', 'tsrun-p1', 'true']);
      t.not(ex.code, 0, 'exec into a paused container is refused');

      const u = await podman(['unpause', 'tsrun-p1']);
      t.equal(u.code, 0, `unpause (${u.stderr.trim()})`);
      t.equal(await inspect('tsrun-p1', '{{.State.Status}}'), 'running', 'running again');
      t.ok(await waitFor(() => counter() > frozenAt, 3000), 'and it runs again');

      // A paused container can still be removed by force (SIGKILL thaws it).
      await podman(['pause', 'tsrun-p1']);
      const rm = await podman(['rm', '--force', '--time', '0', 'tsrun-p1']);
      t.equal(rm.code, 0, `rm -f of a paused container (${rm.stderr.trim()})`);
      await assertClean(t);
    });
  });
}
