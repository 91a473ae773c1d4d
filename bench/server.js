// The bench's sidecar server: a small Node process that does nothing but
// serve, so that its RSS and fd counts are the server's own and the callers'
// heaps are not its heap.
//
//   node bench/server.js SOCKET_PATH
//
// Prints "ready <pid> <containment in force>" on stdout once listening. Stops on SIGTERM/SIGINT,
// and exits at once when bench/run.js is gone or after BENCH_MAX_LIFETIME_MS
// (the watchdog in lib.js); the programs it runs die with it (their
// parent-death signal).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { createServer } = require('..');
const { startWatchdog } = require('./lib');

const socketPath = process.argv[2];
if (!socketPath) {
  process.stderr.write('usage: node bench/server.js SOCKET_PATH\n');
  process.exit(2);
}

// The bench's requests pass at most three fds (stdio). With maxFds at its
// default (64), maxConnections is fitted to RLIMIT_NOFILE / 65, too few for
// the server-cost scenario's 1,000 running programs.
// SIDECAR_BENCH_CONTAINMENT: the server's containment ('auto' by default),
// to measure what holding each program's whole tree costs.
const server = createServer({ maxFds: 3, containment: process.env.SIDECAR_BENCH_CONTAINMENT || 'auto' });
let stopping = false;
function stop() {
  if (stopping) process.exit(0); // second request: now
  stopping = true;
  // Running programs are killed by their parent-death signal when we exit.
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}

server.on('error', (error) => {
  process.stderr.write(`bench server: ${error.message}\n`);
  process.exit(1);
});
server.listen(socketPath, () => {
  process.stdout.write(`ready ${process.pid} ${server.stats().containment}\n`);
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Orphaned (bench/run.js was killed): exit now, the programs die with us
// (parent-death signal), and remove the bench's temporary directory, which
// run.js could not.
startWatchdog(() => {
  const dir = path.dirname(path.resolve(socketPath));
  if (path.basename(dir).startsWith('sidecar-bench-')) fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
