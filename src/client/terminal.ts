// The caller's side of a program's pseudo-terminal (the tty option). The
// server sends the terminal's master with STARTED; until then, child.stdin
// and child.stdout already exist (a caller uses them at once, as with
// pipes), so they are stand-ins the master is joined to when it arrives.
// This process holds the master: it reads and writes it itself and resizes
// it itself (TIOCSWINSZ); nothing of the terminal passes through the server.

import { PassThrough } from 'node:stream';
import * as tty from 'node:tty';
import type { NativeBinding } from '../binding';
import type { TerminalSize } from '../protocol';

export class LocalTerminal {
  /** child.stdin: what is written reaches the program as typed input. */
  readonly input = new PassThrough();
  /** child.stdout: everything the program writes on its terminal (stdout and stderr). */
  readonly output = new PassThrough();
  private master: tty.ReadStream | undefined;
  private masterFd = -1;
  private size: TerminalSize;
  private sizeChanged = false;

  constructor(private readonly binding: NativeBinding, size: TerminalSize) {
    this.size = { ...size };
    // The caller cannot end a terminal's input by closing it: ending stdin
    // leaves the terminal open (a program reads end of input when it gets
    // the terminal's EOF character, Ctrl-D, at the start of a line).
    this.output.once('close', () => this.master?.destroy());
  }

  /** The master arrived with STARTED: it is this object's from now on. */
  attach(fd: number): void {
    if (this.master !== undefined || this.output.destroyed) {
      this.binding.close(fd);
      return;
    }
    const master = new tty.ReadStream(fd);
    this.master = master;
    this.masterFd = fd;
    if (this.sizeChanged) this.applySize();
    master.on('error', (error: NodeJS.ErrnoException) => {
      // A master reads EIO once its terminal side has closed everywhere
      // (the program and all it left holding the terminal have gone): the
      // end of the output, as a pipe's end of file.
      if (error.code === 'EIO') this.output.end();
      else this.output.destroy(error);
    });
    master.once('close', () => {
      this.masterFd = -1;
      this.input.unpipe(master);
    });
    master.pipe(this.output);
    this.input.pipe(master, { end: false });
  }

  /** No master will come (the start failed): the output ends empty. */
  abandon(): void {
    if (this.master === undefined) this.output.end();
  }

  resize(size: TerminalSize): void {
    this.size = { ...size };
    this.sizeChanged = true;
    if (this.masterFd >= 0 && this.master?.destroyed === false) this.applySize();
  }

  private applySize(): void {
    this.binding.setTerminalSize(this.masterFd, this.size.columns, this.size.rows);
  }
}
