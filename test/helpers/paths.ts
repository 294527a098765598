/**
 * Where things are, for tests running from the compiled tree
 * (`build/test/...`) or from the sources: the repository root is the
 * nearest directory up with tsrun's package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tsrun') return dir;
      } catch {
        /* not ours: keep climbing */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('test helpers: cannot find the tsrun repository root');
    dir = up;
  }
}

/** The repository root (holds package.json, bin/, build/). */
export const repoRoot = findRepoRoot();
/** The CLI launcher. */
export const tsrunBin = join(repoRoot, 'bin', 'tsrun');
/** The static probe copied into test rootfs as `/probe`. */
export const probeBin = join(repoRoot, 'test', 'probe', 'build', 'probe');
