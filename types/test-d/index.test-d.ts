// The API of sidecar-exec, export by export and overload by overload. The
// exec family is in exec.test-d.ts; the comparison with node:child_process
// (call forms, assignability) in parity.test-d.ts.

import { expectAssignable, expectDeprecated, expectError, expectNotDeprecated, expectType } from 'tsd';
import type { StdioOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { promisify } from 'node:util';
import {
  type ExecBuffer, type PromiseWithChild, type RemoteChildProcessByStdio, type RemoteChildProcessWithoutNullStreams,
  type RemoteClient, type SidecarErrorCode, type SidecarServer, type StdioEntry, type StdioHasIpc, type TerminalSize, AbortError,
  PROTOCOL_VERSION, RemoteChildProcess, SidecarError, createClient, createServer, isSidecarError, remoteExecFile, remoteKill, remoteSpawn,
  stopServer,
} from '..';

type Extra = Readable | Writable | null | undefined;
const socket = '/run/sidecar.sock';

// ---- remoteSpawn: child_process.spawn's overloads ---------------------------

// No stdio, or only pipes: every stream is there.
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls'));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', ['-l']));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', ['-l'], { connect: socket }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', { cwd: '/tmp', env: { A: 'b' } }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], { stdio: 'pipe' }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], { stdio: 'overlapped' }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], { stdio: ['pipe', null, undefined] }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', undefined, { detached: true }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], { serverEnv: true, detached: true, argv0: 'list' }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], { cwd: new URL('file:///tmp') }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], {
  connect: socket, cwd: '/', env: process.env, serverEnv: false, argv0: 'ls', detached: false, windowsHide: true,
  windowsVerbatimArguments: false, uid: 1000, gid: 1000, shell: '/bin/bash', timeout: 1000, killSignal: 'SIGKILL',
  signal: new AbortController().signal, startWait: 0, startTimeout: 5000, expectUid: 0, callerEnv: ['PATH', 'HOME'],
}));
const keptNames = ['PATH', 'TMPDIR'] as const;
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], { callerEnv: keptNames }));
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', [], { shell: true, killSignal: 9 }));
const readonlyArgs: readonly string[] = ['-l'];
expectType<RemoteChildProcessWithoutNullStreams>(remoteSpawn('ls', readonlyArgs));

// Three stdio entries: a stream exactly where the entry is a pipe.
const fileStream = fs.createWriteStream('/tmp/out');
expectType<RemoteChildProcessByStdio<Writable, Readable, null>>(remoteSpawn('ls', { stdio: ['pipe', 'pipe', 'inherit'] }));
expectType<RemoteChildProcessByStdio<Writable, null, Readable>>(remoteSpawn('ls', { stdio: ['pipe', 'ignore', 'pipe'] }));
expectType<RemoteChildProcessByStdio<null, Readable, Readable>>(remoteSpawn('ls', { stdio: ['inherit', 'pipe', 'pipe'] }));
expectType<RemoteChildProcessByStdio<Writable, null, null>>(remoteSpawn('ls', { stdio: ['pipe', 1, 2] }));
expectType<RemoteChildProcessByStdio<null, Readable, null>>(remoteSpawn('ls', { stdio: ['ignore', null, 'inherit'] }));
expectType<RemoteChildProcessByStdio<null, null, Readable>>(remoteSpawn('ls', { stdio: [0, fileStream, 'pipe'] }));
expectType<RemoteChildProcessByStdio<null, null, null>>(remoteSpawn('ls', { stdio: ['inherit', 'inherit', 'inherit'] }));
expectType<RemoteChildProcessByStdio<null, null, null>>(remoteSpawn('ls', [], { stdio: ['ignore', fileStream, new net.Socket()] }));
expectType<RemoteChildProcessByStdio<Writable, Readable, null>>(remoteSpawn('ls', ['-l'], { stdio: ['pipe', 'pipe', 'ignore'] }));
expectType<RemoteChildProcessByStdio<Writable, null, Readable>>(remoteSpawn('ls', ['-l'], { stdio: ['pipe', 'inherit', 'pipe'] }));
expectType<RemoteChildProcessByStdio<null, Readable, Readable>>(remoteSpawn('ls', ['-l'], { stdio: [0, 'pipe', 'pipe'] }));
expectType<RemoteChildProcessByStdio<Writable, null, null>>(remoteSpawn('ls', ['-l'], { stdio: ['pipe', 'inherit', 'inherit'] }));
expectType<RemoteChildProcessByStdio<null, Readable, null>>(remoteSpawn('ls', ['-l'], { stdio: ['inherit', 'pipe', 'inherit'] }));
expectType<RemoteChildProcessByStdio<null, null, Readable>>(remoteSpawn('ls', ['-l'], { stdio: ['inherit', 'inherit', 'pipe'] }));
expectType<RemoteChildProcessByStdio<Writable, Readable, Readable>>(remoteSpawn('ls', ['-l'], { stdio: ['pipe', 'pipe', 'pipe'] as const }));

// Anything else: the general ChildProcess shape, streams possibly null.
expectType<RemoteChildProcess>(remoteSpawn('ls', { stdio: 'inherit' }));
expectType<RemoteChildProcess>(remoteSpawn('ls', [], { stdio: 'ignore' }));
expectType<RemoteChildProcess>(remoteSpawn('ls', [], { stdio: ['pipe', 'inherit', 2, 'ignore'] }));
expectType<RemoteChildProcess>(remoteSpawn('ls', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe', fileStream] }));
const someStdio: 'pipe' | 'inherit' = Math.random() > 0.5 ? 'pipe' : 'inherit';
expectType<RemoteChildProcess>(remoteSpawn('ls', [], { stdio: someStdio }));
expectNotDeprecated(remoteSpawn('ls', [], { stdio: ['pipe', 'inherit', 2, 'ignore'] }));

// 'ipc' cannot work remotely: remoteSpawn throws ERR_SIDECAR_UNSUPPORTED, so a
// literal 'ipc' resolves to a deprecated overload that returns never, and
// using the result does not compile. (The option types still contain 'ipc':
// child_process's do, and remoteSpawn must stay assignable to typeof spawn.)
expectType<never>(remoteSpawn('node', ['child.js'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }));
expectType<never>(remoteSpawn('node', { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] }));
expectType<never>(remoteSpawn('node', { stdio: ['pipe', 'pipe', 'ipc'] }));
expectDeprecated(remoteSpawn('node', ['child.js'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }));
expectDeprecated(remoteSpawn('node', { stdio: ['ipc'] }));
expectError(remoteSpawn('node', ['child.js'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }).pid);
expectType<never>(remoteSpawn('node', ['child.js'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] as const }));
// Only an entry that is exactly 'ipc' counts: arrays typed with wider entries
// (which may or may not hold 'ipc') get the general overload.
declare const entries: StdioEntry[];
declare const nodeEntries: Array<'pipe' | 'ipc' | 'inherit' | number>;
declare const nodeStdio: StdioOptions;
expectType<RemoteChildProcess>(remoteSpawn('node', ['child.js'], { stdio: entries }));
expectType<RemoteChildProcess>(remoteSpawn('node', { stdio: nodeEntries }));
expectType<RemoteChildProcess>(remoteSpawn('node', ['child.js'], { stdio: nodeStdio }));
expectNotDeprecated(remoteSpawn('node', ['child.js'], { stdio: entries }));
expectNotDeprecated(remoteSpawn('node', ['child.js'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }));
expectType<true>({} as StdioHasIpc<['pipe', 'ipc']>);
expectType<false>({} as StdioHasIpc<['pipe', 'inherit', 3]>);
expectType<false>({} as StdioHasIpc<StdioEntry[]>);
expectType<false>({} as StdioHasIpc<[StdioEntry, StdioEntry]>);

// Wrong arguments and option types.
expectError(remoteSpawn());
expectError(remoteSpawn(42));
expectError(remoteSpawn('ls', '-l'));
expectError(remoteSpawn('ls', [1, 2]));
expectError(remoteSpawn('ls', [], { stdio: 'sideways' }));
expectError(remoteSpawn('ls', [], { stdio: ['pipe', 'text'] }));
expectError(remoteSpawn('ls', [], { stdio: ['pipe', 'pipe', 'pipe', Buffer.from('input')] }));
expectError(remoteSpawn('ls', [], { serverEnv: 'yes' }));
expectError(remoteSpawn('ls', [], { callerEnv: ['CC'] }));
expectError(remoteSpawn('ls', [], { callerEnv: 'PATH' }));
expectError(remoteSpawn('ls', [], { connect: 3 }));
expectError(remoteSpawn('ls', [], { cwd: 42 }));
expectError(remoteSpawn('ls', [], { env: { A: 1 } }));
expectError(remoteSpawn('ls', [], { uid: '0' }));
expectError(remoteSpawn('ls', [], { gid: '0' }));
expectError(remoteSpawn('ls', [], { shell: 1 }));
expectError(remoteSpawn('ls', [], { detached: 'yes' }));
expectError(remoteSpawn('ls', [], { argv0: 0 }));
expectError(remoteSpawn('ls', [], { timeout: '1s' }));
expectError(remoteSpawn('ls', [], { killSignal: 'SIGFOO' }));
expectError(remoteSpawn('ls', [], { signal: {} }));
expectError(remoteSpawn('ls', [], { startWait: true }));
expectError(remoteSpawn('ls', [], { expectUid: '0' }));
expectError(remoteSpawn('ls', [], { startTimeout: '1s' }));
expectError(remoteSpawn('ls', [], { startTimeout: true }));
expectError(remoteSpawn('ls', [], { windowsHide: 'yes' }));
// IPC serialization cannot work remotely (ERR_SIDECAR_UNSUPPORTED at run time).
expectError(remoteSpawn('ls', [], { serialization: 'json' }));
expectError(remoteSpawn('ls', { serialization: 'advanced' }));

// ---- RemoteChildProcess: ChildProcess's members -----------------------------

const child = remoteSpawn('ls', [], { stdio: ['pipe', 'inherit', 'pipe', 'pipe'] });
expectType<RemoteChildProcess>(child);
expectType<number | undefined>(child.pid);
expectType<Writable | null>(child.stdin);
expectType<Readable | null>(child.stdout);
expectType<Readable | null>(child.stderr);
expectType<[Writable | null, Readable | null, Readable | null, Extra, Extra]>(child.stdio);
expectType<Extra>(child.stdio[3]);
expectType<undefined>(child.channel);
expectType<number | null>(child.exitCode);
expectType<NodeJS.Signals | null>(child.signalCode);
expectType<boolean>(child.killed);
expectType<false>(child.connected);
expectType<string>(child.spawnfile);
expectType<string[]>(child.spawnargs);
expectType<boolean>(child.kill());
expectType<boolean>(child.kill('SIGINT'));
expectType<boolean>(child.kill(9));
expectError(child.kill({}));
expectError(child.kill('SIGFOO'));
expectType<void>(child.unref());
expectType<void>(child.ref());
expectType<void>(child.disconnect());
expectType<void>(child[Symbol.dispose]());
// send(): there is no IPC channel (ERR_SIDECAR_UNSUPPORTED); Node's overloads, always false.
expectType<false>(child.send('hello', (error) => expectType<Error | null>(error)));
expectType<false>(child.send({ a: 1 }, undefined, (error) => expectType<Error | null>(error)));
expectType<false>(child.send({ a: 1 }, undefined, { keepOpen: true }, () => undefined));
expectType<false>(child.send(42));
expectError(child.send());
expectError(child.send('x', undefined, { keepOpen: 'yes' }));
// Read-only, as the getters and fields behind them are.
expectError((child.pid = 1));
expectError((child.stdin = null));
expectError((child.killed = true));

const piped = remoteSpawn('cat');
expectType<Writable>(piped.stdin);
expectType<Readable>(piped.stdout);
expectType<Readable>(piped.stderr);
expectType<[Writable, Readable, Readable, Extra, Extra]>(piped.stdio);
piped.stdout.setEncoding('utf8').on('data', (chunk) => undefined);
piped.stdin.end('input');
const inherited = remoteSpawn('cat', { stdio: ['inherit', 'pipe', 'ignore'] });
expectType<null>(inherited.stdin);
expectType<Readable>(inherited.stdout);
expectType<null>(inherited.stderr);

// Not constructible: made by remoteSpawn; the class is exported for instanceof.
// @ts-expect-error the constructor is private
new RemoteChildProcess();
const maybeChild: unknown = piped;
if (maybeChild instanceof RemoteChildProcess) expectType<RemoteChildProcess>(maybeChild);

// `using` kills it at the end of the block, as a ChildProcess.
{
  using disposed = remoteSpawn('sleep', ['10']);
  expectType<RemoteChildProcessWithoutNullStreams>(disposed);
}

// ---- events: Node's EventEmitter methods, typed for ChildProcess's events ----

expectType<typeof child>(child.on('spawn', () => undefined));
child.on('error', (error) => expectType<Error>(error));
child.on('exit', (code, signal) => {
  expectType<number | null>(code);
  expectType<NodeJS.Signals | null>(signal);
});
child.on('close', (code, signal) => {
  expectType<number | null>(code);
  expectType<NodeJS.Signals | null>(signal);
});
child.once('exit', (code) => expectType<number | null>(code));
child.addListener('close', (code) => expectType<number | null>(code));
child.prependListener('exit', (code, signal) => expectType<NodeJS.Signals | null>(signal));
child.prependOnceListener('error', (error) => expectType<Error>(error));
// Other event names are accepted, as by any Node emitter ('message' and 'disconnect' never come).
child.on('message', (...args) => expectType<any[]>(args));
child.on(Symbol('custom'), () => undefined);
const onExit = (code: number | null, signal: NodeJS.Signals | null): void => undefined;
expectType<typeof child>(child.removeListener('exit', onExit));
expectType<typeof child>(child.off('exit', onExit));
expectType<typeof child>(child.removeAllListeners('exit'));
expectType<typeof child>(child.removeAllListeners());
expectType<boolean>(child.emit('exit', 0, null));
expectType<boolean>(child.emit('custom', 1, 2, 3));
expectType<Array<(code: number | null, signal: NodeJS.Signals | null) => void>>(child.listeners('exit'));
expectType<Function[]>(child.listeners('custom'));
expectType<Array<(error: Error) => void>>(child.rawListeners('error'));
expectType<number>(child.listenerCount('exit'));
expectType<number>(child.listenerCount('exit', onExit));
expectType<Array<string | symbol>>(child.eventNames());
expectType<typeof child>(child.setMaxListeners(20));
expectType<number>(child.getMaxListeners());
expectError(child.on('exit'));
expectError(child.on('exit', 'listener'));
expectError(child.setMaxListeners('20'));

// ---- createClient: a child_process-like object bound to one server ---------

const client = createClient({
  connect: socket, env: { PATH: '/usr/bin' }, serverEnv: true, cwd: '/work', timeout: 10_000, killSignal: 'SIGKILL',
  maxBuffer: 1 << 20, encoding: 'utf8', uid: 1000, gid: 1000, startWait: 10, expectUid: 1000,
});
expectType<RemoteClient>(client);
expectType<RemoteClient>(createClient());
expectType<string>(client.connect);
expectError((client.connect = '/other.sock'));
expectType<RemoteChildProcessWithoutNullStreams>(client.spawn('ls'));
expectType<RemoteChildProcessWithoutNullStreams>(client.spawn('ls', ['-l'], { cwd: '/tmp' }));
expectType<RemoteChildProcessByStdio<null, Readable, null>>(client.spawn('ls', { stdio: ['inherit', 'pipe', 'inherit'] }));
expectType<RemoteChildProcess>(client.spawn('ls', ['-l'], { stdio: 'inherit' }));
expectType<RemoteChildProcess>(client.exec('ls', (error, stdout) => expectType<string>(stdout)));
expectType<RemoteChildProcess>(client.exec('ls', { encoding: 'buffer' }, (error, stdout) => expectType<ExecBuffer>(stdout)));
expectType<RemoteChildProcess>(client.execFile('ls', ['-l'], (error, stdout) => expectType<string>(stdout)));
expectType<PromiseWithChild<{ stdout: string; stderr: string }>>(promisify(client.exec)('ls'));
expectType<PromiseWithChild<{ stdout: string; stderr: string }>>(promisify(client.execFile)('ls', ['-l']));
expectType<true>(client.kill(1234));
expectType<true>(client.kill(1234, 'SIGKILL'));
expectError(createClient({ connect: 3 }));
expectError(createClient({ expectUid: 'root' }));
expectError(createClient({ encoding: 7 }));
expectError(createClient('/run/sidecar.sock'));

// ---- remoteKill: process.kill for remote programs this process started -----

expectType<true>(remoteKill(1234));
expectType<true>(remoteKill(1234, 'SIGTERM'));
expectType<true>(remoteKill(1234, 0));
expectError(remoteKill('1234'));
expectError(remoteKill(1234, 'SIGFOO'));
const pid = piped.pid;
if (pid !== undefined) remoteKill(pid, 'SIGINT');

// ---- the server ------------------------------------------------------------

const server = createServer({ mode: 0o660, allowStop: false, backlog: 64 });
expectType<SidecarServer>(server);
expectType<SidecarServer>(createServer());
expectType<SidecarServer>(server.listen(socket, () => undefined));
expectType<SidecarServer>(server.listen(socket));
expectType<SidecarServer>(server.close((error) => expectType<Error | undefined>(error)));
expectType<SidecarServer>(server.close());
expectType<string | null>(server.address());
expectType<boolean>(server.listening);
expectType<SidecarServer>(server.ref());
expectType<SidecarServer>(server.unref());
server.on('error', (error) => expectType<Error>(error));
server.on('listening', () => undefined);
server.on('close', () => undefined);
expectError(createServer({ mode: '0600' }));
expectError(createServer({ backlog: '64' }));
expectError(server.listen(3000));

expectType<Promise<void>>(stopServer(socket));
expectError(stopServer());
expectError(stopServer(3000));

// ---- errors ----------------------------------------------------------------

const unknownError: unknown = new Error('x');
if (isSidecarError(unknownError)) {
  expectType<SidecarError>(unknownError);
  expectType<SidecarErrorCode>(unknownError.code);
  expectType<string | undefined>(unknownError.socket);
  expectType<number | undefined>(unknownError.errno);
  expectType<string | undefined>(unknownError.syscall);
}
expectType<boolean>(isSidecarError(null));
const sidecarError = new SidecarError('ERR_SIDECAR_CONNECT', 'cannot connect', { socket, errno: -2, syscall: 'connect' });
expectAssignable<Error>(sidecarError);
expectType<SidecarErrorCode>(sidecarError.code);
expectAssignable<SidecarError>(new SidecarError('ERR_SIDECAR_UNSUPPORTED', 'no', undefined, new Error('cause')));
expectAssignable<SidecarErrorCode>('ERR_SIDECAR_START_TIMEOUT');
expectAssignable<SidecarErrorCode>('ERR_SIDECAR_DISCONNECTED');
// Thrown where no native addon fits the system (docs/install.md).
expectAssignable<SidecarErrorCode>('ERR_SIDECAR_ADDON');
expectAssignable<SidecarErrorCode>('ERR_SIDECAR_DETACHED_REFUSED');
expectError(new SidecarError('ERR_NOT_OURS', 'x'));
expectError(new SidecarError());

const abortError = new AbortError();
expectAssignable<Error>(abortError);
expectType<'ABORT_ERR'>(abortError.code);
expectType<AbortError>(new AbortError('aborted', { cause: 'reason' }));
expectError(new AbortError(42));
child.on('error', (error) => {
  if (error instanceof AbortError) expectType<'ABORT_ERR'>(error.code);
});

expectType<1>(PROTOCOL_VERSION);

// tty: a terminal for the program; resize() changes its window size.
{
  const onTerminal = remoteSpawn('sh', ['-i'], { tty: true });
  expectType<void>(onTerminal.resize(120, 40));
  remoteSpawn('sh', { tty: { columns: 100, rows: 30 } });
  remoteSpawn('sh', { tty: { rows: 30 } });
  expectAssignable<TerminalSize>({ columns: 80 });
  expectError(remoteSpawn('sh', { tty: 'yes' }));
  expectError(remoteSpawn('sh', { tty: { columns: '80' } }));
  expectError(onTerminal.resize(80));
  expectError(remoteExecFile('sh', { tty: true }));
}
