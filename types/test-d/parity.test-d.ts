// Parity with node:child_process's own declarations: the common call forms of
// spawn, exec and execFile, written once for child_process and once for
// sidecar-exec with the same arguments, compile unchanged and give a result
// that fits where child_process's fits; and what tools accept (a ChildProcess,
// a spawn function, a child_process-like module) accepts ours.
//
// tsd runs with exactOptionalPropertyTypes (package.json "tsd"), the
// strictest setting a consumer may have: what is assignable there is
// assignable without it too.

import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd';
import * as child_process from 'node:child_process';
import {
  type ChildProcess, type ChildProcessByStdio, type ChildProcessWithoutNullStreams, type ExecException,
  type ExecFileException, type ExecFileOptions, type ExecOptions, type PromiseWithChild, type SpawnOptions,
  type SpawnOptionsWithStdioTuple, type SpawnOptionsWithoutStdio, type StdioNull, type StdioPipe, exec, execFile,
  spawn,
} from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import {
  type RemoteChildProcess, createClient, remoteExec, remoteExecFile, remoteSpawn,
} from '..';

/** child_process's call gives T; ours must give something assignable to T. */
declare function sameShape<T>(node: T, ours: NoInfer<T>): void;

// ---- assignability: where a ChildProcess or spawn is expected ---------------

const child = remoteSpawn('ls');
expectAssignable<ChildProcess>(child);
expectAssignable<ChildProcessWithoutNullStreams>(child);
expectAssignable<ChildProcess>(remoteSpawn('ls', { stdio: 'inherit' }));
expectAssignable<ChildProcessByStdio<null, Readable, null>>(remoteSpawn('ls', { stdio: ['inherit', 'pipe', 'inherit'] }));
expectAssignable<ChildProcess>(remoteExec('ls'));
expectAssignable<ChildProcess>(remoteExecFile('ls'));
expectAssignable<typeof spawn>(remoteSpawn);
expectAssignable<typeof exec>(remoteExec);
expectAssignable<typeof execFile>(remoteExecFile);
expectAssignable<Pick<typeof child_process, 'spawn' | 'exec' | 'execFile'>>(createClient());
expectAssignable<NodeJS.EventEmitter>(child);
expectAssignable<EventEmitter>(child);
expectAssignable<Disposable>(child);
// A ChildProcess is not a RemoteChildProcess (no startWait pid, connected may be true, ...).
expectNotAssignable<RemoteChildProcess>(spawn('ls'));

// How tools declare what they take.
type ZxLikeOptions = { spawn: typeof spawn; spawnSync?: typeof child_process.spawnSync };
expectAssignable<ZxLikeOptions>({ spawn: remoteSpawn });
type ConcurrentlyLikeSpawn = (command: string, options: SpawnOptions) => ChildProcess;
expectAssignable<ConcurrentlyLikeSpawn>(remoteSpawn);
expectAssignable<ConcurrentlyLikeSpawn>(createClient().spawn);
function killTree(target: ChildProcess): number | undefined {
  target.kill('SIGTERM');
  return target.pid;
}
killTree(child);
expectType<Promise<any[]>>(once(child, 'exit'));

// Code written once against child_process's types runs with either.
function tool(cp: Pick<typeof child_process, 'spawn' | 'exec' | 'execFile'>): void {
  const sub = cp.spawn('make', ['-j4'], { cwd: '/src', stdio: ['ignore', 'pipe', 'inherit'] });
  sub.stdout.on('data', (chunk: Buffer) => chunk.length);
  sub.on('close', (code) => code);
  cp.exec('git status', { maxBuffer: 1 << 24 }, (error, stdout) => error?.code ?? stdout.length);
  cp.execFile('git', ['rev-parse', 'HEAD'], (error, stdout) => stdout.trim());
}
tool(child_process);
tool(createClient({ connect: '/run/sidecar.sock' }));
tool({ spawn: remoteSpawn, exec: remoteExec, execFile: remoteExecFile });

// ---- spawn: every option form -------------------------------------------------

const stream = fs.createWriteStream('/tmp/log');
const socket = new net.Socket();
const controller = new AbortController();

sameShape(spawn('ls'), remoteSpawn('ls'));
sameShape(spawn('ls', ['-l', '/']), remoteSpawn('ls', ['-l', '/']));
sameShape(spawn('ls', []), remoteSpawn('ls', []));
sameShape(spawn('ls', undefined, { cwd: '/' }), remoteSpawn('ls', undefined, { cwd: '/' }));
sameShape(spawn('ls', { cwd: '/tmp' }), remoteSpawn('ls', { cwd: '/tmp' }));
sameShape(spawn('ls', [], { cwd: new URL('file:///tmp') }), remoteSpawn('ls', [], { cwd: new URL('file:///tmp') }));
sameShape(spawn('ls', [], { env: { ...process.env, A: 'b=c' } }), remoteSpawn('ls', [], { env: { ...process.env, A: 'b=c' } }));
sameShape(spawn('ls', [], { env: process.env }), remoteSpawn('ls', [], { env: process.env }));
sameShape(spawn('ls', [], { argv0: 'list' }), remoteSpawn('ls', [], { argv0: 'list' }));
sameShape(spawn('ls', [], { detached: true }), remoteSpawn('ls', [], { detached: true }));
sameShape(spawn('ls', [], { uid: 1000, gid: 1000 }), remoteSpawn('ls', [], { uid: 1000, gid: 1000 }));
sameShape(spawn('ls *', [], { shell: true }), remoteSpawn('ls *', [], { shell: true }));
sameShape(spawn('ls *', { shell: '/bin/bash' }), remoteSpawn('ls *', { shell: '/bin/bash' }));
sameShape(spawn('sleep', ['9'], { timeout: 100 }), remoteSpawn('sleep', ['9'], { timeout: 100 }));
sameShape(spawn('sleep', ['9'], { timeout: 100, killSignal: 'SIGKILL' }), remoteSpawn('sleep', ['9'], { timeout: 100, killSignal: 'SIGKILL' }));
sameShape(spawn('sleep', ['9'], { killSignal: 9 }), remoteSpawn('sleep', ['9'], { killSignal: 9 }));
sameShape(spawn('sleep', ['9'], { signal: controller.signal }), remoteSpawn('sleep', ['9'], { signal: controller.signal }));
sameShape(spawn('ls', [], { windowsHide: true, windowsVerbatimArguments: true }), remoteSpawn('ls', [], { windowsHide: true, windowsVerbatimArguments: true }));
sameShape(spawn('ls', [], { stdio: undefined }), remoteSpawn('ls', [], { stdio: undefined }));
sameShape(spawn('ls', [], { stdio: 'pipe' }), remoteSpawn('ls', [], { stdio: 'pipe' }));
sameShape(spawn('ls', [], { stdio: 'overlapped' }), remoteSpawn('ls', [], { stdio: 'overlapped' }));
sameShape(spawn('ls', [], { stdio: 'inherit' }), remoteSpawn('ls', [], { stdio: 'inherit' }));
sameShape(spawn('ls', [], { stdio: 'ignore' }), remoteSpawn('ls', [], { stdio: 'ignore' }));
sameShape(spawn('ls', [], { stdio: [] }), remoteSpawn('ls', [], { stdio: [] }));
sameShape(spawn('ls', [], { stdio: [null, undefined, 'pipe'] }), remoteSpawn('ls', [], { stdio: [null, undefined, 'pipe'] }));
sameShape(spawn('ls', [], { stdio: ['pipe', 'pipe', 'pipe'] }), remoteSpawn('ls', [], { stdio: ['pipe', 'pipe', 'pipe'] }));
sameShape(spawn('ls', [], { stdio: ['pipe', 'pipe', 'inherit'] }), remoteSpawn('ls', [], { stdio: ['pipe', 'pipe', 'inherit'] }));
sameShape(spawn('ls', [], { stdio: ['pipe', 'ignore', 'pipe'] }), remoteSpawn('ls', [], { stdio: ['pipe', 'ignore', 'pipe'] }));
sameShape(spawn('ls', [], { stdio: ['inherit', 'pipe', 'pipe'] }), remoteSpawn('ls', [], { stdio: ['inherit', 'pipe', 'pipe'] }));
sameShape(spawn('ls', [], { stdio: ['pipe', stream, 'ignore'] }), remoteSpawn('ls', [], { stdio: ['pipe', stream, 'ignore'] }));
sameShape(spawn('ls', [], { stdio: ['ignore', 'pipe', socket] }), remoteSpawn('ls', [], { stdio: ['ignore', 'pipe', socket] }));
sameShape(spawn('ls', [], { stdio: ['inherit', 'inherit', 'pipe'] }), remoteSpawn('ls', [], { stdio: ['inherit', 'inherit', 'pipe'] }));
sameShape(spawn('ls', [], { stdio: ['inherit', 'inherit', 'inherit'] }), remoteSpawn('ls', [], { stdio: ['inherit', 'inherit', 'inherit'] }));
sameShape(spawn('ls', { stdio: ['pipe', 'pipe', 'inherit'] }), remoteSpawn('ls', { stdio: ['pipe', 'pipe', 'inherit'] }));
sameShape(spawn('ls', { stdio: ['inherit', 'inherit', 'inherit'] }), remoteSpawn('ls', { stdio: ['inherit', 'inherit', 'inherit'] }));
sameShape(spawn('ls', [], { stdio: [0, 1, 2] }), remoteSpawn('ls', [], { stdio: [0, 1, 2] }));
sameShape(spawn('ls', [], { stdio: ['pipe', 'inherit', 2, 'ignore'] }), remoteSpawn('ls', [], { stdio: ['pipe', 'inherit', 2, 'ignore'] }));
sameShape(spawn('ls', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] }), remoteSpawn('ls', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] }));
sameShape(spawn('ls', [], { stdio: ['inherit', 'pipe', 'pipe', stream, 7] }), remoteSpawn('ls', [], { stdio: ['inherit', 'pipe', 'pipe', stream, 7] }));

// Options held in variables typed with child_process's option types.
declare const spawnOptions: SpawnOptions;
declare const withoutStdio: SpawnOptionsWithoutStdio;
declare const tuple: SpawnOptionsWithStdioTuple<StdioPipe, StdioNull, StdioPipe>;
declare const args: readonly string[];
sameShape(spawn('ls', spawnOptions), remoteSpawn('ls', spawnOptions));
sameShape(spawn('ls', args, spawnOptions), remoteSpawn('ls', args, spawnOptions));
sameShape(spawn('ls', withoutStdio), remoteSpawn('ls', withoutStdio));
sameShape(spawn('ls', args, withoutStdio), remoteSpawn('ls', args, withoutStdio));
sameShape(spawn('ls', tuple), remoteSpawn('ls', tuple));
sameShape(spawn('ls', args, tuple), remoteSpawn('ls', args, tuple));

// What the child gives, the same way.
const nodeChild = spawn('cat');
const ourChild = remoteSpawn('cat');
sameShape(nodeChild.stdin, ourChild.stdin);
sameShape(nodeChild.stdout, ourChild.stdout);
sameShape(nodeChild.stdio, ourChild.stdio);
sameShape(nodeChild.pid, ourChild.pid);
sameShape(nodeChild.exitCode, ourChild.exitCode);
sameShape(nodeChild.signalCode, ourChild.signalCode);
sameShape(nodeChild.kill('SIGINT'), ourChild.kill('SIGINT'));
sameShape(nodeChild.on('exit', (code, signal) => undefined), ourChild.on('exit', (code, signal) => undefined));
ourChild.on('exit', (code, signal) => {
  expectType<number | null>(code);
  expectType<NodeJS.Signals | null>(signal);
});

// ---- exec and execFile: callback forms ----------------------------------------

const execCallback = (error: ExecException | null, stdout: string, stderr: string): void => undefined;
const execBufferCallback = (error: ExecException | null, stdout: Buffer, stderr: Buffer): void => undefined;
const execFileCallback = (error: ExecFileException | null, stdout: string, stderr: string): void => undefined;
const execOptions: ExecOptions = { cwd: '/', maxBuffer: 1024 };
const execFileOptions: ExecFileOptions = { cwd: '/', shell: true };

sameShape(exec('ls'), remoteExec('ls'));
sameShape(exec('ls', execCallback), remoteExec('ls', execCallback));
sameShape(exec('ls', { cwd: '/' }, execCallback), remoteExec('ls', { cwd: '/' }, execCallback));
sameShape(exec('ls', { encoding: 'buffer' }, execBufferCallback), remoteExec('ls', { encoding: 'buffer' }, execBufferCallback));
sameShape(exec('ls', { encoding: 'latin1', timeout: 10, killSignal: 'SIGKILL' }), remoteExec('ls', { encoding: 'latin1', timeout: 10, killSignal: 'SIGKILL' }));
sameShape(exec('ls', { shell: '/bin/bash', signal: controller.signal, env: {}, uid: 0, gid: 0, windowsHide: true }), remoteExec('ls', { shell: '/bin/bash', signal: controller.signal, env: {}, uid: 0, gid: 0, windowsHide: true }));
sameShape(exec('ls', execOptions), remoteExec('ls', execOptions));
sameShape(exec('ls', execOptions, () => undefined), remoteExec('ls', execOptions, () => undefined));
sameShape(exec('ls', null, () => undefined), remoteExec('ls', null, () => undefined));
exec('ls', (error, stdout, stderr) => sameShape(error, null as ExecException | null));
remoteExec('ls', (error, stdout, stderr) => {
  expectType<ExecException | null>(error);
  expectType<string>(stdout);
});

sameShape(execFile('ls'), remoteExecFile('ls'));
sameShape(execFile('ls', ['-l']), remoteExecFile('ls', ['-l']));
sameShape(execFile('ls', execFileCallback), remoteExecFile('ls', execFileCallback));
sameShape(execFile('ls', ['-l'], execFileCallback), remoteExecFile('ls', ['-l'], execFileCallback));
sameShape(execFile('ls', null, execFileCallback), remoteExecFile('ls', null, execFileCallback));
sameShape(execFile('ls', { cwd: '/' }, execFileCallback), remoteExecFile('ls', { cwd: '/' }, execFileCallback));
sameShape(execFile('ls', ['-l'], { encoding: 'buffer' }, () => undefined), remoteExecFile('ls', ['-l'], { encoding: 'buffer' }, () => undefined));
sameShape(execFile('ls', ['-l'], { encoding: null }), remoteExecFile('ls', ['-l'], { encoding: null }));
sameShape(execFile('ls', ['-l'], { maxBuffer: Infinity, windowsVerbatimArguments: true }), remoteExecFile('ls', ['-l'], { maxBuffer: Infinity, windowsVerbatimArguments: true }));
sameShape(execFile('ls', ['-l'], execFileOptions, () => undefined), remoteExecFile('ls', ['-l'], execFileOptions, () => undefined));
sameShape(execFile('ls', execFileOptions, null), remoteExecFile('ls', execFileOptions, null));
remoteExecFile('ls', ['-l'], { encoding: 'buffer' }, (error, stdout) => {
  expectType<ExecFileException | null>(error);
  sameShape(Buffer.alloc(0), stdout);
});

// ---- exec and execFile: promise forms -----------------------------------------

const execAsync = promisify(exec);
const remoteExecAsync = promisify(remoteExec);
const execFileAsync = promisify(execFile);
const remoteExecFileAsync = promisify(remoteExecFile);
sameShape(execAsync, remoteExecAsync);
sameShape(execFileAsync, remoteExecFileAsync);
sameShape(execAsync('ls'), remoteExecAsync('ls'));
sameShape(execAsync('ls', { encoding: 'buffer' }), remoteExecAsync('ls', { encoding: 'buffer' }));
sameShape(execAsync('ls', { encoding: 'utf8', cwd: '/' }), remoteExecAsync('ls', { encoding: 'utf8', cwd: '/' }));
sameShape(execAsync('ls', execOptions), remoteExecAsync('ls', execOptions));
sameShape(execFileAsync('ls'), remoteExecFileAsync('ls'));
sameShape(execFileAsync('ls', ['-l']), remoteExecFileAsync('ls', ['-l']));
sameShape(execFileAsync('ls', ['-l'], { encoding: 'buffer' }), remoteExecFileAsync('ls', ['-l'], { encoding: 'buffer' }));
sameShape(execFileAsync('ls', { encoding: 'hex' }), remoteExecFileAsync('ls', { encoding: 'hex' }));
sameShape(execFileAsync('ls', ['-l'], execFileOptions), remoteExecFileAsync('ls', ['-l'], execFileOptions));
expectAssignable<PromiseWithChild<{ stdout: string; stderr: string }>>(remoteExecAsync('ls'));
sameShape(execAsync('ls').child, remoteExecAsync('ls').child);
(async () => {
  const { stdout } = await remoteExecAsync('ls');
  expectType<string>(stdout);
})();

// ---- what compiles with child_process but must not with sidecar-exec ------------

// IPC: 'ipc' and serialization throw ERR_SIDECAR_UNSUPPORTED. A literal 'ipc'
// gives never (using the child does not compile); serialization is not an option.
spawn('node', ['child.js'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }).pid;
expectError(remoteSpawn('node', ['child.js'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }).pid);
expectType<never>(remoteSpawn('node', { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] }));
spawn('node', ['child.js'], { serialization: 'advanced' });
expectError(remoteSpawn('node', ['child.js'], { serialization: 'advanced' }));
// fork is not part of the client (the sync calls are: sync.test-d.ts).
expectError(createClient().fork);

// ---- and what must compile with neither -----------------------------------------

expectError(spawn('ls', [], { stdio: 'sideways' }));
expectError(remoteSpawn('ls', [], { stdio: 'sideways' }));
expectError(spawn('ls', [], { cwd: 42 }));
expectError(remoteSpawn('ls', [], { cwd: 42 }));
expectError(spawn('ls', [], { killSignal: 'SIGFOO' }));
expectError(remoteSpawn('ls', [], { killSignal: 'SIGFOO' }));
expectError(exec('ls', { shell: true }));
expectError(remoteExec('ls', { shell: true }));
expectError(execFile('ls', '-l'));
expectError(remoteExecFile('ls', '-l'));
expectError(exec('ls', { encoding: 'buffer' }, (error: ExecException | null, stdout: string) => undefined));
expectError(remoteExec('ls', { encoding: 'buffer' }, (error: ExecException | null, stdout: string) => undefined));
