// Runs the test suite with tap on the compiled tests (build/test), then prints
// one closing line "N passed, N failed" that CI reads.
//   node scripts/test.mjs            all tests (integration ones need root)
//   node scripts/test.mjs unit       only test/unit (no root needed)
//   node scripts/test.mjs <files..>  the given compiled test files
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(top, 'build', 'test');
const args = process.argv.slice(2);
const suites = { unit: ['unit'], integration: ['integration'], security: ['security'], clients: ['clients'], examples: ['examples'] };

function find(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? find(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

let files;
if (args.length === 0) files = find(build);
else if (args.every((a) => a in suites)) files = args.flatMap((a) => suites[a].flatMap((d) => find(join(build, d))));
else files = args;
files.sort();
if (files.length === 0) {
  console.error('no compiled tests found: run `npm run build` first');
  process.exit(1);
}
const tapBin = join(top, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
// Integration tests share one kernel: run files one at a time (each file is
// still free to run its own subtests concurrently).
const r = spawnSync(process.execPath, [tapBin, '--reporter=tap', '--jobs=1', ...files], {
  cwd: top,
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 512 * 1024 * 1024,
});
const out = r.stdout.toString();
process.stdout.write(out);
// tap's own closing summary counts every assertion: "# { total: N, pass: N, fail: N, skip: N }".
let passed = 0;
let failed = 0;
let skipped = 0;
const summary = [...out.matchAll(/^# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?(?:, skip: (\d+))?/gm)].at(-1);
if (summary) {
  passed = Number(summary[2]);
  failed = Number(summary[3] ?? 0);
  skipped = Number(summary[4] ?? 0);
}
const fileFailures = out.split('\n').filter((l) => /^not ok \d+ - .*\.test\.js/.test(l)).length;
if (fileFailures > failed) failed = fileFailures;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(r.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
