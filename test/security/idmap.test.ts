/**
 * Idmapped mounts (`idmap`, `ridmap`, per-mount uid/gid mappings) in a
 * container with its own user namespace: a host directory owned by uid 1000
 * appears owned by root inside, and what the container creates there gets
 * the mapped owner on the host. Needs root (the idmapped copy is made in the
 * host, with CAP_SYS_ADMIN over the source's filesystem).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from './harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- configs are edited freely */

if (process.getuid?.() !== 0) {
  t.plan(0, 'idmapped mounts need root');
  process.exit(0);
}

const BASE = 200000;

function hostDir(owner: number): string {
  const d = mkdtempSync(join(tmpdir(), 'tsrun-test-idmap-'));
  writeFileSync(join(d, 'f'), 'host file\n');
  chmodSync(d, 0o755);
  chownSync(d, owner, owner);
  chownSync(join(d, 'f'), owner, owner);
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A user-namespaced container (0 -> BASE, 65536 ids) whose rootfs belongs to its root. */
async function userNsContainer(tt: any, script: string, mount: any) {
  const { bundle, state } = await setup(tt, ['/bin/sh', '-c', script], (c) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [{ containerID: 0, hostID: BASE, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: BASE, size: 65536 }];
    delete c.linux.resources;
    c.mounts = c.mounts.filter((m: any) => m.destination !== '/sys');
    c.mounts.push(mount);
  });
  mkdirSync(join(bundle.rootfs, 'data'), { recursive: true });
  chmodSync(bundle.dir, 0o755); // the container's root (host uid BASE) must reach its rootfs
  execFileSync('chown', ['-R', `${BASE}:${BASE}`, bundle.rootfs]);
  return { bundle, state };
}

t.test('features reports idmapped mounts', async (t) => {
  const { tsrunCli } = await import('../helpers/cli.js');
  const r = await tsrunCli(['features']);
  t.equal(r.code, 0);
  t.equal(JSON.parse(r.stdout).linux.mountExtensions.idmap.enabled, true);
});

t.test('per-mount mappings: a dir of uid 1000 shows as root inside; new files get uid 1000 on the host', async (t) => {
  const src = hostDir(1000);
  const { bundle, state } = await userNsContainer(t, 'stat -c %u:%g /data/f; echo x > /data/new; stat -c %u:%g /data/new; cat /data/f', {
    destination: '/data', type: 'bind', source: src, options: ['rbind', 'idmap'],
    uidMappings: [{ containerID: 1000, hostID: BASE, size: 1 }],
    gidMappings: [{ containerID: 1000, hostID: BASE, size: 1 }],
  });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'idmap1'], { timeoutMs: 30_000 });
  t.equal(r.code, 0, `run: ${r.stderr}`);
  t.same(r.stdout.trim().split('\n'), ['0:0', '0:0', 'host file'], 'owned by root inside, readable, writable');
  const st = statSync(join(src, 'new'));
  t.same([st.uid, st.gid], [1000, 1000], 'the new file belongs to uid 1000 on the host');
  t.same([statSync(join(src, 'f')).uid], [1000], 'the host file is unchanged');
});

t.test('ridmap without mappings uses the container\'s own mappings', async (t) => {
  const src = hostDir(0);
  const { bundle, state } = await userNsContainer(t, 'stat -c %u:%g /data/f; touch /data/new', {
    destination: '/data', type: 'bind', source: src, options: ['rbind', 'ridmap'],
  });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'idmap2'], { timeoutMs: 30_000 });
  t.equal(r.code, 0, `run: ${r.stderr}`);
  t.equal(r.stdout.trim(), '0:0', 'host root shows as the container\'s root');
  t.equal(statSync(join(src, 'new')).uid, 0, 'what its root creates belongs to host root (the container\'s map, reversed)');
});

t.test('without the idmap the same dir is not the container\'s (control)', async (t) => {
  const src = hostDir(1000);
  const { bundle, state } = await userNsContainer(t, 'stat -c %u:%g /data/f; touch /data/new 2>/dev/null && echo wrote || echo refused', {
    destination: '/data', type: 'bind', source: src, options: ['rbind'],
  });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'idmap3'], { timeoutMs: 30_000 });
  t.equal(r.code, 0, `run: ${r.stderr}`);
  t.same(r.stdout.trim().split('\n'), ['65534:65534', 'refused'], 'unmapped owner (overflow id), no write');
});

t.test('idmap on a non-bind mount is refused with the field named', async (t) => {
  const { bundle, state } = await userNsContainer(t, 'true', { destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] });
  const r = await state.cli(['run', '--bundle', bundle.dir, 'idmap4'], { timeoutMs: 30_000 });
  t.equal(r.code, 1);
  t.match(r.stderr, /mounts\[\d+\]\.options.*only bind mounts can be idmapped/);
});
