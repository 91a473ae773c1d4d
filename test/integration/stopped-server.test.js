'use strict';
// Every wait for a server is interruptible and bounded. The server here is
// stopped (SIGSTOP, as `docker pause` freezes it): it accepts nothing and
// answers nothing. Before, `timeout 2 sidecar-client ...` and
// `timeout 2 sidecar exec ...` turned SIGTERM into a record for a program
// that did not exist and waited on, the SDK's `timeout` never fired an event
// and kill() returned true without effect. Now each gives the request up at
// once; the server, once continued, starts nothing for it.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn, pingServer } = require('../..');
const {
  useStoppableServer, pollUntil, exited, sleep,
} = require('../helpers');

const ROOT = path.join(__dirname, '..', '..');
const CLIENT = path.join(ROOT, 'build', 'Release', 'sidecar-client');
const CLI = path.join(ROOT, 'dist', 'cli', 'sidecar.js');

/** Every event of a child until 'close', as [name, ...args], with the ms from `since` to 'close'. */
function recordEvents(child, since = Date.now()) {
  const events = [];
  for (const name of ['spawn', 'error', 'exit']) {
    child.on(name, (...args) => events.push([name, ...args.map((arg) => (arg instanceof Error ? `${arg.name}:${arg.code}` : arg))]));
  }
  return new Promise((resolve) => {
    child.on('close', (...args) => {
      events.push(['close', ...args]);
      resolve({ events, ms: Date.now() - since });
    });
  });
}

/** How many sockets the process holds (its stderr here is one; its connection to the server another). */
function socketCount(pid) {
  let count = 0;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) count++;
      } catch { /* closed meanwhile */ }
    }
  } catch { /* gone */ }
  return count;
}

/**
 * Spawns argv with stderr piped; `ended` resolves { code, signal, stderr, ms }
 * at its exit. Not at 'close': the request it gave up still holds a copy of
 * its stderr in the stopped server's socket.
 */
function spawnClient(argv) {
  const started = Date.now();
  const child = childProcess.spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const ended = new Promise((resolve) => {
    child.on('exit', async (code, signal) => {
      const ms = Date.now() - started;
      // What it wrote before exiting is in the pipe already.
      await pollUntil(() => stderr.endsWith('\n'), { timeout: 2000 });
      resolve({ code, signal, stderr, ms });
    });
  });
  return { child, ended };
}

describe('a stopped server: every wait is interruptible and bounded', function () {
  this.timeout(30000);
  const ctx = useStoppableServer();
  const { clients } = ctx;
  const stopServer = () => ctx.stopServer();

  /** Continues the server and checks that no program started for what was given up. */
  async function resumeAndCheck(marker, spawnsBefore) {
    ctx.resumeServer();
    await pingServer(ctx.server.path); // it has read everything sent before
    await sleep(200); // time for a program that did start to touch its file
    expect(ctx.server.events('spawn').length - spawnsBefore, 'programs started for requests given up').to.equal(0);
    expect(fs.existsSync(marker), 'the program ran').to.equal(false);
  }

  for (const [name, argv] of [
    ['sidecar-client', (sock, marker) => [CLIENT, '--connect', sock, '--', 'touch', marker]],
    ['sidecar exec', (sock, marker) => [process.execPath, CLI, 'exec', '--connect', sock, '--', 'touch', marker]],
  ]) {
    it(`timeout 2 ${name}: ends through SIGTERM within 3 s, exit 143, one line; nothing starts after SIGCONT`, async function () {
      const marker = path.join(ctx.dir, 'touched');
      const spawnsBefore = ctx.server.events('spawn').length;
      stopServer();
      const { child, ended } = spawnClient(['timeout', '--preserve-status', '2', ...argv(ctx.server.path, marker)]);
      clients.push(child);
      const result = await ended;
      expect(result.code, result.stderr).to.equal(143);
      expect(result.ms, 'the client waited on after SIGTERM').to.be.below(3000);
      expect(result.stderr).to.equal('sidecar: touch: interrupted by SIGTERM before it started; the request was given up\n');
      await resumeAndCheck(marker, spawnsBefore);
    });

    for (const signal of ['SIGINT', 'SIGHUP']) {
      it(`${name}: ${signal} before the start gives up with 128+N`, async function () {
        const marker = path.join(ctx.dir, 'touched');
        const spawnsBefore = ctx.server.events('spawn').length;
        stopServer();
        const { child, ended } = spawnClient(argv(ctx.server.path, marker));
        clients.push(child);
        // Once it is connected (a second socket besides its stderr), the signal comes while it waits.
        const connected = await pollUntil(() => socketCount(child.pid) >= 2, { timeout: 10000, interval: 20 });
        expect(connected, 'the client never connected').to.equal(true);
        child.kill(signal);
        const { code, stderr } = await ended;
        expect(code, stderr).to.equal(128 + os.constants.signals[signal]);
        expect(stderr).to.equal(`sidecar: touch: interrupted by ${signal} before it started; the request was given up\n`);
        await resumeAndCheck(marker, spawnsBefore);
      });
    }

    it(`${name} --start-timeout 500: gives up with 124 and says so`, async function () {
      const marker = path.join(ctx.dir, 'touched');
      const spawnsBefore = ctx.server.events('spawn').length;
      stopServer();
      const [command, ...rest] = argv(ctx.server.path, marker);
      const at = rest.indexOf('--');
      const { child, ended } = spawnClient([command, ...rest.slice(0, at), '--start-timeout', '500', ...rest.slice(at)]);
      clients.push(child);
      const result = await ended;
      expect(result.code, result.stderr).to.equal(124);
      expect(result.ms).to.be.below(10000);
      expect(result.stderr).to.match(/^sidecar: .*did not answer within (--)?start-?[tT]imeout \(500 ms\)/);
      expect(result.stderr.split('\n').filter(Boolean)).to.have.length(1);
      await resumeAndCheck(marker, spawnsBefore);
    });
  }

  it('a native client SIGKILLed while it waits has nothing started for it after SIGCONT', async function () {
    const marker = path.join(ctx.dir, 'touched');
    const spawnsBefore = ctx.server.events('spawn').length;
    stopServer();
    const client = childProcess.spawn(CLIENT, ['--connect', ctx.server.path, '--', 'touch', marker], { stdio: 'ignore' });
    clients.push(client);
    expect(await pollUntil(() => socketCount(client.pid) >= 1, { timeout: 10000, interval: 20 })).to.equal(true);
    await sleep(100); // the request is sent right after the connect
    client.kill('SIGKILL');
    await exited(client);
    await resumeAndCheck(marker, spawnsBefore);
  });

  it('remoteSpawn with timeout: 1000 emits exit and close (null, SIGTERM) within 3 s, as child_process for a killed program', async function () {
    const local = childProcess.spawn('sleep', ['30'], { timeout: 1000 });
    const localEvents = recordEvents(local);
    const marker = path.join(ctx.dir, 'touched');
    const spawnsBefore = ctx.server.events('spawn').length;
    stopServer();
    const since = Date.now();
    const child = remoteSpawn('touch', [marker], { connect: ctx.server.path, timeout: 1000 });
    const remote = await recordEvents(child, since);
    expect(remote.ms).to.be.below(3000);
    // Without the 'spawn' child_process has (no program was seen here).
    expect(remote.events).to.deep.equal((await localEvents).events.filter(([event]) => event !== 'spawn'));
    expect(remote.events).to.deep.equal([['exit', null, 'SIGTERM'], ['close', null, 'SIGTERM']]);
    expect(child.killed).to.equal(local.killed).and.to.equal(true);
    expect(child.signalCode).to.equal('SIGTERM');
    expect(child.pid).to.equal(undefined);
    expect(child.exitReason).to.equal(null);
    expect(child.kill()).to.equal(false); // as child_process's once the child exited
    await resumeAndCheck(marker, spawnsBefore);
  });

  it('signal (AbortSignal) and kill() before the start: the events of child_process for a killed program', async function () {
    const scenarios = [
      ['abort', (child, controller) => controller.abort()],
      ['kill()', (child) => expect(child.kill()).to.equal(true)],
      ['kill(SIGKILL)', (child) => expect(child.kill('SIGKILL')).to.equal(true)],
    ];
    const marker = path.join(ctx.dir, 'touched');
    const spawnsBefore = ctx.server.events('spawn').length;
    for (const [label, act] of scenarios) {
      const localController = new AbortController();
      const local = childProcess.spawn('sleep', ['30'], { signal: localController.signal });
      const localEvents = recordEvents(local);
      await new Promise((resolve) => local.once('spawn', resolve));
      act(local, localController);
      const expected = (await localEvents).events.filter(([event]) => event !== 'spawn');

      if (label === scenarios[0][0]) stopServer();
      const controller = new AbortController();
      const child = remoteSpawn('touch', [marker], { connect: ctx.server.path, signal: controller.signal, stdio: 'pipe' });
      const remoteEvents = recordEvents(child);
      await sleep(100);
      act(child, controller);
      const remote = await remoteEvents;
      expect(remote.events, label).to.deep.equal(expected);
      expect(child.killed, label).to.equal(true);
      expect(child.pid, label).to.equal(undefined);
      expect(child.stdout.destroyed, `${label}: stdout left open`).to.equal(true);
    }
    await resumeAndCheck(marker, spawnsBefore);
  });

  it('startTimeout: ERR_SIDECAR_START_TIMEOUT, then close (-ETIMEDOUT, null); nothing starts after SIGCONT', async function () {
    const marker = path.join(ctx.dir, 'touched');
    const spawnsBefore = ctx.server.events('spawn').length;
    stopServer();
    const child = remoteSpawn('touch', [marker], { connect: ctx.server.path, startTimeout: 500 });
    let error;
    child.on('error', (e) => { error = e; });
    const { events, ms } = await recordEvents(child);
    expect(events).to.deep.equal([['error', 'SidecarError:ERR_SIDECAR_START_TIMEOUT'], ['close', -110, null]]);
    expect(ms).to.be.below(10000);
    expect(error.errno).to.equal(-110);
    expect(error.message).to.include('did not answer within startTimeout (500 ms)');
    await resumeAndCheck(marker, spawnsBefore);
  });

  it('startTimeout does not fire once the program started', async function () {
    const child = remoteSpawn('sleep', ['1'], { connect: ctx.server.path, startTimeout: 300, stdio: 'ignore' });
    const { events } = await recordEvents(child);
    expect(events).to.deep.equal([['spawn'], ['exit', 0, null], ['close', 0, null]]);
  });

  it('a server that answers after a SIGCONT still runs what was not given up', async function () {
    stopServer();
    const child = remoteSpawn('echo', ['late'], { connect: ctx.server.path, startTimeout: 20000 });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    const done = recordEvents(child);
    await sleep(300);
    ctx.resumeServer();
    const { events } = await done;
    expect(events).to.deep.equal([['spawn'], ['exit', 0, null], ['close', 0, null]]);
    expect(out).to.equal('late\n');
  });
});
