// Why execve(2) said ENOENT for a file that exists: the interpreter its #!
// line names is missing (or, for a binary, its dynamic loader). Without a
// look at the file the client hears "command not found" for a program that
// is right there.

import * as fs from 'node:fs';

/** The kernel reads at most this much of a #! line (BINPRM_BUF_SIZE). */
const SHEBANG_BYTES = 256;

/**
 * The FAILED message for an ENOENT of execve, when one of the `candidates`
 * execve tried is a regular file; undefined when none is (the program is
 * really not there). Reads at most the first line's 256 bytes of that file,
 * non-blocking, and reports only the interpreter's path, which is what
 * `file` or `head -1` would show the program's own user.
 */
export function missingInterpreterMessage(candidates: readonly string[]): string | undefined {
  for (const candidate of candidates) {
    let fd: number;
    try {
      if (!fs.statSync(candidate).isFile()) continue;
      // O_NONBLOCK: a FIFO swapped in after the stat cannot stall the server.
      fd = fs.openSync(candidate, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch {
      continue;
    }
    try {
      const head = Buffer.alloc(SHEBANG_BYTES);
      const length = fs.fstatSync(fd).isFile() ? fs.readSync(fd, head, 0, SHEBANG_BYTES, 0) : 0;
      return describe(head.subarray(0, length));
    } catch {
      return describe(Buffer.alloc(0));
    } finally {
      fs.closeSync(fd);
    }
  }
  return undefined;
}

function describe(head: Buffer): string {
  if (head.subarray(0, 2).toString('latin1') === '#!') {
    const line = head.subarray(2).toString('utf8').split('\n')[0];
    const interpreter = line.trim().split(/[ \t]/)[0];
    if (interpreter !== '') return `interpreter ${interpreter} named by #! not found`;
  }
  return 'the file exists, but the interpreter it needs (its #! line\'s, or a binary\'s dynamic loader) was not found';
}
