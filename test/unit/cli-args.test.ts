import t from 'tap';
import { parseArgs, int } from '../../lib/cli/args.js';
import { parseSignal } from '../../lib/runtime/signals.js';
import { UsageError } from '../../lib/errors.js';

const spec = {
  bundle: { type: 'string' as const, short: 'b' },
  detach: { type: 'bool' as const, short: 'd' },
  env: { type: 'list' as const, short: 'e' },
  'no-subreaper': { type: 'bool' as const },
  'preserve-fds': { type: 'string' as const },
};

t.test('runc flag forms', async (tt) => {
  tt.same(parseArgs(['--bundle', '/b', 'id'], spec).flags.bundle, '/b');
  tt.same(parseArgs(['--bundle=/b', 'id'], spec).flags.bundle, '/b');
  tt.same(parseArgs(['-b', '/b', 'id'], spec).flags.bundle, '/b');
  tt.same(parseArgs(['-d', 'id'], spec).flags.detach, true);
  tt.same(parseArgs(['--detach=false', 'id'], spec).flags.detach, false);
  tt.same(parseArgs(['-no-subreaper', 'id'], spec).flags['no-subreaper'], true, 'single-dash long form (go-runc)');
  tt.same(parseArgs(['-e', 'A=1', '--env', 'B=2', 'id'], spec).flags.env, ['A=1', 'B=2']);
  tt.same(parseArgs(['id', '-d'], spec).flags.detach, true, 'flags after the id');
  tt.same(parseArgs(['id', 'sh', '-c', 'x'], spec, { stopAtPositional: true }).positionals, ['id', 'sh', '-c', 'x'], 'exec: the command keeps its own flags');
  tt.throws(() => parseArgs(['--bogus', 'id'], spec), UsageError, 'unknown flags are errors');
  tt.throws(() => parseArgs(['--bundle'], spec), /needs an argument/);
  tt.throws(() => int(parseArgs(['--preserve-fds', 'x'], spec), 'preserve-fds'), /non-negative integer/);
});

t.test('signals as runc parses them', async (tt) => {
  tt.equal(parseSignal('9'), 9);
  tt.equal(parseSignal('KILL'), 9);
  tt.equal(parseSignal('SIGKILL'), 9);
  tt.equal(parseSignal('sigterm'), 15);
  tt.equal(parseSignal('SIGRTMIN+2'), 36);
  tt.throws(() => parseSignal('SIGNOPE'), /unknown signal/);
  tt.throws(() => parseSignal('0'), /unknown signal/);
});
