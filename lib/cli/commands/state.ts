import type { Command } from '../main.js';
import { expectArgs } from '../args.js';
import { out } from '../log.js';
import { containerState } from '../../runtime/lifecycle.js';

export const command: Command = {
  summary: 'print the state of a container (JSON)',
  usage: '<container-id>',
  flags: {},
  async run(ctx, args) {
    const [id] = expectArgs(args, ['container-id'], 'state');
    // runc prints the state indented with two spaces and no trailing newline.
    out(JSON.stringify(containerState(ctx.runtime, id!), null, 2));
    return 0;
  },
};
