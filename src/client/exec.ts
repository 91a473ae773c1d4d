// remoteExec() and remoteExecFile(): child_process.exec and execFile over
// remoteSpawn, with Node's buffering, maxBuffer, timeout and error shapes
// (lib/child_process.js execFile), and util.promisify support.

import * as util from 'node:util';
import type {
  ExecCallback, ExecException, RemoteExecFileOptions, RemoteExecOptions,
} from '../../types/index';
import { invalidArgType, maxBufferExceeded, outOfRange, errnoName } from '../errors';
import { validateFunction, validateNoNul, validateTimeout } from '../validate';
import type { RemoteChildProcess } from './child-process';
import { remoteSpawn } from './spawn';
import { sanitizeKillSignal } from './spawn-options';

/** child_process's default maxBuffer: 1 MiB. */
export const DEFAULT_MAX_BUFFER = 1024 * 1024;

type Output = string | Buffer;

interface Normalized {
  file: string;
  args: string[];
  options: RemoteExecFileOptions & Record<string, unknown>;
  callback: ExecCallback<Output> | undefined;
}

/** execFile's (file, args?, options?, callback?) shuffle, as Node's normalizeExecFileArgs. */
export function normalizeExecFileArgs(file: unknown, args: unknown, options: unknown, callback: unknown): Normalized {
  if (Array.isArray(args)) {
    args = args.slice();
  } else if (args !== null && args !== undefined && typeof args === 'object') {
    callback = options;
    options = args;
    args = null;
  } else if (typeof args === 'function') {
    callback = args;
    options = null;
    args = null;
  }
  if (args === null || args === undefined) args = [];
  if (typeof options === 'function') {
    callback = options;
    options = undefined;
  } else if (options !== null && options !== undefined && (typeof options !== 'object' || Array.isArray(options))) {
    throw invalidArgType('options', 'of type object', options);
  }
  if (callback !== null && callback !== undefined) validateFunction(callback, 'callback');
  return {
    file: file as string,
    args: args as string[],
    options: (options ?? {}) as Normalized['options'],
    callback: (callback ?? undefined) as Normalized['callback'],
  };
}

function validateMaxBuffer(maxBuffer: unknown): number {
  if (maxBuffer === undefined || maxBuffer === null) return DEFAULT_MAX_BUFFER;
  if (typeof maxBuffer !== 'number' || !(maxBuffer >= 0)) throw outOfRange('options.maxBuffer', 'a positive number', maxBuffer);
  return maxBuffer;
}

/** Collects one stream into chunks, enforcing maxBuffer in bytes as Node does. */
function collect(child: RemoteChildProcess, which: 'stdout' | 'stderr', encoding: BufferEncoding | null, maxBuffer: number,
  onOverflow: (error: Error) => void): () => Output {
  const stream = child[which];
  const chunks: Output[] = [];
  let length = 0;
  if (stream !== null) {
    if (encoding !== null) stream.setEncoding(encoding);
    stream.on('data', (chunk: Output) => {
      if (maxBuffer === Infinity) {
        chunks.push(chunk);
        return;
      }
      const streamEncoding = stream.readableEncoding;
      const size = streamEncoding !== null ? Buffer.byteLength(chunk as string, streamEncoding) : chunk.length;
      length += size;
      if (length > maxBuffer) {
        const keep = maxBuffer - (length - size);
        chunks.push(chunk.slice(0, keep));
        onOverflow(maxBufferExceeded(which));
      } else {
        chunks.push(chunk);
      }
    });
  }
  return () => {
    if (encoding !== null || stream?.readableEncoding) return chunks.join('');
    return Buffer.concat(chunks as Buffer[]);
  };
}

/** Runs `file` with `args` through the server and buffers its output, as child_process.execFile. */
export function remoteExecFile(file: string, ...rest: unknown[]): RemoteChildProcess {
  const normalized = normalizeExecFileArgs(file, rest[0], rest[1], rest[2]);
  const { args, callback } = normalized;
  const options = normalized.options;
  if (options.argv0 !== undefined && options.argv0 !== null && typeof options.argv0 !== 'string') {
    throw invalidArgType('options.argv0', 'of type string', options.argv0);
  }
  const timeout = validateTimeout(options.timeout);
  const maxBuffer = validateMaxBuffer(options.maxBuffer);
  const killSignal = sanitizeKillSignal(options.killSignal);
  const requested = options.encoding === undefined ? 'utf8' : options.encoding;
  const encoding = requested !== 'buffer' && typeof requested === 'string' && Buffer.isEncoding(requested)
    ? requested as BufferEncoding : null;

  // Only what execFile hands to spawn, plus our own connect/serverEnv/callerEnv/startWait/startTimeout/expectUid.
  const child = remoteSpawn(normalized.file, args, {
    connect: options.connect,
    serverEnv: options.serverEnv,
    callerEnv: options.callerEnv,
    startWait: options.startWait,
    startTimeout: options.startTimeout,
    expectUid: options.expectUid,
    cwd: options.cwd,
    env: options.env,
    gid: options.gid,
    uid: options.uid,
    shell: options.shell ?? false,
    signal: options.signal,
    windowsHide: !!options.windowsHide,
    windowsVerbatimArguments: !!options.windowsVerbatimArguments,
  });

  let error: ExecException | null = null;
  let killed = false;
  let exited = false;
  let timer: NodeJS.Timeout | undefined;

  const kill = (): void => {
    child.stdout?.destroy();
    child.stderr?.destroy();
    killed = true;
    try {
      child.kill(killSignal);
    } catch (thrown) {
      error = thrown as ExecException;
      onExit(null, null);
    }
  };
  const overflow = (reason: Error): void => {
    error = reason;
    kill();
  };
  const stdout = collect(child, 'stdout', encoding, maxBuffer, overflow);
  const stderr = collect(child, 'stderr', encoding, maxBuffer, overflow);

  function onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (exited) return;
    exited = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (callback === undefined) return;
    const out = stdout();
    const err = stderr();
    if (error === null && code === 0 && signal === null) {
      callback(null, out, err);
      return;
    }
    const cmd = args.length > 0 ? `${normalized.file} ${args.join(' ')}` : normalized.file;
    if (error === null) {
      error = Object.assign(new Error(`Command failed: ${cmd}\n${err}`), {
        code: code !== null && code < 0 ? errnoName(-code) : code,
        killed: child.killed || killed,
        signal,
      });
    }
    (error as ExecException).cmd = cmd;
    callback(error, out, err);
  }

  if (timeout > 0) timer = setTimeout(() => {
    timer = undefined;
    kill();
  }, timeout);

  child.addListener('close', onExit);
  child.addListener('error', (reason: Error) => {
    error = reason;
    child.stdout?.destroy();
    child.stderr?.destroy();
    onExit(null, null);
  });
  return child;
}

/** Runs `command` in the server's shell and buffers its output, as child_process.exec. */
export function remoteExec(command: string, ...rest: unknown[]): RemoteChildProcess {
  if (typeof command !== 'string') throw invalidArgType('command', 'of type string', command);
  validateNoNul(command, 'command');
  let [options, callback] = rest;
  if (typeof options === 'function') {
    callback = options;
    options = undefined;
  }
  const opts: RemoteExecFileOptions = { ...(options as RemoteExecOptions | undefined) };
  opts.shell = typeof opts.shell === 'string' ? opts.shell : true;
  return remoteExecFile(command, opts, callback);
}

/** The promise form util.promisify gives exec and execFile: { stdout, stderr }, and `.child`. */
function promisified(original: (...args: unknown[]) => RemoteChildProcess) {
  return (...args: unknown[]) => {
    let resolve!: (value: { stdout: Output; stderr: Output }) => void;
    let reject!: (reason: unknown) => void;
    const promise = new Promise<{ stdout: Output; stderr: Output }>((res, rej) => {
      resolve = res;
      reject = rej;
    }) as Promise<{ stdout: Output; stderr: Output }> & { child: RemoteChildProcess };
    promise.child = original(...args, (error: ExecException | null, stdout: Output, stderr: Output) => {
      if (error !== null) {
        error.stdout = stdout;
        error.stderr = stderr;
        reject(error);
      } else {
        resolve({ stdout, stderr });
      }
    });
    return promise;
  };
}

/** Gives exec-like functions the util.promisify form child_process's have. */
export function definePromisified<F extends (...args: never[]) => RemoteChildProcess>(fn: F): F {
  Object.defineProperty(fn, util.promisify.custom, {
    enumerable: false,
    value: promisified(fn as unknown as (...args: unknown[]) => RemoteChildProcess),
  });
  return fn;
}

definePromisified(remoteExec);
definePromisified(remoteExecFile);
