/**
 * `tsrun debug`: host tools in a running container's namespaces, the
 * container's root at /container, and the container's own mount table
 * unchanged.
 */
import t from 'tap';
import { readFileSync, existsSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
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

t.test('debug --tools ROOTFS: the tools rootfs\'s programs, the container at /container; net, ipc, uts, pid and cgroup namespaces are the container\'s', async (tt) => {
  await guardLeaks(tt);
  const bundle = await makeBundle({ args: ['/probe', 'sleep', '600'], config: (c) => { c.linux.namespaces.push({ type: 'cgroup' }); } });
  // A tools rootfs of its own: the busybox template again, with a marker only it has.
  const tools = await makeBundle({ args: ['/bin/true'] });
  writeFileSync(join(tools.rootfs, 'bin', 'i-am-the-tools-rootfs'), '');
  const state = await makeStateRoot();
  tt.teardown(async () => {
    await state.cli(['delete', '--force', 'dbg2']);
    await state.cleanup();
    await tools.cleanup();
    await bundle.cleanup();
  });
  tt.equal((await state.cli(['run', '-d', '--bundle', bundle.dir, 'dbg2'])).code, 0);
  const pid = JSON.parse((await state.cli(['state', 'dbg2'])).stdout).pid as number;
  const script = 'test -e /bin/i-am-the-tools-rootfs && echo tools-root; test -x /container/probe && echo container-at-/container; for n in net ipc uts pid cgroup mnt; do echo "$n $(readlink /proc/self/ns/$n)"; done';
  const r = await state.cli(['debug', '--tools', tools.rootfs, 'dbg2', '--', '/bin/sh', '-c', script]);
  tt.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  tt.equal(lines[0], 'tools-root', 'the programs are the tools rootfs\'s');
  tt.equal(lines[1], 'container-at-/container');
  const ns = Object.fromEntries(lines.slice(2).map((l) => l.split(' ') as [string, string]));
  for (const n of ['net', 'ipc', 'uts', 'pid', 'cgroup']) {
    tt.equal(ns[n], readlinkSync(`/proc/${pid}/ns/${n}`), `${n}: the container's`);
  }
  tt.not(ns['mnt'], readlinkSync(`/proc/${pid}/ns/mnt`), 'a mount namespace of its own');
  tt.not(ns['mnt'], readlinkSync('/proc/self/ns/mnt'), 'not the host\'s either');
});
