/**
 * Many `tsrun run` at once (its own file: with the rest of errors-locking it
 * came close to the per-file 120 s). Each round starts 50 runs of /bin/true
 * with distinct ids; all must succeed and be deleted.
 */
import t from 'tap';
import { setup } from './common.js';

t.test('[race] 3 x 50 concurrent runs of /bin/true with distinct ids all succeed and leave nothing', async (t) => {
  // Two races this caught: start declaring a fast program "already dead" while its byte sat in the
  // exec fifo, and a container cgroup copying the empty cpus/mems of the shared v1 cpuset parent
  // a concurrent create had just made (ENOSPC on join).
  const env = await setup(t, ['/bin/true']);
  const failures: string[] = [];
  for (let round = 0; round < 3; round++) {
    const runs = await Promise.all(Array.from({ length: 50 }, (_, i) => env.tsrun(['run', '--bundle', env.bundle.dir, `cli-storm${round}-${i}`])));
    for (const r of runs) if (r.code !== 0) failures.push(r.stderr.trim());
  }
  t.same(failures, [], '150 runs, every one exit 0');
  t.same((await env.tsrun(['list', '-q'])).stdout, '', 'every one deleted');
});
