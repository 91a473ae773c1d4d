// remoteSpawnSync(): child_process.spawnSync's signature and result, running
// the program through a sidecar server. The options are normalised as
// remoteSpawn's are (plus spawnSync's input, maxBuffer and encoding, as
// lib/child_process.js spawnSync adds them); the stdio pipes are made here;
// one blocking native call (exchangeSync) sends the request and gathers the
// output and the server's replies, which the protocol codec reads here.

import * as os from 'node:os';
import type { RemoteSpawnSyncOptions, RemoteSpawnSyncReturns } from '../../types/index';
import { type NativeBinding, getBinding } from '../binding';
import {
  type ExitReply, type FailedReply, FD_CLOSED, FD_IGNORE, MessageType, ProtocolError, decodeServerMessage, encodeSignal,
} from '../protocol';
import {
  connectError, disconnected, errnoException, failedReplyError, invalidArgType, isNativeError, malformedReply, outOfRange,
  syncSpawnError, syncToOwnServer, unexpectedServer, unsupportedOption,
} from '../errors';
import { signalName } from '../signals';
import { CONNECT_RETRY_LIMIT_MS, CONNECT_RETRY_MS } from './connection';
import { peerRefusal, socketOwnerRefusal } from './expected-server';
import { requestRecords } from './request';
import { type SpawnPlan, normalizeSpawnArguments } from './spawn-options';

/** child_process's default maxBuffer for the sync calls: 1 MiB. */
export const DEFAULT_SYNC_MAX_BUFFER = 1024 * 1024;

const { ETIMEDOUT, ENOBUFS } = os.constants.errno;

type Output = string | Buffer;
/** The result as it is at run time: output, stdout and stderr are null when nothing ran, as child_process's. */
export interface SyncResult {
  error?: Error;
  status: number | null;
  signal: NodeJS.Signals | null;
  output: (Output | null)[] | null;
  pid: number;
  stdout: Output | null;
  stderr: Output | null;
}
type Result = SyncResult;

/** What spawnSync adds to spawn's options, taken out before spawn's normalisation. */
interface SyncExtras {
  /** Child fd -> input as given (options.input, strings and buffers among the stdio entries). */
  rawInputs: Map<number, unknown>;
  encoding: unknown;
}

/** Node's validateMaxBuffer: absent or null means none; otherwise a number >= 0. */
function syncMaxBuffer(options: Record<string, unknown>): number {
  // As spawnSync's `{ maxBuffer: MAX_BUFFER, ...options }`: an own key, even undefined, replaces the default.
  if (!Object.prototype.hasOwnProperty.call(options, 'maxBuffer')) return DEFAULT_SYNC_MAX_BUFFER;
  const { maxBuffer } = options;
  if (maxBuffer === undefined || maxBuffer === null) return Infinity;
  if (typeof maxBuffer !== 'number' || !(maxBuffer >= 0)) throw outOfRange('options.maxBuffer', 'a positive number', maxBuffer);
  return maxBuffer === 0 ? Infinity : maxBuffer;
}

const STDIO_WORDS = new Set(['pipe', 'overlapped', 'inherit', 'ignore', 'ipc']);

/** Input bytes as spawnSync validates them: a string (in options.encoding) or an ArrayBufferView. */
function inputBytes(value: unknown, index: number, encoding: unknown): Uint8Array {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, encoding as BufferEncoding);
  throw invalidArgType(`options.stdio[${index}]`, 'of type string or an instance of Buffer, TypedArray, or DataView', value);
}

/**
 * Splits spawnSync's own options from spawn's: input entries of the stdio
 * array become pipes (spawn refuses them), and `signal` is dropped, as
 * spawnSync never looks at it.
 */
function takeSyncExtras(options: unknown): { spawnOptions: unknown; extras: SyncExtras } {
  const extras: SyncExtras = { rawInputs: new Map(), encoding: undefined };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return { spawnOptions: options, extras };
  const opts = options as Record<string, unknown>;
  // A terminal's master is read and written while the program runs, from
  // the event loop that a sync call blocks (spawnSync has no such option).
  if (opts.tty !== undefined && opts.tty !== false) throw unsupportedOption('tty', 'a sync call cannot relay a terminal; use remoteSpawn with tty');
  const copy: Record<string, unknown> = { ...opts, signal: undefined };
  if (Array.isArray(opts.stdio)) {
    copy.stdio = opts.stdio.map((entry: unknown, index: number) => {
      if (ArrayBuffer.isView(entry) || (typeof entry === 'string' && !STDIO_WORDS.has(entry))) {
        extras.rawInputs.set(index, entry);
        return 'pipe';
      }
      return entry;
    });
  }
  if (opts.input) extras.rawInputs.set(0, opts.input);
  extras.encoding = opts.encoding;
  return { spawnOptions: copy, extras };
}

/** The pipes and fds of one sync spawn; what the native exchange takes over. */
interface SyncStdio {
  remoteFds: number[];
  fdMap: number[];
  inputFds: number[];
  inputData: Uint8Array[];
  outputFds: number[];
  /** Child fd of each output pipe, in outputFds' order. */
  outputIndex: number[];
}

function closeAll(binding: NativeBinding, stdio: SyncStdio): void {
  for (const fd of [...stdio.remoteFds, ...stdio.inputFds, ...stdio.outputFds]) binding.close(fd);
}

function createSyncStdio(plan: SpawnPlan, inputs: Map<number, Uint8Array>, binding: NativeBinding): SyncStdio {
  const stdio: SyncStdio = { remoteFds: [], fdMap: [], inputFds: [], inputData: [], outputFds: [], outputIndex: [] };
  try {
    for (const [index, entry] of plan.stdio.entries()) {
      if (entry.kind === 'ignore') {
        stdio.fdMap.push(index <= 2 ? FD_IGNORE : FD_CLOSED);
        continue;
      }
      let remote: number;
      if (entry.kind === 'fd') {
        remote = binding.dup(entry.fd);
      } else {
        const [readEnd, writeEnd] = binding.pipe();
        if (index === 0 || inputs.has(index)) {
          remote = readEnd;
          stdio.inputFds.push(writeEnd);
          stdio.inputData.push(inputs.get(index) ?? new Uint8Array(0));
        } else {
          remote = writeEnd;
          stdio.outputFds.push(readEnd);
          stdio.outputIndex.push(index);
        }
      }
      stdio.fdMap.push(stdio.remoteFds.length);
      stdio.remoteFds.push(remote);
    }
  } catch (error) {
    closeAll(binding, stdio);
    throw error;
  }
  return stdio;
}

/** Blocks the thread for `ms` milliseconds (a full backlog is waited out, as remoteSpawn's retry does). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A connected socket to the plan's server, checked as remoteSpawn checks it; throws the shaped error. */
function connectSync(plan: SpawnPlan, binding: NativeBinding): number {
  const refusal = plan.expectUid === undefined ? undefined : socketOwnerRefusal(plan.socketPath, plan.expectUid);
  if (refusal !== undefined) throw unexpectedServer(plan.socketPath, refusal);
  const startedAt = Date.now();
  let fd: number;
  for (;;) {
    try {
      fd = binding.connect(plan.socketPath);
      break;
    } catch (error) {
      if (!(isNativeError(error) && error.code === 'EAGAIN' && Date.now() - startedAt < CONNECT_RETRY_LIMIT_MS)) {
        throw connectError(error, plan.socketPath);
      }
      sleep(CONNECT_RETRY_MS);
    }
  }
  try {
    const peer = binding.peerCredentials(fd);
    const impostor = plan.expectUid === undefined ? undefined : peerRefusal(peer, plan.expectUid);
    if (impostor !== undefined) throw unexpectedServer(plan.socketPath, impostor);
    if (peer.pid === process.pid) throw syncToOwnServer(plan.socketPath);
  } catch (error) {
    binding.close(fd);
    throw error;
  }
  return fd;
}

/** The server's replies in order: STARTED then EXIT, or FAILED; anything else is a protocol error. */
function readReplies(records: Buffer[], socket: string): { pid: number; exit?: ExitReply; failed?: FailedReply; error?: Error } {
  let pid = 0;
  for (const record of records) {
    let message;
    try {
      message = decodeServerMessage(record);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      return { pid, error: malformedReply(socket, error.message) };
    }
    const started = pid !== 0;
    if (!started && message.type === MessageType.Started) pid = message.pid;
    else if (!started && message.type === MessageType.Failed) return { pid, failed: message.failed };
    else if (started && message.type === MessageType.Exit) return { pid, exit: message.exit };
    else return { pid, error: malformedReply(socket, `message type ${message.type} ${started ? 'after' : 'before'} the program started`) };
  }
  return { pid };
}

function failure(error: Error): Result {
  return { error, status: null, signal: null, output: null, pid: 0, stdout: null, stderr: null };
}

/** Runs `command` with `args` on the server and waits for it, as child_process.spawnSync runs it locally. */
export function remoteSpawnSync(command: string, args?: readonly string[] | RemoteSpawnSyncOptions,
  options?: RemoteSpawnSyncOptions): RemoteSpawnSyncReturns<Output> {
  // The declared type is child_process's, which leaves out the nulls of a run that never started.
  return spawnSyncWith(getBinding(), command, args, options) as RemoteSpawnSyncReturns<Output>;
}

export function spawnSyncWith(binding: NativeBinding, command: unknown, args: unknown, options: unknown): Result {
  if (!Array.isArray(args) && args !== null && typeof args === 'object') {
    options = args;
    args = undefined;
  }
  const { spawnOptions, extras } = takeSyncExtras(options);
  const plan = normalizeSpawnArguments(command, args, spawnOptions);
  const maxBuffer = syncMaxBuffer((spawnOptions ?? {}) as Record<string, unknown>);
  const inputs = new Map<number, Uint8Array>();
  for (const [index, value] of extras.rawInputs) {
    // Input only reaches a pipe, as spawnSync ignores it for inherited or ignored stdin.
    if (plan.stdio[index]?.kind === 'pipe') inputs.set(index, inputBytes(value, index, extras.encoding));
  }

  const stdio = createSyncStdio(plan, inputs, binding);
  const records = requestRecords(plan, stdio.fdMap);
  let socket: number;
  try {
    if (records instanceof Error) throw records;
    socket = connectSync(plan, binding);
  } catch (error) {
    closeAll(binding, stdio);
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_SIDECAR_')) return failure(error);
    throw error;
  }
  let exchange;
  try {
    exchange = binding.exchangeSync(socket, records as Buffer[], stdio.remoteFds, stdio.inputFds, stdio.inputData,
      stdio.outputFds, encodeSignal(plan.killSignal), { timeoutMs: plan.timeout, maxBuffer });
  } finally {
    // Hanging up also tells a server that still runs the program to end it.
    binding.close(socket);
  }

  const replies = readReplies(exchange.replies, plan.socketPath);
  const syncError = (errno: number, detail?: string): Error => syncSpawnError(errno, plan.file, plan.spawnargs, detail);
  if (replies.failed !== undefined) {
    return failure(failedReplyError(replies.failed, {
      kind: 'spawnSync', socket: plan.socketPath, file: plan.file, spawnargs: plan.spawnargs,
    }));
  }
  if (replies.pid === 0 && !exchange.timedOut) {
    const cause = exchange.sendErrno !== 0 ? errnoException(exchange.sendErrno, 'sendmsg')
      : exchange.receiveErrno !== 0 ? errnoException(exchange.receiveErrno, 'recvmsg') : undefined;
    return failure(replies.error ?? disconnected(plan.socketPath, 'the program started', cause));
  }

  let status: number | null = null;
  let signal: NodeJS.Signals | null = null;
  let error: Error | undefined;
  if (replies.exit !== undefined) {
    if (replies.exit.signal !== null) signal = signalName(replies.exit.signal);
    else status = replies.exit.exitCode;
  } else if (replies.error !== undefined || !exchange.timedOut) {
    // The server went away with the program, or cannot be followed: it ends
    // the program as the client goes, as remoteSpawn reports it.
    error = replies.error ?? disconnected(plan.socketPath, 'the program\'s exit was reported');
    signal = 'SIGKILL';
  }
  if (error === undefined) {
    if (exchange.timedOut) error = syncError(ETIMEDOUT);
    else if (exchange.overflowed) error = syncError(ENOBUFS);
    else if (exchange.inputErrno !== 0) error = syncError(exchange.inputErrno);
  }

  const output: (Output | null)[] = plan.stdio.map(() => null);
  for (const [i, index] of stdio.outputIndex.entries()) output[index] = exchange.outputs[i];
  for (const index of inputs.keys()) if (index > 0) output[index] = Buffer.alloc(0);
  const { encoding } = extras;
  if (encoding && encoding !== 'buffer') {
    for (let i = 0; i < output.length; i++) {
      const value = output[i];
      if (value) output[i] = (value as Buffer).toString(encoding as BufferEncoding);
    }
  }
  const result: Result = { status, signal, output, pid: replies.pid, stdout: output[1] ?? null, stderr: output[2] ?? null };
  return error === undefined ? result : { error, ...result };
}
