/**
 * Every invalid config of the validator's table, driven through
 * `tsrun create` like a user would: exit status 1, a message naming the
 * field, no stack trace, and nothing left behind (no state directory,
 * cgroup or mount).
 */
import t from 'tap';
import { readdirSync } from 'node:fs';
import { cases, type Loose } from '../unit/spec/invalid-cases.js';
import { makeBundle, minimalConfig } from '../unit/spec/helpers.js';
import { makeStateRoot } from '../helpers/cli.js';
import { guardLeaks } from '../helpers/leaks.js';

t.test(`${cases.length} invalid configs through tsrun create`, async (tt) => {
  await guardLeaks(tt);
  const state = await makeStateRoot();
  tt.teardown(() => state.cleanup());
  const bundle = makeBundle(tt);
  tt.ok(cases.length >= 30, 'at least 30 cases');
  for (const [i, c] of cases.entries()) {
    const config = structuredClone(minimalConfig()) as Loose;
    c.edit(config);
    bundle.writeConfig(config);
    const r = await state.cli(['create', '--bundle', bundle.dir, `bad${i}`]);
    tt.equal(r.code, 1, `${c.name}: exit status 1`);
    // The text log line escapes quotes, as runc's does: accept the field in either form.
    const named = r.stderr.includes(c.field) || r.stderr.includes(c.field.replaceAll('"', '\\"'));
    tt.ok(named, `${c.name}: the message names ${c.field}: ${r.stderr.trim()}`);
    tt.notOk(/\n\s+at /.test(r.stderr), `${c.name}: no stack trace`);
    tt.same(readdirSync(state.root).filter((n) => !n.startsWith('@')), [], `${c.name}: no state directory`);
  }
  bundle.writeRaw('{"ociVersion": "1.3.0",,}');
  const r = await state.cli(['create', '--bundle', bundle.dir, 'malformed']);
  tt.equal(r.code, 1);
  tt.match(r.stderr, /config\.json.*line 1, column/);
});
