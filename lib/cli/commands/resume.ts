import type { Command } from '../main.js';
import { expectArgs } from '../args.js';
import { resumeContainer } from '../../runtime/cgroup-ops.js';

export const command: Command = {
  summary: 'thaw a paused container',
  usage: '<container-id>',
  flags: {},
  async run(ctx, args) {
    const [id] = expectArgs(args, ['container-id'], 'resume');
    await resumeContainer(ctx.runtime, id!);
    return 0;
  },
};
