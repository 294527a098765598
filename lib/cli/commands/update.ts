import { readFileSync } from 'node:fs';
import type { Command } from '../main.js';
import { str, type Parsed } from '../args.js';
import { UsageError, errnoMessage } from '../../errors.js';
import type { Resources } from '../../spec/types.js';
import { updateContainer } from '../../runtime/cgroup-ops.js';

/** Parses a byte size as runc does ("512m", "1g", or plain bytes; -1 for unlimited). */
export function parseBytes(flag: string, v: string): number {
  if (v === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(v.trim());
  if (!m) throw new UsageError(`invalid value "${v}" for --${flag}: use bytes or a size like 512m or 1g`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

function num(flag: string, v: string): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`invalid value "${v}" for --${flag}: must be an integer`);
  return Number(v);
}

function fromFlags(args: Parsed): Resources {
  const r: Resources = {};
  const set = <K extends keyof Resources>(key: K, fill: (o: NonNullable<Resources[K]>) => void) => {
    const o = (r[key] ?? {}) as NonNullable<Resources[K]>;
    fill(o);
    r[key] = o;
  };
  const v = (f: string) => str(args, f);
  if (v('memory')) set('memory', (m) => (m.limit = parseBytes('memory', v('memory')!)));
  if (v('memory-reservation')) set('memory', (m) => (m.reservation = parseBytes('memory-reservation', v('memory-reservation')!)));
  if (v('memory-swap')) set('memory', (m) => (m.swap = parseBytes('memory-swap', v('memory-swap')!)));
  if (v('kernel-memory')) set('memory', (m) => (m.kernel = parseBytes('kernel-memory', v('kernel-memory')!)));
  if (v('kernel-memory-tcp')) set('memory', (m) => (m.kernelTCP = parseBytes('kernel-memory-tcp', v('kernel-memory-tcp')!)));
  if (v('cpu-share') && v('cpu-shares')) throw new UsageError('--cpu-share and --cpu-shares are the same setting: give one');
  for (const f of ['cpu-share', 'cpu-shares']) if (v(f)) set('cpu', (c) => (c.shares = num(f, v(f)!)));
  if (v('cpu-quota')) set('cpu', (c) => (c.quota = num('cpu-quota', v('cpu-quota')!)));
  if (v('cpu-period')) set('cpu', (c) => (c.period = num('cpu-period', v('cpu-period')!)));
  if (v('cpu-burst')) set('cpu', (c) => (c.burst = num('cpu-burst', v('cpu-burst')!)));
  if (v('cpu-rt-runtime')) set('cpu', (c) => (c.realtimeRuntime = num('cpu-rt-runtime', v('cpu-rt-runtime')!)));
  if (v('cpu-rt-period')) set('cpu', (c) => (c.realtimePeriod = num('cpu-rt-period', v('cpu-rt-period')!)));
  if (v('cpu-idle')) set('cpu', (c) => (c.idle = num('cpu-idle', v('cpu-idle')!)));
  if (v('cpuset-cpus')) set('cpu', (c) => (c.cpus = v('cpuset-cpus')!));
  if (v('cpuset-mems')) set('cpu', (c) => (c.mems = v('cpuset-mems')!));
  if (v('pids-limit')) r.pids = { limit: num('pids-limit', v('pids-limit')!) };
  if (v('blkio-weight')) set('blockIO', (b) => (b.weight = num('blkio-weight', v('blkio-weight')!)));
  return r;
}

export const command: Command = {
  summary: 'change the resource limits of a running container',
  usage: '[--resources FILE|-] [limit flags] <container-id>',
  flags: {
    resources: { type: 'string', short: 'r', description: 'a linux.resources JSON file, or - for stdin', placeholder: 'FILE|-' },
    memory: { type: 'string', description: 'memory limit (bytes, or 512m, 1g)' },
    'memory-reservation': { type: 'string', description: 'memory soft limit' },
    'memory-swap': { type: 'string', description: 'memory plus swap limit' },
    'kernel-memory': { type: 'string', description: 'kernel memory limit (cgroup v1, deprecated)' },
    'kernel-memory-tcp': { type: 'string', description: 'kernel TCP buffer limit (cgroup v1, deprecated)' },
    'cpu-share': { type: 'string', description: 'CPU shares (relative weight); runc\'s name' },
    'cpu-shares': { type: 'string', description: 'CPU shares (relative weight); the same as --cpu-share' },
    'cpu-quota': { type: 'string', description: 'CPU CFS quota in microseconds' },
    'cpu-period': { type: 'string', description: 'CPU CFS period in microseconds' },
    'cpu-burst': { type: 'string', description: 'CPU CFS burst in microseconds' },
    'cpu-rt-runtime': { type: 'string', description: 'realtime runtime in microseconds' },
    'cpu-rt-period': { type: 'string', description: 'realtime period in microseconds' },
    'cpu-idle': { type: 'string', description: 'SCHED_IDLE for the cgroup (0 or 1)' },
    'cpuset-cpus': { type: 'string', description: 'CPUs to run on (0-3, 0,1)' },
    'cpuset-mems': { type: 'string', description: 'memory nodes (0-3, 0,1)' },
    'pids-limit': { type: 'string', description: 'maximum number of processes' },
    'blkio-weight': { type: 'string', description: 'block IO weight (10-1000)' },
    'l3-cache-schema': { type: 'string', ignored: true },
    'mem-bw-schema': { type: 'string', ignored: true },
  },
  async run(ctx, args) {
    const [id, extra] = args.positionals;
    if (!id || extra !== undefined) throw new UsageError('"update" requires exactly one <container-id>');
    let resources: Resources;
    const file = str(args, 'resources');
    if (file) {
      let text: string;
      try {
        text = readFileSync(file === '-' ? 0 : file, 'utf8');
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new UsageError(`--resources: cannot read ${file === '-' ? 'the standard input' : file}: ${err.code ? `${err.code} (${errnoMessage(err.code)})` : err.message}`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new UsageError(`--resources: invalid JSON: ${(e as Error).message}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new UsageError(`--resources: expected a linux.resources JSON object, not ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}`);
      }
      resources = parsed as Resources;
    } else resources = fromFlags(args);
    for (const w of updateContainer(ctx.runtime, id, resources)) ctx.log.log('warning', w);
    return 0;
  },
};
