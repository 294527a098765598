import { readFileSync, statSync } from 'node:fs';
import type { Command } from '../main.js';
import { bool, str } from '../args.js';
import { out } from '../log.js';
import { UsageError } from '../../errors.js';
import { listContainerStates } from '../../runtime/lifecycle.js';
import { StateStore } from '../../runtime/state-store.js';

/** The user owning a container's state dir, as runc's list shows it (a name from /etc/passwd, else `#uid`). */
function ownerOf(dir: string): string {
  let uid: number;
  try {
    uid = statSync(dir).uid;
  } catch {
    return '';
  }
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && Number(f[2]) === uid && f[2] !== '') return f[0]!;
    }
  } catch {
    /* no passwd file */
  }
  return `#${uid}`;
}

export const command: Command = {
  summary: 'list containers',
  usage: '[--format table|json] [-q]',
  flags: {
    format: { type: 'string', short: 'f', description: 'table or json', placeholder: 'table|json' },
    quiet: { type: 'bool', short: 'q', description: 'print only the ids' },
  },
  async run(ctx, args) {
    const format = str(args, 'format') ?? 'table';
    if (format !== 'table' && format !== 'json') throw new UsageError(`invalid format "${format}": valid values are table and json`);
    const store = new StateStore(ctx.runtime.root);
    const states = listContainerStates(ctx.runtime).map((s) => ({ ...s, owner: s.owner || ownerOf(store.dir(s.id)) }));
    if (bool(args, 'quiet')) {
      out(states.map((s) => s.id + '\n').join(''));
    } else if (format === 'json') {
      out(JSON.stringify(states.length ? states : null) + '\n');
    } else {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      out(rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]! + 3) : c)).join('').trimEnd() + '\n').join(''));
    }
    return 0;
  },
};
