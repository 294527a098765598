import type { Command } from '../main.js';
import { expectArgs } from '../args.js';
import { startContainer } from '../../runtime/lifecycle.js';

export const command: Command = {
  summary: 'start a created container: its init executes the user program',
  usage: '<container-id>',
  flags: {},
  async run(ctx, args) {
    const [id] = expectArgs(args, ['container-id'], 'start');
    await startContainer(ctx.runtime, id!);
    return 0;
  },
};
