// The caller's side of a remote program's stdio: for each entry, the local
// stream (for 'pipe') and the fd that travels to the server (a pipe end, a
// socket pair end, or a close-on-exec duplicate of the caller's own fd).

import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { NativeBinding } from '../binding';
import { FD_CLOSED, FD_IGNORE, FD_TERMINAL, type TerminalSize } from '../protocol';
import type { StdioPlan } from './spawn-options';
import { LocalTerminal } from './terminal';

export type StdioStream = Readable | Writable | null;

export interface LocalStdio {
  /** child.stdio: one entry per stdio entry, null where there is no local stream. */
  streams: StdioStream[];
  /** fds to attach to the request, owned by the request from now on. */
  remoteFds: number[];
  /** Child fd i <- remoteFds[fdMap[i]], or FD_IGNORE / FD_CLOSED / FD_TERMINAL. */
  fdMap: number[];
  /** The program's terminal (tty option), or undefined. */
  terminal: LocalTerminal | undefined;
  /** The readable local ends past stdin: each must close before the child's 'close'. */
  readables: Readable[];
  /** Lets the readable ends start reading (after 'spawn'); idempotent. */
  releaseReads(): void;
  /** Forgets the held reads without starting them (the streams are being destroyed). */
  dropHeldReads(): void;
}

/**
 * Creates the local streams and the travelling fds. On failure everything
 * made so far is closed and the error is thrown.
 */
export function createStdio(entries: readonly StdioPlan[], binding: NativeBinding, size: TerminalSize | null = null): LocalStdio {
  const streams: StdioStream[] = [];
  const remoteFds: number[] = [];
  const fdMap: number[] = [];
  const readables: Readable[] = [];
  let heldReads: (() => void)[] = [];
  const terminal = size === null ? undefined : new LocalTerminal(binding, size);
  if (terminal !== undefined) {
    // Output is read whether or not a stdio entry shows it: a terminal
    // nobody reads would stop the program once its buffer is full.
    readables.push(terminal.output);
    if (entries.slice(1, 3).every((entry) => entry.kind !== 'terminal')) terminal.output.resume();
  }
  let outputShown = false;
  try {
    for (const [index, entry] of entries.entries()) {
      if (entry.kind === 'terminal') {
        // One output for stdout and stderr, as a terminal merges them.
        const output = index > 0 && !outputShown ? (terminal as LocalTerminal).output : null;
        if (output !== null) outputShown = true;
        streams.push(index === 0 ? (terminal as LocalTerminal).input : output);
        fdMap.push(FD_TERMINAL);
        continue;
      }
      if (entry.kind === 'ignore') {
        // libuv gives /dev/null for 0-2 and leaves fds above closed.
        streams.push(null);
        fdMap.push(index <= 2 ? FD_IGNORE : FD_CLOSED);
        continue;
      }
      let remote: number;
      if (entry.kind === 'fd') {
        remote = binding.dup(entry.fd);
        streams.push(null);
      } else if (index <= 2) {
        // Plain pipes for 0-2: the program reads its stdin and writes the rest.
        const [readEnd, writeEnd] = binding.pipe();
        const programReads = index === 0;
        remote = programReads ? readEnd : writeEnd;
        if (programReads) {
          streams.push(new net.Socket({ fd: writeEnd, readable: false, writable: true }));
        } else {
          const { socket, release } = heldReadable(readEnd);
          streams.push(socket);
          readables.push(socket);
          heldReads.push(release);
        }
      } else {
        // Extra pipes are duplex, as child_process makes them.
        const [local, far] = binding.socketPair();
        remote = far;
        const { socket, release } = heldReadable(local);
        streams.push(socket);
        readables.push(socket);
        heldReads.push(release);
      }
      fdMap.push(remoteFds.length);
      remoteFds.push(remote);
    }
  } catch (error) {
    for (const fd of remoteFds) binding.close(fd);
    for (const stream of streams) stream?.destroy();
    throw error;
  }
  return {
    streams, remoteFds, fdMap, readables, terminal,
    releaseReads() {
      for (const release of heldReads.splice(0)) release();
    },
    dropHeldReads() {
      heldReads = [];
    },
  };
}

/**
 * A readable socket on `fd` whose reads are held back until release().
 * child_process spawns synchronously, so 'spawn' always precedes the first
 * 'data'. Here the program may write before the server's STARTED arrives:
 * manualStart skips the read Node would start at once, and the instance
 * _read only notes that one was asked for. Writable is left at its default
 * (true), as child_process's stdout is.
 */
function heldReadable(fd: number): { socket: net.Socket; release: () => void } {
  const socket = new net.Socket({ fd, readable: true, manualStart: true } as net.SocketConstructorOpts);
  let readRequested = false;
  socket._read = () => {
    readRequested = true;
  };
  const release = (): void => {
    delete (socket as Partial<Pick<net.Socket, '_read'>>)._read;
    if (socket.destroyed) return;
    if (readRequested) socket._read(socket.readableHighWaterMark);
    else socket.read(0);
  };
  return { socket, release };
}
