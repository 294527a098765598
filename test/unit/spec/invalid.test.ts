/**
 * Invalid configs: each case breaks one thing in a valid minimal config and
 * names the exact field and the key words of the message tsrun must report.
 * Then one config with many problems must report all of them at once.
 */
import t from 'tap';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig, loadBundleConfig, checkProcess } from '../../../lib/spec/index.js';
import type { Spec } from '../../../lib/spec/types.js';
import { SpecError } from '../../../lib/errors.js';
import { requiredHint } from '../../../lib/spec/validate.js';
import { repoRoot } from '../../helpers/paths.js';

const schemaDir = join(repoRoot, 'schemas');
import { issuesOf, makeBundle, minimalConfig } from './helpers.js';

import { cases, type Loose } from './invalid-cases.js';

t.test(`${cases.length} invalid configs, one problem each`, async (t) => {
  t.ok(cases.length >= 35, 'at least 35 cases');
  const b = makeBundle(t);
  for (const c of cases) {
    const config = structuredClone(minimalConfig()) as Loose;
    c.edit(config);
    const issues = issuesOf(() => validateConfig(config, { bundle: b.dir }));
    const hit = issues.find((i) => i.field === c.field);
    t.ok(hit, `${c.name}: an issue at ${c.field}`, { issues });
    if (hit) t.match(hit.message, c.message, `${c.name}: message`);
    t.equal(issues.length, c.count ?? 1, `${c.name}: nothing else reported`, { issues });
    t.notMatch(issues.map((i) => i.message).join('\n'), /must be equal to one of the allowed values|must NOT have|must match pattern/, `${c.name}: no raw ajv text`);
  }
});

t.test('non-object documents', async (t) => {
  const b = makeBundle(t);
  for (const doc of [[], 'config', 42, null]) {
    const issues = issuesOf(() => validateConfig(doc, { bundle: b.dir }));
    t.same(issues.map((i) => i.field), ['config.json'], JSON.stringify(doc));
    t.match(issues[0]!.message, /^must be an object, not/);
  }
});

t.test('a config with many problems reports all of them at once', async (t) => {
  const b = makeBundle(t);
  const config: Loose = {
    ociVersion: '2.0.0',
    hostname: 'box',
    root: { path: '../outside' },
    mounts: [
      { destination: 'relative', type: 'tmpfs' },
      { destination: '/data', type: 'bind', source: 'missing' },
      { destination: '/x', options: ['rdonly'] },
    ],
    process: { cwd: 'home', user: { uid: 0, gid: 0 }, args: [], rlimits: [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }] },
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'pid' }, { type: 'foo' }, { type: 'network', path: join(b.dir, 'file') }],
      sysctl: { 'vm.overcommit_memory': '1' },
      timeOffsets: { boottime: { secs: 1 } },
    },
  };
  let err: unknown;
  try { validateConfig(config, { bundle: b.dir }); } catch (e) { err = e; }
  t.ok(err instanceof SpecError, 'a SpecError');
  const issues = (err as SpecError).issues;
  const fields = issues.map((i) => i.field).sort();
  t.same(fields, [
    'hostname',
    'linux.namespaces[1].type',
    'linux.namespaces[2].type',
    'linux.namespaces[3].path',
    'linux.sysctl["vm.overcommit_memory"]',
    'linux.timeOffsets',
    'mounts[0].destination',
    'mounts[1].source',
    'mounts[2].options[0]',
    'ociVersion',
    'process.args',
    'process.cwd',
    'process.rlimits[0].type',
    'root.path',
  ]);
  // The error message lists every issue too, for the CLI's single log line.
  for (const i of issues) t.ok((err as Error).message.includes(`${i.field}: ${i.message}`), `message has ${i.field}`);
  t.match((err as Error).message, /^invalid config\.json: /);
});

t.test('config.json on disk', async (t) => {
  const b = makeBundle(t);
  const one = (fn: () => unknown) => {
    const issues = issuesOf(fn);
    t.equal(issues.length, 1);
    return issues[0]!;
  };

  let i = one(() => loadBundleConfig(b.dir));
  t.equal(i.field, 'config.json');
  t.match(i.message, /config\.json does not exist; a bundle needs a config\.json; "tsrun spec" writes a default one/);

  b.writeRaw('{\n  "ociVersion": "1.3.0",\n  "root": {"path": "rootfs",},\n}\n');
  i = one(() => loadBundleConfig(b.dir));
  t.equal(i.field, 'config.json');
  t.match(i.message, /is not valid JSON: trailing comma before "}" at line 3, column 29/);

  b.writeRaw('{"ociVersion": "1.3.0",\n "root": {"path": "rootfs"}');
  t.match(one(() => loadBundleConfig(b.dir)).message, /expected "," or "}" but found the end of the file at line 2, column 28/);

  b.writeRaw('');
  t.match(one(() => loadBundleConfig(b.dir)).message, /the file is empty at line 1, column 1/);

  b.writeRaw("{'ociVersion': '1.3.0'}");
  t.match(one(() => loadBundleConfig(b.dir)).message, /expected a property name in double quotes but found "'" at line 1, column 2/);

  b.writeRaw('{"ociVersion": "1.3.0"} {}');
  t.match(one(() => loadBundleConfig(b.dir)).message, /unexpected "\{" after the end of the JSON value at line 1, column 25/);

  const dirBundle = join(b.dir, 'data');
  mkdirSync(join(dirBundle, 'config.json'));
  t.match(one(() => loadBundleConfig(dirBundle)).message, /is a directory, not a JSON file/);

  // Valid JSON, invalid config: the validation issues come through.
  const bad = minimalConfig() as Loose;
  bad.process.cwd = 'tmp';
  b.writeConfig(bad);
  i = one(() => loadBundleConfig(b.dir));
  t.equal(i.field, 'process.cwd');

  // A BOM is tolerated (editors on some systems write one).
  b.writeRaw('\ufeff' + JSON.stringify(minimalConfig()));
  t.equal((loadBundleConfig(b.dir).spec as Spec).ociVersion, '1.3.0');
});

/** Every property some schema object requires, as a generic path (`[]` for array items). */
function requiredPaths(schemaFile: string, prefix: string): string[] {
  const schema = JSON.parse(readFileSync(join(schemaDir, schemaFile), 'utf8'));
  const out = new Set<string>();
  const resolve = (ref: string): any => ref.replace(/^#\//, '').split('/').reduce((n: any, k) => n[k], schema);
  const walk = (n: any, path: string, depth: number): void => {
    if (!n || typeof n !== 'object' || depth > 40) return;
    if (typeof n.$ref === 'string' && n.$ref.startsWith('#/')) return walk(resolve(n.$ref), path, depth + 1);
    for (const r of n.required ?? []) out.add(path ? `${path}.${r}` : r);
    for (const [k, v] of Object.entries(n.properties ?? {})) walk(v, path ? `${path}.${k}` : k, depth + 1);
    if (n.items) walk(n.items, `${path}[]`, depth + 1);
    for (const key of ['allOf', 'anyOf', 'oneOf']) for (const v of n[key] ?? []) walk(v, path, depth + 1);
    if (n.then) walk(n.then, path, depth + 1);
  };
  walk(schema, prefix, 0);
  return [...out];
}

t.test('every required field of the schemas has a hint of what would be valid', async (t) => {
  const paths = [...requiredPaths('config.schema.json', ''), ...requiredPaths('process.schema.json', 'process')];
  t.ok(paths.length > 40, `${paths.length} required fields found`);
  t.same(paths.filter((p) => !requiredHint(p)), [], 'none without a hint');
});

t.test('a missing required field says what would be valid', async (t) => {
  const cfg = minimalConfig() as Loose;
  delete cfg.ociVersion;
  delete (cfg.root as Loose).path;
  delete (cfg.process as Loose).cwd;
  (cfg.process as Loose).rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 }];
  const b = makeBundle(t);
  const issues = issuesOf(() => validateConfig(cfg, { bundle: b.dir }));
  const msg = (field: string) => issues.find((i) => i.field === field)?.message ?? '(no issue)';
  t.equal(msg('ociVersion'), 'is required but missing: the runtime-spec version the config follows, e.g. "1.3.0"');
  t.match(msg('root.path'), /is required but missing: .*e\.g\. "rootfs"/);
  t.match(msg('process.cwd'), /is required but missing: .*e\.g\. "\/"/);
  t.match(msg('process.rlimits[0].hard'), /is required but missing: the hard limit/);
});

t.test('AppArmor and SELinux labels: refused where the module is enabled (tsrun cannot apply them), a warning where it is off', async (t) => {
  const b = makeBundle(t);
  const labelled = (): Loose => {
    const cfg = structuredClone(minimalConfig()) as Loose;
    (cfg.process as Loose).apparmorProfile = 'docker-default';
    (cfg.process as Loose).selinuxLabel = 'system_u:system_r:container_t:s0';
    (cfg.linux as Loose).mountLabel = 'system_u:object_r:container_file_t:s0';
    return cfg;
  };
  const on = issuesOf(() => validateConfig(labelled(), { bundle: b.dir, lsm: { apparmor: true, selinux: true } }));
  t.same(on.map((i) => i.field).sort(), ['linux.mountLabel', 'process.apparmorProfile', 'process.selinuxLabel'], 'all three refused');
  t.match(on.find((i) => i.field === 'process.apparmorProfile')?.message, /"docker-default" asks for AppArmor confinement, which tsrun does not apply yet, and AppArmor is enabled on this host: the container would run unconfined\. Remove the field \(or set "unconfined"\)/);

  const unconfined = labelled();
  (unconfined.process as Loose).apparmorProfile = 'unconfined';
  delete (unconfined.process as Loose).selinuxLabel;
  delete (unconfined.linux as Loose).mountLabel;
  t.same(validateConfig(unconfined, { bundle: b.dir, lsm: { apparmor: true, selinux: true } }).warnings, [], '"unconfined" asks for nothing');

  const off = validateConfig(labelled(), { bundle: b.dir, lsm: { apparmor: false, selinux: false } });
  t.same(off.warnings.map((w) => w.field).sort(), ['linux.mountLabel', 'process.apparmorProfile', 'process.selinuxLabel'], 'modules off: warnings only');
  t.match(off.warnings[0]?.message, /is not enabled on this host: .* is not applied/);

  const proc = { cwd: '/', user: { uid: 0, gid: 0 }, args: ['sh'], apparmorProfile: 'p' };
  t.match(checkProcess(proc, { apparmor: true, selinux: false }).errors.map((e) => e.field), ['apparmorProfile'], 'exec --process: the same rule');
});
