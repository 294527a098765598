/**
 * Reading config.json and process.json from disk: a missing file, unreadable
 * file or malformed JSON becomes a SpecError with a message a person can act
 * on (for JSON, the line and column of the first mistake), then the document
 * is validated.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { SpecError } from '../errors.js';
import { validateConfig, validateProcess, type ConfigValidation, type ProcessValidation } from './validate.js';

/** Options of {@link loadBundleConfig}. */
export interface LoadOptions {
  /** Check the host as well (root directory, bind sources, namespace paths); default true. */
  host?: boolean;
}

/**
 * Read and validate `<bundle>/config.json`.
 *
 * @param bundle - the bundle directory (relative paths resolve against the current directory)
 * @throws SpecError with field `config.json` when the file is missing, unreadable or not
 *   JSON, otherwise with every problem {@link validateConfig} finds
 */
export function loadBundleConfig(bundle: string, opts: LoadOptions = {}): ConfigValidation {
  const dir = resolve(bundle);
  const path = join(dir, 'config.json');
  const doc = readJsonDocument(path, 'config.json', 'a bundle needs a config.json; "tsrun spec" writes a default one');
  return validateConfig(doc, { bundle: dir, host: opts.host ?? true });
}

/**
 * Read and validate a process document (`tsrun exec --process FILE`).
 *
 * @throws SpecError whose field is the file's name when it is missing or not JSON,
 *   otherwise with every problem {@link validateProcess} finds
 */
export function loadProcessFile(path: string): ProcessValidation {
  const name = basename(path);
  const doc = readJsonDocument(resolve(path), name, 'give the path of a JSON process document');
  return validateProcess(doc, name);
}

/**
 * Read and parse a JSON file, turning every failure into a SpecError whose
 * single issue has `field` = `label`.
 */
export function readJsonDocument(path: string, label: string, missingHint: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const message = err.code === 'ENOENT'
      ? `${path} does not exist; ${missingHint}`
      : err.code === 'EISDIR'
        ? `${path} is a directory, not a JSON file`
        : `${path} cannot be read: ${err.code ?? err.message}`;
    throw new SpecError([{ field: label, message }], label);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const where = locateJsonError(text);
    throw new SpecError([{ field: label, message: `${path} is not valid JSON: ${where.message} at line ${where.line}, column ${where.column}` }], label);
  }
}

/** Where a JSON text first goes wrong. Line and column count from 1. */
export interface JsonErrorLocation {
  message: string;
  line: number;
  column: number;
  offset: number;
}

/**
 * Find the first syntax error of a JSON text (V8's JSON.parse messages do not
 * always carry a position). Returns a location at the end of the text when the
 * text is in fact valid.
 */
export function locateJsonError(text: string): JsonErrorLocation {
  let i = 0;
  class Stop extends Error {
    constructor(readonly at: number, readonly why: string) { super(why); }
  }
  const fail = (why: string, at = i): never => { throw new Stop(at, why); };
  const ws = (): void => { while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++; };
  const found = (): string => (i >= text.length ? 'the end of the file' : `"${text[i]}"`);

  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') object();
    else if (ch === '[') array();
    else if (ch === '"') string();
    else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) number();
    else if (text.startsWith('true', i)) i += 4;
    else if (text.startsWith('false', i)) i += 5;
    else if (text.startsWith('null', i)) i += 4;
    else fail(`expected a value but found ${found()}`);
  };
  const object = (): void => {
    i++;
    ws();
    if (text[i] === '}') { i++; return; }
    for (;;) {
      ws();
      if (text[i] !== '"') fail(`expected a property name in double quotes but found ${found()}`);
      string();
      ws();
      if (text[i] !== ':') fail(`expected ":" after a property name but found ${found()}`);
      i++;
      value();
      ws();
      if (text[i] === ',') {
        i++;
        ws();
        if (text[i] === '}') fail('trailing comma before "}"');
        continue;
      }
      if (text[i] === '}') { i++; return; }
      fail(`expected "," or "}" but found ${found()}`);
    }
  };
  const array = (): void => {
    i++;
    ws();
    if (text[i] === ']') { i++; return; }
    for (;;) {
      value();
      ws();
      if (text[i] === ',') {
        i++;
        ws();
        if (text[i] === ']') fail('trailing comma before "]"');
        continue;
      }
      if (text[i] === ']') { i++; return; }
      fail(`expected "," or "]" but found ${found()}`);
    }
  };
  const string = (): void => {
    const start = i;
    i++;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === '"') { i++; return; }
      if (ch === '\\') {
        const esc = text[i + 1];
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape in a string');
          i += 6;
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i += 2;
        else fail(`invalid escape "\\${esc ?? ''}" in a string`);
        continue;
      }
      if (ch < ' ') fail('unescaped control character (such as a newline) in a string');
      i++;
    }
    fail('unterminated string', start);
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail(`invalid number starting with ${found()}`);
    i += m![0].length;
  };

  let why = 'no error found';
  let at = text.length;
  try {
    ws();
    if (i >= text.length) fail('the file is empty');
    value();
    ws();
    if (i < text.length) fail(`unexpected ${found()} after the end of the JSON value`);
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    why = e.why;
    at = e.at;
  }
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - (before.lastIndexOf('\n') + 1) + 1;
  return { message: why, line, column, offset: at };
}
