/**
 * `tsrun pause` / `tsrun resume` on real containers: the freezer stops a
 * counter and thaws it, the state says `paused`, runc's errors for the wrong
 * state, and a paused container can still be killed, deleted and (with
 * `--ignore-paused`) exec'd into.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, cgroupFile, procCgroups, setup, sleep, until } from './common.js';

const COUNTER = ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; usleep 20000; done'];

function lastCount(text: string): number {
  const lines = text.trim().split('\n');
  return Number(lines.at(-1) ?? 0);
}

t.test('pause freezes a counter, resume thaws it; runc errors for the wrong state', async (t) => {
  const env = await setup(t, COUNTER);
  await env.launch('cgcli-pr1');
  const pid = (await env.info('cgcli-pr1')).pid as number;
  await until('the counter to start', () => lastCount(env.out('cgcli-pr1')) >= 3);

  const p = await env.tsrun(['pause', 'cgcli-pr1']);
  t.equal(p.code, 0, `pause: ${p.stderr}`);
  t.equal(p.stdout, '', 'pause prints nothing');
  t.equal((await env.info('cgcli-pr1')).status, 'paused', 'state reports paused');
  t.equal(cgroupFile(pid, 'freezer', 'freezer.state'), 'FROZEN', 'the v1 freezer is FROZEN');
  await sleep(50); // a line being written as the freeze landed
  const frozenAt = lastCount(env.out('cgcli-pr1'));
  await sleep(600);
  t.equal(lastCount(env.out('cgcli-pr1')), frozenAt, `the counter stays at ${frozenAt} for 600 ms while paused`);

  const again = await env.tsrun(['pause', 'cgcli-pr1']);
  t.equal(again.code, 1, 'pausing a paused container fails');
  t.match(again.stderr, 'container paused');

  const exec = await env.tsrun(['exec', 'cgcli-pr1', '/bin/true']);
  t.not(exec.code, 0, 'exec into a paused container is refused');
  t.match(exec.stderr, /paused.*--ignore-paused/);

  // With --ignore-paused the process joins the frozen cgroup: it runs once the container is thawed.
  let execDone = false;
  const ignoring = env.tsrun(['exec', '--ignore-paused', 'cgcli-pr1', '/bin/echo', 'hello-after-thaw']).then((r) => {
    execDone = true;
    return r;
  });
  await sleep(700);
  t.notOk(execDone, 'the --ignore-paused exec is frozen with the container');

  const r = await env.tsrun(['resume', 'cgcli-pr1']);
  t.equal(r.code, 0, `resume: ${r.stderr}`);
  t.equal((await env.info('cgcli-pr1')).status, 'running');
  t.equal(cgroupFile(pid, 'freezer', 'freezer.state'), 'THAWED');
  await until('the counter to advance after resume', () => lastCount(env.out('cgcli-pr1')) > frozenAt + 3, 5000);
  t.pass(`the counter advances again (${frozenAt} -> ${lastCount(env.out('cgcli-pr1'))})`);
  const ex = await ignoring;
  t.equal(ex.code, 0, `the --ignore-paused exec finished after resume: ${ex.stderr}`);
  t.equal(ex.stdout, 'hello-after-thaw\n');

  // Detached: returns at once with the pid file; the process is in the frozen cgroup until resume.
  t.equal((await env.tsrun(['pause', 'cgcli-pr1'])).code, 0);
  const pidFile = join(env.scratch, 'exec-d.pid');
  const marker = `/proc/${pid}/root/dev/shm/exec-d-ran`; // the rootfs is read-only
  const d = await env.tsrun(['exec', '--detach', '--ignore-paused', '--pid-file', pidFile, 'cgcli-pr1', '/bin/sh', '-c', 'touch /dev/shm/exec-d-ran'], { timeoutMs: 5000 });
  t.equal(d.code, 0, `exec -d --ignore-paused returns while paused: ${d.stderr}`);
  const execPid = Number(readFileSync(pidFile, 'utf8'));
  t.ok(execPid > 0, `pid file written (${execPid})`);
  t.equal(procCgroups(execPid)['freezer'], procCgroups(pid)['freezer'], 'the process is in the container\'s freezer cgroup');
  await sleep(300);
  t.notOk(existsSync(marker), 'it has not run while paused');
  t.equal((await env.tsrun(['resume', 'cgcli-pr1'])).code, 0);
  await until('the detached exec to run after resume', () => existsSync(marker), 5000);
  t.pass('it runs after resume');

  const r2 = await env.tsrun(['resume', 'cgcli-pr1']);
  t.equal(r2.code, 1, 'resuming a running container fails');
  t.match(r2.stderr, 'container not paused');

  // SIGKILL reaches a paused container.
  t.equal((await env.tsrun(['pause', 'cgcli-pr1'])).code, 0);
  const k = await env.tsrun(['kill', 'cgcli-pr1', 'KILL']);
  t.equal(k.code, 0, `kill KILL of a paused container: ${k.stderr}`);
  await env.waitStatus('cgcli-pr1', 'stopped');
  t.notOk(alive(pid), 'the init is dead');
  const stoppedPause = await env.tsrun(['pause', 'cgcli-pr1']);
  t.equal(stoppedPause.code, 1);
  t.match(stoppedPause.stderr, 'container not running');
  const stoppedResume = await env.tsrun(['resume', 'cgcli-pr1']);
  t.equal(stoppedResume.code, 1);
  t.match(stoppedResume.stderr, 'container not running');
  t.equal((await env.tsrun(['delete', 'cgcli-pr1'])).code, 0);
  const unknown = await env.tsrun(['pause', 'nosuch']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, 'container does not exist');
});

t.test('delete --force of a paused container kills it and removes its cgroup', async (t) => {
  const env = await setup(t, COUNTER);
  await env.launch('cgcli-pr2');
  const pid = (await env.info('cgcli-pr2')).pid as number;
  const dir = `/sys/fs/cgroup/freezer${procCgroups(pid)['freezer']}`;
  t.equal((await env.tsrun(['pause', 'cgcli-pr2'])).code, 0);
  const plain = await env.tsrun(['delete', 'cgcli-pr2']);
  t.equal(plain.code, 1, 'delete without --force refuses a paused container');
  t.match(plain.stderr, 'cannot delete container cgcli-pr2 that is not stopped: paused');
  const d = await env.tsrun(['delete', '--force', 'cgcli-pr2']);
  t.equal(d.code, 0, `delete --force: ${d.stderr}`);
  t.notOk(alive(pid), 'the paused init is dead');
  t.notOk(existsSync(dir), `${dir} is removed`);
  t.equal(await env.info('cgcli-pr2'), undefined, 'the container is gone');
});

t.test('a paused created container: pause works before start, and start after resume', async (t) => {
  const env = await setup(t, ['/bin/echo', 'started']);
  const c = await env.tsrun(['create', '--bundle', env.bundle.dir, 'cgcli-pr3']);
  t.equal(c.code, 0, c.stderr);
  t.equal((await env.tsrun(['pause', 'cgcli-pr3'])).code, 0, 'a created container can be paused');
  t.equal((await env.info('cgcli-pr3')).status, 'paused');
  t.equal((await env.tsrun(['resume', 'cgcli-pr3'])).code, 0);
  t.equal((await env.info('cgcli-pr3')).status, 'created', 'resume returns it to created');
  t.equal((await env.tsrun(['delete', '--force', 'cgcli-pr3'])).code, 0);
});
