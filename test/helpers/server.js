'use strict';
// The test servers, two ways:
//
//   out of process  startServer(options): test/fixtures/server.js in a Node
//                   process of its own, options as JSON; its events, stats()
//                   and a leak check. useServers() (inside describe) starts
//                   them within tests and leak-checks and stops them after
//                   each test; useServer() (leaks.js) is one server per
//                   describe block with a warm-up and leak checks.
//   in process      listenHere(path, options) / closeHere(server):
//                   createServer() in the mocha process, for tests that
//                   listen to its events or call its methods directly.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { createServer } = require('../..');
const { tempDir } = require('./tmp');
const { asUser, otherUidFixture } = require('./users');
const {
  fdCount, fdTable, describeFdDiff, allProcesses, zombieChildren, pollUntil, procStat,
} = require('./proc');

const SERVER_FIXTURE = path.join(__dirname, '..', 'fixtures', 'server.js');

/** Resolves once `child` exited, with { code, signal }. */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
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

/**
 * Starts a server process (test/fixtures/server.js) and resolves once it
 * listens. options:
 *   serverOptions  createServer's options as JSON (authorize as a rule set,
 *                  report: false to print no events; see the fixture),
 *   socketPath     where to listen (default: <dir>/sock),
 *   dir            default: a fresh directory, removed by stop(), made only
 *                  when neither socketPath nor dir is given,
 *   env            added to this process's environment for the server,
 *   nofile         RLIMIT_NOFILE (soft and hard) of the server process,
 *   user           { uid, gid }: run it as that user (setpriv), from the
 *                  other-uid copy of the fixtures (users.js),
 *   nodeOptions    node's own options (e.g. ['--expose-gc']),
 *   prefix         argv that runs the server's command line (it must exec
 *                  it, keeping the pid), e.g. a mount namespace of its own
 *                  (namespace.js),
 *   wrap           the same as prefix (either may be given),
 *   cwd            of the server process (default: this one's; '/' with user).
 * The server reports its events: server.events('denied') lists them,
 * server.waitEvent(pred) waits for one. Its fd count is taken once it
 * listens (server.fdBaseline, for server.leaks()). server.stats() also sets
 * server.memory (process.memoryUsage() of the server, after a GC with
 * --expose-gc).
 */
async function startServer({
  serverOptions = {}, socketPath, dir, env = {}, nofile, user, nodeOptions = [], cwd, prefix = [], wrap,
} = {}) {
  const ownDir = socketPath === undefined && dir === undefined ? tempDir() : undefined;
  const sock = socketPath ?? path.join(dir ?? ownDir, 'sock');
  // Another uid runs the fixture from a copy it can read (users.js).
  const script = user === undefined ? SERVER_FIXTURE : otherUidFixture('server.js');
  let argv = [process.execPath, ...nodeOptions, script, sock, JSON.stringify({ report: true, ...serverOptions })];
  if (user !== undefined) argv = [...asUser(user.uid, user.gid), ...argv];
  // With a limit, sh sets it and then execs: the pid stays the same.
  if (nofile !== undefined) argv = ['/bin/sh', '-c', `ulimit -n ${Number(nofile)} && exec "$@"`, 'sh', ...argv];
  argv = [...(wrap ?? prefix), ...argv];
  const child = childProcess.spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    // Another uid may not be able to enter this process's working directory.
    cwd: cwd ?? (user !== undefined ? '/' : undefined),
  });
  let stdout = '';
  let stderr = '';
  const events = [];
  const waiters = new Set();
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  let pending = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop();
    for (const text of parts) {
      if (!text.startsWith('{')) continue;
      events.push(JSON.parse(text));
      for (const waiter of [...waiters]) waiter();
    }
  });
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        child.kill('SIGKILL');
        reject(new Error(`server fixture did not listen within 10 s:\n${stdout}${stderr}`));
      }, 10000);
      const onData = () => {
        if (stdout.includes('listening\n')) {
          cleanup();
          resolve();
        }
      };
      const onExit = (code, signal) => {
        cleanup();
        reject(new Error(`server fixture exited (${code ?? signal}) before listening:\n${stdout}${stderr}`));
      };
      function cleanup() {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.off('exit', onExit);
      }
      child.stdout.on('data', onData);
      child.on('exit', onExit);
    });
  } catch (error) {
    if (ownDir !== undefined) fs.rmSync(ownDir, { recursive: true, force: true });
    throw error;
  }

  const server = {
    path: sock,
    dir: dir ?? ownDir ?? path.dirname(sock),
    pid: child.pid,
    process: child,
    fdBaseline: fdCount(child.pid),
    fdTable: fdTable(child.pid),
    output: () => stdout + stderr,
    /** Events reported so far, optionally only those named `name`. */
    events: (name) => (name === undefined ? [...events] : events.filter((event) => event.event === name)),
    /** Resolves with the first event (already seen or coming) for which pred is true; rejects after timeout. */
    waitEvent(pred, timeout = 5000) {
      const found = events.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.find(pred);
          if (hit !== undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such server event within ${timeout} ms; events: ${JSON.stringify(events).slice(-2000)}`));
        }, timeout);
        waiters.add(check);
      });
    },
    /** server.stats() of the server process (asked with SIGUSR2). */
    async stats() {
      const seen = events.filter((event) => event.event === 'stats').length;
      child.kill('SIGUSR2');
      await pollUntil(() => events.filter((event) => event.event === 'stats').length > seen, { timeout: 5000 });
      const { event, memory, ...stats } = events.filter((e) => e.event === 'stats')[seen];
      server.memory = memory;
      return stats;
    },
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    /** What leaked: children left, zombies, fds above the baseline. Polls up to `timeout` ms. */
    async leaks(timeout = 2000) {
      const problems = [];
      if (!server.alive) return [`the server process died (${child.exitCode ?? child.signalCode})\n${server.output()}`];
      const noChildren = await pollUntil(() => allProcesses().every((p) => p.ppid !== child.pid), { timeout: timeout + 1000 });
      if (!noChildren) {
        const left = allProcesses().filter((p) => p.ppid === child.pid);
        problems.push(`server still has children: ${left.map((p) => `${p.pid} ${p.comm} ${p.state}`).join(', ')}`);
        const ownGroup = procStat(process.pid).pgid;
        for (const p of left) {
          try { process.kill(p.pgid === ownGroup ? p.pid : -p.pgid, 'SIGKILL'); } catch { /* gone */ }
        }
      }
      const zombies = zombieChildren(child.pid);
      if (zombies.length > 0) problems.push(`server has zombie children ${zombies.map((p) => p.pid).join(', ')}`);
      let count = fdCount(child.pid);
      await pollUntil(() => (count = fdCount(child.pid)) === server.fdBaseline, { timeout });
      if (count !== server.fdBaseline) {
        problems.push(`server fds ${server.fdBaseline} -> ${count}: ${describeFdDiff(server.fdTable, fdTable(child.pid))}`);
      }
      return problems;
    },
    /**
     * SIGTERM (the fixture closes the server, then exits 0); SIGKILL if it
     * has not exited within `timeout` ms. Removes the directory the harness
     * made for it (unless removeDir: false). Resolves with { code, signal, forced }.
     */
    async stop({ timeout = 5000, removeDir = true } = {}) {
      const result = await terminate(child, timeout);
      if (removeDir && ownDir !== undefined) fs.rmSync(ownDir, { recursive: true, force: true });
      return result;
    },
    /** SIGKILL: the server vanishes and leaves its socket file behind (stop() still cleans up). */
    async kill() {
      child.kill('SIGKILL');
      return exited(child);
    },
  };
  return server;
}

/**
 * Per describe block: start() servers within a test (startServer's options;
 * the default working directory is '/'); after each test they are
 * leak-checked, then stopped (SIGTERM), and must exit 0. Problems are
 * collected and reported in the after hook, so that one leak does not skip
 * later tests. Register before useFdCheck() so that the servers' pipes are
 * closed before this process's fds are counted.
 */
function useServers() {
  const started = [];
  const problems = [];
  const handle = {
    async start(options = {}) {
      const server = await startServer({ cwd: '/', ...options });
      started.push(server);
      return server;
    },
    /** For a test that kills or stops its server itself. */
    forget(server) {
      const index = started.indexOf(server);
      if (index !== -1) started.splice(index, 1);
    },
  };
  afterEach(async function () {
    this.timeout(20000);
    const title = this.currentTest ? this.currentTest.fullTitle() : '?';
    for (const server of started.splice(0)) {
      const found = await server.leaks();
      for (const problem of found) problems.push(`${title}: ${problem}`);
      const stopped = await server.stop();
      if (stopped.forced || stopped.code !== 0) {
        problems.push(`${title}: server did not exit 0 on SIGTERM (${JSON.stringify(stopped)})\n${server.output()}`);
      }
    }
  });
  after(function () {
    if (problems.length > 0) throw new Error(`leak check failed:\n${problems.join('\n')}`);
  });
  return handle;
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
  startServer, useServers, listenHere, closeHere, terminate, exited, SERVER_FIXTURE,
};
