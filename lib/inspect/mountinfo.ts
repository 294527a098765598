/**
 * /proc/<pid>/mountinfo, parsed (proc(5)): one mount per line,
 * `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`,
 * with spaces, tabs, newlines and backslashes in paths escaped as octal.
 */
import type { InspectMount } from './types.js';

/** Undoes mountinfo's octal escapes (`\040` for a space). */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses the text of a mountinfo file; malformed lines are skipped. */
export function parseMountinfo(text: string): InspectMount[] {
  const out: InspectMount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0 || f.length < dash + 4) continue;
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      device: f[2]!,
      root: unescapeMountinfo(f[3]!),
      mountPoint: unescapeMountinfo(f[4]!),
      options: f[5]!,
      propagation: f.slice(6, dash),
      fstype: f[dash + 1]!,
      source: unescapeMountinfo(f[dash + 2]!),
      superOptions: f.slice(dash + 3).join(' '),
    });
  }
  return out;
}
