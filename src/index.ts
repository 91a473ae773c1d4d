// sidecar-exec: run a program in another container as child_process would run
// it here. Re-exports only.

export { remoteSpawn } from './client/spawn';
export { RemoteChildProcess } from './client/child-process';
export { pingServer, stopServer } from './client/admin';
export { remoteExec, remoteExecFile } from './client/exec';
export { remoteSpawnSync } from './client/spawn-sync';
export { remoteExecFileSync, remoteExecSync } from './client/exec-sync';
export { createClient } from './client/create-client';
export { remoteKill } from './client/pids';
export { createServer, SidecarServer } from './server/server';
export { AbortError, SidecarError, isSidecarError } from './errors';
export { PROTOCOL_VERSION } from './protocol';
