import type { Command } from '../main.js';
import { bool, expectArgs } from '../args.js';
import { deleteContainer } from '../../runtime/lifecycle.js';

export const command: Command = {
  summary: 'delete a container and what create made for it',
  usage: '[--force] <container-id>',
  flags: {
    force: { type: 'bool', short: 'f', description: 'kill a running or paused container first; an unknown id is not an error' },
  },
  async run(ctx, args) {
    const [id] = expectArgs(args, ['container-id'], 'delete');
    await deleteContainer(ctx.runtime, id!, { force: bool(args, 'force') });
    return 0;
  },
};
