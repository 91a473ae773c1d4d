// Protocol v1: message types, limits, encode and decode. Pure code, no I/O.
// The specification is docs/protocol.md; keep the two in step.
//
// Every message is one SOCK_SEQPACKET record that starts with a 4-byte header:
//   u8 version (1) | u8 type | u16 reserved (0)
// Integers are little-endian. Strings are u32 length + UTF-8 bytes.
// An exec request larger than one record is split: the first record (EXEC)
// states the payload's total length and carries every fd; EXEC_MORE records
// carry the rest, in order.

import type { ExitReason as PublicExitReason } from '../../types/index';

export const PROTOCOL_VERSION = 1;

export const HEADER_BYTES = 4;

/** Largest record either side sends; receivers allocate this much. */
export const MAX_RECORD_BYTES = 64 * 1024;

/** Hard cap on an exec request's payload (argv, env, cwd, fd map). */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

/**
 * Most argv and env strings in one request together. Linux executes at most
 * about 2 MiB of them with a default stack (each string costs its bytes, a
 * NUL and an 8-byte pointer), so no runnable request comes near; the cap
 * bounds what a server decodes before its policy can refuse.
 */
export const MAX_STRINGS = 131072;

/** Most fds one request may attach, and most entries in its fd map. */
export const MAX_FDS = 64;

/** Longest string in a FAILED reply (code, syscall, message). */
export const MAX_REPLY_STRING_BYTES = 4096;

// MessageType, RequestFlag and ExitReasonCode are regular enums, not const enums,
// so that they exist at run time: native/client/protocol-header.js reads them
// from dist/protocol to generate the C client's copy (native/client/protocol.h).
export enum MessageType {
  // client -> server
  Exec = 1, // the request's first record, with every fd
  ExecMore = 2, // the rest of a request larger than one record
  Signal = 3, // a signal for the running program
  Stop = 4, // stop the server (its own user or root)
  Ping = 5, // is the server up?
  // server -> client
  Started = 16, // the program runs: its pid
  Failed = 17, // the request failed: errno, code, syscall, message
  Exit = 18, // the program ended: code or signal, and why
  Stopping = 19, // the server stops
  Pong = 20, // the server is up: its version
}

/** Request flags (u32 bit set). */
export enum RequestFlag {
  /** setsid(): the program leads a new session (child_process's `detached`). */
  NewSession = 1 << 0,
  /** Start from the server's environment; the request's env is laid on top. */
  ServerEnv = 1 << 1,
  /** The caller's PATH stands as given: the server does not make it (one bit per LOCATED_NAMES entry, in order). */
  CallerPath = 1 << 2,
  CallerHome = 1 << 3,
  CallerTmpdir = 1 << 4,
  CallerShell = 1 << 5,
  CallerUser = 1 << 6,
  CallerLogname = 1 << 7,
  /**
   * A pseudo-terminal for the program: the payload carries its initial size
   * (u16 columns, u16 rows after gid), FD_TERMINAL entries of the fd map are
   * its terminal side, and STARTED carries its master.
   */
  Terminal = 1 << 8,
}

/**
 * The variables whose values locate things (programs, files, the user): the
 * server makes them fit where the program runs, unless the request's
 * caller-env bits or the server's `callerEnv` keep the caller's. Bit
 * `RequestFlag.CallerPath << i` stands for entry i.
 */
export const LOCATED_NAMES: readonly string[] = Object.freeze(['PATH', 'HOME', 'TMPDIR', 'SHELL', 'USER', 'LOGNAME']);
const CALLER_ENV_FLAGS = LOCATED_NAMES.reduce((bits, _name, i) => bits | (RequestFlag.CallerPath << i), 0);
const KNOWN_FLAGS = RequestFlag.NewSession | RequestFlag.ServerEnv | CALLER_ENV_FLAGS | RequestFlag.Terminal;

/** fd map entry values below 0; values >= 0 index the attached fds. */
export const FD_IGNORE = -1; // the server's /dev/null
export const FD_CLOSED = -2; // left closed in the program
export const FD_TERMINAL = -3; // the terminal side of the request's pseudo-terminal (Terminal flag only)

/** A pseudo-terminal's window size in character cells. */
export interface TerminalSize {
  columns: number;
  rows: number;
}

export interface ExecRequest {
  /** The program: a path, or a name looked up in PATH. */
  file: string;
  /** argv, argv[0] included. */
  argv: string[];
  /** 'NAME=value' strings. */
  env: string[];
  /** Working directory; '' keeps the server's. */
  cwd: string;
  /** Child fd i <- attached fd fdMap[i], or FD_IGNORE / FD_CLOSED / FD_TERMINAL. */
  fdMap: number[];
  newSession: boolean;
  /** A pseudo-terminal for the program, with its initial size; null (or absent, when encoding) for none. */
  terminal?: TerminalSize | null;
  serverEnv: boolean;
  /** Names of LOCATED_NAMES whose caller's values stand as given (absent: none). */
  callerEnv?: readonly string[];
  /** User id to run as, or NO_ID for the server's own. */
  uid: number;
  /** Group id to run as, or NO_ID for the server's own. */
  gid: number;
}

/** uid/gid value meaning "not given". */
export const NO_ID = -1;

export interface FailedReply {
  /** Positive errno number (EPROTO for protocol errors). */
  errno: number;
  /** 'ENOENT', or ERR_SIDECAR_* for failures that are not a system call's. */
  code: string;
  /** What failed: 'execve', 'chdir', 'protocol', ... */
  syscall: string;
  message: string;
}

/** Why the program ended, as the server saw it. */
export enum ExitReasonCode {
  /** It ended on its own (or by a signal from outside the server). */
  Exited = 0,
  /** It died of a signal its client sent. */
  ClientSignal = 1,
  /** The server killed it: its client disconnected. */
  Disconnect = 2,
  /** The server killed it: it ran longer than maxRuntime. */
  MaxRuntime = 3,
  /** The server killed it: the server closed and its closeTimeout passed. */
  Close = 4,
}

/**
 * The name the API reports for each exit reason. types/server.d.ts's
 * ExitReason union is the one list of names: tsc fails if a reason has no
 * name here or a name of the union has no reason.
 */
const EXIT_REASON_NAMES: { readonly [Reason in ExitReasonCode]: PublicExitReason } = {
  [ExitReasonCode.Exited]: 'exit',
  [ExitReasonCode.ClientSignal]: 'client-signal',
  [ExitReasonCode.Disconnect]: 'disconnect',
  [ExitReasonCode.MaxRuntime]: 'maxRuntime',
  [ExitReasonCode.Close]: 'close',
};
const everyNameHasAReason: [Exclude<PublicExitReason, typeof EXIT_REASON_NAMES[ExitReasonCode]>] extends [never] ? true : never = true;
void everyNameHasAReason;

/** The API's name of an exit reason received on the wire (already checked by the decoder). */
export function exitReasonName(reason: number): PublicExitReason {
  return EXIT_REASON_NAMES[reason as ExitReasonCode];
}

export interface ExitReply {
  exitCode: number | null;
  signal: number | null;
  reason: number;
}

export type ServerMessage =
  /** `fds`: the pseudo-terminal's master when the request asked for one (the receiver owns it). */
  | { type: MessageType.Started; pid: number }
  | { type: MessageType.Failed; failed: FailedReply }
  | { type: MessageType.Exit; exit: ExitReply }
  | { type: MessageType.Stopping }
  | { type: MessageType.Pong; version: number };

export type ClientMessage =
  | { type: MessageType.Exec; totalBytes: number; chunk: Uint8Array }
  | { type: MessageType.ExecMore; chunk: Uint8Array }
  | { type: MessageType.Signal; signal: number }
  | { type: MessageType.Stop }
  | { type: MessageType.Ping };

/** A malformed message. The receiver replies (where it can) and closes. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// ---- writing ---------------------------------------------------------------

function header(type: MessageType, bodyBytes: number): Buffer {
  const record = Buffer.allocUnsafe(HEADER_BYTES + bodyBytes);
  record[0] = PROTOCOL_VERSION;
  record[1] = type;
  record.writeUInt16LE(0, 2);
  return record;
}

function stringBytes(value: string): number {
  return 4 + Buffer.byteLength(value, 'utf8');
}

function writeString(buffer: Buffer, offset: number, value: string): number {
  const length = buffer.write(value, offset + 4, 'utf8');
  buffer.writeUInt32LE(length, offset);
  return offset + 4 + length;
}

/** The exec request's payload, before it is split into records. */
export function encodeExecPayload(request: ExecRequest): Buffer {
  const terminal = request.terminal ?? null;
  let size = 4 + 4 + 4 + 4 + 4 + 4 + (terminal === null ? 0 : 4) + request.fdMap.length * 2 + stringBytes(request.file) + stringBytes(request.cwd);
  for (const arg of request.argv) size += stringBytes(arg);
  for (const pair of request.env) size += stringBytes(pair);
  const payload = Buffer.allocUnsafe(size);
  let flags = 0;
  if (request.newSession) flags |= RequestFlag.NewSession;
  if (request.serverEnv) flags |= RequestFlag.ServerEnv;
  for (const name of request.callerEnv ?? []) {
    const index = LOCATED_NAMES.indexOf(name);
    if (index === -1) throw new RangeError(`callerEnv: ${name} is not one of ${LOCATED_NAMES.join(', ')}`);
    flags |= RequestFlag.CallerPath << index;
  }
  if (terminal !== null) flags |= RequestFlag.Terminal;
  let offset = payload.writeUInt32LE(flags, 0);
  offset = payload.writeUInt32LE(request.argv.length, offset);
  offset = payload.writeUInt32LE(request.env.length, offset);
  offset = payload.writeUInt32LE(request.fdMap.length, offset);
  offset = payload.writeInt32LE(request.uid, offset);
  offset = payload.writeInt32LE(request.gid, offset);
  if (terminal !== null) {
    offset = payload.writeUInt16LE(terminal.columns, offset);
    offset = payload.writeUInt16LE(terminal.rows, offset);
  }
  for (const entry of request.fdMap) offset = payload.writeInt16LE(entry, offset);
  offset = writeString(payload, offset, request.file);
  offset = writeString(payload, offset, request.cwd);
  for (const arg of request.argv) offset = writeString(payload, offset, arg);
  for (const pair of request.env) offset = writeString(payload, offset, pair);
  return payload;
}

/** Splits a payload into the EXEC record and as many EXEC_MORE records as needed. */
export function encodeExecRecords(payload: Buffer): Buffer[] {
  const firstRoom = MAX_RECORD_BYTES - HEADER_BYTES - 4;
  const first = header(MessageType.Exec, 4 + Math.min(firstRoom, payload.length));
  first.writeUInt32LE(payload.length, HEADER_BYTES);
  payload.copy(first, HEADER_BYTES + 4, 0, Math.min(firstRoom, payload.length));
  const records = [first];
  const moreRoom = MAX_RECORD_BYTES - HEADER_BYTES;
  for (let offset = firstRoom; offset < payload.length; offset += moreRoom) {
    const end = Math.min(payload.length, offset + moreRoom);
    const record = header(MessageType.ExecMore, end - offset);
    payload.copy(record, HEADER_BYTES, offset, end);
    records.push(record);
  }
  return records;
}

export function encodeSignal(signal: number): Buffer {
  const record = header(MessageType.Signal, 4);
  record.writeUInt32LE(signal, HEADER_BYTES);
  return record;
}

export function encodeStop(): Buffer {
  return header(MessageType.Stop, 0);
}

export function encodePing(): Buffer {
  return header(MessageType.Ping, 0);
}

/** PONG: the version this server speaks (the header's version byte is 1 for any server that can read PING v1). */
export function encodePong(): Buffer {
  const record = header(MessageType.Pong, 4);
  record.writeUInt32LE(PROTOCOL_VERSION, HEADER_BYTES);
  return record;
}

export function encodeStarted(pid: number): Buffer {
  const record = header(MessageType.Started, 4);
  record.writeUInt32LE(pid, HEADER_BYTES);
  return record;
}

function clip(value: string): string {
  // Cut on a character boundary well within the limit.
  return Buffer.byteLength(value) <= MAX_REPLY_STRING_BYTES ? value : `${value.slice(0, MAX_REPLY_STRING_BYTES / 4)}...`;
}

export function encodeFailed(failed: FailedReply): Buffer {
  const code = clip(failed.code);
  const syscall = clip(failed.syscall);
  const message = clip(failed.message);
  const record = header(MessageType.Failed, 4 + stringBytes(code) + stringBytes(syscall) + stringBytes(message));
  let offset = record.writeInt32LE(failed.errno, HEADER_BYTES);
  offset = writeString(record, offset, code);
  offset = writeString(record, offset, syscall);
  writeString(record, offset, message);
  return record;
}

export function encodeExit(exit: ExitReply): Buffer {
  const record = header(MessageType.Exit, 4 + 4 + 4);
  record.writeInt32LE(exit.exitCode ?? -1, HEADER_BYTES);
  record.writeUInt32LE(exit.signal ?? 0, HEADER_BYTES + 4);
  record.writeUInt32LE(exit.reason, HEADER_BYTES + 8);
  return record;
}

export function encodeStopping(): Buffer {
  return header(MessageType.Stopping, 0);
}

// ---- reading ---------------------------------------------------------------

/** Bounds-checked reader over one record; every overrun is a ProtocolError. */
class Reader {
  private offset: number;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array, offset: number, private readonly what: string) {
    this.offset = offset;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.data.length) {
      throw new ProtocolError(`${this.what}: truncated at byte ${this.offset} (needs ${bytes} more)`);
    }
  }

  /** The little-endian integer of `bytes` bytes at the current offset, read by `get`. */
  private integer(bytes: number, get: (view: DataView, at: number) => number): number {
    this.need(bytes);
    const value = get(this.view, this.offset);
    this.offset += bytes;
    return value;
  }

  u32(): number {
    return this.integer(4, (view, at) => view.getUint32(at, true));
  }

  i32(): number {
    return this.integer(4, (view, at) => view.getInt32(at, true));
  }

  u16(): number {
    return this.integer(2, (view, at) => view.getUint16(at, true));
  }

  i16(): number {
    return this.integer(2, (view, at) => view.getInt16(at, true));
  }

  string(maxBytes: number): string {
    const length = this.u32();
    if (length > maxBytes) throw new ProtocolError(`${this.what}: string of ${length} bytes exceeds ${maxBytes}`);
    this.need(length);
    const value = Buffer.from(this.data.buffer, this.data.byteOffset + this.offset, length).toString('utf8');
    this.offset += length;
    return value;
  }

  rest(): Uint8Array {
    const value = this.data.subarray(this.offset);
    this.offset = this.data.length;
    return value;
  }

  end(): void {
    if (this.offset !== this.data.length) {
      throw new ProtocolError(`${this.what}: ${this.data.length - this.offset} unexpected trailing bytes`);
    }
  }
}

/** Checks the header and returns the message type. */
function readHeader(record: Uint8Array): number {
  if (record.length < HEADER_BYTES) throw new ProtocolError(`record of ${record.length} bytes is shorter than the header`);
  if (record[0] !== PROTOCOL_VERSION) {
    throw new ProtocolError(`unsupported protocol version ${record[0]} (this side speaks ${PROTOCOL_VERSION})`);
  }
  if (record[2] !== 0 || record[3] !== 0) throw new ProtocolError('reserved header bytes are not zero');
  return record[1];
}

/** Decodes a record the server received. The chunk views alias `record`. */
export function decodeClientMessage(record: Uint8Array): ClientMessage {
  const type = readHeader(record);
  switch (type) {
    case MessageType.Exec: {
      const reader = new Reader(record, HEADER_BYTES, 'exec');
      const totalBytes = reader.u32();
      const chunk = reader.rest();
      if (chunk.length > totalBytes) throw new ProtocolError(`exec: chunk of ${chunk.length} bytes exceeds the stated total ${totalBytes}`);
      return { type, totalBytes, chunk };
    }
    case MessageType.ExecMore:
      return { type, chunk: record.subarray(HEADER_BYTES) };
    case MessageType.Signal: {
      const reader = new Reader(record, HEADER_BYTES, 'signal');
      const signal = reader.u32();
      reader.end();
      if (signal < 1 || signal > 64) throw new ProtocolError(`signal: ${signal} is not a signal number`);
      return { type, signal };
    }
    case MessageType.Stop:
      new Reader(record, HEADER_BYTES, 'stop').end();
      return { type };
    case MessageType.Ping:
      new Reader(record, HEADER_BYTES, 'ping').end();
      return { type };
    default:
      throw new ProtocolError(`unknown client message type ${type}`);
  }
}

/** Decodes a complete exec payload and validates its shape. */
export function decodeExecPayload(payload: Uint8Array, attachedFds: number): ExecRequest {
  const reader = new Reader(payload, 0, 'exec request');
  const flags = reader.u32();
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new ProtocolError(`exec request: unknown flags 0x${flags.toString(16)}`);
  const argc = reader.u32();
  const envc = reader.u32();
  const fdCount = reader.u32();
  const uid = reader.i32();
  const gid = reader.i32();
  if (uid < NO_ID || gid < NO_ID) throw new ProtocolError(`exec request: uid ${uid} / gid ${gid} out of range`);
  const terminal = (flags & RequestFlag.Terminal) === 0 ? null : { columns: reader.u16(), rows: reader.u16() };
  // Each string takes at least 4 bytes, which bounds counts before any allocation.
  if (argc < 1) throw new ProtocolError('exec request: argv is empty');
  if ((argc + envc) * 4 > payload.length) throw new ProtocolError('exec request: argc/envc exceed the payload');
  if (argc + envc > MAX_STRINGS) throw new ProtocolError(`exec request: ${argc + envc} argv and env strings exceed ${MAX_STRINGS}`);
  if (fdCount > MAX_FDS) throw new ProtocolError(`exec request: fd map of ${fdCount} entries exceeds ${MAX_FDS}`);
  const fdMap: number[] = [];
  for (let i = 0; i < fdCount; i++) {
    const entry = reader.i16();
    if (entry < (terminal === null ? FD_CLOSED : FD_TERMINAL) || entry >= attachedFds) {
      throw new ProtocolError(`exec request: fd map entry ${i} is ${entry}, with ${attachedFds} fds attached`);
    }
    fdMap.push(entry);
  }
  const limit = payload.length;
  const file = reader.string(limit);
  const cwd = reader.string(limit);
  const argv: string[] = [];
  for (let i = 0; i < argc; i++) argv.push(reader.string(limit));
  const env: string[] = [];
  for (let i = 0; i < envc; i++) env.push(reader.string(limit));
  reader.end();
  if (file.length === 0) throw new ProtocolError('exec request: file is empty');
  // A relative cwd would be taken from the server's own directory: clients send the caller's, absolute.
  if (cwd !== '' && !cwd.startsWith('/')) throw new ProtocolError(`exec request: cwd ${JSON.stringify(cwd.slice(0, 256))} is not absolute`);
  for (const value of [file, cwd, ...argv, ...env]) {
    if (value.includes('\0')) throw new ProtocolError('exec request: a string contains a NUL byte');
  }
  for (const pair of env) {
    if (pair.indexOf('=') < 1) throw new ProtocolError('exec request: an env entry is not NAME=value');
  }
  return {
    file, argv, env, cwd, fdMap,
    newSession: (flags & RequestFlag.NewSession) !== 0,
    serverEnv: (flags & RequestFlag.ServerEnv) !== 0,
    callerEnv: LOCATED_NAMES.filter((_name, i) => (flags & (RequestFlag.CallerPath << i)) !== 0),
    terminal,
    uid,
    gid,
  };
}

/** Decodes a record the client received. */
export function decodeServerMessage(record: Uint8Array): ServerMessage {
  const type = readHeader(record);
  const reader = new Reader(record, HEADER_BYTES, 'server message');
  let message: ServerMessage;
  switch (type) {
    case MessageType.Started:
      message = { type, pid: reader.u32() };
      break;
    case MessageType.Failed: {
      const errno = reader.i32();
      const code = reader.string(MAX_REPLY_STRING_BYTES);
      const syscall = reader.string(MAX_REPLY_STRING_BYTES);
      const text = reader.string(MAX_REPLY_STRING_BYTES);
      message = { type, failed: { errno, code, syscall, message: text } };
      break;
    }
    case MessageType.Exit: {
      const code = reader.i32();
      const signal = reader.u32();
      const reason = reader.u32();
      if ((code === -1) === (signal === 0)) throw new ProtocolError('exit: needs exactly one of code and signal');
      if (code < -1 || code > 255) throw new ProtocolError(`exit: code ${code} is out of range`);
      if (!Object.hasOwn(EXIT_REASON_NAMES, reason)) throw new ProtocolError(`exit: unknown reason ${reason}`);
      message = { type, exit: { exitCode: code === -1 ? null : code, signal: signal === 0 ? null : signal, reason } };
      break;
    }
    case MessageType.Stopping:
      message = { type };
      break;
    case MessageType.Pong:
      message = { type, version: reader.u32() };
      break;
    default:
      throw new ProtocolError(`unknown server message type ${type}`);
  }
  reader.end();
  return message;
}
