/**
 * runc's global options and parser rules, as engines pass them
 * (oci-contract.md 2.1, 2.6 and 3.14): --root and its defaults, --log with
 * both formats, --debug, --systemd-cgroup, --rootless, `--flag value` and
 * `--flag=value`, short forms, unknown flags, an empty environment, and a
 * silent stderr on success of the commands engines parse.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leakOptions, runTsrun, setup, tsrunBin } from './common.js';
import { guardLeaks } from '../../helpers/leaks.js';
import { makeBundle } from '../../helpers/bundle.js';

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

t.test('--root: default /run/tsrun as root; made absolute; / refused', async (t) => {
  await guardLeaks(t, leakOptions);
  const bundle = await makeBundle({ args: ['/probe', 'sleep', '600'] });
  t.teardown(() => bundle.cleanup());
  const id = `tsrun-cli-defroot-${process.pid}`;
  t.teardown(() => runTsrun(['delete', '--force', id]));
  const c = await runTsrun(['create', '--bundle', bundle.dir, id]);
  t.equal(c.code, 0, c.stderr);
  t.ok(existsSync(join('/run/tsrun', id, 'state.json')), 'the state is under /run/tsrun');
  t.equal((await runTsrun(['delete', id])).code, 0, 'a created container is deleted without --force');
  t.notOk(existsSync(join('/run/tsrun', id)));

  const rel = await runTsrun(['--root', 'relroot', 'list', '-q'], { cwd: tmpdir() });
  t.equal(rel.code, 0, 'a relative --root is taken from the working directory');
  const slash = await runTsrun(['--root', '/', 'list']);
  t.equal(slash.code, 1);
  t.match(slash.stderr, 'cannot be /');
});

t.test('--root: $XDG_RUNTIME_DIR/tsrun when not root', { skip: existsSync('/usr/bin/setpriv') ? false : 'needs setpriv' }, async (t) => {
  const xdg = mkdtempSync(join(tmpdir(), 'tsrun-test-xdg-'));
  t.teardown(() => rmSync(xdg, { recursive: true, force: true }));
  chmodSync(xdg, 0o755);
  const dir = join(xdg, 'tsrun', 'fake-ctr');
  mkdirSync(dir, { recursive: true });
  // A stopped container as tsrun records one (its private format), owned by the user.
  writeFileSync(join(dir, 'state.json'), JSON.stringify({
    version: 1, ociVersion: '1.0.2', id: 'fake-ctr', bundle: '/nonexistent', rootfs: '/nonexistent/rootfs', created: new Date().toISOString(),
    owner: '', initPid: 0, initStartTime: '', phase: 'created', config: { ociVersion: '1.0.2' }, namespaces: [], privatePidNs: true, rootless: true,
  }));
  for (const p of [join(xdg, 'tsrun'), dir, join(dir, 'state.json')]) chownSync(p, 1000, 1000);
  const q = spawnSync('/usr/bin/setpriv', ['--reuid', '1000', '--regid', '1000', '--clear-groups', '/usr/bin/env', '-i', `XDG_RUNTIME_DIR=${xdg}`, tsrunBin, 'list', '-q'], { encoding: 'utf8' });
  t.equal(q.status, 0, q.stderr);
  t.equal(q.stdout, 'fake-ctr\n', 'a non-root caller without --root uses $XDG_RUNTIME_DIR/tsrun');
});

t.test('--log with --log-format json and text: every fatal error is logged, and raw on stderr too', async (t) => {
  const env = await setup(t);
  const log = join(env.scratch, 'log.json');
  const r = await env.tsrun(['--log', log, '--log-format', 'json', 'state', 'nosuch']);
  t.equal(r.code, 1);
  const lines = readFileSync(log, 'utf8').split('\n');
  t.equal(lines.pop(), '', 'each line ends with a newline');
  const e = JSON.parse(lines.at(-1)!);
  t.same(Object.keys(e).sort(), ['level', 'msg', 'time'], 'runc\'s keys');
  t.equal(e.level, 'error');
  t.equal(e.msg, 'container does not exist');
  t.match(e.time, RFC3339, 'time is RFC3339');
  t.match(r.stderr, 'container does not exist', 'also raw on stderr (conmon reads stderr)');
  // --log=FILE and --log-format=json: appended, one object per line.
  const r2 = await env.tsrun([`--log=${log}`, '--log-format=json', 'kill', 'nosuch2']);
  t.equal(r2.code, 1);
  const all = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.equal(all.at(-1).msg, 'container does not exist');
  t.ok(all.length >= 2, 'appended, not truncated');
  // A create failure: containerd reads the msg of the last error line.
  const r3 = await env.tsrun(['--log', log, '--log-format', 'json', 'create', '--bundle', join(env.scratch, 'nobundle'), 'x1']);
  t.equal(r3.code, 1);
  t.equal(JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1)!).level, 'error');
  // text format to a file.
  const tlog = join(env.scratch, 'log.txt');
  const r4 = await env.tsrun(['--log', tlog, 'state', 'nosuch']);
  t.equal(r4.code, 1);
  t.match(readFileSync(tlog, 'utf8'), /^time="[^"]+" level=error msg="container does not exist"\n$/);
  // No --log: the text line goes to stderr.
  const r5 = await env.tsrun(['state', 'nosuch']);
  t.match(r5.stderr, /time="[^"]+" level=error msg="container does not exist"/);
  const bad = await env.tsrun(['--log-format', 'xml', 'list']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, 'invalid log format');
});

t.test('--debug adds debug lines to the log; --systemd-cgroup fails clearly without systemd; --rootless values', async (t) => {
  const env = await setup(t);
  const log = join(env.scratch, 'debug.json');
  const d = await env.tsrun(['--debug', '--log', log, '--log-format', 'json', 'list']);
  t.equal(d.code, 0, d.stderr);
  t.equal(d.stderr, '');
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.ok(lines.length > 0 && lines.every((l) => l.level === 'debug'), 'debug lines only, in the log file');
  const quiet = join(env.scratch, 'quiet.json');
  t.equal((await env.tsrun(['--log', quiet, 'list'])).code, 0);
  t.notOk(existsSync(quiet) && readFileSync(quiet, 'utf8').length, 'no debug lines without --debug');

  const systemdRunning = existsSync('/run/systemd/system');
  const s = await env.tsrun(['--systemd-cgroup', 'create', '--bundle', env.bundle.dir, 'sd1']);
  if (systemdRunning) {
    t.equal(s.code, 0, s.stderr);
  } else {
    t.equal(s.code, 1);
    t.match(s.stderr, /systemd is not running/);
    t.notOk(existsSync(join(env.root, 'sd1')), 'nothing left');
  }
  for (const v of ['true', 'false', 'auto']) {
    t.equal((await env.tsrun([`--rootless=${v}`, 'list'])).code, 0, `--rootless=${v}`);
    t.equal((await env.tsrun(['--rootless', v, 'list'])).code, 0, `--rootless ${v}`);
  }
  const bad = await env.tsrun(['--rootless', 'maybe', 'list']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, 'invalid --rootless value');
});

t.test('--flag value, --flag=value, short forms, and unknown flags', async (t) => {
  const env = await setup(t);
  const pidFile = join(env.scratch, 'pid');
  const c = await runTsrun([`--root=${env.root}`, 'create', `--bundle=${env.bundle.dir}`, `--pid-file=${pidFile}`, 'eq1']);
  t.equal(c.code, 0, c.stderr);
  t.match(readFileSync(pidFile, 'utf8'), /^\d+$/);
  const c2 = await env.tsrun(['create', '-b', env.bundle.dir, 'short1']);
  t.equal(c2.code, 0, `create -b: ${c2.stderr}`);
  const l = await env.tsrun(['list', '-f', 'json']);
  t.same(JSON.parse(l.stdout).map((s: { id: string }) => s.id).sort(), ['eq1', 'short1'], 'list -f json');
  const l2 = await env.tsrun(['list', '--format=json']);
  t.equal(l2.stdout, l.stdout, 'list --format=json');
  t.equal((await env.tsrun(['start', 'short1'])).code, 0);
  const e = await env.tsrun(['exec', '-d', '-t', '--console-socket', join(env.scratch, 'no.sock'), 'short1', '/bin/true']);
  t.not(e.code, 0, 'exec -d -t parsed (the missing socket is what fails)');
  t.match(e.stderr, /console|connect|ENOENT|no such file/i);
  const procFile = join(env.scratch, 'p.json');
  writeFileSync(procFile, JSON.stringify({ args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 } }));
  t.equal((await env.tsrun(['exec', '-p', procFile, 'short1'])).code, 0, 'exec -p FILE');
  t.equal((await env.tsrun(['kill', '-a', 'short1', 'KILL'])).code, 0, 'kill -a');
  await env.waitStatus('short1', 'stopped');
  t.equal((await env.tsrun(['delete', '-f', 'short1'])).code, 0, 'delete -f');
  t.equal((await env.tsrun(['delete', '-f', 'eq1'])).code, 0);
  const u = await env.tsrun(['update', '-r', join(env.scratch, 'none.json'), 'eq1']);
  t.equal(u.code, 1, 'update -r parsed');
  t.notMatch(u.stderr, 'flag provided but not defined');

  for (const argv of [['--bogus', 'list'], ['list', '--bogus'], ['create', '--bogus', 'x'], ['exec', '--nope', 'x', 'true'], ['list', '-Z'], ['kill', '--all=maybe', 'x']]) {
    const r = await env.tsrun(argv);
    t.equal(r.code, argv[0] === 'exec' ? 255 : 1, `${argv.join(' ')} fails`);
    t.match(r.stderr, /flag provided but not defined|invalid boolean/, argv.join(' '));
  }
  const unknownCmd = await env.tsrun(['frobnicate']);
  t.equal(unknownCmd.code, 1);
  t.match(unknownCmd.stderr, 'unknown command');
});

t.test('env -i /abs/bin/tsrun state works; stderr is empty on success of state, ps, features, list', async (t) => {
  const env = await setup(t);
  await env.launch('quiet1');
  const r = await runTsrun(['--root', env.root, 'state', 'quiet1'], { env: {} });
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).status, 'running');
  t.equal(r.stderr, '');
  for (const argv of [['state', 'quiet1'], ['ps', 'quiet1'], ['ps', '--format', 'json', 'quiet1'], ['features'], ['list'], ['list', '--format', 'json'], ['list', '-q']]) {
    const q = await runTsrun(['--root', env.root, ...argv], { env: { XDG_RUNTIME_DIR: env.scratch } });
    t.equal(q.code, 0, `${argv.join(' ')}: ${q.stderr}`);
    t.equal(q.stderr, '', `${argv.join(' ')}: nothing on stderr`);
  }
  const k = await runTsrun(['--root', env.root, 'kill', 'quiet1', 'KILL'], { env: {} });
  t.equal(k.code, 0, 'kill with an empty environment (podman)');
  await env.waitStatus('quiet1', 'stopped');
  const d = await runTsrun(['--root', env.root, 'delete', '--force', 'quiet1'], { env: {} });
  t.equal(d.code, 0, 'delete --force with an empty environment (podman)');
  t.equal(d.stderr, '');
});

t.test('--version and help', async (t) => {
  const v = await runTsrun(['--version'], { env: {} });
  t.equal(v.code, 0);
  t.match(v.stdout, /^tsrun version \S+\ncommit: \S+\nspec: 1\.3\.0\n/);
  const h = await runTsrun(['create', '--help']);
  t.equal(h.code, 0);
  t.match(h.stdout, '--bundle');
});
