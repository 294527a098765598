/**
 * The tsrun command line: global options, then one verb, each verb in its
 * own module loaded only when called (so `state` and `kill` do not pay for
 * what `create` needs). The only place that prints errors and picks exit
 * codes.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, str, bool, type FlagSpec, type Parsed } from './args.js';
import { Logger, out } from './log.js';
import { TsrunError, UsageError, SpecError } from '../errors.js';
import type { RuntimeContext } from '../runtime/lifecycle.js';

/** What every verb gets: how to run, and where to log. */
export interface CliContext {
  runtime: RuntimeContext;
  log: Logger;
  rootless: string | undefined;
}

/** One verb of the CLI. */
export interface Command {
  summary: string;
  usage: string;
  flags: FlagSpec;
  /** Everything after the first positional is positional (exec). */
  stopAtPositional?: boolean;
  /** Exit status for failures (runc's exec uses 255). */
  failureStatus?: number;
  run(ctx: CliContext, args: Parsed): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  create: () => import('./commands/create.js'),
  start: () => import('./commands/start.js'),
  run: () => import('./commands/run.js'),
  state: () => import('./commands/state.js'),
  list: () => import('./commands/list.js'),
  kill: () => import('./commands/kill.js'),
  delete: () => import('./commands/delete.js'),
  exec: () => import('./commands/exec.js'),
  ps: () => import('./commands/ps.js'),
  spec: () => import('./commands/spec.js'),
  features: () => import('./commands/features.js'),
  plan: () => import('./commands/plan.js'),
  pause: () => import('./commands/pause.js'),
  resume: () => import('./commands/resume.js'),
  update: () => import('./commands/update.js'),
  events: () => import('./commands/events.js'),
  inspect: () => import('./commands/inspect.js'),
  rootfs: () => import('./commands/rootfs.js'),
  debug: () => import('./commands/debug.js'),
};

const GLOBAL_FLAGS: FlagSpec = {
  root: { type: 'string', description: 'state directory (default /run/tsrun, or $XDG_RUNTIME_DIR/tsrun when not root)', placeholder: 'DIR' },
  log: { type: 'string', description: 'log file (default stderr)', placeholder: 'FILE' },
  'log-format': { type: 'string', description: 'log format: text or json', placeholder: 'text|json' },
  debug: { type: 'bool', description: 'debug logging' },
  'systemd-cgroup': { type: 'bool', description: 'use the systemd cgroup driver' },
  rootless: { type: 'string', description: 'rootless mode: true, false or auto', placeholder: 'true|false|auto' },
  criu: { type: 'string', ignored: true },
  help: { type: 'bool', short: 'h', description: 'show help' },
  version: { type: 'bool', short: 'v', description: 'print the version' },
};

const top = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function version(): string {
  const pkg = JSON.parse(readFileSync(join(top, 'package.json'), 'utf8')) as { version: string };
  let commit = 'unknown';
  try {
    commit = readFileSync(join(top, 'build', 'commit'), 'utf8').trim();
  } catch {
    /* built without git */
  }
  return `tsrun version ${pkg.version}\ncommit: ${commit}\nspec: 1.3.0\n`;
}

function help(): string {
  const verbs = Object.keys(COMMANDS).join(', ');
  const flags = Object.entries(GLOBAL_FLAGS)
    .filter(([, d]) => !d.ignored)
    .map(([n, d]) => `  --${n}${d.placeholder ? ` ${d.placeholder}` : ''}${d.short ? `, -${d.short}` : ''}\n      ${d.description ?? ''}`)
    .join('\n');
  return `tsrun: a low-level OCI container runtime for Node.js (runc-compatible)\n\nUsage: tsrun [global options] <command> [options] [arguments]\n\nCommands: ${verbs}\n\nGlobal options:\n${flags}\n\nRun "tsrun <command> --help" for a command's options.\n`;
}

function commandHelp(name: string, c: Command): string {
  const flags = Object.entries(c.flags)
    .filter(([, d]) => !d.ignored)
    .map(([n, d]) => `  --${n}${d.placeholder ? ` ${d.placeholder}` : ''}${d.short ? `, -${d.short}` : ''}\n      ${d.description ?? ''}`)
    .join('\n');
  return `tsrun ${name}: ${c.summary}\n\nUsage: tsrun ${name} ${c.usage}\n${flags ? `\nOptions:\n${flags}\n` : ''}`;
}

/** Splits the global options from the verb and its arguments. */
function splitGlobal(argv: string[]): { global: string[]; verb?: string; rest: string[] } {
  const global: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) return { global, verb: a, rest: argv.slice(i + 1) };
    global.push(a);
    const key = a.replace(/^--?/, '');
    const def = GLOBAL_FLAGS[key];
    if (def && def.type !== 'bool' && !a.includes('=') && i + 1 < argv.length) global.push(argv[++i]!);
  }
  return { global, rest: [] };
}

/** Runs the CLI; returns the exit status. Never throws. */
export async function main(argv: string[]): Promise<number> {
  let log = new Logger(undefined);
  let failureStatus = 1;
  try {
    const { global, verb, rest } = splitGlobal(argv);
    const g = parseArgs(global, GLOBAL_FLAGS);
    const format = str(g, 'log-format') ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError(`invalid log format "${format}": valid values are text and json`);
    log = new Logger(str(g, 'log'), format, bool(g, 'debug') ? 'debug' : 'info');
    if (bool(g, 'version')) {
      out(version());
      return 0;
    }
    if (!verb || bool(g, 'help')) {
      out(help());
      return verb || bool(g, 'help') ? 0 : 1;
    }
    if (verb === 'help') {
      out(help());
      return 0;
    }
    const load = COMMANDS[verb];
    if (!load) throw new UsageError(`unknown command "${verb}": valid commands are ${Object.keys(COMMANDS).join(', ')}`);
    const { command } = await load();
    failureStatus = command.failureStatus ?? 1;
    const args = parseArgs(rest, { ...command.flags, help: { type: 'bool', short: 'h' } }, { stopAtPositional: command.stopAtPositional });
    if (bool(args, 'help')) {
      out(commandHelp(verb, command));
      return 0;
    }
    const rootless = str(g, 'rootless');
    if (rootless !== undefined && !['true', 'false', 'auto'].includes(rootless)) {
      throw new UsageError(`invalid --rootless value "${rootless}": valid values are true, false and auto`);
    }
    const ctx: CliContext = {
      runtime: {
        root: str(g, 'root'),
        systemdCgroup: bool(g, 'systemd-cgroup'),
        rootless: rootless as RuntimeContext['rootless'],
        onWarning: (m) => log.log('warning', m),
      },
      log,
      rootless,
    };
    log.log('debug', `tsrun ${verb}: ${JSON.stringify(rest)} (root ${ctx.runtime.root ?? 'default'}${ctx.runtime.systemdCgroup ? ', systemd cgroup driver' : ''})`);
    const status = await command.run(ctx, args);
    log.log('debug', `tsrun ${verb}: exit status ${status}`);
    return status;
  } catch (e) {
    reportError(log, e);
    return failureStatus;
  } finally {
    log.close();
  }
}

/** Logs a fatal error once: to --log (if given) and, like runc, also raw to stderr. */
export function reportError(log: Logger, e: unknown): void {
  let msg: string;
  let detail: string | undefined;
  if (e instanceof SpecError) {
    // One line for the log (containerd shows the last error line), one line per problem for a person.
    msg = `${e.source} is invalid: ${e.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`;
    detail = `${e.source} is invalid:\n` + e.issues.map((i) => `  ${i.field}: ${i.message}`).join('\n');
  } else if (e instanceof TsrunError) {
    msg = e.message;
    const cleanup = (e as { cleanupErrors?: unknown[] }).cleanupErrors;
    if (cleanup?.length) msg += ` (cleanup also failed: ${cleanup.map((c) => (c instanceof Error ? c.message : String(c))).join('; ')})`;
  } else if (e instanceof Error) {
    msg = e.message;
  } else msg = String(e);
  log.log('error', msg);
  // Like runc, the error also goes raw to stderr when the log is elsewhere (conmon reads stderr).
  if (log.toFile || log.format === 'json') out(`tsrun: ${detail ?? msg}\n`, 2);
}

const invokedDirectly = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
