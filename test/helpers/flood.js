'use strict';
// Floods of connections for the security and chaos tests:
//
//   startHog(path, spec, uid)   test/fixtures/hog-client.js (as `uid` through
//                               setpriv when given): keeps connections open
//                               that send nothing or partial requests;
//                               resolves once it holds them, with stop()
//   useHogs()                   inside describe(): kills hogs a test left
//                               running, after each test (register it before
//                               useServers(), so that they are gone before the
//                               servers' leak check)
//   probeWhile(path)            an allowed client pinging and spawning every
//                               100 ms until stop(): the slowest answers and
//                               the failures
//   waitFor(asyncCheck)         pollUntil for a check that awaits
//   rss(pid)                    resident memory of a process, in bytes

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { pingServer, remoteSpawn } = require('../..');
const { asUser, otherUidFixture } = require('./users');
const { run } = require('./run');
const { pollUntil, sleep } = require('./proc');

const NODE = process.execPath;
const HOG = path.join(__dirname, '..', 'fixtures', 'hog-client.js');
/** Hogs still running. */
const hogs = new Set();

/** Resident set size of a process, in bytes. */
function rss(pid) {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

/** Resolves true once the async `check` is true, false after `timeout` ms. */
async function waitFor(check, timeout = 3000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(20);
  }
  return false;
}

/**
 * Starts test/fixtures/hog-client.js (as `uid` when given) against
 * socketPath; resolves once it holds its first round of connections, with
 * { holding, stop() } where stop() ends it and resolves with its summary.
 */
async function startHog(socketPath, spec, uid) {
  const argv = uid === undefined
    ? [NODE, HOG, socketPath, JSON.stringify(spec)]
    : [...asUser(uid), NODE, otherUidFixture('hog-client.js'), socketPath, JSON.stringify(spec)];
  const child = childProcess.spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  hogs.add(child);
  exited.then(() => hogs.delete(child));
  const lineOf = (name) => stdout.split('\n').filter(Boolean).map((text) => JSON.parse(text)).find((line) => line.event === name);
  const holding = await pollUntil(() => lineOf('holding') ?? (child.exitCode !== null ? 'exited' : undefined), { timeout: 30000, interval: 20 });
  if (holding === undefined || holding === 'exited') {
    child.kill('SIGKILL');
    throw new Error(`the hog did not start holding: ${stdout} ${stderr}`);
  }
  return {
    holding,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
      const done = lineOf('done');
      if (done === undefined) throw new Error(`the hog did not report: ${stdout} ${stderr}`);
      return done;
    },
  };
}

/**
 * Every `interval` ms until stopped, an allowed client pings the server and
 * runs `true`: resolves (on stop()) with the slowest of each and the
 * failures, so that a test can say the server kept serving throughout.
 */
function probeWhile(socketPath, interval = 100) {
  const slowest = { ping: 0, spawn: 0 };
  const failures = [];
  let rounds = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      try {
        await pingServer(socketPath);
      } catch (error) {
        failures.push(`ping: ${error.code} ${error.message}`);
      }
      const pinged = Date.now();
      slowest.ping = Math.max(slowest.ping, pinged - started);
      const result = await run(remoteSpawn('true', [], { connect: socketPath, cwd: '/' }), { timeout: 5000 });
      if (result.error !== null || result.timedOut) failures.push(`spawn: ${result.timedOut ? 'no answer in 5 s' : `${result.error.code} ${result.error.message}`}`);
      slowest.spawn = Math.max(slowest.spawn, Date.now() - pinged);
      rounds++;
      await sleep(interval);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { slowest, failures, rounds };
    },
  };
}

function useHogs() {
  afterEach(async function () {
    for (const child of hogs) child.kill('SIGKILL');
    await pollUntil(() => hogs.size === 0, { timeout: 5000 });
  });
}

module.exports = { startHog, useHogs, probeWhile, waitFor, rss };
