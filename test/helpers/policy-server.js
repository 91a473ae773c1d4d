'use strict';
// Servers in their own process with any createServer options
// (test/fixtures/policy-server.js), their events, and a leak check.
//
//   const servers = usePolicyServers();      // inside describe()
//   const server = await servers.start({ serverOptions: { allowUids: [0] } });
//
// Each server reports its events (report: true); server.events('denied')
// lists them, server.waitEvent(pred) waits for one. Its fd count is taken
// once it listens. After each test, every server started in it is checked:
// no child left, no zombie, fd count back to that baseline (polled up to 2 s);
// then it is stopped (SIGTERM) and must exit 0. Problems are collected and
// reported in the after hook, so that one leak does not skip later tests.
// Also exported: helpers to run a process as another user (setpriv).

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { exited, terminate } = require('./server');
const { tempDir } = require('./tmp');
const {
  fdCount, fdTable, describeFdDiff, allProcesses, zombieChildren, pollUntil, procStat,
} = require('./proc');

const POLICY_FIXTURE = path.join(__dirname, '..', 'fixtures', 'policy-server.js');
const NOBODY = 65534;

/** Whether setpriv exists and this process may switch users with it (root). */
function canSwitchUsers() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  const found = childProcess.spawnSync('setpriv', ['--version']);
  if (found.error || found.status !== 0) return 'setpriv (util-linux) is not installed';
  return true;
}

/** argv prefix that runs a command as uid/gid with no supplementary groups. */
function asUser(uid, gid = uid) {
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'];
}

/**
 * Starts a server process. options: serverOptions (JSON; authorize as a rule
 * set), socketPath, dir (default: a fresh one), env, nofile (RLIMIT_NOFILE),
 * user ({ uid, gid }: run it through setpriv), nodeOptions (e.g. ['--expose-gc']).
 * Resolves once it listens. server.stats() also sets server.memory
 * (process.memoryUsage() of the server, after a GC with --expose-gc).
 */
async function startPolicyServer({ serverOptions = {}, socketPath, dir, env = {}, nofile, user, nodeOptions = [] } = {}) {
  const ownDir = dir === undefined;
  dir ??= tempDir('sidecar-policy-');
  const sock = socketPath ?? path.join(dir, 'sock');
  let argv = [process.execPath, ...nodeOptions, POLICY_FIXTURE, sock, JSON.stringify({ report: true, ...serverOptions })];
  if (user !== undefined) argv = [...asUser(user.uid, user.gid), ...argv];
  if (nofile !== undefined) argv = ['/bin/sh', '-c', `ulimit -n ${Number(nofile)} && exec "$@"`, 'sh', ...argv];
  const child = childProcess.spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd: '/',
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
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`policy server did not listen within 10 s:\n${stdout}${stderr}`));
    }, 10000);
    const onData = () => {
      if (stdout.includes('listening\n')) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`policy server exited (${code ?? signal}) before listening:\n${stdout}${stderr}`));
    };
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    }
    child.stdout.on('data', onData);
    child.on('exit', onExit);
  });

  const server = {
    path: sock,
    dir,
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
    /** SIGTERM (the fixture closes, then exits 0); SIGKILL after `timeout`. */
    async stop({ timeout = 5000 } = {}) {
      const result = await terminate(child, timeout);
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
      return result;
    },
    async kill() {
      child.kill('SIGKILL');
      return exited(child);
    },
  };
  return server;
}

/**
 * Per describe block: start() servers within a test; after each test they are
 * leak-checked and stopped. Register before useFdCheck() so that the servers'
 * pipes are closed before this process's fds are counted.
 */
function usePolicyServers() {
  const started = [];
  const problems = [];
  const handle = {
    async start(options) {
      const server = await startPolicyServer(options);
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

module.exports = { startPolicyServer, usePolicyServers, canSwitchUsers, asUser, NOBODY, POLICY_FIXTURE };
