/**
 * `tsrun events` on real containers: one stats event with `--stats`, a
 * stream at `--interval` that ends when the container stops, and `oom`
 * events when the kernel OOM-kills a process of the container.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToFiles, setup, sleep, until, type Env } from './common.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- event JSON */

const MiB = 1024 * 1024;

/** `tsrun events ...` in the background, its stdout readable while it runs. */
function eventsInBackground(env: Env, args: string[]) {
  const outPath = join(env.scratch, `events-${args.join('-').replace(/[^a-z0-9-]/gi, '')}.out`);
  const done = runToFiles(['--root', env.state.root, 'events', ...args], outPath, outPath + '.err', { timeoutMs: 60_000 });
  const lines = (): any[] => {
    let text = '';
    try {
      text = readFileSync(outPath, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  };
  return { done, lines };
}

t.test('events --stats: one line of runc stats JSON with plausible numbers', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'while :; do :; done & /probe alloc 20 >/dev/null; exec /probe sleep 600'], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 256 * MiB }, pids: { limit: 50 } };
  });
  await env.launch('cgcli-ev1');
  await sleep(500); // let the busy loop burn some CPU
  const r = await env.tsrun(['events', '--stats', 'cgcli-ev1']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.equal(lines.length, 2, 'exactly one line (and its newline)');
  t.equal(lines[1], '');
  t.match(lines[0], /"limit":9223372036854771712[,}]/, 'v1 "unlimited" printed exactly as runc does (2^63 - 4096)');
  t.notMatch(lines[0], /9223372036854772000/, 'not rounded through a double');
  const ev = JSON.parse(lines[0]!);
  t.same(Object.keys(ev), ['type', 'id', 'data'], 'runc key order: type, id, data');
  t.equal(ev.type, 'stats');
  t.equal(ev.id, 'cgcli-ev1');
  for (const k of ['cpu', 'memory', 'pids', 'blkio', 'hugetlb']) t.ok(ev.data[k] !== undefined, `data.${k} is present`);
  t.equal(ev.data.pids.current, 2, 'pids.current: the shell and the busy loop');
  t.equal(ev.data.pids.limit, 50, 'pids.limit from the config');
  t.ok(ev.data.memory.usage.usage > 0, `memory.usage.usage ${ev.data.memory.usage.usage} > 0`);
  t.ok(ev.data.memory.usage.max >= 20 * MiB, `memory.usage.max ${ev.data.memory.usage.max} saw the 20 MiB allocation`);
  t.equal(ev.data.memory.usage.limit, 256 * MiB, 'memory.usage.limit from the config');
  t.ok(ev.data.cpu.usage.total > 50_000_000, `cpu.usage.total ${ev.data.cpu.usage.total} ns > 50 ms after 500 ms of a busy loop`);
  t.ok(Array.isArray(ev.data.cpu.usage.percpu) && ev.data.cpu.usage.percpu.length >= 1, 'percpu usage');
  t.ok(typeof ev.data.cpu.throttling.periods === 'number');
  t.ok(Array.isArray(ev.data.blkio.ioServiceBytesRecursive));
  t.ok(typeof ev.data.hugetlb === 'object' && ev.data.hugetlb !== null);
  for (const [size, h] of Object.entries<any>(ev.data.hugetlb)) {
    t.match(size, /^\d+[KMG]B$/, `hugetlb key ${size}`);
    t.equal(typeof h.usage, 'number');
  }
  t.equal(typeof ev.data.memory.raw.total_rss, 'number', 'memory.raw holds memory.stat (v1)');

  const bad = await env.tsrun(['events', '--interval', 'soon', 'cgcli-ev1']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /invalid --interval \\?"soon\\?"/);
  const missing = await env.tsrun(['events', '--stats', 'nosuch']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, 'container does not exist');

  t.equal((await env.tsrun(['kill', 'cgcli-ev1', 'KILL'])).code, 0);
  await env.waitStatus('cgcli-ev1', 'stopped');
  const stopped = await env.tsrun(['events', '--stats', 'cgcli-ev1']);
  t.equal(stopped.code, 1);
  t.match(stopped.stderr, 'container with id cgcli-ev1 is not running');
});

t.test('events --interval 1s streams stats lines and ends when the container stops', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  await env.launch('cgcli-ev2');
  const started = Date.now();
  const ev = eventsInBackground(env, ['--interval', '1s', 'cgcli-ev2']);
  await until('three stats lines', () => ev.lines().length >= 3, 10_000);
  const k = await env.tsrun(['kill', 'cgcli-ev2', 'KILL']);
  t.equal(k.code, 0);
  const r = await ev.done;
  const elapsed = Date.now() - started;
  t.equal(r.code, 0, `events exits 0 when the container stops: ${r.stderr}`);
  const lines = ev.lines();
  t.ok(lines.length >= 3 && lines.length <= Math.ceil(elapsed / 1000) + 1, `${lines.length} lines in ${elapsed} ms at a 1 s interval`);
  for (const l of lines) {
    t.equal(l.type, 'stats');
    t.equal(l.id, 'cgcli-ev2');
    t.equal(l.data.pids.current, 1);
  }
});

t.test('an oom event when a process of the container is OOM-killed; the stream goes on', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'usleep 1500000; /probe alloc 128; exec /probe sleep 600'], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 32 * MiB, swap: 32 * MiB } };
  });
  await env.launch('cgcli-ev3');
  const ev = eventsInBackground(env, ['--interval', '1s', 'cgcli-ev3']);
  const oom = await until('an oom event', () => ev.lines().find((l) => l.type === 'oom'), 15_000);
  t.same(oom, { type: 'oom', id: 'cgcli-ev3' }, 'runc oom event shape');
  await until('a stats line after the oom', () => ev.lines().slice(ev.lines().findIndex((l) => l.type === 'oom')).some((l) => l.type === 'stats'), 5000);
  t.equal((await env.info('cgcli-ev3')).status, 'running', 'the shell survived: the allocation was the victim');
  t.equal(ev.lines().filter((l) => l.type === 'oom').length, 1, 'one oom event for one kill');
  t.equal((await env.tsrun(['kill', 'cgcli-ev3', 'KILL'])).code, 0);
  t.equal((await ev.done).code, 0);
});

t.test('an oom event when the init itself is OOM-killed, then the stream ends', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'usleep 1000000; exec /probe alloc 128'], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 32 * MiB, swap: 32 * MiB } };
  });
  await env.launch('cgcli-ev4');
  const ev = eventsInBackground(env, ['--interval', '10s', 'cgcli-ev4']);
  const r = await ev.done;
  t.equal(r.code, 0, r.stderr);
  const lines = ev.lines();
  t.equal(lines[0]?.type, 'stats', 'a stats line at once');
  t.same(lines.at(-1), { type: 'oom', id: 'cgcli-ev4' }, 'the last line is the oom event');
  t.equal((await env.info('cgcli-ev4')).status, 'stopped');
});
