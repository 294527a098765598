// Records the absolute path of the node binary that built tsrun, so that
// bin/tsrun works under `env -i` (no PATH), as podman's kill and delete call it.
import { writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
const top = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(top, 'build'), { recursive: true });
writeFileSync(join(top, 'build', 'node-path'), process.execPath + '\n');
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: top, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch { /* not a git checkout: keep "unknown" */ }
writeFileSync(join(top, 'build', 'commit'), commit + '\n');
// Precompiled ajv validators of schemas/*.json (build/lib/spec/generated/).
execFileSync(process.execPath, [join(top, 'scripts', 'build-validators.mjs')], { stdio: 'inherit' });
