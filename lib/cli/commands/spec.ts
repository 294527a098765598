import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from '../main.js';
import { bool, str } from '../args.js';
import { UsageError } from '../../errors.js';
import { defaultSpec } from '../../spec/defaults.js';

export const command: Command = {
  summary: 'write a default config.json with secure defaults',
  usage: '[--rootless] [--bundle DIR]',
  flags: {
    bundle: { type: 'string', short: 'b', description: 'where to write config.json (default: the current directory)', placeholder: 'DIR' },
    rootless: { type: 'bool', description: 'a config for an unprivileged user (user namespace, no network namespace)' },
  },
  async run(_ctx, args) {
    if (args.positionals.length) throw new UsageError(`"spec" takes no arguments; unexpected "${args.positionals[0]}"`);
    const path = join(resolve(str(args, 'bundle') ?? '.'), 'config.json');
    if (existsSync(path)) throw new UsageError(`File ${path} exists. Remove it first`);
    writeFileSync(path, JSON.stringify(defaultSpec({ rootless: bool(args, 'rootless') }), null, '\t') + '\n', { mode: 0o644 });
    return 0;
  },
};
