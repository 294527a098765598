import type { Command } from '../main.js';
import { out } from '../log.js';
import { features } from '../../spec/features.js';
import { seccompFeatures } from '../../security/index.js';
import { kernelSupportsIdmap } from '../../runtime/rootless.js';

export const command: Command = {
  summary: 'print the runtime-spec features document (JSON)',
  usage: '',
  flags: {},
  async run() {
    // CRI-O reads stdout and stderr together: nothing but the JSON may be printed.
    out(JSON.stringify(features({ seccomp: seccompFeatures(), idmap: kernelSupportsIdmap() }), null, 4) + '\n');
    return 0;
  },
};
