// Compile-time check of the implementation against the hand-written public
// declarations in types/ (the contract users compile against). It emits
// nothing that runs; tsc fails when the two drift apart:
// - the same exported names on both sides;
// - each function's widest call form (the one its overloads refine) is
//   accepted by the implementation and by the declarations alike, and the
//   implementation returns what the declarations promise;
// - each class's instances satisfy the declared interface.
// The overloads' return types (RemoteChildProcessWithoutNullStreams for a
// 'pipe' stdio, say) refine the same runtime object by the arguments given,
// which no implementation signature can express: they are checked by the tsd
// tests in types/test-d against the running code's behaviour instead.

import type { ExecException, ExecFileException } from 'node:child_process';
import type * as Contract from '../types/index';
import type * as Implementation from './index';

type Is<A, B> = [A] extends [B] ? true : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;

type Output = string | Buffer;
type ExecCallback = (error: ExecException | null, stdout: Output, stderr: Output) => void;
type ExecFileCallback = (error: ExecFileException | null, stdout: Output, stderr: Output) => void;

/**
 * The widest call of each function, written with the contract's types (as
 * properties, so that parameters are compared strictly, not bivariantly).
 */
interface WidestCalls {
  remoteSpawn: ((command: string) => Contract.RemoteChildProcess)
    & ((command: string, options: Contract.RemoteSpawnOptions) => Contract.RemoteChildProcess)
    & ((command: string, args: readonly string[], options: Contract.RemoteSpawnOptions) => Contract.RemoteChildProcess);
  remoteExec: ((command: string, callback?: ExecCallback) => Contract.RemoteChildProcess)
    & ((command: string, options: Contract.RemoteExecOptions | undefined | null, callback?: ExecCallback) => Contract.RemoteChildProcess);
  remoteExecFile: (file: string, args: readonly string[] | undefined | null, options: Contract.RemoteExecFileOptions | undefined | null,
    callback: ExecFileCallback | undefined | null) => Contract.RemoteChildProcess;
  remoteSpawnSync: (command: string, args?: readonly string[], options?: Contract.RemoteSpawnSyncOptions)
    => Contract.RemoteSpawnSyncReturns<string | Buffer>;
  remoteExecSync: (command: string, options?: Contract.RemoteExecSyncOptions) => string | Buffer;
  remoteExecFileSync: (file: string, args?: readonly string[] | null, options?: Contract.RemoteExecFileSyncOptions | null)
    => string | Buffer;
  remoteKill: (pid: number, signal?: NodeJS.Signals | number) => true;
  createClient: (options?: Contract.RemoteClientOptions) => WidestClient;
  createServer: (options?: Contract.ServerOptions) => Contract.SidecarServer;
  pingServer: (path: string) => Promise<{ version: number }>;
  stopServer: (path: string) => Promise<void>;
  isSidecarError: (value: unknown) => value is Contract.SidecarError;
}

/** RemoteClient with each function at its widest call. */
interface WidestClient {
  readonly connect: string;
  spawn: WidestCalls['remoteSpawn'];
  exec: WidestCalls['remoteExec'];
  execFile: WidestCalls['remoteExecFile'];
  spawnSync: WidestCalls['remoteSpawnSync'];
  execSync: WidestCalls['remoteExecSync'];
  execFileSync: WidestCalls['remoteExecFileSync'];
  kill: WidestCalls['remoteKill'];
}

type Functions = keyof WidestCalls;

/** Exported names: everything the declarations export exists, and nothing more. */
export type SameExports = Expect<Same<keyof typeof Implementation, keyof typeof Contract>>;

/** The implementation takes every widest call and returns what is promised. */
export type ImplementationTakesWidestCalls = Expect<Is<{ [F in Functions]: (typeof Implementation)[F] }, WidestCalls>>;

/** The declarations take the same widest calls (an overload dropped or narrowed shows here). */
export type DeclarationsTakeWidestCalls = Expect<Is<{ [F in Functions]: (typeof Contract)[F] }, WidestCalls>>;

/** Classes: instances as declared, and the error class constructible as declared. */
export type ClassesMatch = [
  Expect<Is<InstanceType<typeof Implementation.RemoteChildProcess>, Contract.RemoteChildProcess>>,
  Expect<Is<InstanceType<typeof Implementation.SidecarServer>, Contract.SidecarServer>>,
  Expect<Is<InstanceType<typeof Implementation.SidecarError>, Contract.SidecarError>>,
  Expect<Is<InstanceType<typeof Implementation.AbortError>, Contract.AbortError>>,
  Expect<Is<ConstructorParameters<typeof Contract.SidecarError>, ConstructorParameters<typeof Implementation.SidecarError>>>,
  Expect<Same<typeof Implementation.PROTOCOL_VERSION, typeof Contract.PROTOCOL_VERSION>>,
];
