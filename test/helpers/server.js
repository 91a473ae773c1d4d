'use strict';
// Starts a real sidecar server in a separate Node process
// (test/fixtures/server.js) on a socket in a fresh temporary directory.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { createServer } = require('../..');
const { tempDir } = require('./tmp');

const SERVER_FIXTURE = path.join(__dirname, '..', 'fixtures', 'server.js');

/** Resolves once `child` exited, with { code, signal }. */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Starts a server process. options:
 *   serverOptions: passed to createServer (JSON),
 *   socketPath: where to listen (default: <fresh dir>/sock),
 *   env: extra environment of the server process,
 *   nofile: RLIMIT_NOFILE (soft and hard) of the server process.
 * Resolves with { path, dir, pid, process, output(), stop(), kill() }.
 */
async function startServer({ serverOptions = {}, socketPath, env = {}, nofile } = {}) {
  const dir = tempDir();
  const sock = socketPath ?? path.join(dir, 'sock');
  const argv = [process.execPath, SERVER_FIXTURE, sock, JSON.stringify(serverOptions)];
  // With a limit, sh sets it and then execs node: the pid stays the same.
  const [file, ...args] = nofile === undefined ? argv : ['/bin/sh', '-c', `ulimit -n ${Number(nofile)} && exec "$@"`, 'sh', ...argv];
  const child = childProcess.spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      stdout += chunk;
      if (stdout.includes('listening\n')) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`server fixture exited (${code ?? signal}) before listening:\n${stdout}${stderr}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`server fixture did not listen within 10 s:\n${stdout}${stderr}`));
    }, 10000);
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    }
    child.stdout.on('data', onData);
    child.on('exit', onExit);
  });
  child.stdout.on('data', (chunk) => { stdout += chunk; });

  const server = {
    path: sock,
    dir,
    pid: child.pid,
    process: child,
    output: () => stdout + stderr,
    /**
     * SIGTERM (the fixture closes the server, then exits 0); SIGKILL if it has
     * not exited within `timeout` ms. Resolves with { code, signal, forced }.
     */
    async stop({ timeout = 5000, removeDir = true } = {}) {
      const result = await terminate(child, timeout);
      if (removeDir) fs.rmSync(dir, { recursive: true, force: true });
      return result;
    },
    /** SIGKILL: the server vanishes and leaves its socket file behind. */
    async kill() {
      child.kill('SIGKILL');
      return exited(child);
    },
  };
  return server;
}

/**
 * SIGTERM to a server process (its fixture closes the server, then exits 0);
 * SIGKILL if it has not exited within `timeout` ms. Resolves with
 * { code, signal, forced }.
 */
async function terminate(child, timeout) {
  let forced = false;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      forced = true;
      child.kill('SIGKILL');
    }, timeout);
    await exited(child);
    clearTimeout(timer);
  }
  return { code: child.exitCode, signal: child.signalCode, forced };
}

/** createServer().listen() in this process; resolves with the server, or rejects with its 'error'. */
function listenHere(socketPath, options) {
  const server = createServer(options);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** server.close() as a promise. */
function closeHere(server) {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

module.exports = {
  terminate,
  listenHere,
  closeHere, startServer, exited, SERVER_FIXTURE };
