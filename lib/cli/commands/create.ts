import type { Command } from '../main.js';
import type { FlagSpec } from '../args.js';
import { bool, expectArgs, int, str } from '../args.js';
import { createContainerProcess } from '../../runtime/lifecycle.js';
import { overlayPlan } from '../../runtime/overlay.js';

/** The flags `create` and `run` share (runc's names; engines pass them to both). */
export const CREATE_FLAGS: FlagSpec = {
  bundle: { type: 'string', short: 'b', description: 'bundle directory (default: the current directory)', placeholder: 'DIR' },
  'pid-file': { type: 'string', description: 'write the init pid here (decimal, no newline)', placeholder: 'FILE' },
  'console-socket': { type: 'string', description: 'AF_UNIX socket that receives the pty master', placeholder: 'PATH' },
  'no-pivot': { type: 'bool', description: 'use MS_MOVE + chroot instead of pivot_root' },
  'no-new-keyring': { type: 'bool', description: 'keep the calling session keyring' },
  'preserve-fds': { type: 'string', description: 'pass N extra fds (3 .. 3+N-1) to the container', placeholder: 'N' },
  detach: { type: 'bool', short: 'd', ignored: true },
  'pidfd-socket': { type: 'string', ignored: true },
  overlay: { type: 'bool', description: 'writable root: overlayfs on the read-only rootfs, with an upper layer of the container\'s own (removed at delete)' },
};

export const command: Command = {
  summary: 'create a container: everything but the user program is set up',
  usage: '[options] <container-id>',
  flags: CREATE_FLAGS,
  async run(ctx, args) {
    const [id] = expectArgs(args, ['container-id'], 'create');
    const created = await createContainerProcess(ctx.runtime, {
      id: id!,
      bundle: str(args, 'bundle'),
      pidFile: str(args, 'pid-file'),
      consoleSocket: str(args, 'console-socket'),
      noPivot: bool(args, 'no-pivot'),
      noNewKeyring: bool(args, 'no-new-keyring'),
      preserveFds: int(args, 'preserve-fds'),
      detached: true,
      rewritePlan: bool(args, 'overlay') ? overlayPlan : undefined,
    });
    for (const w of created.warnings) ctx.log.log('warning', w);
    return 0;
  },
};
