'use strict';
// child_process parity of the sync calls: every row of sync-scenarios.js runs
// through child_process's spawnSync/execSync/execFileSync and through
// sidecar-exec's against a real server in a separate process, and the two
// are compared field by field (sync-harness.js).

const fs = require('node:fs');
const { useServer, tempDir } = require('../helpers');
const { runSyncScenario, syncSides } = require('./sync-harness');
const { TABLE } = require('./sync-scenarios');

const names = new Set();
for (const scenario of TABLE) {
  if (names.has(scenario.name)) throw new Error(`duplicate sync scenario name: ${scenario.name}`);
  names.add(scenario.name);
}

describe('child_process parity of the sync calls (test/conformance)', function () {
  this.timeout(30000);
  const env = { sides: undefined, dir: undefined };
  const saved = { socket: undefined };

  // Registered before useServer(): runs before its leak check, which may throw.
  after(function () {
    Object.assign(process.env, saved.socket === undefined ? {} : { SIDECAR_SOCKET: saved.socket });
    if (saved.socket === undefined) delete process.env.SIDECAR_SOCKET;
    if (env.dir) fs.rmSync(env.dir, { recursive: true, force: true });
    console.log(`sync parity scenarios: ${TABLE.length}`);
  });

  // The server runs in another directory than the callers, as in another container.
  const ctx = useServer({ cwd: '/' });

  before(function () {
    saved.socket = process.env.SIDECAR_SOCKET;
    // Both sides get the very same arguments: sidecar-exec finds its server through SIDECAR_SOCKET.
    process.env.SIDECAR_SOCKET = ctx.server.path;
    env.sides = syncSides();
    env.dir = tempDir('sidecar-sync-parity-');
  });

  for (const scenario of TABLE) {
    const title = scenario.differences ? `${scenario.name} [differs: ${scenario.differences.join(', ')}]` : scenario.name;
    it(title, function () {
      runSyncScenario(scenario, env);
    });
  }
});
