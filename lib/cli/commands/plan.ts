import { join, resolve } from 'node:path';
import type { Command } from '../main.js';
import { bool, str } from '../args.js';
import { out } from '../log.js';
import { UsageError } from '../../errors.js';
import { loadBundleConfig } from '../../spec/load.js';
import { compilePlan, type CgroupMountLayout } from '../../plan/compile.js';
import { formatPlan } from '../../plan/explain.js';
import { detectCgroupLayout } from '../../cgroups/index.js';

function mountLayout(): CgroupMountLayout {
  try {
    const l = detectCgroupLayout();
    if (l.kind === 'v2') return { v1: [], unified: 'root' };
    return {
      v1: Object.keys(l.v1).map((name) => ({ name, data: name === 'systemd' ? 'none,name=systemd' : name })),
      unified: l.unified ? 'unified' : 'none',
    };
  } catch {
    return { v1: [], unified: 'root' };
  }
}

export const command: Command = {
  summary: 'print every step tsrun would take to create the container of a bundle, with the config field behind it',
  usage: '[--explain] [--no-pivot] [<bundle>]',
  flags: {
    explain: { type: 'bool', description: 'add each step\'s system calls and why it is there' },
    bundle: { type: 'string', short: 'b', description: 'bundle directory (or give it as the argument)', placeholder: 'DIR' },
    'no-pivot': { type: 'bool', description: 'plan the --no-pivot path' },
    'console-socket': { type: 'string', description: 'plan with a console socket', placeholder: 'PATH' },
    detach: { type: 'bool', short: 'd', description: 'plan a detached create (the default for create)' },
    'no-new-keyring': { type: 'bool', description: 'plan without a session keyring of the container\'s own' },
  },
  async run(ctx, args) {
    if (args.positionals.length > 1) throw new UsageError('"plan" takes at most one <bundle>');
    const bundle = resolve(args.positionals[0] ?? str(args, 'bundle') ?? '.');
    const { spec, warnings } = loadBundleConfig(bundle);
    for (const w of warnings) ctx.log.log('warning', `${w.field}: ${w.message}`);
    const plan = compilePlan(spec, {
      bundle,
      execFifo: join(ctx.runtime.root ?? '/run/tsrun', '<id>', 'exec.fifo'),
      detached: true,
      noPivot: bool(args, 'no-pivot'),
      consoleSocket: str(args, 'console-socket'),
      hostHooks: Boolean(spec.hooks?.prestart?.length || spec.hooks?.createRuntime?.length),
      cgroupMounts: mountLayout(),
      sessionKeyring: bool(args, 'no-new-keyring') ? undefined : '_ses.<id>',
    });
    out(formatPlan(plan, { explain: bool(args, 'explain') }));
    return 0;
  },
};
