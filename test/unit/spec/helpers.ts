/**
 * Bundles in temp dirs for the spec tests: a rootfs directory, a regular
 * file and a data directory, removed when the test ends.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Spec } from '../../../lib/spec/types.js';
import { SpecError, type SpecIssue } from '../../../lib/errors.js';

export interface TestBundle {
  dir: string;
  writeConfig(config: unknown): void;
  writeRaw(text: string): void;
}

interface Teardown { teardown(fn: () => void): void }

/** A bundle with `rootfs/`, `data/` and a regular file `file`; removed at teardown. */
export function makeBundle(t: Teardown): TestBundle {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-spec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'rootfs'));
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'file'), 'not a directory\n');
  return {
    dir,
    writeConfig: (config) => writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2)),
    writeRaw: (text) => writeFileSync(join(dir, 'config.json'), text),
  };
}

/** The smallest config tsrun runs. */
export function minimalConfig(): Spec {
  return {
    ociVersion: '1.3.0',
    root: { path: 'rootfs' },
    process: { cwd: '/', user: { uid: 0, gid: 0 }, args: ['sh'] },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  };
}

/** The issues of a SpecError thrown by fn; throws when fn does not throw one. */
export function issuesOf(fn: () => unknown): SpecIssue[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
  throw new Error('expected a SpecError, but nothing was thrown');
}
