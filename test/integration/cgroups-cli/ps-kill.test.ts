/**
 * `tsrun ps` and `tsrun kill --all` use the cgroup's process list: ps lists
 * exactly the container's host pids (checked against /proc/<pid>/cgroup),
 * and kill --all reaches every process, which matters most for a container
 * without its own pid namespace, where the init's death ends nothing else.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { alive, pidsInCgroup, procCgroups, setup, until } from './common.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- config edits */

const FAMILY = ['/bin/sh', '-c', '/probe sleep 600 & /probe sleep 600 & (/probe sleep 600 &) ; wait'];

function noPidNs(c: any): void {
  c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'pid');
}

t.test('ps --format json lists exactly the host pids in the container cgroup', async (t) => {
  const env = await setup(t, FAMILY);
  await env.launch('cgcli-ps1');
  const pid = (await env.info('cgcli-ps1')).pid as number;
  const freezer = procCgroups(pid)['freezer']!;
  await until('four processes', () => pidsInCgroup('freezer', freezer).length === 4);
  const r = await env.tsrun(['ps', '--format', 'json', 'cgcli-ps1']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\[[\d,]+\]\n$/, 'a JSON array of ints and a newline');
  const listed = (JSON.parse(r.stdout) as number[]).sort((a, b) => a - b);
  t.same(listed, pidsInCgroup('freezer', freezer), 'the same pids /proc says are in the container freezer cgroup');
  t.ok(listed.includes(pid), 'the init is listed');
  t.equal(listed.length, 4, 'sh and three probes (one re-parented away from sh)');
  for (const p of listed) {
    t.same(procCgroups(p), procCgroups(pid), `pid ${p} is in the container cgroup in every hierarchy`);
  }

  // An exec'd process is listed while it runs; the helper that started it is not.
  const exec = env.tsrun(['exec', 'cgcli-ps1', '/probe', 'sleep', '2']);
  const cmd = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      return '';
    }
  };
  await until('the exec process to run, and its helper to leave', () => {
    const now = pidsInCgroup('freezer', freezer);
    return now.length === 5 && now.some((p) => cmd(p) === '/probe sleep 2');
  });
  const during = (JSON.parse((await env.tsrun(['ps', '--format', 'json', 'cgcli-ps1'])).stdout) as number[]).sort((a, b) => a - b);
  t.same(during, pidsInCgroup('freezer', freezer), 'ps during an exec: the container processes and the exec process');
  t.equal(during.length, 5);
  t.notOk(during.some((p) => cmd(p).includes('tsrun-init')), 'the exec helper (tsrun-init) is not in the container cgroup');
  t.equal((await exec).code, 0);

  const table = await env.tsrun(['ps', 'cgcli-ps1']);
  t.equal(table.code, 0, table.stderr);
  const rows = table.stdout.trim().split('\n');
  t.match(rows[0], /PID/, 'the host ps header');
  t.equal(rows.length, 5, 'one row per process');
  const custom = await env.tsrun(['ps', 'cgcli-ps1', '-o', 'pid,comm']);
  t.equal(custom.code, 0, custom.stderr);
  t.same(custom.stdout.trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).sort((a, b) => a - b), listed, 'ps args are passed to the host ps');

  const bad = await env.tsrun(['ps', '--format', 'yaml', 'cgcli-ps1']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /invalid format/);
});

t.test('kill --all signals every process of a container without its own pid namespace', async (t) => {
  const env = await setup(t, FAMILY, noPidNs);
  await env.launch('cgcli-ka1');
  const pid = (await env.info('cgcli-ka1')).pid as number;
  const freezer = procCgroups(pid)['freezer']!;
  const all = await until('four processes', () => {
    const p = pidsInCgroup('freezer', freezer);
    return p.length === 4 ? p : undefined;
  });
  t.same((JSON.parse((await env.tsrun(['ps', '--format', 'json', 'cgcli-ka1'])).stdout) as number[]).sort((a, b) => a - b), all);
  const k = await env.tsrun(['kill', '--all', 'cgcli-ka1', 'TERM']);
  t.equal(k.code, 0, k.stderr);
  await until('every process to die', () => all.every((p) => !alive(p)), 5000);
  t.pass(`all ${all.length} processes died of SIGTERM`);
  await env.waitStatus('cgcli-ka1', 'stopped');
  t.equal((await env.tsrun(['delete', 'cgcli-ka1'])).code, 0);
});

t.test('kill --all KILL, kill of the init only, and delete of the leftovers (no pid namespace)', async (t) => {
  const env = await setup(t, FAMILY, noPidNs);
  await env.launch('cgcli-ka2');
  let pid = (await env.info('cgcli-ka2')).pid as number;
  let freezer = procCgroups(pid)['freezer']!;
  let all = await until('four processes', () => {
    const p = pidsInCgroup('freezer', freezer);
    return p.length === 4 ? p : undefined;
  });
  t.equal((await env.tsrun(['kill', '--all', 'cgcli-ka2', 'KILL'])).code, 0);
  await until('every process to die', () => all.every((p) => !alive(p)), 5000);
  t.pass('kill --all KILL: every process died');
  await env.waitStatus('cgcli-ka2', 'stopped');
  t.equal((await env.tsrun(['delete', 'cgcli-ka2'])).code, 0);

  // Without --all, SIGTERM reaches the init only: the others live on in the cgroup...
  await env.launch('cgcli-ka3');
  pid = (await env.info('cgcli-ka3')).pid as number;
  freezer = procCgroups(pid)['freezer']!;
  all = await until('four processes', () => {
    const p = pidsInCgroup('freezer', freezer);
    return p.length === 4 ? p : undefined;
  });
  t.equal((await env.tsrun(['kill', 'cgcli-ka3', 'TERM'])).code, 0);
  await env.waitStatus('cgcli-ka3', 'stopped');
  const left = all.filter((p) => p !== pid && alive(p));
  t.equal(left.length, 3, 'the three probes outlive the init');
  const psLeft = (JSON.parse((await env.tsrun(['ps', '--format', 'json', 'cgcli-ka3'])).stdout) as number[]).sort((a, b) => a - b);
  t.same(psLeft, left, 'ps of a stopped container still lists the leftovers from its cgroup');
  // ... and delete ends them and removes the cgroup.
  t.equal((await env.tsrun(['delete', 'cgcli-ka3'])).code, 0);
  t.ok(left.every((p) => !alive(p)), 'delete killed the leftovers');
  t.same(pidsInCgroup('freezer', freezer), []);
});
