/**
 * Processes for the cgroup integration tests: each starts blocked on a read
 * of stdin, so the test can move it into a cgroup before it does anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Gated {
  child: ChildProcess;
  pid: number;
  /** Let the script run (writes one line to its stdin). */
  go(line?: string): void;
  /** stdout and stderr so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the output matches, rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** SIGKILL by pid if still running. */
  kill(): void;
}

/** `sh -c 'read _gate; <script>'`. */
export function gated(script: string): Gated {
  const child = spawn('sh', ['-c', `read _gate; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const pid = child.pid!;
  return {
    child,
    pid,
    go(line = '') {
      child.stdin!.write(line + '\n');
    },
    output: () => out,
    exited,
    async waitFor(re, ms = 10_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${re} in output: ${JSON.stringify(out.slice(-500))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return out;
    },
    kill() {
      if (done) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
