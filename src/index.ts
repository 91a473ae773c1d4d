// sidecar-exec: run a program in another container as child_process would run
// it here. Re-exports only.

export { remoteSpawn, RemoteChildProcess } from './client';
export { pingServer, stopServer } from './client/admin';
export { remoteExec, remoteExecFile } from './client/exec';
export { createClient } from './client/create-client';
export { remoteKill } from './client/registry';
export { createServer, SidecarServer } from './server';
export { AbortError, SidecarError, isSidecarError } from './errors';
export { PROTOCOL_VERSION } from './protocol';
