/**
 * H.7, differential testing: the deterministic attacks of the security
 * suite, each run under tsrun and under Debian's runc on the same bundle.
 * tsrun must leave the host untouched in every case, and must refuse
 * whatever runc refuses (never more permissive than the reference). Where
 * the two differ otherwise (tsrun refuses what runc runs, or runc touches
 * the host), the test says so in a comment: a triage signal, not a failure,
 * since this runc (1.1.5) predates some of the fixes tsrun has.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsrunBin } from '../helpers/paths.js';
import { hostMountsUnder, makeMarker, setup, type Marker } from './harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));

interface Attack {
  name: string;
  /** Plants the attack in the rootfs and the config; gets the host marker directory. */
  plant(rootfs: string, config: any, host: Marker): void;
}

const ATTACKS: Attack[] = [
  { name: 'B.6: /proc is a symlink to a host directory', plant: (rootfs, _c, host) => { rmSync(join(rootfs, 'proc'), { recursive: true, force: true }); symlinkSync(host.dir, join(rootfs, 'proc')); } },
  { name: 'B.6: /sys is a symlink to a host directory', plant: (rootfs, _c, host) => { rmSync(join(rootfs, 'sys'), { recursive: true, force: true }); symlinkSync(host.dir, join(rootfs, 'sys')); } },
  { name: 'B.4/B.14: a tmpfs destination through an absolute symlink out', plant: (rootfs, c, host) => { symlinkSync(host.dir, join(rootfs, 'evil')); c.mounts.push({ destination: '/evil/x', type: 'tmpfs', source: 'tmpfs' }); } },
  { name: 'B.9: a file bind destination through a symlink out', plant: (rootfs, c, host) => { symlinkSync(host.dir, join(rootfs, 'link')); c.mounts.push({ destination: '/link/newfile', type: 'bind', source: '/etc/hostname', options: ['bind', 'ro'] }); } },
  { name: 'B.13: /dev is a symlink to a host directory', plant: (rootfs, _c, host) => { rmSync(join(rootfs, 'dev'), { recursive: true, force: true }); symlinkSync(host.dir, join(rootfs, 'dev')); } },
  { name: 'H.5: hostname without a UTS namespace', plant: (_r, c) => { c.hostname = 'evil'; c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'uts'); } },
  { name: 'H.5: a net.* sysctl in the host network namespace', plant: (_r, c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'network'); } },
  { name: 'B.5: a bind mount onto /proc', plant: (_r, c, host) => { c.mounts.push({ destination: '/proc', type: 'bind', source: host.dir, options: ['rbind'] }); } },
];

function runUnder(bin: string, root: string, bundleDir: string, id: string): { code: number; stderr: string } {
  const r = spawnSync(bin, ['--root', root, 'run', '--bundle', bundleDir, id], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'ignore', 'pipe'] });
  spawnSync(bin, ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
  return { code: r.status ?? 255, stderr: (r.stderr ?? '').trim().split('\n').pop() ?? '' };
}

t.test('the deterministic attacks under tsrun and runc: tsrun never touches the host and refuses what runc refuses', { skip: runc ? false : 'no runc' }, async (t) => {
  const divergences: string[] = [];
  for (const [i, attack] of ATTACKS.entries()) {
    await t.test(attack.name, async (t) => {
      const { bundle, state } = await setup(t, ['/bin/true']);
      const results: Record<string, { code: number; stderr: string; hostChanged: boolean }> = {};
      for (const [name, bin] of [['tsrun', tsrunBin], ['runc', runc!]] as const) {
        // A fresh copy of the bundle and a fresh host marker per runtime: neither sees the other's traces.
        const host = makeMarker(t);
        const before = host.snapshot();
        const dir = mkdtempSync(join(tmpdir(), `tsrun-test-diff-${name}-`));
        t.teardown(() => {
          for (const m of hostMountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
          rmSync(dir, { recursive: true, force: true });
        });
        cpSync(bundle.rootfs, join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
        const config = structuredClone(bundle.config);
        config.root = { path: join(dir, 'rootfs'), readonly: false };
        attack.plant(join(dir, 'rootfs'), config, host);
        writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
        const root = join(dir, 'state');
        mkdirSync(root);
        const r = runUnder(bin, root, dir, `diff${i}`);
        const hostChanged = JSON.stringify(host.snapshot()) !== JSON.stringify(before) || hostMountsUnder(host.dir).length > 0;
        results[name] = { ...r, hostChanged };
      }
      const ts = results['tsrun']!;
      const rc = results['runc']!;
      t.notOk(ts.hostChanged, `tsrun left the host marker untouched (${ts.code === 0 ? 'ran' : `refused: ${ts.stderr}`})`);
      if (rc.code !== 0) t.not(ts.code, 0, `runc refuses (${rc.stderr}), so does tsrun`);
      const outcome = (x: { code: number; hostChanged: boolean }) => (x.hostChanged ? 'touched the host' : x.code === 0 ? 'ran' : 'refused');
      if (outcome(ts) !== outcome(rc)) divergences.push(`${attack.name}: tsrun ${outcome(ts)}, runc ${outcome(rc)}`);
      void state;
    });
  }
  t.comment(divergences.length ? `divergences (triage, not failures):\n${divergences.join('\n')}` : 'no divergence from runc');
});
