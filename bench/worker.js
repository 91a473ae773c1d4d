// One measuring process of `npm run bench`, started by bench/run.js:
//
//   node [--max-old-space-size=N] bench/worker.js SCENARIO JSON_PARAMS
//
// It writes one JSON line with its samples to fd 3 and exits. Scenarios:
//
//   latency     holds `heapMB` of touched memory (`kind`: JS heap or Buffers),
//               then alternates
//               child_process.spawn('true'), remoteSpawn('true') (default
//               startWait), remoteSpawn('true', { startWait: 0 }) and one
//               posix_spawn of the C floor, each from call to 'exit'; then
//               exec('echo hi') vs remoteExec('echo hi').
//   throughput  spawns of `true`, `inFlight` at a time, in alternating chunks
//               of `chunk`, at least `total` per side.
//   bytes       `bytes` from `head -c N /dev/zero` per run, runs alternating
//               local and remote: 'pipe' into this process, or 'inherit' into
//               this process's stdout (a pipe that run.js drains with cat).
//   servercost  starts up to `count` remote `sleep`s on a fresh server and
//               reads that server's RSS and fd count.
//   sync        holds `heapMB` of Buffers, then alternates spawnSync('true')
//               and remoteSpawnSync('true'), then execSync('echo hi') and
//               remoteExecSync('echo hi'), each call timed whole.
//   containment alternates remoteSpawn('true') against two servers, one per
//               containment mode (`sockets`: { none, auto }), each from call
//               to 'exit'.
//   register    loads the register preload (routing `make` only), then
//               alternates the original child_process.spawn('true') and the
//               preload's spawn('true'), which decides it local; and times
//               the decision alone, on a function that does nothing.
'use strict';

const fs = require('node:fs');
const childProcess = require('node:child_process');
const { remoteSpawn, remoteExec, remoteSpawnSync, remoteExecSync } = require('..');
const { nowNs, startWatchdog, rssBytes, fdCount, openFileLimit, sleep, timeSpawn, runBatch } = require('./lib');

const RESULT_FD = 3;

function finish(result) {
  fs.writeSync(RESULT_FD, `${JSON.stringify(result)}\n`);
  process.exit(0);
}

function fail(error) {
  try {
    fs.writeSync(RESULT_FD, `${JSON.stringify({ error: String(error && error.stack || error) })}\n`);
  } finally {
    process.exit(1);
  }
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
startWatchdog(() => process.exit(3));

// ---- heap ------------------------------------------------------------------

/**
 * Allocates and touches `mb` MiB that this process then holds, of one kind:
 *
 *   'js'     JS heap: arrays of 131072 doubles (1 MiB each, FixedDoubleArray,
 *            which the GC does not scan element by element). V8 maps its heap
 *            with MADV_DONTFORK ("dc" in /proc/PID/smaps), so fork() does not
 *            copy its page tables: it costs child_process.spawn little.
 *   'buffer' Buffers (off the V8 heap, malloc'd, 1 MiB each): file contents,
 *            source maps, native modules' memory... fork() copies their page
 *            tables, which is what makes spawning from a big process slow.
 */
function holdMemory(kind, mb) {
  const keep = [];
  for (let k = 0; k < mb; k++) {
    if (kind === 'buffer') {
      const b = Buffer.allocUnsafeSlow(1 << 20);
      b.fill(k & 0xff);
      keep.push(b);
    } else {
      const per = 1 << 17;
      const a = new Array(per).fill(0.5);
      for (let i = 0; i < per; i += 512) a[i] = k + i + 0.25; // distinct values, every page written
      keep.push(a);
    }
  }
  globalThis.benchHeld = keep;
  return keep;
}

// ---- one measured spawn ------------------------------------------------------

function timeExec(run) {
  return new Promise((resolve, reject) => {
    const t0 = nowNs();
    run((error, stdout) => {
      const elapsed = nowNs() - t0;
      if (error) return reject(error);
      if (stdout !== 'hi\n') return reject(new Error(`unexpected output ${JSON.stringify(stdout)}`));
      resolve(elapsed);
    });
  });
}

/** The C floor in `serve` mode: one posix_spawn+waitpid of `true` per request, timed inside C. */
function startFloor(path) {
  const floor = childProcess.spawn(path, ['serve', 'true'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buffered = '';
  let waiting = null;
  floor.stdout.setEncoding('utf8');
  floor.stdout.on('data', (text) => {
    buffered += text;
    let nl;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiting;
      waiting = null;
      if (w) w.resolve(Number(line));
    }
  });
  floor.on('exit', (code) => {
    if (waiting) waiting.reject(new Error(`floor program exited with ${code}`));
  });
  return {
    once() {
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        floor.stdin.write('x');
      });
    },
    stop() {
      floor.stdin.end();
    },
  };
}

// ---- scenarios ---------------------------------------------------------------

async function latency(p) {
  const allocStart = nowNs();
  holdMemory(p.kind, p.heapMB);
  const allocMs = (nowNs() - allocStart) / 1e6;
  const mem = process.memoryUsage();
  const floor = p.floorPath ? startFloor(p.floorPath) : null;

  const sides = {
    local: () => childProcess.spawn('true'),
    remote: () => remoteSpawn('true', [], { connect: p.socket }),
    remote0: () => remoteSpawn('true', [], { connect: p.socket, startWait: 0 }),
  };
  const names = Object.keys(sides);
  const exit = { local: [], remote: [], remote0: [], floor: [] };
  const sync = { local: [], remote: [], remote0: [] };

  for (let i = 0; i < p.warmup; i++) {
    for (const name of names) await timeSpawn(sides[name]);
    if (floor) await floor.once();
  }
  const started = Date.now();
  for (let i = 0; i < p.maxIters && (i < p.minIters || Date.now() - started < p.budgetMs); i++) {
    for (const name of names) {
      const t = await timeSpawn(sides[name]);
      exit[name].push(t.exit);
      sync[name].push(t.sync);
    }
    if (floor) exit.floor.push(await floor.once());
  }
  floor?.stop();

  const execSides = {
    local: (cb) => childProcess.exec('echo hi', cb),
    remote: (cb) => remoteExec('echo hi', { connect: p.socket }, cb),
  };
  const exec = { local: [], remote: [] };
  for (let i = 0; i < p.warmup; i++) {
    for (const name of Object.keys(execSides)) await timeExec(execSides[name]);
  }
  const execStarted = Date.now();
  for (let i = 0; i < p.execMaxIters && (i < p.execMinIters || Date.now() - execStarted < p.execBudgetMs); i++) {
    for (const name of Object.keys(execSides)) exec[name].push(await timeExec(execSides[name]));
  }
  const after = process.memoryUsage();
  finish({
    kind: p.kind, heapMB: p.heapMB, allocMs, heldChunks: globalThis.benchHeld.length,
    heapUsed: mem.heapUsed, rss: mem.rss, rssAfter: after.rss, heapUsedAfter: after.heapUsed,
    exit, sync, exec,
  });
}


async function throughput(p) {
  const sides = {
    local: () => childProcess.spawn('true'),
    remote: () => remoteSpawn('true', [], { connect: p.socket }),
    remote0: () => remoteSpawn('true', [], { connect: p.socket, startWait: 0 }),
  };
  const rate = { local: [], remote: [], remote0: [] };
  for (const name of Object.keys(sides)) await runBatch(sides[name], p.warmupTotal, p.inFlight);
  // Chunks of A, B, C (each `chunk` spawns, `inFlight` at a time) until every
  // side has done `total`, then more while the budget lasts; short chunks
  // keep each pair close in time on a machine whose load changes.
  const minChunks = Math.ceil(p.total / p.chunk);
  const started = Date.now();
  let roundMs = 0;
  for (let r = 0; r < p.maxChunks; r++) {
    const elapsed = Date.now() - started;
    if (r > 0 && elapsed + roundMs > p.budgetMs && (r >= minChunks || elapsed + roundMs > p.budgetMs * 1.5)) break;
    const roundStart = Date.now();
    for (const name of Object.keys(sides)) {
      const ns = await runBatch(sides[name], p.chunk, p.inFlight);
      rate[name].push(p.chunk / (ns / 1e9));
    }
    roundMs = Date.now() - roundStart;
  }
  finish({ rate, chunk: p.chunk, spawnsPerSide: rate.local.length * p.chunk, inFlight: p.inFlight });
}

function timeBytes(make, bytes, counted) {
  return new Promise((resolve, reject) => {
    const t0 = nowNs();
    const child = make();
    let got = 0;
    let elapsed = 0;
    if (counted) child.stdout.on('data', (chunk) => { got += chunk.length; });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      elapsed = nowNs() - t0;
      if (code !== 0) reject(new Error(`head ended with ${code ?? signal}`));
    });
    child.on('close', () => {
      // 'pipe': the consumer has every byte at 'close'; 'inherit': at 'exit' the writer is done.
      if (counted) {
        elapsed = nowNs() - t0;
        if (got !== bytes) return reject(new Error(`received ${got} bytes of ${bytes}`));
      }
      resolve(bytes / (elapsed / 1e9));
    });
  });
}

async function bytes(p) {
  const args = ['-c', String(p.bytes), '/dev/zero'];
  const stdio = p.mode === 'pipe' ? ['ignore', 'pipe', 'inherit'] : ['ignore', 'inherit', 'inherit'];
  const sides = {
    local: () => childProcess.spawn('head', args, { stdio }),
    remote: () => remoteSpawn('head', args, { connect: p.socket, stdio }),
  };
  const counted = p.mode === 'pipe';
  const rate = { local: [], remote: [] };
  const warm = ['-c', String(Math.min(p.bytes, 16 << 20)), '/dev/zero'];
  await timeBytes(() => childProcess.spawn('head', warm, { stdio }), Number(warm[1]), counted);
  await timeBytes(() => remoteSpawn('head', warm, { connect: p.socket, stdio }), Number(warm[1]), counted);
  const started = Date.now();
  for (let r = 0; r < p.maxRounds && (r < p.minRounds || Date.now() - started < p.budgetMs); r++) {
    for (const name of Object.keys(sides)) rate[name].push(await timeBytes(sides[name], p.bytes, counted));
  }
  finish({ rate, bytes: p.bytes, mode: p.mode });
}

function startSleeps(n, p, into) {
  const spawned = [];
  for (let i = 0; i < n; i++) {
    const child = remoteSpawn('sleep', [String(p.sleepSeconds)], { connect: p.socket, stdio: 'ignore', startWait: 0 });
    into.push(child);
    spawned.push(new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    }));
  }
  return Promise.all(spawned);
}

async function servercost(p) {
  const server = p.serverPid;
  const children = [];
  const ended = [];
  const track = (child) => ended.push(new Promise((resolve) => child.once('exit', resolve)));
  try {
    // Warm the server (lazy initialisation, JIT) so that idle is its steady state.
    for (let i = 0; i < 20; i++) await timeSpawn(() => remoteSpawn('true', [], { connect: p.socket }));
    await sleep(200);
    const idle = { rss: rssBytes(server), fds: fdCount(server) };

    // A few first, to learn the fds each program costs and size the rest to the limits.
    const probe = 10;
    await startSleeps(probe, p, children);
    await sleep(100);
    const perProgram = Math.max(1, (fdCount(server) - idle.fds) / probe);
    const serverLimit = openFileLimit(server);
    const ownLimit = openFileLimit(process.pid);
    const ownFds = fdCount(process.pid);
    const fitServer = Math.floor((serverLimit - idle.fds - 64) / perProgram);
    const fitClient = ownLimit - ownFds - 64;
    const count = Math.max(probe, Math.min(p.count, fitServer, fitClient));

    const t0 = nowNs();
    await startSleeps(count - probe, p, children);
    const startSeconds = (nowNs() - t0) / 1e9;
    for (const child of children) track(child);
    await sleep(300);
    const holding = { rss: rssBytes(server), fds: fdCount(server) };

    for (const child of children) child.kill('SIGKILL');
    await Promise.all(ended);
    await sleep(300);
    const after = { rss: rssBytes(server), fds: fdCount(server) };
    finish({
      requested: p.count, count, serverLimit, ownLimit, idle, holding, after,
      startRate: (count - probe) / startSeconds,
      rssPerProgram: (holding.rss - idle.rss) / count,
      fdsPerProgram: (holding.fds - idle.fds) / count,
    });
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Alternates the calls of `sides` (each returns true when it did what it should) for `budgetMs`; ns per call. */
function alternateSync(sides, p, budgetMs) {
  const times = Object.fromEntries(Object.keys(sides).map((name) => [name, []]));
  const once = (name) => {
    const t0 = nowNs();
    const ok = sides[name]();
    const elapsed = nowNs() - t0;
    if (!ok) throw new Error(`${name} sync call failed`);
    return elapsed;
  };
  for (let i = 0; i < p.warmup; i++) for (const name of Object.keys(sides)) once(name);
  const started = Date.now();
  for (let i = 0; i < p.maxIters && (i < p.minIters || Date.now() - started < budgetMs); i++) {
    for (const name of Object.keys(sides)) times[name].push(once(name));
  }
  return times;
}

async function sync(p) {
  holdMemory('buffer', p.heapMB);
  const mem = process.memoryUsage();
  const spawn = alternateSync({
    local: () => childProcess.spawnSync('true').status === 0,
    remote: () => remoteSpawnSync('true', { connect: p.socket }).status === 0,
  }, p, p.budgetMs);
  const exec = alternateSync({
    local: () => childProcess.execSync('echo hi', { encoding: 'utf8' }) === 'hi\n',
    remote: () => remoteExecSync('echo hi', { connect: p.socket, encoding: 'utf8' }) === 'hi\n',
  }, p, p.budgetMs);
  finish({ heapMB: p.heapMB, rss: mem.rss, spawn, exec });
}


async function register(p) {
  const original = childProcess.spawn;
  process.env.SIDECAR_SOCKET = p.socket;
  process.env.SIDECAR_COMMANDS = 'make';
  require('../dist/register/index.js');
  const wrapped = childProcess.spawn;
  if (wrapped === original) throw new Error('the register preload did not wrap spawn');
  const sides = { plain: () => original('true'), register: () => wrapped('true') };
  const exit = { plain: [], register: [] };
  for (let i = 0; i < p.warmup; i++) for (const make of Object.values(sides)) await timeSpawn(make);
  const started = Date.now();
  for (let i = 0; i < p.maxIters && (i < p.minIters || Date.now() - started < p.budgetMs); i++) {
    for (const [name, make] of Object.entries(sides)) exit[name].push((await timeSpawn(make)).exit);
  }
  // The decision alone: the same wrapper around a function that returns at once.
  const { ROUTES, wrapFunction } = require('../dist/register/routes.js');
  const { readConfig } = require('../dist/register/config.js');
  const noop = () => null;
  const decided = wrapFunction(ROUTES.find((route) => route.name === 'spawn'), noop, readConfig(process.env).config);
  const calls = 200_000;
  const decision = [];
  for (let round = 0; round < 5; round++) {
    let t0 = nowNs();
    for (let i = 0; i < calls; i++) noop('true', ['x'], { stdio: 'ignore' });
    const bare = nowNs() - t0;
    t0 = nowNs();
    for (let i = 0; i < calls; i++) decided('true', ['x'], { stdio: 'ignore' });
    decision.push(Math.max(0, nowNs() - t0 - bare) / calls);
  }
  finish({ exit, decision });
}

/**
 * The same remote spawn against servers that differ only in their
 * containment, in pairs whose order alternates (none first, then auto first),
 * so that neither side always runs on the heels of the other.
 */
async function containment(p) {
  const modes = Object.keys(p.sockets);
  const spawnOn = (mode) => () => remoteSpawn('true', [], { connect: p.sockets[mode] });
  const exit = Object.fromEntries(modes.map((mode) => [mode, []]));
  for (let i = 0; i < p.warmup; i++) for (const mode of modes) await timeSpawn(spawnOn(mode));
  const started = Date.now();
  for (let i = 0; i < p.maxIters && (i < p.minIters || Date.now() - started < p.budgetMs); i++) {
    for (const mode of i % 2 === 0 ? modes : [...modes].reverse()) exit[mode].push((await timeSpawn(spawnOn(mode))).exit);
  }
  finish({ exit });
}

const scenarios = { latency, throughput, bytes, servercost, sync, register, containment };
const [scenario, json] = process.argv.slice(2);
if (!scenarios[scenario]) fail(new Error(`unknown scenario ${scenario}`));
scenarios[scenario](JSON.parse(json)).catch(fail);
