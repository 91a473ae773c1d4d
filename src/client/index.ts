// remoteSpawn(): child_process.spawn's signature, running the program through
// a sidecar server.

import type { RemoteSpawnOptions } from '../../types/index';
import { RemoteChildProcess } from './child';
import { normalizeSpawnArguments } from './options';

export { RemoteChildProcess };

/** Runs `command` with `args` on the server, as child_process.spawn runs it locally. */
export function remoteSpawn(command: string, args?: readonly string[] | RemoteSpawnOptions, options?: RemoteSpawnOptions): RemoteChildProcess {
  return new RemoteChildProcess(normalizeSpawnArguments(command, args, options));
}
