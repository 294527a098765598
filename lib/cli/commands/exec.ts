import type { Command } from '../main.js';
import { bool, int, list, str } from '../args.js';
import { UsageError } from '../../errors.js';
import type { Process } from '../../spec/types.js';
import { loadProcessFile } from '../../spec/index.js';
import { execInContainer, loadContainerState, resizeProxiedTerminal, waitAttached } from '../../runtime/lifecycle.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

function parseUser(spec: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(spec);
  // Numeric only: a name would have to be resolved through the container's
  // /etc/passwd, which the container controls (CVE-2016-3697).
  if (!m) throw new UsageError(`invalid --user "${spec}": use UID[:GID] with numeric ids`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}

export const command: Command = {
  summary: 'run a process in a running container',
  usage: '[options] <container-id> [<command> [args...]]',
  stopAtPositional: true,
  failureStatus: 255,
  flags: {
    process: { type: 'string', short: 'p', description: 'process.json with the process to run', placeholder: 'FILE' },
    detach: { type: 'bool', short: 'd', description: 'do not wait for the process' },
    'pid-file': { type: 'string', description: 'write the process pid here', placeholder: 'FILE' },
    tty: { type: 'bool', short: 't', description: 'allocate a pseudo-terminal' },
    'console-socket': { type: 'string', description: 'AF_UNIX socket that receives the pty master', placeholder: 'PATH' },
    cwd: { type: 'string', description: 'working directory in the container', placeholder: 'DIR' },
    env: { type: 'list', short: 'e', description: 'set an environment variable (repeatable)', placeholder: 'K=V' },
    user: { type: 'string', short: 'u', description: 'UID[:GID]', placeholder: 'UID[:GID]' },
    'additional-gids': { type: 'list', short: 'g', description: 'supplementary group (repeatable)', placeholder: 'GID' },
    cap: { type: 'list', short: 'c', description: 'add a capability (repeatable)', placeholder: 'CAP' },
    'no-new-privs': { type: 'bool', description: 'set no_new_privs' },
    'preserve-fds': { type: 'string', description: 'pass N extra fds', placeholder: 'N' },
    'ignore-paused': { type: 'bool', description: 'allow exec in a paused container' },
    'apparmor': { type: 'string', ignored: true },
    'process-label': { type: 'string', ignored: true },
    cgroup: { type: 'list', ignored: true },
    'pidfd-socket': { type: 'string', ignored: true },
  },
  async run(ctx, args) {
    const [id, ...cmd] = args.positionals;
    if (!id) throw new UsageError('"exec" requires <container-id> [<command> [args...]]');
    const processFile = str(args, 'process');
    let proc: Process;
    if (processFile) {
      proc = loadProcessFile(processFile).process;
    } else {
      if (cmd.length === 0) throw new UsageError('"exec" needs a command, or --process FILE');
      const { saved } = loadContainerState(ctx.runtime, id);
      const base = saved.config.process;
      const user = str(args, 'user');
      const caps = list(args, 'cap');
      const withCaps = (set: string[] | undefined) => [...new Set([...(set ?? []), ...caps])];
      proc = {
        terminal: bool(args, 'tty'),
        args: cmd,
        env: [...(base?.env ?? []), ...list(args, 'env')],
        cwd: str(args, 'cwd') ?? base?.cwd ?? '/',
        user: {
          ...(user ? parseUser(user) : { uid: base?.user.uid ?? 0, gid: base?.user.gid ?? 0 }),
          additionalGids: list(args, 'additional-gids').map(Number),
        },
        capabilities: base?.capabilities && {
          bounding: withCaps(base.capabilities.bounding),
          effective: withCaps(base.capabilities.effective),
          permitted: withCaps(base.capabilities.permitted),
          inheritable: base.capabilities.inheritable ?? [],
          ambient: base.capabilities.ambient ?? [],
        },
        noNewPrivileges: bool(args, 'no-new-privs') || base?.noNewPrivileges,
        rlimits: base?.rlimits,
      };
    }
    const detached = bool(args, 'detach');
    const started = await execInContainer(ctx.runtime, id, proc, {
      detached,
      pidFile: str(args, 'pid-file'),
      consoleSocket: str(args, 'console-socket'),
      preserveFds: int(args, 'preserve-fds'),
      ignorePaused: bool(args, 'ignore-paused'),
    });
    if (detached) return 0;
    const forward = (sig: NodeJS.Signals) => {
      try {
        process.kill(started.pid, sig);
      } catch {
        /* already gone */
      }
    };
    for (const s of FORWARDED) process.on(s, forward);
    // A proxied terminal (-t without --console-socket): the helper copies the new window size to the pty.
    const resize = () => resizeProxiedTerminal(started.helper!);
    if (proc.terminal && !str(args, 'console-socket')) process.on('SIGWINCH', resize);
    try {
      const { exitCode, signal } = await waitAttached(started.helper!);
      return signal ? 128 + signal : (exitCode ?? 255);
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
      process.off('SIGWINCH', resize);
    }
  },
};
