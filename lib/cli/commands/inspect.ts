import type { Command } from '../main.js';
import { str } from '../args.js';
import { out } from '../log.js';
import { UsageError } from '../../errors.js';
import { INSPECT_FORMATS, formatReport, inspectContainer, type InspectFormat } from '../../inspect/index.js';

export const command: Command = {
  summary: 'show a container\'s processes, namespaces, cgroup and mounts',
  usage: '[--format tree|dot|json] <container-id>',
  flags: {
    format: { type: 'string', short: 'f', description: 'tree (text), dot (Graphviz: pipe to `dot -Tpng`) or json', placeholder: 'tree|dot|json' },
  },
  async run(ctx, args) {
    const [id] = args.positionals;
    if (!id) throw new UsageError('"inspect" requires <container-id>');
    const format = str(args, 'format') ?? 'tree';
    if (!(INSPECT_FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(`invalid format "${format}": valid values are ${INSPECT_FORMATS.join(', ')}`);
    }
    out(formatReport(inspectContainer(ctx.runtime, id), format as InspectFormat));
    return 0;
  },
};
