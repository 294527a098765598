import type { Command } from '../main.js';
import { CREATE_FLAGS } from './create.js';
import { bool, expectArgs, int, str } from '../args.js';
import { createContainerProcess, deleteContainer, resizeProxiedTerminal, startContainer, waitAttached } from '../../runtime/lifecycle.js';
import { overlayPlan } from '../../runtime/overlay.js';
import type { Spec } from '../../spec/types.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

export const command: Command = {
  summary: 'create and start a container; in the foreground, wait for it and delete it',
  usage: '[options] <container-id>',
  flags: {
    ...CREATE_FLAGS,
    detach: { type: 'bool', short: 'd', description: 'leave the container running and return' },
    'no-subreaper': { type: 'bool', ignored: true },
    keep: { type: 'bool', description: 'do not delete the container after it exits (foreground)' },
    fast: { type: 'bool', description: 'fast path for short-lived containers: the rootfs read-only in place and no network namespace (see --fast-network); pooled cgroups and warm helpers need the library FastRunner' },
    'fast-network': { type: 'bool', description: 'with --fast: keep the config\'s network namespace' },
  },
  async run(ctx, args) {
    const [id] = expectArgs(args, ['container-id'], 'run');
    const detach = bool(args, 'detach');
    let fastConfig: Spec | undefined;
    if (bool(args, 'fast')) {
      const { resolve } = await import('node:path');
      const { loadBundleConfig } = await import('../../spec/index.js');
      const { FastRunner } = await import('../../runtime/fast.js');
      const dir = resolve(str(args, 'bundle') ?? '.');
      fastConfig = FastRunner.fastSpec(loadBundleConfig(dir).spec, dir, { network: bool(args, 'fast-network') });
    }
    const created = await createContainerProcess(ctx.runtime, {
      id: id!,
      bundle: str(args, 'bundle'),
      config: fastConfig,
      pidFile: str(args, 'pid-file'),
      consoleSocket: str(args, 'console-socket'),
      noPivot: bool(args, 'no-pivot'),
      noNewKeyring: bool(args, 'no-new-keyring'),
      preserveFds: int(args, 'preserve-fds'),
      detached: detach,
      rewritePlan: bool(args, 'overlay') ? overlayPlan : undefined,
    });
    for (const w of created.warnings) ctx.log.log('warning', w);
    const initPid = created.state.initPid;
    // Signals to tsrun go to the container init, as with runc's foreground run.
    // A proxied terminal (terminal without --console-socket): the helper, not the container, takes
    // SIGWINCH and copies the new window size to the pty (which signals the container itself).
    const proxied = !detach && created.state.config.process?.terminal === true && !str(args, 'console-socket');
    const forward = (sig: NodeJS.Signals) => {
      if (sig === 'SIGWINCH' && proxied) return resizeProxiedTerminal(created.helper!);
      try {
        process.kill(initPid, sig);
      } catch {
        /* already gone */
      }
    };
    if (!detach) for (const s of FORWARDED) process.on(s, forward);
    try {
      try {
        await startContainer(ctx.runtime, id!);
      } catch (e) {
        if (!detach) await deleteContainer(ctx.runtime, id!, { force: true });
        throw e;
      }
      if (detach) return 0;
      // A step after start that fails (capabilities, the user switch, execve) throws here: the
      // container is deleted all the same, or `run` would leave a stopped container behind.
      let status: Awaited<ReturnType<typeof waitAttached>>;
      try {
        status = await waitAttached(created.helper!, created.plan);
      } finally {
        if (!bool(args, 'keep')) await deleteContainer(ctx.runtime, id!, { force: true });
      }
      return status.signal ? 128 + status.signal : (status.exitCode ?? 255);
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
    }
  },
};
