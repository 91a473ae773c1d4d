import { expectAssignable, expectError, expectType } from 'tsd';
import type { Readable, Writable } from 'node:stream';
import {
  type RemoteChildProcess, type SidecarServer, PROTOCOL_VERSION, SidecarError, createServer, isSidecarError,
  remoteSpawn, stopServer,
} from '..';

// remoteSpawn: child_process.spawn's call forms.
expectType<RemoteChildProcess>(remoteSpawn('ls'));
expectType<RemoteChildProcess>(remoteSpawn('ls', ['-l']));
expectType<RemoteChildProcess>(remoteSpawn('ls', ['-l'], { connect: '/run/sidecar.sock' }));
expectType<RemoteChildProcess>(remoteSpawn('ls', { cwd: '/tmp', env: { A: 'b' } }));
expectType<RemoteChildProcess>(remoteSpawn('ls', [], { stdio: 'inherit' }));
expectType<RemoteChildProcess>(remoteSpawn('ls', [], { stdio: ['pipe', 'inherit', 2, 'ignore'] }));
expectType<RemoteChildProcess>(remoteSpawn('ls', [], { serverEnv: true, detached: true, argv0: 'list' }));
expectType<RemoteChildProcess>(remoteSpawn('ls', [], { cwd: new URL('file:///tmp') }));
expectError(remoteSpawn(42));
expectError(remoteSpawn('ls', [1, 2]));
expectError(remoteSpawn('ls', [], { stdio: 'sideways' }));
expectError(remoteSpawn('ls', [], { serverEnv: 'yes' }));

// RemoteChildProcess: ChildProcess's members and events.
const child = remoteSpawn('ls');
expectType<number | undefined>(child.pid);
expectType<Writable | null>(child.stdin);
expectType<Readable | null>(child.stdout);
expectType<Readable | null>(child.stderr);
expectType<number | null>(child.exitCode);
expectType<NodeJS.Signals | null>(child.signalCode);
expectType<boolean>(child.killed);
expectType<string>(child.spawnfile);
expectType<string[]>(child.spawnargs);
expectType<boolean>(child.kill());
expectType<boolean>(child.kill('SIGINT'));
expectType<boolean>(child.kill(9));
expectError(child.kill({}));
child.on('spawn', () => undefined);
child.on('error', (error) => expectType<Error>(error));
child.on('exit', (code, signal) => {
  expectType<number | null>(code);
  expectType<NodeJS.Signals | null>(signal);
});
child.on('close', (code, signal) => {
  expectType<number | null>(code);
  expectType<NodeJS.Signals | null>(signal);
});
expectType<void>(child.unref());
expectType<void>(child.ref());

// The server.
const server = createServer({ mode: 0o660, allowStop: false, backlog: 64 });
expectType<SidecarServer>(server);
expectType<SidecarServer>(server.listen('/run/sidecar.sock', () => undefined));
expectType<SidecarServer>(server.close((error) => expectType<Error | undefined>(error)));
expectType<string | null>(server.address());
expectType<boolean>(server.listening);
server.on('error', (error) => expectType<Error>(error));
server.on('listening', () => undefined);
server.on('close', () => undefined);
expectError(createServer({ mode: '0600' }));
expectError(server.listen(3000));

expectType<Promise<void>>(stopServer('/run/sidecar.sock'));

// Errors.
const unknown: unknown = new Error('x');
if (isSidecarError(unknown)) expectType<SidecarError>(unknown);
expectAssignable<Error>(new SidecarError());
expectType<1>(PROTOCOL_VERSION);
