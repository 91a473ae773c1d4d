'use strict';
// child_process parity: every row of scenarios.js TABLE runs through
// node:child_process and through sidecar-exec against a real server in a
// separate process, and the two are compared field by field (harness.js).
// Differences that docs/differences.md lists are declared per row and
// asserted exactly; anything else that differs fails the row.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const { useServer, tempDir, otherUidReady } = require('../helpers');
const { runScenario, sides, captureUnprivileged } = require('./harness');
const { TABLE } = require('./scenarios');

const names = new Set();
for (const scenario of TABLE) {
  if (names.has(scenario.name)) throw new Error(`duplicate scenario name: ${scenario.name}`);
  names.add(scenario.name);
}

/** Resolves once a local child closed. */
const closed = (child) => new Promise((resolve) => child.on('close', resolve));

describe('child_process parity (test/conformance)', function () {
  this.timeout(30000);
  const env = { sides: undefined, dir: undefined, unprivileged: new Map() };
  const outcome = { passed: 0, failed: 0, pending: 0 };
  let unprivileged = 'not checked';
  let savedSocket;

  // Before useServer's hook takes the fd baselines: the first local spawn
  // creates libuv's process-wide signal handling (fds that stay).
  before(async function () {
    await closed(childProcess.spawn('true'));
    await new Promise((resolve) => childProcess.exec('true', resolve));
    unprivileged = otherUidReady();
  });

  // Registered before useServer(): runs before its leak check, which may throw.
  after(function () {
    if (savedSocket === undefined) delete process.env.SIDECAR_SOCKET;
    else process.env.SIDECAR_SOCKET = savedSocket;
    if (env.dir) fs.rmSync(env.dir, { recursive: true, force: true });
    console.log(`parity scenarios: ${TABLE.length}`);
    console.log(`  passed ${outcome.passed}, failed ${outcome.failed}, skipped ${outcome.pending}`);
  });

  // The server runs in another directory than the callers, as in another container: what is relative must be the caller's.
  const ctx = useServer({ cwd: '/' });

  before(function () {
    savedSocket = process.env.SIDECAR_SOCKET;
    // Both sides are called with the very same arguments: sidecar-exec finds
    // its server through SIDECAR_SOCKET.
    process.env.SIDECAR_SOCKET = ctx.server.path;
    env.sides = sides();
    env.dir = tempDir('sidecar-parity-');
  });

  afterEach(function () {
    const state = this.currentTest.state;
    if (state === 'passed') outcome.passed++;
    else if (state === 'failed') outcome.failed++;
    else outcome.pending++;
  });

  for (const scenario of TABLE) {
    // pid-timing is declared for every row (scenarios.js); the title names the others.
    const shown = (scenario.differences || []).filter((name) => !(name === 'pid-timing' && scenario.pidTimingImplicit));
    const title = shown.length > 0 ? `${scenario.name} [differs: ${shown.join(', ')}]` : scenario.name;
    it(title, async function () {
      if (scenario.needsSetpriv) {
        if (unprivileged !== true) {
          console.log(`    (skipped: ${unprivileged}, cannot capture child_process's error for an unprivileged caller: ${scenario.name})`);
          this.skip();
        }
        if (!env.unprivileged.has(scenario.name)) {
          env.unprivileged.set(scenario.name, captureUnprivileged(scenario.call, scenario.args));
        }
      }
      await runScenario(scenario, env);
    });
  }
});
