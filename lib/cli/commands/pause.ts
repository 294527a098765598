import type { Command } from '../main.js';
import { expectArgs } from '../args.js';
import { pauseContainer } from '../../runtime/cgroup-ops.js';

export const command: Command = {
  summary: 'freeze every process of a container',
  usage: '<container-id>',
  flags: {},
  async run(ctx, args) {
    const [id] = expectArgs(args, ['container-id'], 'pause');
    await pauseContainer(ctx.runtime, id!);
    return 0;
  },
};
