// `sidecar start -v`: one stderr line per finished, refused or failed
// request; -vv adds one per program started. The lines are a format tests
// and log scrapers read: change them only on purpose.

import type { SidecarServer } from 'sidecar-exec';
import { say } from './usage';

export function logRequests(server: SidecarServer, verbosity: number): void {
  server.on('exit', (info) => {
    const end = info.signal ?? `exit ${info.exitCode}`;
    const why = info.reason === 'exit' ? '' : ` (${info.reason})`;
    say(`uid ${info.credentials.uid} pid ${info.credentials.pid} ${info.argv[0]}: ${end}${why} in ${info.durationMs} ms`);
  });
  server.on('denied', (info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} denied ${info.argv[0] ?? ''}: ${info.reason}`));
  server.on('clientError', (error, info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} failed: ${error.message}`));
  if (verbosity > 1) {
    server.on('spawn', (info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} started ${info.pid}: ${info.argv.join(' ')}`));
  }
}
