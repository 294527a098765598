/** Signal names and numbers, parsed the way runc's `kill` parses them. */
import { UsageError } from '../errors.js';

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** Parses a signal as runc does: a number, `KILL` or `SIGKILL` (any case). */
export function parseSignal(sig: string | number): number {
  if (typeof sig === 'number') return sig;
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    if (n >= 1 && n <= 64) return n;
  }
  const name = sig.toUpperCase().replace(/^SIG/, '');
  const n = SIGNALS[name] ?? (/^RTMIN(\+\d+)?$/.test(name) ? 34 + Number(name.slice(6) || 0) : undefined);
  if (n === undefined) throw new UsageError(`unknown signal "${sig}"`);
  return n;
}

