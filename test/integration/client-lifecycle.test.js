'use strict';
// What happens to remote programs when their client process goes away, and
// the O_NONBLOCK pitfall of fds handed over by a Node process.

const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  useServer, fixture, tempDir, readReport, exited, processGroup, isAlive, pollUntil, sleep, sha256, sha256File, firstLine,
} = require('../helpers');

const O_NONBLOCK = 0o4000;

/** Starts test/fixtures/client.js with a spec; its stdout and stderr are pipes to us. */
function startClient(spec) {
  return childProcess.spawn(process.execPath, [fixture('client.js'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
}


describe('client lifecycle', function () {
  let dir;
  const leftovers = [];

  beforeEach(function () {
    dir = tempDir();
  });

  afterEach(function () {
    for (const pgid of leftovers.splice(0)) {
      try { process.kill(-pgid, 'SIGKILL'); } catch { /* already gone, as it should be */ }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // After the hooks above, so that its leak check runs once they cleaned up.
  const ctx = useServer();

  it('a client SIGKILLed mid-run: the whole remote process group is gone within a second', async function () {
    const report = path.join(dir, 'report');
    const client = startClient({ connect: ctx.server.path, report, command: fixture('grandchild.sh') });
    let clientStderr = '';
    client.stderr.on('data', (chunk) => { clientStderr += chunk; });
    const [shell, grandchild] = (await firstLine(client.stdout)).split(' ').map(Number);
    leftovers.push(shell);
    // The program's output can reach us before the client has handled 'spawn'.
    const spawnLine = await pollUntil(() => readReport(report).find((line) => line.event === 'spawn'), { timeout: 5000 });
    expect(spawnLine, clientStderr).to.deep.equal({ event: 'spawn', pid: shell });

    // The program and its grandchild run in their own process group (not the client's, not the server's).
    const group = processGroup(shell).filter((p) => p.state !== 'Z').map((p) => p.pid).sort();
    expect(group).to.deep.equal([shell, grandchild].sort());
    expect(processGroup(shell).every((p) => p.pgid !== client.pid && p.pgid !== ctx.server.pid)).to.equal(true);

    client.kill('SIGKILL');
    expect(await exited(client)).to.deep.equal({ code: null, signal: 'SIGKILL' });
    const gone = await pollUntil(() => processGroup(shell).every((p) => p.state === 'Z' && p.pid !== shell), { timeout: 1000 });
    const left = processGroup(shell).map((p) => `${p.pid} ${p.comm} ${p.state}`);
    expect(gone, `process group ${shell} still has: ${left.join(', ')}`).to.equal(true);
    client.stdout.destroy();
    client.stderr.destroy();
  });

  it('unref() lets the client exit while the program runs; the server then kills the program', async function () {
    const report = path.join(dir, 'report');
    const client = startClient({
      connect: ctx.server.path, report, command: 'sleep', args: ['30'], options: { stdio: 'ignore' }, unrefOnSpawn: true,
    });
    let clientStderr = '';
    client.stderr.on('data', (chunk) => { clientStderr += chunk; });
    const timer = setTimeout(() => client.kill('SIGKILL'), 10000);
    const status = await exited(client);
    clearTimeout(timer);
    const lines = readReport(report);
    const spawned = lines.find((line) => line.event === 'spawn');
    expect(spawned, `${JSON.stringify(lines)} ${clientStderr}`).to.be.an('object');
    leftovers.push(spawned.pid);
    expect(status, 'the client did not exit on its own within 10 s').to.deep.equal({ code: 0, signal: null });
    // It exited without waiting for the program: no 'exit' was seen.
    expect(lines.map((line) => line.event)).to.deep.equal(['start', 'spawn', 'process-exit']);
    const killed = await pollUntil(() => !isAlive(spawned.pid), { timeout: 1000 });
    expect(killed, `remote sleep ${spawned.pid} still runs after its client left`).to.equal(true);
  });

  it('O_NONBLOCK pitfall: inherit a Node stdout pipe, cat a big file, slow reader: complete, no EAGAIN', async function () {
    this.timeout(30000);
    const big = path.join(dir, 'big');
    fs.writeFileSync(big, crypto.randomBytes(8 * 1024 * 1024));
    const report = path.join(dir, 'report');
    const client = startClient({ connect: ctx.server.path, report, command: 'cat', args: [big], touchStdout: true });
    let clientStderr = '';
    client.stderr.on('data', (chunk) => { clientStderr += chunk; });
    // A slow reader: nothing for 300 ms (the pipe fills up), then small sips.
    client.stdout.pause();
    await sleep(300);
    const chunks = [];
    let count = 0;
    for await (const chunk of client.stdout) {
      chunks.push(chunk);
      if (++count % 8 === 0) await sleep(5);
    }
    const status = await exited(client);
    const lines = readReport(report);
    const start = lines.find((line) => line.event === 'start');
    // The pitfall is really set up: the client's stdout pipe is non-blocking.
    expect(start.stdoutFlags & O_NONBLOCK, 'the client\'s stdout is not O_NONBLOCK: the test does not test anything').to.not.equal(0);
    expect(clientStderr).to.not.match(/Resource temporarily unavailable|EAGAIN/);
    expect(clientStderr).to.equal('');
    expect(lines.find((line) => line.event === 'exit')).to.deep.equal({ event: 'exit', code: 0, signal: null });
    expect(status).to.deep.equal({ code: 0, signal: null });
    const output = Buffer.concat(chunks);
    expect(output.length).to.equal(8 * 1024 * 1024);
    expect(sha256(output)).to.equal(sha256File(big));
  });
});
