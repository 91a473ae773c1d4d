'use strict';
// One real server per describe block, with a leak check after every test.
//
//   const ctx = useServer();          // inside describe()
//   it('...', async () => { remoteSpawn('true', [], { connect: ctx.server.path }) ... });
//
// before: starts the server process, runs one warm-up remoteSpawn (so that
//         handles created lazily on first use are already there), then takes
//         the fd counts of this process and of the server as baselines;
// afterEach: waits (up to 2 s) for both counts to return to their baselines,
//         for the server to have no child left and no zombie; records any
//         difference with the test's title and the fds that differ;
// after:  stops the server and fails if anything was recorded.
// The failures are collected and reported once, in the after hook, so that a
// leak in one test does not make mocha skip the tests after it.

const fs = require('node:fs');
const { remoteSpawn } = require('../..');
const { startServer, exited } = require('./server');
const { tempDir } = require('./tmp');
const { run } = require('./run');
const {
  fdCount, fdTable, describeFdDiff, allProcesses, zombieChildren, pollUntil,
} = require('./proc');

/**
 * True when, against the baseline table, fds were only closed: none was
 * opened or reused for something else, so a count below the baseline is no
 * leak of the test that just ran.
 */
function onlyClosedSince(baselineTable, pid) {
  if (baselineTable === null) return false;
  const now = fdTable(pid);
  if (now.size >= baselineTable.size) return false;
  for (const [fd, target] of now) if (baselineTable.get(fd) !== target) return false;
  return true;
}

function useServer(startOptions = {}) {
  const ctx = {
    server: undefined, clientBaseline: 0, serverBaseline: 0, clientTable: null, serverTable: null, problems: [],
  };

  before(async function () {
    this.timeout(20000);
    ctx.server = await startServer(startOptions);
    // Warm-up: one pipe spawn and one inherit-like spawn.
    const warm = await run(remoteSpawn('true', [], { connect: ctx.server.path }));
    if (warm.exitArgs === null || warm.exitArgs[0] !== 0) {
      throw new Error(`warm-up remoteSpawn('true') failed: ${JSON.stringify(warm.events)} ${warm.error && warm.error.stack}\n${ctx.server.output()}`);
    }
    await run(remoteSpawn('true', [], { connect: ctx.server.path, stdio: 'ignore' }));
    await pollUntil(() => allProcesses().every((p) => p.ppid !== ctx.server.pid), { timeout: 2000 });
    ctx.clientTable = fdTable(process.pid);
    ctx.clientBaseline = fdCount(process.pid);
    ctx.serverTable = fdTable(ctx.server.pid);
    ctx.serverBaseline = fdCount(ctx.server.pid);
  });

  afterEach(async function () {
    this.timeout(10000);
    const title = this.currentTest ? this.currentTest.fullTitle() : '?';
    const server = ctx.server;
    if (server === undefined) return;
    if (server.process.exitCode !== null || server.process.signalCode !== null) {
      ctx.problems.push(`${title}: the server process died (${server.process.exitCode ?? server.process.signalCode})\n${server.output()}`);
      return;
    }
    const children = await pollUntil(() => {
      const left = allProcesses().filter((p) => p.ppid === server.pid);
      return left.length === 0 ? [] : null;
    }, { timeout: 3000 });
    if (children === null) {
      const left = allProcesses().filter((p) => p.ppid === server.pid);
      ctx.problems.push(`${title}: server still has children: ${left.map((p) => `${p.pid} ${p.comm} ${p.state}`).join(', ')}`);
      for (const p of left) {
        try { process.kill(-p.pgid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    const zombies = zombieChildren(server.pid);
    if (zombies.length > 0) ctx.problems.push(`${title}: server has zombie children ${zombies.map((p) => p.pid).join(', ')}`);

    let client = fdCount(process.pid);
    await pollUntil(() => (client = fdCount(process.pid)) === ctx.clientBaseline, { timeout: 2000 });
    if (onlyClosedSince(ctx.clientTable, process.pid)) {
      // An fd counted in the baseline was closed since (a connection of the
      // setup, closed late): nothing was left open, the baseline is lower.
      ctx.clientBaseline = client;
      ctx.clientTable = fdTable(process.pid);
    } else if (client !== ctx.clientBaseline) {
      ctx.problems.push(`${title}: client fds ${ctx.clientBaseline} -> ${client}: ${describeFdDiff(ctx.clientTable, fdTable(process.pid))}`);
      ctx.clientBaseline = client; // report each leak once
      ctx.clientTable = fdTable(process.pid);
    }
    let serverFds = fdCount(server.pid);
    await pollUntil(() => (serverFds = fdCount(server.pid)) === ctx.serverBaseline, { timeout: 2000 });
    if (onlyClosedSince(ctx.serverTable, server.pid)) {
      ctx.serverBaseline = serverFds;
      ctx.serverTable = fdTable(server.pid);
    } else if (serverFds !== ctx.serverBaseline) {
      ctx.problems.push(`${title}: server fds ${ctx.serverBaseline} -> ${serverFds}: ${describeFdDiff(ctx.serverTable, fdTable(server.pid))}`);
      ctx.serverBaseline = serverFds;
      ctx.serverTable = fdTable(server.pid);
    }
  });

  after(async function () {
    this.timeout(20000);
    if (ctx.server === undefined) return;
    const stopped = await ctx.server.stop();
    if (stopped.forced) ctx.problems.push(`server did not exit within 5 s of SIGTERM\n${ctx.server.output()}`);
    else if (stopped.code !== 0) ctx.problems.push(`server exited with ${stopped.code ?? stopped.signal} on SIGTERM\n${ctx.server.output()}`);
    if (ctx.problems.length > 0) throw new Error(`leak check failed:\n${ctx.problems.join('\n')}`);
  });

  return ctx;
}

/**
 * Only this process's fds: the count after each test must return to the one
 * before it (measured after `warmUp`, if given). For describe blocks that run
 * their own servers.
 */
function useFdCheck(warmUp) {
  const problems = [];
  let baseline = 0;
  let table = null;
  before(async function () {
    if (warmUp) await warmUp();
  });
  beforeEach(function () {
    baseline = fdCount(process.pid);
    table = fdTable(process.pid);
  });
  afterEach(async function () {
    let count = fdCount(process.pid);
    await pollUntil(() => (count = fdCount(process.pid)) === baseline, { timeout: 2000 });
    // An fd open before the test and closed during it (a connection of the
    // one before, closed late) is not a leak: nothing was left open.
    if (count !== baseline && !onlyClosedSince(table, process.pid)) {
      problems.push(`${this.currentTest.fullTitle()}: client fds ${baseline} -> ${count}: ${describeFdDiff(table, fdTable(process.pid))}`);
    }
  });
  after(function () {
    if (problems.length > 0) throw new Error(`leak check failed:\n${problems.join('\n')}`);
  });
}

/**
 * useServer() for tests that stop the server (SIGSTOP, as `docker pause`
 * freezes it): a fresh directory per test (ctx.dir), client processes to
 * SIGKILL after it (push them on ctx.clients), ctx.stopServer() and
 * ctx.resumeServer(). After each test the clients are killed and a server
 * still stopped is continued, before useServer()'s leak check.
 */
function useStoppableServer(startOptions) {
  let stopped = false;
  const clients = [];
  const extra = {
    dir: undefined,
    clients,
    stopServer() {
      ctx.server.process.kill('SIGSTOP');
      stopped = true;
    },
    resumeServer() {
      ctx.server.process.kill('SIGCONT');
      stopped = false;
    },
  };
  beforeEach(function () {
    extra.dir = tempDir();
  });
  // Registered before useServer()'s hooks, so that it runs before its leak check.
  afterEach(async function () {
    for (const client of clients.splice(0)) {
      client.kill('SIGKILL');
      await exited(client);
    }
    if (stopped) extra.resumeServer();
    fs.rmSync(extra.dir, { recursive: true, force: true });
  });
  const ctx = Object.assign(useServer(startOptions), extra);
  // The server's own hooks read ctx.server; dir is per test: keep one object.
  Object.defineProperty(ctx, 'dir', { get: () => extra.dir, enumerable: true });
  return ctx;
}

module.exports = { useServer, useFdCheck, useStoppableServer };
