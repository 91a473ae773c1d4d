// ES module entry: the same objects as the CommonJS entry, named.
import sidecar from '../dist/index.js';

export const {
  remoteSpawn, RemoteChildProcess, stopServer, createServer, SidecarServer, SidecarError, isSidecarError, PROTOCOL_VERSION,
} = sidecar;
export default sidecar;
