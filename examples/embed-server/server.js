#!/usr/bin/env node
// A small HTTP service that hosts a sidecar server beside its own routes, as
// a toolchain container's main process would: /healthz answers from the
// sidecar server's state, /metrics serves its counters to Prometheus, each
// request it ran or refused is one log line, and SIGTERM drains it. It uses
// nothing but node:* modules and the package's public API.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const { constants } = require('node:os');
const { createServer } = require('sidecar-exec');
const { ConfigError, USAGE, readConfig } = require('./config');
const { log } = require('./log');
const { CONTENT_TYPE, ExitCounts, renderMetrics } = require('./metrics');

let config;
try {
  config = readConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`embed-server: ${error.message}\n${USAGE}\n`);
  process.exit(2);
}

const sidecar = createServer(config.serverOptions);
const exits = new ExitCounts(sidecar);
/** Set by the first SIGTERM or SIGINT (or a fatal error): /healthz fails from then on. */
let stopping = false;

// One line per request, from the event that ends it: 'exit' for a program
// that ran, 'denied' for one the policy refused, 'clientError' for one that
// could not start (or a client that broke the protocol, or was turned away).
sidecar.on('exit', (info) => log('exit', {
  uid: info.credentials.uid, client_pid: info.credentials.pid, program: info.argv[0], args: info.argv.length - 1,
  pid: info.pid, code: info.exitCode ?? undefined, signal: info.signal ?? undefined, reason: info.reason, ms: info.durationMs,
}));
sidecar.on('denied', (info) => log('denied', {
  uid: info.credentials.uid, client_pid: info.credentials.pid, program: info.argv[0], reason: info.reason,
}));
sidecar.on('clientError', (error, info) => log('failed', {
  uid: info.credentials.uid, client_pid: info.credentials.pid, code: error.code, message: error.message,
}));
sidecar.on('warning', (warning) => log('warning', { code: warning.code, message: warning.message }));

/** What /healthz says: 200 while the socket accepts, 503 with the reason otherwise. */
function health() {
  if (stopping) return [503, 'stopping'];
  const socketPath = sidecar.address();
  if (!sidecar.listening || socketPath === null) return [503, 'not listening'];
  // The server cannot see its socket file removed (a volume cleaned, a
  // second server started on the same path): clients could not reach it.
  try {
    if (!fs.lstatSync(socketPath).isSocket()) return [503, `${socketPath} is no longer a socket`];
  } catch (error) {
    return [503, `${socketPath}: ${error.code}`];
  }
  return [200, 'ok'];
}

const web = http.createServer((request, response) => {
  // The path as sent, without its query; not new URL(), which throws on a
  // request target such as '//[' and would take the service down with it.
  const route = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end();
  } else if (route === '/healthz') {
    const [status, state] = health();
    response.writeHead(status, { 'content-type': 'application/json' })
      .end(`${JSON.stringify({ status: state, socket: sidecar.address(), ...sidecar.stats() })}\n`);
  } else if (route === '/metrics') {
    response.writeHead(200, { 'content-type': CONTENT_TYPE }).end(renderMetrics(sidecar, exits));
  } else {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
  }
});

/**
 * Stops the sidecar server first, letting running programs finish (up to
 * closeTimeout) while /healthz says "stopping" and /metrics shows the drain;
 * then closes the HTTP listener. Once both are closed nothing is left on the
 * event loop and the process exits, 0 unless something failed.
 */
function stop(why, exitCode = 0) {
  if (stopping) return;
  stopping = true;
  if (exitCode !== 0) process.exitCode = exitCode;
  log('stopping', { why, running: sidecar.stats().running });
  // A listener still on its way up (a failure at start-up) is closed by
  // listening() when it gets there.
  const stopped = () => log('stopped', { exit: process.exitCode ?? 0 });
  const closeWeb = () => (web.listening ? web.close(stopped) : stopped());
  if (sidecar.listening) sidecar.close(closeWeb);
  else closeWeb();
}

sidecar.on('error', (error) => {
  log('error', { code: error.code, message: error.message });
  stop('sidecar server failed', 1);
});
web.on('error', (error) => {
  log('error', { code: error.code, message: error.message });
  stop('HTTP listener failed', 1);
});

// The first signal drains; a second one exits at once, and the programs
// still running die with the server (their parent-death signal).
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (stopping) process.exit(128 + constants.signals[signal]);
    stop(signal);
  });
}

// Ready once both listeners accept: one line a supervisor or a test can read.
let pending = 2;
function listening() {
  pending -= 1;
  if (stopping) {
    if (sidecar.listening) sidecar.close();
    if (web.listening) web.close();
    return;
  }
  if (pending > 0) return;
  const { address, port } = web.address();
  const host = address.includes(':') ? `[${address}]` : address;
  log('ready', { http: `http://${host}:${port}`, socket: sidecar.address() });
}
sidecar.listen(config.socketPath, listening);
web.listen(config.port, config.host, listening);
