'use strict';
// What a running program costs the server. Each one used to keep its decoded
// request (argv, the environment as strings, as a Map and as strings again):
// 300 programs with 1.9 MB requests took the server from 50 to 715 MB. A
// running program now keeps only what its events report.

const { expect } = require('chai');
const { remoteSpawn } = require('../../..');
const { useServers, pollUntil } = require('../../helpers');

const PROGRAMS = 40;
const ENV_BYTES = 1024 * 1024;

describe('security: memory held for running programs', function () {
  this.timeout(60000);
  const servers = useServers();

  it(`${PROGRAMS} programs started with 1 MiB environments each hold well under 1 MiB of the server's heap apiece`, async function () {
    const server = await servers.start({ nodeOptions: ['--expose-gc'], serverOptions: { report: false } });
    await server.stats();
    const before = server.memory.heapUsed;
    // Ten variables of 100 KiB: the kernel takes no single string over 128 KiB.
    const env = { PATH: '/usr/bin:/bin' };
    for (let i = 0; i < 10; i++) env[`BIG${i}`] = String(i).repeat(ENV_BYTES / 10);
    const children = [];
    for (let i = 0; i < PROGRAMS; i++) {
      const child = remoteSpawn('sleep', ['30'], { connect: server.path, env, stdio: 'ignore' });
      await new Promise((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      children.push(child);
    }
    const stats = await server.stats();
    expect(stats.running).to.equal(PROGRAMS);
    const held = server.memory.heapUsed - before; // after a full GC: what the server retains
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map((child) => (child.exitCode !== null || child.signalCode !== null ? null : new Promise((resolve) => child.once('close', resolve)))));
    await pollUntil(async () => (await server.stats()).running === 0, { timeout: 5000 });
    // Kept requests were three copies of each environment: over 120 MiB here.
    expect(held, `the server holds ${(held / 1048576).toFixed(1)} MiB of heap for ${PROGRAMS} running programs`).to.be.below(PROGRAMS * ENV_BYTES / 4);
  });
});
