'use strict';
// Requests of clients that are gone. A server that stops for a while (docker
// pause, SIGSTOP, a long GC) finds, when it resumes, the whole requests of
// clients killed meanwhile, each followed by its end. It used to read the
// request, start the program, and only then read the end and kill it: in a
// review, one `touch` in five still ran. Now the server asks the connection
// whether its client hung up (poll POLLRDHUP) right before each spawn, and
// starts nothing for one that did.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { pingServer } = require('../../..');
const {
  useStoppableServer, fixture, readReport, pollUntil, exited, sleep,
} = require('../../helpers');

const CLIENTS = 10;

describe('security: requests of clients that are gone', function () {
  this.timeout(30000);
  const ctx = useStoppableServer();

  it(`${CLIENTS} clients SIGKILLed while the server was stopped: once it resumes, none of their programs starts, and it serves on`, async function () {
    const { server } = ctx;
    const spawnsBefore = server.events('spawn').length;
    const requestsBefore = server.events('request').length;
    ctx.stopServer();
    const touched = [];
    const reports = [];
    for (let i = 0; i < CLIENTS; i++) {
      touched.push(path.join(ctx.dir, `touched-${i}`));
      reports.push(path.join(ctx.dir, `report-${i}.jsonl`));
      const spec = {
        connect: server.path, command: 'touch', args: [touched[i]], options: { stdio: 'ignore' }, report: reports[i], reportReturn: true,
      };
      ctx.clients.push(childProcess.spawn(process.execPath, [fixture('client.js'), JSON.stringify(spec)], { stdio: 'ignore' }));
    }
    // remoteSpawn has returned in every client: each request is in the server's socket.
    const sent = await pollUntil(() => reports.every((file) => readReport(file).some((event) => event.event === 'returned')), { timeout: 15000, interval: 20 });
    expect(sent, 'not every client sent its request').to.equal(true);
    for (const client of ctx.clients.splice(0)) {
      client.kill('SIGKILL');
      await exited(client);
    }
    ctx.resumeServer();

    // Every request is read and judged (a 'request' event each), then the server answers.
    await server.waitEvent(() => server.events('request').length - requestsBefore >= CLIENTS, 10000);
    await pingServer(server.path);
    await sleep(200); // time for a program that did start to touch its file
    expect(server.events('spawn').length - spawnsBefore, 'programs started for clients that were gone').to.equal(0);
    expect(touched.filter((file) => fs.existsSync(file)), 'files touched').to.deep.equal([]);
    expect(server.alive).to.equal(true);
  });
});
