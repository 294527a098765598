/**
 * The terminal of a library container (`createContainer({ terminal: true })`):
 * the container's process has a pty in its own devpts; the helper, which stays
 * its parent, copies between the pty master and its pipes. This stream is
 * those pipes as one duplex: write what is typed, read what the pty shows.
 */
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';

/** A container's pty as a Node duplex stream (`Container.terminal`), with {@link ContainerTerminal.resize}. */
export class ContainerTerminal extends Duplex {
  constructor(
    private readonly input: Writable,
    private readonly output: Readable,
    private readonly sizes: Writable | undefined,
  ) {
    super();
    output.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) output.pause();
    });
    output.on('end', () => this.push(null));
    output.on('error', (e) => this.destroy(e));
    // The pty is gone once the process exits: writes after that are dropped, not errors.
    input.on('error', () => undefined);
  }

  override _read(): void {
    this.output.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    this.input.write(chunk, encoding, () => done());
  }

  /** Ending the input sends the pty's EOF character (^D), as closing a terminal's input would. */
  override _final(done: (e?: Error | null) => void): void {
    this.input.end(() => done());
  }

  /** Sets the pty's window size; the kernel sends the process SIGWINCH. */
  resize(rows: number, cols: number): void {
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || rows > 0xffff || cols > 0xffff) {
      throw new RangeError(`terminal size ${rows}x${cols}: rows and cols must be integers from 0 to 65535`);
    }
    const rec = Buffer.alloc(4);
    rec.writeUInt16LE(rows, 0);
    rec.writeUInt16LE(cols, 2);
    if (this.sizes && !this.sizes.destroyed) this.sizes.write(rec);
  }
}
