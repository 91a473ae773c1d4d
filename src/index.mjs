// ES module entry: the same objects as the CommonJS entry, named.
import sidecar from '../dist/index.js';

export const {
  remoteSpawn, remoteExec, remoteExecFile, remoteKill, createClient, RemoteChildProcess, stopServer, pingServer, createServer,
  SidecarServer, AbortError, SidecarError, isSidecarError, PROTOCOL_VERSION,
} = sidecar;
export default sidecar;
