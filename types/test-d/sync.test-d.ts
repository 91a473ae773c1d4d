// The sync calls: each form of child_process's spawnSync, execSync and
// execFileSync compiles with sidecar-exec's and gives the same types, and
// the functions (free and bound by createClient) are assignable where
// child_process's are expected (zx's $.spawnSync, a child_process-like module).

import { expectAssignable, expectError, expectType } from 'tsd';
import type * as child_process from 'node:child_process';
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import {
  type ExecBuffer, type RemoteSpawnSyncReturns, createClient, remoteExecFileSync, remoteExecSync, remoteSpawnSync,
} from '..';

// ---- assignability ------------------------------------------------------------

expectAssignable<typeof spawnSync>(remoteSpawnSync);
expectAssignable<typeof execSync>(remoteExecSync);
expectAssignable<typeof execFileSync>(remoteExecFileSync);
const client = createClient({ connect: '/run/sidecar.sock' });
expectAssignable<typeof spawnSync>(client.spawnSync);
expectAssignable<typeof execSync>(client.execSync);
expectAssignable<typeof execFileSync>(client.execFileSync);
expectAssignable<Pick<typeof child_process, 'spawn' | 'spawnSync' | 'exec' | 'execSync' | 'execFile' | 'execFileSync'>>(client);
type ZxLike = { spawn: typeof child_process.spawn; spawnSync: typeof spawnSync };
expectAssignable<ZxLike>({ spawn: client.spawn, spawnSync: remoteSpawnSync });
expectAssignable<child_process.SpawnSyncReturns<Buffer>>(remoteSpawnSync('ls'));

// ---- spawnSync --------------------------------------------------------------

expectType<RemoteSpawnSyncReturns<ExecBuffer>>(remoteSpawnSync('ls'));
expectType<RemoteSpawnSyncReturns<ExecBuffer>>(remoteSpawnSync('ls', ['-l']));
expectType<RemoteSpawnSyncReturns<string>>(remoteSpawnSync('ls', { encoding: 'utf8' }));
expectType<RemoteSpawnSyncReturns<string>>(remoteSpawnSync('ls', ['-l'], { encoding: 'latin1' }));
expectType<RemoteSpawnSyncReturns<ExecBuffer>>(remoteSpawnSync('ls', { encoding: 'buffer' }));
expectType<RemoteSpawnSyncReturns<ExecBuffer>>(remoteSpawnSync('ls', ['-l'], { encoding: null }));
// Without an encoding, Buffers, as child_process's overloads say.
expectType<RemoteSpawnSyncReturns<ExecBuffer>>(remoteSpawnSync('ls', ['-l'], {
  input: 'text', timeout: 1000, killSignal: 'SIGKILL', maxBuffer: 1 << 20, cwd: '/src', env: { A: '1' },
  shell: '/bin/bash', uid: 1000, gid: 1000, argv0: 'name', connect: '/run/s.sock', serverEnv: true, expectUid: 0,
}));
remoteSpawnSync('cat', { input: new Uint8Array(4), stdio: ['pipe', 'inherit', 'ignore'] });
remoteSpawnSync('cat', { stdio: [Buffer.from('input'), 1, 2] });
remoteSpawnSync('cat', { stdio: 'inherit' });
const result = remoteSpawnSync('ls', { encoding: 'utf8' });
expectType<number>(result.pid);
expectType<number | null>(result.status);
expectType<NodeJS.Signals | null>(result.signal);
expectType<Error | undefined>(result.error);
expectType<Array<string | null>>(result.output);
expectError(remoteSpawnSync('ls', { input: 5 }));
expectError(remoteSpawnSync('ls', { maxBuffer: '1' }));
expectError(remoteSpawnSync('ls', { startWait: 10 }));

// ---- execSync and execFileSync -------------------------------------------------

expectType<ExecBuffer>(remoteExecSync('ls'));
expectType<string>(remoteExecSync('ls', { encoding: 'utf8' }));
expectType<ExecBuffer>(remoteExecSync('ls', { encoding: 'buffer' }));
expectType<ExecBuffer>(remoteExecSync('ls', { stdio: 'pipe', input: 'x', shell: '/bin/bash', timeout: 5 }));
expectError(remoteExecSync('ls', { shell: true }));
expectType<ExecBuffer>(remoteExecFileSync('ls'));
expectType<ExecBuffer>(remoteExecFileSync('ls', ['-l']));
expectType<string>(remoteExecFileSync('ls', { encoding: 'utf8' }));
expectType<string>(remoteExecFileSync('ls', ['-l'], { encoding: 'utf8' }));
expectType<ExecBuffer>(remoteExecFileSync('ls', ['-l'], { encoding: 'buffer' }));
expectType<ExecBuffer>(remoteExecFileSync('ls', ['-l'], { shell: true, maxBuffer: 10 }));
declare const options: { encoding?: BufferEncoding | 'buffer' };
expectType<string | ExecBuffer>(remoteExecFileSync('ls', ['-l'], options));
expectType<string | ExecBuffer>(remoteExecSync('ls', options));
expectType<RemoteSpawnSyncReturns<string | ExecBuffer>>(remoteSpawnSync('ls', options));
expectType<string>(client.execSync('ls', { encoding: 'utf8' }));

// ---- what the sync calls do not take ---------------------------------------------

// A terminal needs the event loop that a sync call blocks (ERR_SIDECAR_UNSUPPORTED at run time).
expectError(remoteSpawnSync('ls', { tty: true }));
