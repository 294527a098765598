/**
 * `tsrun rootfs build --from-host python3,sh,ls DIR`: a slim rootfs made of
 * the host's own programs and their library closure, hard-linked from a
 * content store so identical files across rootfs share one inode (and one
 * copy in the page cache).
 */
import type { Command } from '../main.js';
import { bool, list, str } from '../args.js';
import { UsageError } from '../../errors.js';
import { out } from '../log.js';

export const command: Command = {
  summary: 'build a slim rootfs from the host\'s own binaries (ELF closure, content store of hard links)',
  usage: 'build --from-host NAME[,NAME...] [--store DIR] [--with-data] [--data PATH] [--json] <dir>',
  flags: {
    'from-host': { type: 'list', description: 'programs to include: names looked up in PATH, or absolute paths (comma-separated, repeatable)', placeholder: 'NAMES' },
    store: { type: 'string', description: 'content store: files are hard links into it (default /var/lib/tsrun/store as root, else $XDG_DATA_HOME/tsrun/store); keep it on the same filesystem as <dir>', placeholder: 'DIR' },
    'no-store': { type: 'bool', description: 'copy files instead of hard-linking them from a store' },
    'with-data': { type: 'bool', description: 'also copy the data files the programs need (Python: its sys.path)' },
    data: { type: 'list', description: 'an extra host file or directory to copy (repeatable)', placeholder: 'PATH' },
    'busybox-applets': { type: 'bool', description: 'link every busybox applet into /bin' },
    json: { type: 'bool', description: 'print the build report as JSON' },
  },
  async run(_ctx, args) {
    const [verb, dir, ...extra] = args.positionals;
    if (verb !== 'build') throw new UsageError('usage: tsrun rootfs build --from-host NAME[,NAME...] <dir>');
    if (!dir || extra.length) throw new UsageError('"rootfs build" requires exactly one <dir>');
    const binaries = list(args, 'from-host').flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
    if (binaries.length === 0) throw new UsageError('"rootfs build" needs --from-host NAME[,NAME...]');
    const { resolve, join } = await import('node:path');
    const { homedir } = await import('node:os');
    const { buildRootfsFromHost } = await import('../../rootfs/host.js');
    const defaultStore = process.getuid?.() === 0 ? '/var/lib/tsrun/store' : join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'tsrun', 'store');
    const store = bool(args, 'no-store') ? undefined : resolve(str(args, 'store') ?? defaultStore);
    const report = await buildRootfsFromHost({
      dest: dir,
      binaries,
      store,
      withData: bool(args, 'with-data'),
      dataPaths: list(args, 'data'),
      busyboxApplets: bool(args, 'busybox-applets'),
    });
    if (bool(args, 'json')) {
      out(JSON.stringify(report, null, 2) + '\n');
      return 0;
    }
    const files = report.entries.filter((e) => e.kind === 'file').length;
    const s = report.store;
    out(`${report.dest}: ${report.programs.map((p) => p.path).join(', ')}; ${report.closure.length} objects, ${files} files` +
      (report.data.length ? `, data from ${report.data.join(', ')}` : '') +
      (s ? `; store ${s.dir}: ${s.linked} hard links (${s.reused} already stored), ${s.copied} copies` : '; copied (no store)') + '\n');
    return 0;
  },
};
