import type { Command } from '../main.js';
import { bool } from '../args.js';
import { UsageError } from '../../errors.js';
import { killContainer } from '../../runtime/lifecycle.js';

export const command: Command = {
  summary: 'send a signal to the container init (default SIGTERM)',
  usage: '[--all] <container-id> [signal]',
  flags: {
    all: { type: 'bool', short: 'a', description: 'signal every process of the container; a stopped container is not an error' },
  },
  async run(ctx, args) {
    const [id, signal, extra] = args.positionals;
    if (!id) throw new UsageError('"kill" requires <container-id> [signal]');
    if (extra !== undefined) throw new UsageError(`"kill" takes <container-id> [signal]; unexpected argument "${extra}"`);
    await killContainer(ctx.runtime, id, signal ?? 'SIGTERM', { all: bool(args, 'all') });
    return 0;
  },
};
