import { spawnSync } from 'node:child_process';
import type { Command } from '../main.js';
import { str } from '../args.js';
import { out } from '../log.js';
import { UsageError } from '../../errors.js';
import { containerPids } from '../../runtime/cgroup-ops.js';

export const command: Command = {
  summary: 'list the processes of a container',
  usage: '[--format table|json] <container-id> [ps options]',
  stopAtPositional: true,
  flags: {
    format: { type: 'string', short: 'f', description: 'table (host ps output) or json (an array of host pids)', placeholder: 'table|json' },
  },
  async run(ctx, args) {
    const [id, ...psArgs] = args.positionals;
    if (!id) throw new UsageError('"ps" requires <container-id>');
    const format = str(args, 'format') ?? 'table';
    if (format !== 'table' && format !== 'json') throw new UsageError(`invalid format "${format}": valid values are table and json`);
    const pids = containerPids(ctx.runtime, id);
    if (format === 'json') {
      out(JSON.stringify(pids) + '\n');
      return 0;
    }
    const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ps failed: ${r.stderr || r.error?.message}`);
    const lines = r.stdout.split('\n');
    const header = lines[0] ?? '';
    const col = header.trim().split(/\s+/).indexOf('PID');
    if (col < 0) throw new Error('could not find the PID column in the ps output');
    const wanted = new Set(pids);
    const rows = lines.slice(1).filter((l) => l.trim() && wanted.has(Number(l.trim().split(/\s+/)[col])));
    out([header, ...rows].join('\n') + '\n');
    return 0;
  },
};
