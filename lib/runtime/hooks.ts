/**
 * Hooks that run in the runtime's namespaces (prestart, createRuntime,
 * poststart, poststop), each with the state JSON on stdin. createContainer
 * and startContainer hooks run inside the container and are plan steps.
 */
import { spawn } from 'node:child_process';
import type { Hook } from '../spec/types.js';
import { HookError } from '../errors.js';

/** Runs one hook; rejects with HookError on a non-zero exit or a timeout. */
export function runHook(kind: string, index: number, hook: Hook, stateJson: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const [argv0, ...rest] = hook.args && hook.args.length ? hook.args : [hook.path];
    // An empty env means an empty environment; an absent one inherits ours (runc's behaviour).
    const env = hook.env ? Object.fromEntries(hook.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) : process.env;
    // Its own process group, so a timeout kills what the hook started too (a child holding its pipes would keep tsrun waiting).
    const child = spawn(hook.path, rest, { argv0, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    let timedOut = false;
    const timer = hook.timeout
      ? setTimeout(() => {
          timedOut = true;
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, hook.timeout * 1000)
      : undefined;
    child.stdin.on('error', () => { /* a hook need not read its stdin */ });
    child.stdin.end(stateJson);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new HookError(`error running ${kind} hook #${index}: ${e.message}`, kind, index, { cause: e }));
    });
    child.on('exit', (code, signal) => {
      // Whatever the hook left running must not hold tsrun open through these pipes.
      setImmediate(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      });
      if (timer) clearTimeout(timer);
      if (timedOut) {
        reject(new HookError(`error running ${kind} hook #${index}: hook ran past specified timeout of ${hook.timeout!.toFixed(1)}s`, kind, index));
      } else if (code !== 0) {
        const how = signal ? `signal: ${signal}` : `exit status ${code}`;
        reject(new HookError(`error running ${kind} hook #${index}: ${how}${output.trim() ? `, stdout/stderr: ${output.trim()}` : ''}`, kind, index));
      } else resolve();
    });
  });
}

/** Runs hooks in order, stopping at the first failure. */
export async function runHooks(kind: string, hooks: Hook[] | undefined, stateJson: string): Promise<void> {
  for (const [i, h] of (hooks ?? []).entries()) await runHook(kind, i, h, stateJson);
}
