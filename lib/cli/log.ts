/**
 * The CLI's one place for log output, in runc's formats:
 *   text: time="2026-01-02T03:04:05Z" level=error msg="..."
 *   json: {"level":"error","msg":"...","time":"2026-01-02T03:04:05Z"}
 * containerd reads the last JSON `error` line of `--log` as the reason a
 * create failed, so every fatal error is logged there. Writes are
 * synchronous on raw fds: during create, stdout and stderr are the
 * container's, and Node's stream objects would set O_NONBLOCK on them.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'fatal';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3, fatal: 4 };

export class Logger {
  private fd: number | undefined;
  constructor(
    readonly path: string | undefined,
    readonly format: 'text' | 'json' = 'text',
    readonly level: LogLevel = 'info',
  ) {}

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    if (!this.path || this.path === '/dev/stderr') {
      this.fd = 2;
    } else {
      this.fd = openSync(this.path, constants.O_CREAT | constants.O_WRONLY | constants.O_APPEND | constants.O_SYNC, 0o644);
    }
    return this.fd;
  }

  /** True when log lines go to a file rather than stderr. */
  get toFile(): boolean {
    return Boolean(this.path && this.path !== '/dev/stderr');
  }

  line(level: LogLevel, msg: string): string {
    const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (this.format === 'json') return JSON.stringify({ level, msg, time }) + '\n';
    return `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
  }

  log(level: LogLevel, msg: string): void {
    if (ORDER[level] < ORDER[this.level]) return;
    try {
      writeSync(this.open(), this.line(level, msg));
    } catch {
      /* nowhere left to report a failed log write */
    }
  }

  close(): void {
    if (this.fd !== undefined && this.fd > 2) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Writes to a raw fd, synchronously (never through process.stdout/stderr). */
export function out(text: string, fd = 1): void {
  let buf = Buffer.from(text);
  while (buf.length) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
  }
}
