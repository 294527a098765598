/**
 * The lifecycle verbs as engines call them (oci-contract.md 2.2-2.8, 3.1-3.8):
 * create's pid file and re-parenting to the caller's subreaper, start's
 * status errors, the state fields, list, kill's signal forms, delete's
 * rules, status derivation (a zombie init is stopped), and a create killed at
 * any point being cleaned up by delete --force.
 */
import t from 'tap';
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, procStat, runTsrun, setup, sleep, tsrunBin, waitGone, hasPython, writeBundleConfig } from './common.js';
import { underSubreaper } from './subreaper.js';

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** Host pids whose /proc/<pid>/cgroup names the container's default cgroup path (`tsrun/<id>`). */
function pidsInCgroupOf(id: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(`/tsrun/${id}`))) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

function cgroupDirsOf(id: string): string[] {
  const out: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const p = join('/sys/fs/cgroup', h, 'tsrun', id);
    if (existsSync(p)) out.push(p);
  }
  if (existsSync(join('/sys/fs/cgroup', 'tsrun', id))) out.push(join('/sys/fs/cgroup', 'tsrun', id));
  return out;
}

t.test('create --pid-file under a subreaper: decimal, no newline; the init is the subreaper\'s child; no tsrun process stays', { skip: hasPython ? false : 'needs python3' }, async (t) => {
  const env = await setup(t);
  const pidFile = join(env.scratch, 'init.pid');
  const sr = await underSubreaper(env.scratch, pidFile, [tsrunBin, '--root', env.root, 'create', '--bundle', env.bundle.dir, '--pid-file', pidFile, 'reap1']);
  t.teardown(() => sr.close());
  t.equal(sr.report.tsrun, 0, 'create exits 0');
  const text = readFileSync(pidFile, 'utf8');
  t.match(text, /^[1-9]\d*$/, 'decimal with no newline');
  t.notOk(existsSync(join(env.scratch, '.init.pid')), 'no temp file left');
  const pid = Number(text);
  t.same(sr.report.children.map((c) => c[0]), [pid], 'the init is the only child of the subreaper: no tsrun or helper process stays');
  t.equal(procStat(pid)?.[1], String(sr.report.me), 'the init\'s parent is the subreaper');
  const st = await env.info('reap1');
  t.equal(st.pid, pid, 'state pid = pid file');
  t.equal(st.status, 'created');

  // A zombie init counts as stopped, and delete works before the subreaper reaps it.
  t.equal((await env.tsrun(['start', 'reap1'])).code, 0);
  t.equal((await env.tsrun(['kill', 'reap1', 'KILL'])).code, 0);
  for (let i = 0; i < 200 && procStat(pid)?.[0] !== 'Z'; i++) await sleep(10);
  t.equal(procStat(pid)?.[0], 'Z', 'the init is a zombie, not reaped yet');
  const zs = await env.info('reap1');
  t.equal(zs.status, 'stopped', 'a zombie init is stopped');
  t.equal(zs.pid, 0);
  t.equal((await env.tsrun(['delete', 'reap1'])).code, 0, 'delete before the reap');
  const status = await sr.reap(pid);
  t.equal(status & 0x7f, 9, 'the subreaper reaps the init (killed by SIGKILL)');
});

t.test('pid file: never written when create fails', async (t) => {
  const env = await setup(t, ['/no/such/bin']);
  const pidFile = join(env.scratch, 'fail.pid');
  const r = await env.tsrun(['create', '--bundle', env.bundle.dir, '--pid-file', pidFile, 'nopid']);
  t.equal(r.code, 1);
  t.notOk(existsSync(pidFile), 'no pid file');
  t.same(readdirSync(env.scratch).filter((n) => n.includes('pid')), [], 'no temp pid file either');
  env.bundle.config.process.args = ['/probe', 'sleep', '600'];
  env.bundle.config.process.terminal = true;
  await writeBundleConfig(env.bundle);
  const r2 = await env.tsrun(['create', '--bundle', env.bundle.dir, '--pid-file', pidFile, 'nopid2']);
  t.equal(r2.code, 1, 'terminal without a console socket fails');
  t.notOk(existsSync(pidFile));
});

t.test('a user switch the kernel refuses fails create (as runc), naming process.user, and leaves nothing; run too', async (t) => {
  // Group 50 is not mapped in a user namespace of ten ids: setgroups fails with EINVAL. The
  // switch used to come after the exec fifo: create succeeded, start returned 0, the error was lost.
  const env = await setup(t, ['/bin/true'], (c) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 10 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 10 }];
    c.process.user = { uid: 0, gid: 0, additionalGids: [50] };
    c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/sys');
    c.linux.maskedPaths = c.linux.maskedPaths.filter((p: string) => !p.startsWith('/sys'));
  });
  chmodSync(env.bundle.dir, 0o755); // the mapped root (host uid 200000) must reach the rootfs
  for (const cmd of ['create', 'run']) {
    const r = await env.tsrun([cmd, '--bundle', env.bundle.dir, `badgroup-${cmd}`]);
    t.equal(r.code, 1, `${cmd} fails`);
    t.match(r.stderr, /level=error msg="USER setgroups.*\(process\.user\): EINVAL/, `${cmd}: the step and the field: ${r.stderr.trim()}`);
    t.same(readdirSync(env.root).filter((n) => !n.startsWith('@')), [], `${cmd}: no container left`);
  }
});

t.test('state fields and status derivation: created, running, paused, stopped', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600'], (c) => {
    c.annotations = { 'org.example.key': 'value' };
  });
  const before = Date.now();
  await env.launch('cli-st1', { created: true });
  const raw = (await env.tsrun(['state', 'cli-st1'])).stdout;
  t.notOk(raw.endsWith('\n'), 'no trailing newline (runc)');
  t.match(raw, /^\{\n  "ociVersion"/, 'indented with two spaces');
  const st = JSON.parse(raw);
  t.same(Object.keys(st).sort(), ['annotations', 'bundle', 'created', 'id', 'ociVersion', 'owner', 'pid', 'rootfs', 'status'].sort());
  t.equal(st.ociVersion, '1.0.2', 'the config\'s ociVersion');
  t.equal(st.id, 'cli-st1');
  t.equal(st.status, 'created');
  t.ok(alive(st.pid));
  t.equal(st.bundle, env.bundle.dir);
  t.equal(st.rootfs, env.bundle.rootfs);
  t.match(st.created, RFC3339);
  t.ok(Math.abs(Date.parse(st.created) - before) < 60_000);
  t.same(st.annotations, { 'org.example.key': 'value' });
  t.equal(st.owner, '');
  t.ok(existsSync(join(env.root, 'cli-st1', 'exec.fifo')), 'created = init alive + fifo');
  t.equal((await env.tsrun(['start', 'cli-st1'])).code, 0);
  t.equal((await env.info('cli-st1')).status, 'running', 'running = init alive, no fifo');
  t.equal((await env.tsrun(['pause', 'cli-st1'])).code, 0);
  t.equal((await env.info('cli-st1')).status, 'paused', 'paused = frozen cgroup');
  const sp = await env.tsrun(['start', 'cli-st1']);
  t.equal(sp.code, 1);
  t.match(sp.stderr, 'cannot start a container in the paused state');
  t.equal((await env.tsrun(['resume', 'cli-st1'])).code, 0);
  t.equal((await env.info('cli-st1')).status, 'running');
  t.equal((await env.tsrun(['kill', 'cli-st1', 'KILL'])).code, 0);
  const stopped = await env.waitStatus('cli-st1', 'stopped');
  t.equal(stopped.pid, 0, 'pid 0 when stopped');
  const s2 = await env.tsrun(['start', 'cli-st1']);
  t.equal(s2.code, 1);
  t.match(s2.stderr, 'cannot start a container that has stopped');
  t.equal((await env.tsrun(['delete', 'cli-st1'])).code, 0);
});

t.test('list: table, json (with owner), -q; empty lists', async (t) => {
  const env = await setup(t);
  t.equal((await env.tsrun(['list', '--format', 'json'])).stdout.trim(), 'null', 'no containers: null (go-runc accepts it)');
  t.equal((await env.tsrun(['list', '-q'])).stdout, '');
  t.match((await env.tsrun(['list'])).stdout, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n$/);
  await env.launch('cli-la', { created: true });
  await env.launch('cli-lb');
  const json = JSON.parse((await env.tsrun(['list', '--format', 'json'])).stdout);
  t.same(json.map((s: any) => [s.id, s.status]), [['cli-la', 'created'], ['cli-lb', 'running']]);
  t.ok(json.every((s: any) => s.owner === 'root'), 'list fills owner');
  t.ok(json.every((s: any) => s.pid > 0 && s.bundle === env.bundle.dir && s.rootfs && s.created && s.ociVersion));
  t.equal((await env.tsrun(['list', '-q'])).stdout, 'cli-la\ncli-lb\n');
  const table = (await env.tsrun(['list', '--format', 'table'])).stdout.trim().split('\n');
  t.equal(table.length, 3);
  t.match(table[1], new RegExp(`^cli-la\\s+${json[0].pid}\\s+created\\s+${env.bundle.dir}\\s+\\S+\\s+root$`));
  const bad = await env.tsrun(['list', '--format', 'yaml']);
  t.equal(bad.code, 1);
});

t.test('kill: number, KILL, SIGKILL, default SIGTERM, --all; errors', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'trap "echo got-USR1 >> /tmp/sigs" USR1; trap "echo got-HUP >> /tmp/sigs" HUP; trap "exit 3" TERM; while :; do sleep 0.05; done']);
  env.bundle.config.root.readonly = false;
  await writeBundleConfig(env.bundle);
  const sigs = join(env.bundle.rootfs, 'tmp', 'sigs');
  await env.launch('cli-k1');
  await sleep(200);
  t.equal((await env.tsrun(['kill', 'cli-k1', '10'])).code, 0, 'a number');
  t.equal((await env.tsrun(['kill', 'cli-k1', 'HUP'])).code, 0, 'a name without SIG');
  for (let i = 0; i < 100 && (readFileSyncSafe(sigs).match(/got/g)?.length ?? 0) < 2; i++) await sleep(20);
  t.equal(readFileSyncSafe(sigs).match(/got/g)?.length, 2, 'both signals reached the init');
  const bad = await env.tsrun(['kill', 'cli-k1', 'SIGBOGUS']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, 'unknown signal');
  t.equal((await env.tsrun(['kill', 'cli-k1'])).code, 0, 'default SIGTERM');
  await env.waitStatus('cli-k1', 'stopped');
  const st = await env.tsrun(['kill', 'cli-k1', 'KILL']);
  t.equal(st.code, 1);
  t.match(st.stderr, 'container not running');
  t.equal((await env.tsrun(['kill', '--all', 'cli-k1', 'KILL'])).code, 0, '--all of a stopped container is success');
  const none = await env.tsrun(['kill', 'nosuch', 'KILL']);
  t.equal(none.code, 1);
  t.match(none.stderr, 'container does not exist');
  t.equal((await env.tsrun(['delete', 'cli-k1'])).code, 0);

  // SIGKILL by name, and --all reaches every process of the container.
  env.bundle.config.process.args = ['/bin/sh', '-c', 'sleep 600 & sleep 600 & wait'];
  await writeBundleConfig(env.bundle);
  const s = await env.launch('cli-k2');
  await sleep(200);
  const pids = JSON.parse((await env.tsrun(['ps', '--format', 'json', 'cli-k2'])).stdout) as number[];
  t.equal(pids.length, 3, 'init and two sleeps');
  t.equal((await env.tsrun(['kill', '--all', 'cli-k2', 'SIGKILL'])).code, 0);
  for (const p of pids) t.ok(await waitGone(p), `pid ${p} is gone`);
  t.equal((await env.waitStatus('cli-k2', 'stopped')).pid, 0);
  void s;
});

function readFileSyncSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

t.test('delete: created without --force; running needs --force; --force of an unknown id exits 0; cgroup and dir go', async (t) => {
  const env = await setup(t);
  const c = await env.launch('cli-d1', { created: true });
  t.equal((await env.tsrun(['delete', 'cli-d1'])).code, 0, 'a created container is killed and deleted without --force');
  t.ok(await waitGone(c.pid));
  t.notOk(existsSync(join(env.root, 'cli-d1')));
  t.same(cgroupDirsOf('cli-d1'), []);
  const r = await env.launch('cli-d2');
  const d = await env.tsrun(['delete', 'cli-d2']);
  t.equal(d.code, 1);
  t.match(d.stderr, 'cannot delete container cli-d2 that is not stopped: running');
  t.ok(alive(r.pid), 'a refused delete changes nothing');
  t.equal((await env.tsrun(['delete', '--force', 'cli-d2'])).code, 0);
  t.ok(await waitGone(r.pid));
  t.same(cgroupDirsOf('cli-d2'), [], 'the cgroup is removed');
  t.notOk(existsSync(join(env.root, 'cli-d2')));
  const u = await env.tsrun(['delete', '--force', 'never-existed']);
  t.equal(u.code, 0, '--force of an unknown id');
  t.equal(u.stderr, '');
  const u2 = await env.tsrun(['delete', 'never-existed']);
  t.equal(u2.code, 1);
  t.match(u2.stderr, 'container does not exist');
});

t.test('a create SIGKILLed at any point is cleaned up by delete --force: no process, cgroup or dir', async (t) => {
  const env = await setup(t);
  // How long a create takes here, to spread the kill points over it.
  const t0 = Date.now();
  await env.launch(`probe-time-${process.pid}`, { created: true });
  const full = Date.now() - t0;
  await env.tsrun(['delete', '--force', `probe-time-${process.pid}`]);
  const steps = 12;
  for (let i = 0; i < steps; i++) {
    const id = `killed${i}-${process.pid}`;
    const delay = Math.round((full * 1.2 * i) / steps);
    const r = await runTsrun(['--root', env.root, 'create', '--bundle', env.bundle.dir, id], {
      onSpawn: (pid) => setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already done */
        }
      }, delay),
    });
    const hadState = existsSync(join(env.root, id, 'state.json'));
    const before = `dir [${existsSync(join(env.root, id)) ? readdirSync(join(env.root, id)).join(',') : '-'}] cgroup before delete: ${cgroupDirsOf(id).length}`;
    const rec = await env.tsrun(['state', id]);
    let initPid = 0;
    if (rec.code === 0) initPid = JSON.parse(rec.stdout).pid;
    else {
      try {
        initPid = JSON.parse(readFileSync(join(env.root, id, 'state.json'), 'utf8')).initPid;
      } catch {
        /* nothing recorded */
      }
    }
    const d = await env.tsrun(['delete', '--force', id]);
    t.equal(d.code, 0, `kill after ${delay} ms (create exit ${r.code}): delete --force: ${d.stderr}`);
    t.notOk(existsSync(join(env.root, id)), `${id}: no state dir`);
    if (initPid) t.ok(await waitGone(initPid, 5000), `${id}: the init ${initPid} is gone`);
    let left: number[] = [];
    for (let k = 0; k < 50; k++) {
      left = pidsInCgroupOf(id);
      if (!left.length) break;
      await sleep(20);
    }
    t.same(left, [], `${id}: no process left in its cgroup`);
    t.same(cgroupDirsOf(id), [], `${id}: no cgroup left (killed after ${delay} ms, create exit ${r.code}, state recorded: ${hadState}, ${before}, create said ${r.stderr.trim()}, delete said ${d.stdout}${d.stderr})`);
  }
  t.same(readdirSync(env.root).filter((n) => !n.startsWith('@')), [], 'the root is empty');
  // Leftover helpers: none of ours may still run.
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const exe = readlinkSync(`/proc/${d}/exe`);
      const env2 = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (/tsrun-init|memfd:tsrun/.test(exe) && env2.includes(env.root)) t.fail(`helper ${d} still runs`);
    } catch {
      /* gone or not ours */
    }
  }
  writeFileSync(join(env.scratch, 'done'), '');
});
