/**
 * A writable container on a read-only rootfs: overlayfs in the container's
 * mount namespace; writes land in the container's upper dir, never in the
 * lower rootfs, and the upper dir goes with delete.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContainer } from '../../../lib/index.js';
import { makeBundle } from '../../helpers/bundle.js';
import { makeStateRoot } from '../../helpers/cli.js';
import { guardLeaks } from '../../helpers/leaks.js';
import { mountsUnder } from '../../helpers/fsutil.js';

t.test('library overlay: writes go to the upper dir', async (tt) => {
  await guardLeaks(tt);
  const bundle = await makeBundle({ args: ['/bin/sh', '-c', 'echo new > /written && rm /etc/group && grep -c " / overlay " /proc/self/mounts'], config: (c) => { c.root.readonly = false; } });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  const c = await createContainer({ id: 'ov1', bundle: bundle.dir, root: state.root, stdio: ['ignore', 'pipe', 'inherit'], overlay: true });
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await c.start();
  tt.same(await c.wait(), { exitCode: 0, signal: null });
  tt.equal(out.trim(), '1', 'the root is an overlay');
  const upper = join(state.root, 'ov1', 'overlay', 'upper');
  tt.equal(readFileSync(join(upper, 'written'), 'utf8'), 'new\n', 'the write is in the upper dir');
  tt.notOk(existsSync(join(bundle.rootfs, 'written')), 'not in the lower rootfs');
  tt.ok(existsSync(join(bundle.rootfs, 'etc', 'group')), 'a delete in the container leaves the lower file');
  tt.same(mountsUnder(state.root), [], 'nothing mounted in the host');
  await c.delete();
  tt.notOk(existsSync(upper), 'the upper dir is removed with the container');
});

t.test('CLI run --overlay', async (tt) => {
  await guardLeaks(tt);
  const bundle = await makeBundle({ args: ['/bin/sh', '-c', 'touch /cli-file'], config: (c) => { c.root.readonly = false; } });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cleanup();
    await bundle.cleanup();
  });
  const r = await state.cli(['run', '--overlay', '--bundle', bundle.dir, 'ov2']);
  tt.equal(r.code, 0, r.stderr);
  tt.notOk(existsSync(join(bundle.rootfs, 'cli-file')));
  tt.notOk(existsSync(join(state.root, 'ov2')), 'deleted after run');
});
