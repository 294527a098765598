/**
 * A small, strict argument parser shaped like runc's (urfave/cli): both
 * `--flag value` and `--flag=value`, single-dash long forms (`-no-subreaper`,
 * which go-runc sends), short aliases, repeatable flags, and an error for any
 * unknown flag. A library such as yargs would cost the CLI start-up time on
 * every one of the 5-10 calls an engine makes per container.
 */
import { UsageError } from '../errors.js';

export type FlagType = 'bool' | 'string' | 'list';

export interface FlagDef {
  type: FlagType;
  short?: string;
  /** Accepted and ignored (kept for compatibility with runc's callers). */
  ignored?: boolean;
  description?: string;
  placeholder?: string;
}

export type FlagSpec = Record<string, FlagDef>;

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

function parseBool(name: string, v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`invalid boolean value "${v}" for flag --${name}`);
}

/**
 * Parses argv against a spec. With `stopAtPositional`, everything from the
 * first positional on is positional (`exec <id> <command> [args...]`).
 */
export function parseArgs(argv: readonly string[], spec: FlagSpec, opts: { stopAtPositional?: boolean } = {}): Parsed {
  const flags: Parsed['flags'] = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(spec).filter(([, d]) => d.short).map(([n, d]) => [d.short!, n]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      if (opts.stopAtPositional) {
        positionals.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq) : body;
    let name: string | undefined;
    if (arg.startsWith('--')) name = key in spec ? key : undefined;
    else name = byShort.get(key) ?? (key.length > 1 && key in spec ? key : undefined);
    if (!name) throw new UsageError(`flag provided but not defined: ${arg.split('=')[0]}`);
    const def = spec[name]!;
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (def.type === 'bool') {
      flags[name] = value === undefined ? true : parseBool(name, value);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${arg}`);
      value = argv[++i]!;
    }
    if (def.type === 'list') {
      const list = (flags[name] as string[] | undefined) ?? [];
      list.push(value);
      flags[name] = list;
    } else flags[name] = value;
  }
  return { flags, positionals };
}

/** Reads a string flag. */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Reads a boolean flag. */
export function bool(p: Parsed, name: string): boolean {
  return p.flags[name] === true;
}

/** Reads a repeatable flag. */
export function list(p: Parsed, name: string): string[] {
  const v = p.flags[name];
  return Array.isArray(v) ? v : [];
}

/** Reads a non-negative integer flag. */
export function int(p: Parsed, name: string, fallback = 0): number {
  const v = str(p, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new UsageError(`invalid value "${v}" for flag --${name}: must be a non-negative integer`);
  return Number(v);
}

/** Exactly `n` positionals, or a usage error naming what is missing. */
export function expectArgs(p: Parsed, names: string[], command: string): string[] {
  if (p.positionals.length < names.length) {
    throw new UsageError(`"${command}" requires ${names.length === 1 ? 'exactly 1 argument' : `${names.length} arguments`}: ${names.map((n) => `<${n}>`).join(' ')}`);
  }
  if (p.positionals.length > names.length) {
    throw new UsageError(`"${command}" takes ${names.map((n) => `<${n}>`).join(' ')}; unexpected argument "${p.positionals[names.length]}"`);
  }
  return p.positionals;
}
