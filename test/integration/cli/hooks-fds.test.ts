/**
 * Hooks per runtime-spec v1.3.0 through the CLI (order, state on stdin,
 * args, env, timeout, failure handling), and the fds a container gets
 * (LISTEN_FDS/LISTEN_PID pass-through, --preserve-fds, nothing else).
 */
import t from 'tap';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTsrun, setup, tsrunBin, waitGone, writeBundleConfig } from './common.js';

/** A host hook script that appends "<name> <args> <env X> <stdin state status/pid>" to a log. */
function hookScript(dir: string, log: string): string {
  const p = join(dir, 'hook.sh');
  writeFileSync(p, `#!/bin/sh\nstate=$(cat)\nstatus=$(echo "$state" | sed -n 's/.*"status":"\\([a-z]*\\)".*/\\1/p')\nid=$(echo "$state" | sed -n 's/.*"id":"\\([^"]*\\)".*/\\1/p')\necho "$0 $* env=$HOOK_ENV status=$status id=$id" >> ${log}\ncase "$1" in fail*) exit 3;; slow*) sleep 30;; esac\nexit 0\n`);
  chmodSync(p, 0o755);
  return p;
}

t.test('hooks: order, args, env, the state on stdin; startContainer runs in the container', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'cat /started; sleep 600']);
  const log = join(env.scratch, 'hooks.log');
  const h = hookScript(env.scratch, log);
  const hook = (name: string) => ({ path: h, args: ['hookname', name], env: [`HOOK_ENV=${name}-env`] });
  env.bundle.config.root.readonly = false;
  env.bundle.config.hooks = {
    prestart: [hook('prestart')],
    createRuntime: [hook('createRuntime1'), hook('createRuntime2')],
    createContainer: [hook('createContainer')],
    startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo start-hook-in-container > /started'] }],
    poststart: [hook('poststart')],
    poststop: [hook('poststop')],
  };
  await writeBundleConfig(env.bundle);
  const c = await env.tsrun(['create', '--bundle', env.bundle.dir, 'cli-h1']);
  t.equal(c.code, 0, c.stderr);
  const lines = () => readFileSync(log, 'utf8').trim().split('\n');
  t.same(lines().map((l) => l.split(' ')[1]), ['prestart', 'createRuntime1', 'createRuntime2', 'createContainer'], 'create hooks in order');
  t.match(lines()[0], / prestart env=prestart-env status=creating id=cli-h1$/, 'args after argv[0]; env; the state (creating) on stdin');
  t.equal((await env.tsrun(['start', 'cli-h1'])).code, 0);
  t.same(lines().map((l) => l.split(' ')[1]).slice(4), ['poststart'], 'poststart during start');
  t.match(lines()[4], /status=running/);
  t.ok(existsSync(join(env.bundle.rootfs, 'started')), 'the startContainer hook ran inside the container (its / is the rootfs)');
  t.equal((await env.tsrun(['kill', 'cli-h1', 'KILL'])).code, 0);
  await env.waitStatus('cli-h1', 'stopped');
  t.equal((await env.tsrun(['delete', 'cli-h1'])).code, 0);
  t.match(lines().at(-1), / poststop env=poststop-env status=stopped id=cli-h1$/, 'poststop after delete, with the stopped state');
});

t.test('hooks: failures and timeouts', async (t) => {
  const env = await setup(t);
  const log = join(env.scratch, 'hooks.log');
  const h = hookScript(env.scratch, log);
  // A failing createRuntime hook: create fails, nothing is left.
  env.bundle.config.hooks = { createRuntime: [{ path: h, args: ['x', 'fail-cr'] }] };
  await writeBundleConfig(env.bundle);
  const c = await env.tsrun(['create', '--bundle', env.bundle.dir, 'cli-h2']);
  t.equal(c.code, 1);
  t.match(c.stderr, /error running createRuntime hook #0: exit status 3/);
  t.equal((await env.tsrun(['state', 'cli-h2'])).code, 1, 'no container');
  // A timeout kills the hook and is an error.
  env.bundle.config.hooks = { prestart: [{ path: h, args: ['x', 'slow'], timeout: 1 }] };
  await writeBundleConfig(env.bundle);
  const t0 = Date.now();
  const s = await env.tsrun(['create', '--bundle', env.bundle.dir, 'cli-h3']);
  t.equal(s.code, 1);
  t.ok(Date.now() - t0 < 15_000, 'killed at its timeout');
  t.match(s.stderr, 'hook ran past specified timeout of 1.0s');
  // poststart failure (v1.3.0): start fails and the container is stopped.
  env.bundle.config.hooks = { poststart: [{ path: h, args: ['x', 'fail-ps'] }], poststop: [{ path: h, args: ['x', 'fail-pstop'] }] };
  await writeBundleConfig(env.bundle);
  const init = await env.launch('cli-h4', { created: true });
  const st = await env.tsrun(['start', 'cli-h4']);
  t.equal(st.code, 1, 'start fails');
  t.match(st.stderr, /error running poststart hook #0/);
  t.ok(await waitGone(init.pid), 'the container is stopped');
  t.equal((await env.waitStatus('cli-h4', 'stopped')).status, 'stopped');
  // poststop failure: a warning; delete still succeeds.
  const logFile = join(env.scratch, 'delete.log');
  const d = await env.tsrun(['--log', logFile, '--log-format', 'json', 'delete', 'cli-h4']);
  t.equal(d.code, 0, 'delete succeeds');
  const warn = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.level === 'warning');
  t.match(warn?.msg, /error running poststop hook #0/, 'logged as a warning');
  t.notOk(existsSync(join(env.root, 'cli-h4')));
});

t.test('hooks: a failing createContainer hook fails create and leaves nothing; a failing startContainer hook fails start and the container stops', async (t) => {
  const env = await setup(t);
  const log = join(env.scratch, 'hooks.log');
  const h = hookScript(env.scratch, log);
  env.bundle.config.hooks = { createContainer: [{ path: h, args: ['x', 'fail-cc'] }] };
  await writeBundleConfig(env.bundle);
  const c = await env.tsrun(['create', '--bundle', env.bundle.dir, 'cli-h5']);
  t.equal(c.code, 1, 'create fails');
  t.match(c.stderr, /msg="error running createContainer hook #0: exit status 3"/, 'runc\'s wording, as for the host hooks');
  t.equal((await env.tsrun(['state', 'cli-h5'])).code, 1, 'no container');
  t.match(readFileSync(log, 'utf8'), /fail-cc .*status=creating id=cli-h5/, 'the hook ran, with the state on stdin');

  // startContainer runs inside the container after pivot_root (its path is the container's), once
  // start has opened the exec fifo; start waits for it and fails (runtime-spec: generate an error).
  env.bundle.config.hooks = { startContainer: [{ path: '/bin/false' }] };
  env.bundle.config.process.args = ['/bin/sh', '-c', 'echo ran > /ran; sleep 600'];
  env.bundle.config.root.readonly = false;
  await writeBundleConfig(env.bundle);
  const init = await env.launch('cli-h6', { created: true });
  const st = await env.tsrun(['start', 'cli-h6']);
  t.equal(st.code, 1, 'start fails');
  t.match(st.stderr, /error running startContainer hook/, `the hook is named: ${st.stderr.trim()}`);
  t.ok(await waitGone(init.pid), 'the init exits on the failed hook');
  t.notOk(existsSync(join(env.bundle.rootfs, 'ran')), 'the user program never ran');
  t.equal((await env.waitStatus('cli-h6', 'stopped')).status, 'stopped');
  t.equal((await env.tsrun(['delete', 'cli-h6'])).code, 0);
});

t.test('LISTEN_FDS/LISTEN_PID pass-through; --preserve-fds; no other fd reaches the container', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; cat <&3; cat <&4; ls /proc/self/fd | sort -n | tr "\\n" " "']);
  const a = join(env.scratch, 'a');
  const b = join(env.scratch, 'b');
  writeFileSync(a, 'fd-three\n');
  writeFileSync(b, 'fd-four\n');
  // Fresh descriptions for every run: a container reading one moves its offset.
  const opened: number[] = [];
  t.teardown(() => opened.forEach((fd) => closeSync(fd)));
  const fds = () => {
    const pair = [openSync(a, 'r'), openSync(b, 'r')];
    opened.push(...pair);
    return pair;
  };
  // systemd-style: LISTEN_PID must be tsrun's own pid. The launcher execs node, so the pid is the spawned one;
  // a wrapper shell sets it to its own pid ($$) and execs tsrun.
  const wrapper = join(env.scratch, 'listen.sh');
  writeFileSync(wrapper, `#!/bin/sh\nLISTEN_PID=$$ LISTEN_FDS=1 exec "$@"\n`);
  chmodSync(wrapper, 0o755);
  const run1 = await runTsrunVia(wrapper, [tsrunBin, '--root', env.root, 'run', '--bundle', env.bundle.dir, 'cli-fd1'], fds());
  const lines = run1.stdout.split('\n');
  t.equal(lines[0], 'LISTEN_FDS=1 LISTEN_PID=1', 'the container sees LISTEN_FDS=n and LISTEN_PID=1');
  t.equal(lines[1], 'fd-three', 'the listen fd is fd 3');
  t.match(run1.stderr, /4|bad file/i, 'fd 4 was not passed');
  const run2 = await runTsrun(['--root', env.root, 'run', '--preserve-fds', '2', '--bundle', env.bundle.dir, 'cli-fd2'], { extraFds: fds() });
  t.equal(run2.code, 0, run2.stderr);
  const l2 = run2.stdout.split('\n');
  t.equal(l2[0], 'LISTEN_FDS= LISTEN_PID=', 'no LISTEN_* without them');
  t.same(l2.slice(1, 3), ['fd-three', 'fd-four'], '--preserve-fds 2 passes fds 3 and 4');
  t.same(l2[3]!.trim().split(' ').map(Number).filter((n) => n > 4).length, 1, `nothing beyond fd 4 but ls's own: ${l2[3]}`);
  const bad = await runTsrun(['--root', env.root, 'create', '--preserve-fds', '3', '--bundle', env.bundle.dir, 'cli-fd3'], { extraFds: fds() });
  t.equal(bad.code, 1);
  t.match(bad.stderr, 'file descriptor 5 is not open');
  // Without either, an fd tsrun happens to hold never reaches the container.
  env.bundle.config.process.args = ['/bin/sh', '-c', 'ls /proc/self/fd | sort -n | tr "\\n" " "'];
  await writeBundleConfig(env.bundle);
  const run3 = await runTsrun(['--root', env.root, 'run', '--bundle', env.bundle.dir, 'cli-fd4'], { extraFds: fds() });
  t.equal(run3.code, 0, run3.stderr);
  t.same(run3.stdout.trim().split(' ').map(Number).filter((n) => n > 2).length, 1, `only stdio (and ls's directory fd): ${run3.stdout}`);
});

/** Runs `wrapper ...argv` with the fds as 3, 4, ...: like runTsrun, but through a shell that sets LISTEN_PID to the pid tsrun will have. */
async function runTsrunVia(wrapper: string, argv: string[], fds: number[]) {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-clio-'));
  const o = openSync(join(dir, 'o'), 'w');
  const e = openSync(join(dir, 'e'), 'w');
  const code = await new Promise<number>((resolve) => {
    const c = spawn(wrapper, argv, { stdio: ['ignore', o, e, ...fds] });
    c.on('exit', (code) => resolve(code ?? 255));
  });
  closeSync(o);
  closeSync(e);
  const r = { code, stdout: readFileSync(join(dir, 'o'), 'utf8'), stderr: readFileSync(join(dir, 'e'), 'utf8') };
  rmSync(dir, { recursive: true, force: true });
  return r;
}
