/**
 * The error wording clients match (oci-contract.md 2.8) and concurrency:
 * commands on one id are serialized, many creates in parallel all succeed,
 * two creates of one id have exactly one winner, and state is never torn.
 */
import t from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setup, writeBundleConfig } from './common.js';

t.test('error wording', async (t) => {
  const env = await setup(t);
  for (const argv of [['state', 'ghost'], ['kill', 'ghost'], ['start', 'ghost'], ['ps', 'ghost'], ['pause', 'ghost'], ['delete', 'ghost'], ['exec', 'ghost', '/bin/true']]) {
    const r = await env.tsrun(argv);
    t.not(r.code, 0, argv.join(' '));
    t.match(r.stderr, 'container does not exist', `${argv[0]}: container does not exist`);
  }
  for (const id of ['.', '..', 'a/b', 'a b', 'x:y', 'é', '../escape']) {
    const r = await env.tsrun(['create', '--bundle', env.bundle.dir, id]);
    t.equal(r.code, 1, `create ${JSON.stringify(id)}`);
    t.match(r.stderr, 'invalid container ID format', JSON.stringify(id));
  }
  const okIds = ['A-z_0.9+x', 'a.b', '...'];
  for (const id of okIds) {
    const r = await env.tsrun(['create', '--bundle', env.bundle.dir, id]);
    t.equal(r.code, 0, `${id} is a valid id: ${r.stderr}`);
  }
  const dup = await env.tsrun(['create', '--bundle', env.bundle.dir, okIds[0]!]);
  t.equal(dup.code, 1);
  t.match(dup.stderr, 'container with given ID already exists');
  for (const id of okIds) t.equal((await env.tsrun(['delete', id])).code, 0);

  await env.launch('cli-e1');
  t.equal((await env.tsrun(['kill', 'cli-e1', 'KILL'])).code, 0);
  await env.waitStatus('cli-e1', 'stopped');
  for (const argv of [['kill', 'cli-e1'], ['pause', 'cli-e1']]) {
    const r = await env.tsrun(argv);
    t.equal(r.code, 1);
    t.match(r.stderr, 'container not running', `${argv[0]} of a stopped container`);
  }
  t.equal((await env.tsrun(['delete', 'cli-e1'])).code, 0);

  env.bundle.config.process.args = ['nosuchprogram', 'x'];
  await writeBundleConfig(env.bundle);
  const nf = await env.tsrun(['create', '--bundle', env.bundle.dir, 'cli-e2']);
  t.equal(nf.code, 1);
  t.match(nf.stderr, /exec: \\?"nosuchprogram\\?": executable file not found in \$PATH/);
  const script = join(env.bundle.rootfs, 'not-exec.sh');
  writeFileSync(script, '#!/bin/sh\necho hi\n');
  chmodSync(script, 0o644);
  env.bundle.config.process.args = ['/not-exec.sh'];
  await writeBundleConfig(env.bundle);
  const pd = await env.tsrun(['create', '--bundle', env.bundle.dir, 'cli-e3']);
  t.equal(pd.code, 1);
  t.match(pd.stderr, /exec: \\?"\/not-exec.sh\\?": permission denied/, 'a non-executable args[0]: permission denied (podman: 126)');
  t.equal((await env.tsrun(['state', 'cli-e3'])).code, 1, 'nothing left');
});

t.test('concurrency: 50 parallel creates; one winner per id; serialized start; no torn state', async (t) => {
  const env = await setup(t);
  const ids = Array.from({ length: 50 }, (_, i) => `cli-par${i}`);
  const readers = (async () => {
    let torn = 0;
    let reads = 0;
    for (let round = 0; round < 15; round++) {
      const r = await env.tsrun(['list', '--format', 'json']);
      reads++;
      try {
        JSON.parse(r.stdout);
      } catch {
        torn++;
      }
    }
    return { torn, reads };
  })();
  const created = await Promise.all(ids.map((id) => env.tsrun(['create', '--bundle', env.bundle.dir, id], { timeoutMs: 180_000 })));
  const failed = created.map((r, i) => (r.code === 0 ? '' : `${ids[i]}: ${r.stderr.trim()}`)).filter(Boolean);
  t.same(failed, [], 'all 50 creates succeed');
  const { torn, reads } = await readers;
  t.equal(torn, 0, `no torn list output in ${reads} reads`);
  const list = JSON.parse((await env.tsrun(['list', '--format', 'json'])).stdout);
  t.equal(list.length, 50);
  t.ok(list.every((s: { status: string }) => s.status === 'created'));

  // Five concurrent starts of one container: exactly one starts it.
  const starts = await Promise.all(Array.from({ length: 5 }, () => env.tsrun(['start', 'cli-par0'])));
  t.equal(starts.filter((r) => r.code === 0).length, 1, 'exactly one start succeeds');
  for (const r of starts.filter((x) => x.code !== 0)) t.match(r.stderr, 'cannot start an already running container');

  const deleted = await Promise.all(ids.map((id) => env.tsrun(['delete', '--force', id], { timeoutMs: 180_000 })));
  t.same(deleted.filter((r) => r.code !== 0).map((r) => r.stderr), [], 'all deleted');
  t.equal(JSON.parse((await env.tsrun(['list', '--format', 'json'])).stdout), null);

  // Two creates of one id, several times: exactly one wins, the loser leaves the winner intact.
  for (let round = 0; round < 5; round++) {
    const id = `cli-race${round}`;
    const [a, b] = await Promise.all([env.tsrun(['create', '--bundle', env.bundle.dir, id]), env.tsrun(['create', '--bundle', env.bundle.dir, id])]);
    t.equal([a, b].filter((r) => r.code === 0).length, 1, `${id}: exactly one create wins`);
    const loser = a.code === 0 ? b : a;
    t.match(loser.stderr, 'container with given ID already exists');
    const st = await env.info(id);
    t.equal(st?.status, 'created', 'the winner is intact');
    t.equal((await env.tsrun(['delete', id])).code, 0);
  }
});
