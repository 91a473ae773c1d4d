import { expectAssignable, expectError, expectType } from 'tsd';
import type { LocatedEnvName, RemoteFailureFacts } from '..';
import {
  type AuthorizeResult, type ContainmentMode, type ExitReason, type PeerCredentials, type ServerStats, type SidecarErrorCode, type SidecarRequest,
  type SidecarServer, type SidecarServerWarning, createServer, pingServer, remoteSpawn, stopServer,
} from '..';

// Every server option.
const server = createServer({
  mode: 0o660,
  group: 1500,
  trustDirectory: true,
  allowStop: false,
  backlog: 128,
  allowUids: [1000],
  allowGids: [1500],
  allowCommands: ['make', '/usr/bin/gcc'],
  allowEnv: ['CFLAGS'],
  callerEnv: ['PATH', 'HOME', 'TMPDIR', 'SHELL', 'USER', 'LOGNAME'],
  allowSetuid: { uids: [65534], gids: [65534] },
  maxConcurrent: 32,
  maxQueued: 1024,
  queueTimeout: 10_000,
  maxConnections: 512,
  maxConnectionsPerUid: 16,
  maxRequestBytes: 1 << 20,
  maxBufferedBytes: 32 << 20,
  maxFds: 8,
  handshakeTimeout: 5000,
  maxRuntime: 60_000,
  killSignal: 'SIGTERM',
  disconnectSignal: 'SIGTERM',
  disconnectGrace: 2000,
  closeTimeout: 10_000,
  allowDetached: false,
  containment: 'cgroup',
  authorize(request) {
    expectType<SidecarRequest>(request);
    expectType<LocatedEnvName[]>(request.callerEnv);
    expectType<PeerCredentials>(request.credentials);
    expectType<string[]>(request.argv);
    expectType<Record<string, string>>(request.env);
    return request.credentials.uid === 0 ? true : { allow: true, env: { PATH: '/usr/bin' }, cwd: '/tmp' };
  },
});
expectType<SidecarServer>(server);
createServer({ authorize: async () => 'not today' });
createServer({ authorize: () => undefined });
expectAssignable<AuthorizeResult>({ allow: false, reason: 'no' });
expectError(createServer({ maxConcurrent: '32' }));
expectError(createServer({ allowCommands: 'make' }));
expectError(createServer({ authorize: 42 }));
expectError(createServer({ killSignal: {} }));
expectError(createServer({ trustDirectory: 'yes' }));
expectError(createServer({ maxConnectionsPerUid: '16' }));
expectError(createServer({ maxBufferedBytes: 1n }));
createServer({ maxBufferedBytes: Infinity, maxConnectionsPerUid: Infinity });
createServer({ containment: 'auto' });
createServer({ containment: 'subreaper' });
createServer({ containment: 'none' });
expectAssignable<ContainmentMode>('cgroup');
expectError(createServer({ containment: 'systemd' }));
expectError(createServer({ allowDetached: 'no' }));

// stats() and events.
expectType<ServerStats>(server.stats());
expectType<number>(server.stats().queued);
expectType<number>(server.stats().bufferedBytes);
expectType<number>(server.stats().maxConnections);
expectType<number>(server.stats().detached);
expectType<number>(server.stats().lingering);
expectType<'cgroup' | 'subreaper' | 'none' | null>(server.stats().containment);
server.on('connection', (info) => expectType<PeerCredentials>(info.credentials));
server.on('request', (info) => expectType<string[]>(info.droppedEnv));
server.on('request', (info) => expectType<string>(info.searchPath));
expectError(createServer({ callerEnv: ['CC'] }));
server.on('spawn', (info) => expectType<number>(info.pid));
server.on('spawn', (info) => expectType<boolean>(info.detached));
server.on('exit', (info) => {
  expectType<ExitReason>(info.reason);
  expectType<number>(info.durationMs);
  expectType<number | null>(info.exitCode);
  expectType<NodeJS.Signals | null>(info.signal);
});
server.on('denied', (info) => expectType<string>(info.reason));
server.on('clientError', (error, info) => {
  expectType<Error>(error);
  expectType<PeerCredentials>(info.credentials);
});
server.on('warning', (warning) => {
  expectType<SidecarServerWarning>(warning);
  expectAssignable<Error>(warning);
  expectType<'SIDECAR_NOFILE_LIMIT'>(warning.code);
  expectType<number>(warning.limit);
  expectType<number>(warning.maxConnections);
  expectType<number>(warning.configured);
});

// Admin requests.
expectType<Promise<{ version: number }>>(pingServer('/run/sidecar.sock'));
expectType<Promise<void>>(stopServer('/run/sidecar.sock'));
expectError(pingServer(3));

// What a client learns.
expectType<ExitReason | null>(remoteSpawn('true').exitReason);
expectAssignable<SidecarErrorCode>('ERR_SIDECAR_BUSY');
expectAssignable<SidecarErrorCode>('ERR_SIDECAR_UNSAFE_DIRECTORY');
expectError<SidecarErrorCode>('ERR_SIDECAR_NOPE');

// The server's emitter has Node's methods, as at run time.
expectType<SidecarServer>(server.prependListener('exit', (info) => expectType<number>(info.pid)));
expectType<SidecarServer>(server.prependOnceListener('listening', () => undefined));
expectType<SidecarServer>(server.setMaxListeners(20));
expectType<number>(server.getMaxListeners());
expectType<number>(server.listenerCount('exit'));
// Its internals are not part of the contract.
expectError(server.release);
expectError(server.devNull);

// What errors from a server's answer carry besides child_process's fields.
declare const failure: Error & RemoteFailureFacts;
expectType<string | undefined>(failure.serverSyscall);
expectError((failure.serverSyscall = 'chdir'));
