/**
 * `tsrun debug`: host tools in a running container's namespaces, the
 * container's root at /container, and the container's own mount table
 * unchanged.
 */
import t from 'tap';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle } from '../../helpers/bundle.js';
import { makeStateRoot } from '../../helpers/cli.js';
import { guardLeaks } from '../../helpers/leaks.js';

t.test('debug sees the container\'s processes and files, not its mounts', async (tt) => {
  await guardLeaks(tt);
  const bundle = await makeBundle({ args: ['/bin/sh', '-c', 'echo in-container > /tmp/marker; exec sleep 600'], config: (c) => { c.root.readonly = false; c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs' }); } });
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cli(['delete', '--force', 'dbg']);
    await state.cleanup();
    await bundle.cleanup();
  });
  tt.equal((await state.cli(['run', '-d', '--bundle', bundle.dir, 'dbg'])).code, 0);
  const pid = JSON.parse((await state.cli(['state', 'dbg'])).stdout).pid as number;
  // The marker is written by the container right after start.
  for (let i = 0; i < 100 && !existsSync(`/proc/${pid}/root/tmp/marker`); i++) await new Promise((r) => setTimeout(r, 20));
  const mountsBefore = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');

  const ps = await state.cli(['debug', 'dbg', '--', 'ps', '-eo', 'pid,comm']);
  tt.equal(ps.code, 0, ps.stderr);
  tt.match(ps.stdout, /^\s*1 sleep$/m, 'the container init is pid 1 to the debug process');
  tt.notMatch(ps.stdout, /\bnode\b/, 'no host processes');

  const files = await state.cli(['debug', 'dbg', '--', 'sh', '-c', 'cat /container/tmp/marker; hostname; test -x /usr/bin/ps && echo host-tools']);
  tt.equal(files.code, 0, files.stderr);
  tt.equal(files.stdout, 'in-container\ntsrun-test\nhost-tools\n');

  const exitCode = await state.cli(['debug', 'dbg', '--', 'sh', '-c', 'exit 5']);
  tt.equal(exitCode.code, 5, 'the tool\'s exit status');

  tt.equal(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'), mountsBefore, 'the container\'s mount table is unchanged');
  tt.notOk(existsSync(join(bundle.rootfs, 'container')), 'nothing added to the image');
  const stages = existsSync(join(state.root, '@debug')) ? readdirSync(join(state.root, '@debug')) : [];
  tt.same(stages, [], 'staging dirs removed');

  const missing = await state.cli(['debug', 'dbg', '--', 'no-such-tool-xyz']);
  tt.equal(missing.code, 255);
  tt.match(missing.stderr, /no-such-tool-xyz/);
});
