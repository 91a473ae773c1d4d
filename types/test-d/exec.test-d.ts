// remoteExec and remoteExecFile: child_process.exec and execFile's overloads
// (the encoding decides string or Buffer output) and their util.promisify
// forms.

import { expectAssignable, expectError, expectType } from 'tsd';
import type { ExecException as NodeExecException, ExecFileException as NodeExecFileException } from 'node:child_process';
import { promisify } from 'node:util';
import {
  type ExecBuffer, type ExecCallback, type ExecException, type PromiseWithChild, type RemoteChildProcess,
  type RemoteExecFileOptions, type RemoteExecOptions, remoteExec, remoteExecFile,
} from '..';

type Strings = { stdout: string; stderr: string };
type Buffers = { stdout: ExecBuffer; stderr: ExecBuffer };
type Either = { stdout: string | ExecBuffer; stderr: string | ExecBuffer };

expectType<ExecBuffer>(Buffer.alloc(0));
expectAssignable<Buffer>({} as ExecBuffer);

// ---- remoteExec(command[, options][, callback]) -----------------------------

expectType<RemoteChildProcess>(remoteExec('ls'));
expectType<RemoteChildProcess>(remoteExec('ls', (error, stdout, stderr) => {
  expectType<NodeExecException | null>(error);
  expectType<string>(stdout);
  expectType<string>(stderr);
}));
// 'buffer' or null: Buffers.
remoteExec('ls', { encoding: 'buffer' }, (error, stdout, stderr) => {
  expectType<NodeExecException | null>(error);
  expectType<ExecBuffer>(stdout);
  expectType<ExecBuffer>(stderr);
});
remoteExec('ls', { encoding: null }, (error, stdout) => expectType<ExecBuffer>(stdout));
// An encoding Buffer knows, or none: strings.
remoteExec('ls', { encoding: 'latin1' }, (error, stdout) => expectType<string>(stdout));
remoteExec('ls', {}, (error, stdout) => expectType<string>(stdout));
remoteExec('ls', { cwd: '/tmp' }, (error, stdout) => expectType<string>(stdout));
// Any other string, or options not known here: either.
const someEncoding: string = 'utf8';
remoteExec('ls', { encoding: someEncoding }, (error, stdout) => expectType<string | ExecBuffer>(stdout));
remoteExec('ls', undefined, (error, stdout) => expectType<string | ExecBuffer>(stdout));
remoteExec('ls', null, (error, stdout) => expectType<string | ExecBuffer>(stdout));
const execOptions: RemoteExecOptions = {};
remoteExec('ls', execOptions, (error, stdout) => expectType<string | ExecBuffer>(stdout));
// No callback.
expectType<RemoteChildProcess>(remoteExec('ls', { encoding: 'buffer' }));
expectType<RemoteChildProcess>(remoteExec('ls', { encoding: 'utf8' }));
expectType<RemoteChildProcess>(remoteExec('ls', null));
// Every option.
expectType<RemoteChildProcess>(remoteExec('ls | wc -l', {
  connect: '/run/sidecar.sock', cwd: new URL('file:///tmp'), env: { A: 'b' }, serverEnv: true, uid: 0, gid: 0,
  shell: '/bin/bash', timeout: 1000, killSignal: 'SIGKILL', signal: AbortSignal.timeout(10), maxBuffer: 1024,
  encoding: 'hex', windowsHide: true, startWait: 0, startTimeout: 1000, callerEnv: ['PATH'],
}));
// A callback typed with our (truthful) ExecException is accepted.
const ourCallback: ExecCallback = (error, stdout) => expectType<ExecException | null>(error);
remoteExec('ls', ourCallback);
const ourBufferCallback: ExecCallback<Buffer> = () => undefined;
remoteExec('ls', { encoding: 'buffer' }, ourBufferCallback);
const ourError = {} as ExecException;
expectType<number | string | null | undefined>(ourError.code);
expectType<NodeJS.Signals | null | undefined>(ourError.signal);
expectType<string | Buffer | undefined>(ourError.stdout);

expectError(remoteExec());
expectError(remoteExec(['ls']));
expectError(remoteExec('ls', { encoding: 7 }));
expectError(remoteExec('ls', { shell: true })); // exec's shell names one, as in child_process's types
expectError(remoteExec('ls', { maxBuffer: '1M' }));
expectError(remoteExec('ls', { stdio: 'inherit' }));
expectError(remoteExec('ls', { detached: true }));
expectError(remoteExec('ls', { encoding: 'buffer' }, (error: Error | null, stdout: string) => undefined));
expectError(remoteExec('ls', (error: Error | null, stdout: Buffer) => undefined));
expectError(remoteExec('ls', {}, 'callback'));

// util.promisify(remoteExec): { stdout, stderr }, and the child on the promise.
const execAsync = promisify(remoteExec);
expectType<typeof remoteExec.__promisify__>(execAsync);
expectType<PromiseWithChild<Strings>>(execAsync('ls'));
expectType<PromiseWithChild<Buffers>>(execAsync('ls', { encoding: 'buffer' }));
expectType<PromiseWithChild<Buffers>>(execAsync('ls', { encoding: null }));
expectType<PromiseWithChild<Strings>>(execAsync('ls', { encoding: 'utf8', cwd: '/' }));
expectType<PromiseWithChild<Strings>>(execAsync('ls', {}));
expectType<PromiseWithChild<Either>>(execAsync('ls', { encoding: someEncoding }));
expectType<PromiseWithChild<Either>>(execAsync('ls', null));
expectType<RemoteChildProcess>(execAsync('ls').child);
expectAssignable<Promise<Strings>>(execAsync('ls'));
expectError(execAsync('ls', { encoding: 7 }));
expectError(execAsync('ls', {}, () => undefined));
(async () => {
  const { stdout, stderr } = await execAsync('ls');
  expectType<string>(stdout);
  expectType<string>(stderr);
  const buffers = await execAsync('ls', { encoding: 'buffer' });
  expectType<ExecBuffer>(buffers.stdout);
})();

// ---- remoteExecFile(file[, args][, options][, callback]) --------------------

expectType<RemoteChildProcess>(remoteExecFile('ls'));
expectType<RemoteChildProcess>(remoteExecFile('ls', ['-l']));
expectType<RemoteChildProcess>(remoteExecFile('ls', (error, stdout, stderr) => {
  expectType<NodeExecFileException | null>(error);
  expectType<string>(stdout);
  expectType<string>(stderr);
}));
remoteExecFile('ls', ['-l'], (error, stdout) => expectType<string>(stdout));
remoteExecFile('ls', null, (error, stdout) => expectType<string>(stdout));
remoteExecFile('ls', undefined, (error, stdout) => expectType<string>(stdout));
remoteExecFile('ls', { encoding: 'buffer' }, (error, stdout) => expectType<ExecBuffer>(stdout));
remoteExecFile('ls', ['-l'], { encoding: 'buffer' }, (error, stdout, stderr) => {
  expectType<NodeExecFileException | null>(error);
  expectType<ExecBuffer>(stdout);
  expectType<ExecBuffer>(stderr);
});
remoteExecFile('ls', ['-l'], { encoding: null }, (error, stdout) => expectType<ExecBuffer>(stdout));
remoteExecFile('ls', { encoding: 'base64' }, (error, stdout) => expectType<string>(stdout));
remoteExecFile('ls', ['-l'], { encoding: 'utf8' }, (error, stdout) => expectType<string>(stdout));
remoteExecFile('ls', ['-l'], {}, (error, stdout) => expectType<string>(stdout));
remoteExecFile('ls', { encoding: someEncoding }, (error, stdout) => expectType<string | ExecBuffer>(stdout));
remoteExecFile('ls', ['-l'], { encoding: someEncoding }, (error, stdout) => expectType<string | ExecBuffer>(stdout));
remoteExecFile('ls', ['-l'], null, (error, stdout) => expectType<string | ExecBuffer>(stdout));
const execFileOptions: RemoteExecFileOptions = {};
remoteExecFile('ls', execFileOptions, (error, stdout) => expectType<string | ExecBuffer>(stdout));
expectType<RemoteChildProcess>(remoteExecFile('ls', ['-l'], { encoding: 'buffer' }));
expectType<RemoteChildProcess>(remoteExecFile('ls', { encoding: 'utf8' }));
expectType<RemoteChildProcess>(remoteExecFile('ls', ['-l'], null, null));
const readonlyArgs: readonly string[] = ['-l'];
expectType<RemoteChildProcess>(remoteExecFile('ls', readonlyArgs, { shell: true }));
expectType<RemoteChildProcess>(remoteExecFile('ls', [], {
  connect: '/run/sidecar.sock', cwd: '/', env: {}, serverEnv: false, uid: 0, gid: 0, shell: '/bin/sh', timeout: 0,
  killSignal: 15, signal: new AbortController().signal, maxBuffer: Infinity, encoding: 'utf16le', windowsHide: false,
  windowsVerbatimArguments: false, startWait: 50,
}));
remoteExecFile('ls', ['-l'], ourCallback);

expectError(remoteExecFile());
expectError(remoteExecFile('ls', '-l'));
expectError(remoteExecFile('ls', [1]));
expectError(remoteExecFile('ls', [], { encoding: 7 }));
expectError(remoteExecFile('ls', [], { shell: 1 }));
expectError(remoteExecFile('ls', [], { stdio: 'inherit' }));
expectError(remoteExecFile('ls', [], { argv0: 'x' }));
expectError(remoteExecFile('ls', [], { encoding: 'buffer' }, (error: Error | null, stdout: string) => undefined));

// util.promisify(remoteExecFile).
const execFileAsync = promisify(remoteExecFile);
expectType<typeof remoteExecFile.__promisify__>(execFileAsync);
expectType<PromiseWithChild<Strings>>(execFileAsync('ls'));
expectType<PromiseWithChild<Strings>>(execFileAsync('ls', ['-l']));
expectType<PromiseWithChild<Strings>>(execFileAsync('ls', null));
expectType<PromiseWithChild<Buffers>>(execFileAsync('ls', { encoding: 'buffer' }));
expectType<PromiseWithChild<Buffers>>(execFileAsync('ls', ['-l'], { encoding: 'buffer' }));
expectType<PromiseWithChild<Strings>>(execFileAsync('ls', { encoding: 'latin1' }));
expectType<PromiseWithChild<Strings>>(execFileAsync('ls', ['-l'], { cwd: '/' }));
expectType<PromiseWithChild<Either>>(execFileAsync('ls', { encoding: someEncoding }));
expectType<PromiseWithChild<Either>>(execFileAsync('ls', ['-l'], null));
expectType<RemoteChildProcess>(execFileAsync('ls').child);
expectError(execFileAsync('ls', '-l'));
expectError(execFileAsync('ls', ['-l'], {}, () => undefined));
