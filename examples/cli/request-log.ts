// `sidecar start -v`: one stderr line per finished, refused or failed
// request; -vv adds one per program started. The lines are a format tests
// and log scrapers read: change them only on purpose.

import type { SidecarServer } from 'sidecar-exec';
import { say } from './usage';

/** At most this many characters of a program's words in one log line. */
const MAX_SHOWN = 200;

/** At most this many characters of the PATH in one log line: a usual one is longer than a word, a client's may be huge. */
const MAX_PATH_SHOWN = 1024;

/** Control characters and backslashes escaped, so that a word cannot forge log lines or terminal output. */
function escaped(word: string): string {
  return word.replace(/[\u0000-\u001f\u007f\\]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** A word of a log line: escaped, and cut at `max` characters. */
function shown(word: string, max = MAX_SHOWN): string {
  const text = escaped(word.length > max ? word.slice(0, max) : word);
  return word.length > max || text.length > max ? `${text.slice(0, max)}...` : text;
}

/**
 * The words of -vv's line: all of them while they are short; else their start,
 * the number of arguments and their size (a 1.5 MB argv made 1.5 MB lines).
 */
function describeArgv(argv: readonly string[]): string {
  let text = '';
  for (const word of argv) {
    text += (text === '' ? '' : ' ') + escaped(word.length > MAX_SHOWN ? word.slice(0, MAX_SHOWN + 1) : word);
    if (text.length > MAX_SHOWN) break;
  }
  if (text.length <= MAX_SHOWN) return text;
  const bytes = argv.reduce((sum, word) => sum + Buffer.byteLength(word), 0);
  return `${text.slice(0, MAX_SHOWN)}... (${argv.length} arguments, ${bytes} bytes)`;
}

export function logRequests(server: SidecarServer, verbosity: number): void {
  server.on('exit', (info) => {
    const end = info.signal ?? `exit ${info.exitCode}`;
    const why = info.reason === 'exit' ? '' : ` (${info.reason})`;
    // The PATH it was looked up in: the answer to "why that program?" (cut as any word).
    const detached = info.detached ? ' detached' : '';
    say(`uid ${info.credentials.uid} pid ${info.credentials.pid}${detached} ${shown(info.argv[0])}: ${end}${why} in ${info.durationMs} ms; PATH ${shown(info.searchPath, MAX_PATH_SHOWN)}`);
  });
  server.on('denied', (info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} denied ${shown(info.argv[0] ?? '')}: ${shown(info.reason)}`));
  server.on('clientError', (error, info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} failed: ${shown(error.message)}`));
  if (verbosity > 1) {
    server.on('spawn', (info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} started ${info.pid}${info.detached ? ' detached' : ''}: ${describeArgv(info.argv)}`));
  }
}
