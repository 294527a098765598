/**
 * Removal that never crosses into a mount: a runtime bug that leaves a bind
 * mount of a host directory under a bundle must not turn `rm -rf bundle`
 * into deleting host files.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve, sep } from 'node:path';

const execFileAsync = promisify(execFile);

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir` in this process's mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  const root = resolve(dir);
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = unescapeMountinfo(mp);
    if (p === root || p.startsWith(root + sep)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Removes `dir` recursively. Mounts found below it are detached first
 * (`umount -l`); if any remains, nothing is removed and an error says which.
 */
export async function removeTree(dir: string): Promise<void> {
  let mounts = mountsUnder(dir);
  for (const m of mounts) await execFileAsync('umount', ['-l', m]).catch(() => undefined);
  mounts = mountsUnder(dir);
  if (mounts.length > 0) throw new Error(`refusing to remove ${dir}: still mounted below it: ${mounts.join(', ')}`);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
