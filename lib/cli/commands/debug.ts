import type { Command } from '../main.js';
import { list, str } from '../args.js';
import { UsageError } from '../../errors.js';
import { debugContainer } from '../../runtime/debug.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

export const command: Command = {
  summary: 'run a host tool in a container\'s pid, network, ipc, uts and cgroup namespaces, with its root at /container',
  usage: '[--tools ROOTFS] <container-id> [--] <command> [args...]',
  stopAtPositional: true,
  failureStatus: 255,
  flags: {
    tools: { type: 'string', description: 'a rootfs with the tools to use (default: the host\'s root)', placeholder: 'ROOTFS' },
    env: { type: 'list', short: 'e', description: 'set an environment variable (repeatable; replaces the default PATH/HOME/TERM when PATH is given)', placeholder: 'K=V' },
    cwd: { type: 'string', description: 'working directory (default /; the container\'s root is /container)', placeholder: 'DIR' },
  },
  async run(ctx, args) {
    const positionals = args.positionals[1] === '--' ? [args.positionals[0]!, ...args.positionals.slice(2)] : args.positionals;
    const [id, ...cmd] = positionals;
    if (!id || cmd.length === 0) throw new UsageError('"debug" requires <container-id> -- <command> [args...]');
    const extra = list(args, 'env');
    const env = extra.length ? (extra.some((e) => e.startsWith('PATH=')) ? extra : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'TERM=xterm', ...extra]) : undefined;
    const started = await debugContainer(ctx.runtime, id, { args: cmd, tools: str(args, 'tools'), env, cwd: str(args, 'cwd') });
    const forward = (sig: NodeJS.Signals) => {
      try {
        process.kill(started.pid, sig);
      } catch {
        /* already gone */
      }
    };
    for (const s of FORWARDED) process.on(s, forward);
    try {
      const { exitCode, signal } = await started.wait();
      return signal ? 128 + signal : (exitCode ?? 255);
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
    }
  },
};
