/**
 * The features document and the schemas stay in step with tables.ts: every
 * mount option, namespace, capability and hook the runtime knows is
 * advertised, and the schema enums are the tables' lists.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  features, checkFeaturesDocument, checkStateDocument, CAPABILITIES, HOOK_NAMES, MOUNT_OPTIONS, NAMESPACES,
  SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS, FEATURE_ANNOTATIONS,
} from '../../../lib/spec/index.js';

const top = process.cwd();
const schema = (name: string) => JSON.parse(readFileSync(join(top, 'schemas', `${name}.schema.json`), 'utf8'));

t.test('features validates against features.schema.json', async (t) => {
  const f = features();
  t.same(checkFeaturesDocument(f), []);
  t.equal(f.ociVersionMin, '1.0.0');
  t.equal(f.ociVersionMax, '1.3.0');
  t.same(f.potentiallyUnsafeConfigAnnotations, []);
  t.same(f.linux!.cgroup, { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true });
  t.same(f.linux!.seccomp, { enabled: false });
  t.same(f.linux!.apparmor, { enabled: false });
  t.same(f.linux!.selinux, { enabled: false });
  t.same(f.linux!.mountExtensions, { idmap: { enabled: false } });
  t.match(f.annotations![FEATURE_ANNOTATIONS.version], /^\d+\.\d+\.\d+/);
  const seccomp = { enabled: true, actions: [...SECCOMP_ACTIONS], operators: [...SECCOMP_OPERATORS], archs: ['SCMP_ARCH_X86_64'], knownFlags: [...SECCOMP_FLAGS], supportedFlags: ['SECCOMP_FILTER_FLAG_LOG'] };
  const g = features({ seccomp, idmap: true, version: '9.9.9', commit: 'abc' });
  t.same(checkFeaturesDocument(g), []);
  t.same(g.linux!.seccomp, seccomp);
  t.equal(g.linux!.mountExtensions!.idmap!.enabled, true);
  t.same(g.annotations, { [FEATURE_ANNOTATIONS.version]: '9.9.9', [FEATURE_ANNOTATIONS.commit]: 'abc' });
  // The schema catches a broken document.
  const issues = checkFeaturesDocument({ ociVersionMax: '1.3.0', linux: { namespaces: ['pid', 'nett'] } });
  t.same(issues.map((i) => i.field).sort(), ['linux.namespaces[1]', 'ociVersionMin']);
});

t.test('features lists every table entry (no drift)', async (t) => {
  const f = features();
  for (const o of Object.keys(MOUNT_OPTIONS)) t.ok(f.mountOptions!.includes(o), `mount option ${o}`);
  t.equal(f.mountOptions!.length, Object.keys(MOUNT_OPTIONS).length);
  t.ok(f.mountOptions!.includes('rro'), 'rro (containerd and CRI-O look for it)');
  t.same([...f.linux!.namespaces!].sort(), Object.keys(NAMESPACES).sort());
  t.same(f.linux!.capabilities, CAPABILITIES);
  t.same(f.hooks, HOOK_NAMES);
});

t.test('schema enums are the tables', async (t) => {
  const config = schema('config');
  const d = config.definitions;
  t.same([...d.namespace.properties.type.enum].sort(), Object.keys(NAMESPACES).sort(), 'namespace types');
  t.same(d.seccompAction.enum, SECCOMP_ACTIONS);
  t.same(d.seccomp.properties.flags.items.enum, SECCOMP_FLAGS);
  t.same(d.seccomp.properties.architectures.items.enum, SECCOMP_ARCHS);
  t.same(d.seccomp.properties.syscalls.items.properties.args.items.properties.op.enum, SECCOMP_OPERATORS);
  t.same(Object.keys(config.properties.hooks.properties), HOOK_NAMES);
  const f = schema('features');
  t.same([...f.properties.linux.properties.namespaces.items.enum].sort(), Object.keys(NAMESPACES).sort());
});

t.test('state documents', async (t) => {
  const ok = { ociVersion: '1.3.0', id: 'c1', status: 'running', pid: 42, bundle: '/b', rootfs: '/b/rootfs', created: '2025-01-01T00:00:00Z', owner: '' };
  t.same(checkStateDocument(ok), []);
  t.same(checkStateDocument({ ...ok, status: 'paused' }), []);
  t.same(checkStateDocument({ ...ok, status: 'stopped', pid: 0 }), []);
  const bad = checkStateDocument({ ociVersion: '1.3.0', id: 'c1', status: 'up', bundle: '/b' });
  t.same(bad.map((i) => i.field), ['status']);
  t.match(bad[0]!.message, /"up" is not a container status; valid: creating, created, running, paused, stopped/);
  t.same(checkStateDocument({ ociVersion: '1.3.0', id: 'c1', status: 'running', bundle: '/b' }).map((i) => i.field), ['pid']);
});

t.test('the precompiled validators load without ajv compiling', async (t) => {
  const mod = join(top, 'build', 'lib', 'spec', 'generated', 'validators.js');
  const code = `const t0 = performance.now(); await import(${JSON.stringify(mod)}); const ms = performance.now() - t0;
    const ajvLoaded = Object.keys((await import('node:module')).createRequire(import.meta.url).cache ?? {}).some((k) => /ajv[\\/]dist[\\/](ajv|core|compile)/.test(k));
    console.log(JSON.stringify({ ms, ajvLoaded }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: top, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const { ms, ajvLoaded } = JSON.parse(r.stdout) as { ms: number; ajvLoaded: boolean };
  // Reported, not asserted: speed is measured in bench/, never in a timed test.
  t.comment(`importing the validators took ${ms.toFixed(1)} ms`);
  t.notOk(ajvLoaded, 'the ajv compiler is not loaded');
  const src = readFileSync(mod, 'utf8');
  t.notMatch(src, /require\(/, 'an ES module: no require()');
  for (const m of src.matchAll(/^import .* from "([^"]+)";$/gm)) t.match(m[1], /^ajv\/dist\/runtime\//, `only ajv runtime helpers are imported (${m[1]})`);
});
