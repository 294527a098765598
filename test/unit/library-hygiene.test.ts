/**
 * The library never logs, exits or touches the process's stdio: only the CLI
 * (lib/cli) prints and sets exit codes (DESIGN.md; libuv would also set
 * O_NONBLOCK on stdio shared with containers). A static check of the
 * sources outside lib/cli, ignoring comments.
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const lib = join(repoRoot, 'lib');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return p === join(lib, 'cli') ? [] : sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** The code of a TypeScript file without its comments (a simple scanner: strings are kept). */
function withoutComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

t.test('no console, process.stdout/stderr/stdin or process.exit outside lib/cli', async (t) => {
  const files = sources(lib);
  t.ok(files.length > 50, `${files.length} library sources`);
  const found: string[] = [];
  for (const f of files) {
    const code = withoutComments(readFileSync(f, 'utf8'));
    for (const m of code.matchAll(/\bconsole\.\w+|\bprocess\.(stdout|stderr|stdin)\b|\bprocess\.exit\b|\bprocess\.exitCode\b/g)) {
      found.push(`${relative(repoRoot, f)}: ${m[0]}`);
    }
  }
  t.same(found, [], 'none');
});
