import type { Command } from '../main.js';
import { bool, str } from '../args.js';
import { out } from '../log.js';
import { UsageError, StatusError } from '../../errors.js';
import { containerOomCount, containerStats } from '../../runtime/cgroup-ops.js';
import { containerState } from '../../runtime/lifecycle.js';

/** Parses a Go-style duration ("5s", "500ms", "1m") into milliseconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
  if (!m) throw new UsageError(`invalid --interval "${v}": use a duration like 5s or 500ms`);
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const ms = Number(m[1]) * unit[m[2]!]!;
  if (ms <= 0) throw new UsageError('--interval must be greater than 0');
  return ms;
}

/**
 * JSON.stringify, but integers past 2^53 are printed as the exact integer
 * the double holds: v1's "unlimited" 9223372036854771712 (2^63 - 4096)
 * comes out as runc prints it, not as 9223372036854772000.
 */
export function exactJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) ? `\u0000big:${BigInt(v).toString()}` : v,
  ).replace(/"\\u0000big:(-?\d+)"/g, '$1');
}

export const command: Command = {
  summary: 'print container events: resource stats at an interval, and OOM kills',
  usage: '[--stats] [--interval 5s] <container-id>',
  flags: {
    stats: { type: 'bool', description: 'print one stats event and exit' },
    interval: { type: 'string', description: 'time between stats events (default 5s)', placeholder: 'DURATION' },
  },
  async run(ctx, args) {
    const [id, extra] = args.positionals;
    if (!id || extra !== undefined) throw new UsageError('"events" requires exactly one <container-id>');
    const interval = parseDuration(str(args, 'interval') ?? '5s');
    const st = containerState(ctx.runtime, id);
    if (st.status === 'stopped') throw new StatusError(`container with id ${id} is not running`, 'events', st.status);
    const emit = () => out(exactJson({ type: 'stats', id, data: containerStats(ctx.runtime, id) }) + '\n');
    if (bool(args, 'stats')) {
      emit();
      return 0;
    }
    const oomCount = () => {
      try {
        return containerOomCount(ctx.runtime, id);
      } catch {
        return 0; // deleted meanwhile
      }
    };
    let ooms = oomCount();
    let next = Date.now();
    for (;;) {
      let state;
      try {
        state = containerState(ctx.runtime, id);
      } catch {
        return 0;
      }
      // OOM kills first: an init killed by the OOM killer stops the container, and its oom event must still be told.
      const now = oomCount();
      if (now > ooms) out(JSON.stringify({ type: 'oom', id }) + '\n');
      ooms = Math.max(ooms, now);
      if (state.status === 'stopped') return 0;
      if (Date.now() >= next) {
        try {
          emit();
        } catch (e) {
          // The container stopped (or was deleted) between the state check and the read: the stream ends.
          let stopped = true;
          try {
            stopped = containerState(ctx.runtime, id).status === 'stopped';
          } catch {
            /* gone */
          }
          if (stopped) continue;
          throw e;
        }
        next = Date.now() + interval;
      }
      await new Promise((r) => setTimeout(r, Math.min(interval, 200)));
    }
  },
};
