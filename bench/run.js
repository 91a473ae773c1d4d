#!/usr/bin/env node
// `npm run bench`: sidecar-exec against child_process, s6-sudo and a C
// posix_spawn floor. Prints a table and writes bench/results.json; then
// `node bench/chart.js` draws docs/bench-latency.svg and the README section.
//
//   node bench/run.js [--quick] [--only=NAME[,NAME...]] [--out=FILE]
//
// NAMEs: floor, latency, throughput, bytes, shim, servercost, containment, register. --quick cuts
// every budget (for development; its figures are not the ones to publish).
// Environment: BENCH_BYTES (bytes per run of the bytes rows, default 256 MiB;
// each side moves at least 4 runs),
// BENCH_WITHOUT=cc,hyperfine,s6-sudo (act as if those were not installed),
// SIDECAR_BENCH_NATIVE_CLIENT (a shim client taking `sidecar exec`'s arguments),
// SIDECAR_BENCH_CONTAINMENT (the bench server's containment, default 'auto';
// the containment rows start their own two servers, 'none' and 'auto').
//
// Every figure is the median of many runs with min and max; every ratio is
// between two sides measured in the same process, alternately (A, B, A, B...).
// The callers that hold 50 MB, 500 MB and 1 GB (of JS heap, and of Buffers)
// are separate Node processes; the sidecar server is another, small, process. Peers that are
// not installed (cc, s6, hyperfine) are reported as skipped. Everything this
// starts is killed on the way out, and the helpers kill themselves if this
// process disappears (watchdog in lib.js; parent-death signal for s6-ipcserver
// and for the server's programs).
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const childProcess = require('node:child_process');
const { summarize, ratioOf, nowNs } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const WORKER = path.join(__dirname, 'worker.js');
const SERVER = path.join(__dirname, 'server.js');
const CLI = path.join(ROOT, 'dist', 'cli', 'sidecar.js');
const FLOOR_SOURCE = path.join(__dirname, 'posix-spawn-floor.c');
/**
 * The native shim client (native/client/sidecar-client.c), built with the
 * addon; it takes `sidecar exec`'s arguments. SIDECAR_BENCH_NATIVE_CLIENT
 * times another client instead.
 */
const NATIVE_CLIENT_CANDIDATES = [path.join(ROOT, 'build', 'Release', 'sidecar-client')];
// Past this, a section not yet started is skipped (timed()): room for every
// section on a busy 2-core machine, and `npm run bench` ends within 3 minutes.
const TOTAL_BUDGET_MS = 120_000;
const MIB = 1 << 20;

// ---- arguments ---------------------------------------------------------------

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const value = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = flag('quick');
const ONLY = value('only')?.split(',');
const OUT = path.resolve(value('out') ?? path.join(__dirname, 'results.json'));
const scale = QUICK ? 0.25 : 1;
const wanted = (name) => !ONLY || ONLY.includes(name);
const benchStart = Date.now();

function log(message) {
  process.stderr.write(`[${((Date.now() - benchStart) / 1000).toFixed(1).padStart(5)}s] ${message}\n`);
}

// ---- cleanup -------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-bench-'));
/** Every long-lived process we started. */
const started = new Set();

function kill(child, signal = 'SIGKILL') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill(signal);
  } catch {
    // gone already
  }
}

function cleanup() {
  for (const child of started) kill(child);
  started.clear();
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    process.exit(128 + os.constants.signals[signal]);
  });
}

const helperEnv = { ...process.env, BENCH_PARENT_PID: String(process.pid), BENCH_MAX_LIFETIME_MS: '180000' };

/**
 * Starts a helper in this process's session, deliberately: with the kernel's
 * autogroup scheduling (sched_autogroup_enabled), a helper in a session of
 * its own would be scheduled as a separate group, and a program of the
 * server's would then compete for the CPU differently from a local one (it
 * showed in the 'inherit' rows: up to 30% on a busy machine), which is the
 * scheduler, not sidecar-exec. Helpers die with us: we kill them on the way
 * out, and their watchdog (lib.js) ends them if we are killed.
 */
function startHelper(file, args, options = {}) {
  const child = childProcess.spawn(file, args, { env: helperEnv, ...options });
  started.add(child);
  child.on('exit', () => started.delete(child));
  return child;
}

// ---- peers ---------------------------------------------------------------------

/** Peers to treat as not installed (comma-separated), to try the fallbacks: BENCH_WITHOUT=cc,hyperfine,s6-sudo */
const WITHOUT = new Set((process.env.BENCH_WITHOUT ?? '').split(',').filter(Boolean));

function which(name) {
  if (WITHOUT.has(name) || (WITHOUT.has('cc') && ['gcc', 'clang'].includes(name))) return null;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir || '.', name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function versionOf(file, args = ['--version']) {
  const r = childProcess.spawnSync(file, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim() || null;
}

const skipped = [];
function skip(name, reason) {
  skipped.push({ name, reason });
  log(`skipped: ${name}: ${reason}`);
}

/** Compiles the C floor into the temporary directory; null (and a reason) without a compiler. */
function buildFloor() {
  const cc = which('cc') ?? which('gcc') ?? which('clang');
  if (!cc) {
    skip('C posix_spawn floor', 'no C compiler (cc, gcc or clang) on PATH');
    return null;
  }
  const out = path.join(tmp, 'posix-spawn-floor');
  const r = childProcess.spawnSync(cc, ['-O2', '-o', out, FLOOR_SOURCE], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    skip('C posix_spawn floor', `${cc} failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
    return null;
  }
  return out;
}

// ---- helpers' lifecycles -----------------------------------------------------------

/** Resolves once `child` printed a line matching `pattern` on stdout. */
function waitForLine(child, pattern, what, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      text += chunk;
      if (pattern.test(text)) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve(text);
      }
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code ?? signal}`));
    });
  });
}

/** A bench server (bench/server.js); `containment` overrides SIDECAR_BENCH_CONTAINMENT. */
async function startServer(name, containment) {
  const socket = path.join(tmp, `${name}.sock`);
  const env = containment ? { ...helperEnv, SIDECAR_BENCH_CONTAINMENT: containment } : helperEnv;
  const child = startHelper(process.execPath, [SERVER, socket], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const ready = await waitForLine(child, /^ready \d+ \S+\n/, 'the sidecar server');
  child.removeAllListeners('exit');
  child.on('exit', () => started.delete(child));
  return { socket, pid: child.pid, child, containment: ready.trim().split(' ')[2] };
}

async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  kill(child, 'SIGTERM');
  const timer = setTimeout(() => kill(child, 'SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs bench/worker.js SCENARIO in its own process and resolves its result.
 * `drain`: the worker's stdout is a pipe into `cat > /dev/null` (a shell pipeline).
 */
function runWorker(scenario, params, { heapMB = 0, drain = false, timeoutMs = 60_000 } = {}) {
  const nodeArgs = heapMB ? [`--max-old-space-size=${2 * heapMB + 1024}`] : [];
  const args = [...nodeArgs, WORKER, scenario, JSON.stringify(params)];
  const options = { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] };
  const child = drain
    ? startHelper('/bin/sh', ['-c', '"$@" | cat > /dev/null', 'sh', process.execPath, ...args], options)
    : startHelper(process.execPath, args, options);
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdio[3].setEncoding('utf8');
    child.stdio[3].on('data', (chunk) => { text += chunk; });
    const timer = setTimeout(() => {
      kill(child); // the worker's watchdog notices its parent shell is gone
      reject(new Error(`${scenario} took more than ${timeoutMs / 1000} s: stopped`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = text.trim().split('\n').pop();
      let result;
      try {
        result = JSON.parse(line);
      } catch {
        return reject(new Error(`${scenario} worker ended with ${code ?? signal} and no result`));
      }
      if (result.error) return reject(new Error(`${scenario} worker: ${result.error}`));
      resolve(result);
    });
  });
}

// ---- rows ----------------------------------------------------------------------

const rows = [];
const raw = {};

/**
 * One line of the table. `stats` are in `unit`; `ratio` compares this row to
 * `versus` (both measured alternately in one run); `target` is the one bench/performance.md states.
 */
function row(section, id, name, unit, stats, extra = {}) {
  const r = {
    section, id, name, unit,
    median: stats?.median ?? null, min: stats?.min ?? null, max: stats?.max ?? null,
    p25: stats?.p25 ?? null, p75: stats?.p75 ?? null, n: stats?.n ?? null, ...extra,
  };
  if (r.target && typeof r.ratio === 'number') {
    const { op, value: goal } = r.target;
    r.met = op === '<=' ? r.ratio <= goal : r.ratio >= goal;
    // How far off: the factor by which the ratio must still improve (1 = met exactly).
    r.miss = r.met ? null : (op === '<=' ? r.ratio / goal : goal / r.ratio);
  }
  rows.push(r);
  return r;
}

const scaleStats = (s, k) => ({ ...s, median: s.median * k, min: s.min * k, max: s.max * k, p25: s.p25 * k, p75: s.p75 * k, mean: s.mean * k });
const msStats = (ns) => scaleStats(summarize(ns), 1e-6);

function remainingMs() {
  return TOTAL_BUDGET_MS - (Date.now() - benchStart);
}

function timed(name) {
  if (remainingMs() < 8000) {
    skip(name, `the bench's ${TOTAL_BUDGET_MS / 1000} s budget is spent`);
    return false;
  }
  return true;
}

// ---- scenarios -------------------------------------------------------------------

async function floorScenario(floorPath) {
  if (!floorPath) return;
  log('C posix_spawn+waitpid floor, standalone');
  const n = Math.round(1000 * scale);
  const r = childProcess.spawnSync(floorPath, ['loop', String(n + 20), 'true'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`floor loop failed: ${r.stderr}`);
  const ns = r.stdout.trim().split('\n').map(Number).slice(20);
  raw.floor = { standalone: summarize(ns) };
  row('Floor: what any spawner can do here (C, no Node)', 'floor.standalone', `C posix_spawn+waitpid of true, ${n} in a row`, 'ms', msStats(ns));
}

/**
 * The callers: each holds this much touched memory, JS heap or Buffers (see
 * holdMemory in worker.js: V8's heap is not copied by fork, Buffers are).
 * Spawn budget in ms per caller; the exec loop gets 40% of it.
 */
const CALLERS = [
  { kind: 'js', mb: 50, budgetMs: 2500 },
  { kind: 'js', mb: 500, budgetMs: 2500 },
  { kind: 'js', mb: 1024, budgetMs: 3000 },
  { kind: 'buffer', mb: 50, budgetMs: 2000 },
  { kind: 'buffer', mb: 500, budgetMs: 3000 },
  { kind: 'buffer', mb: 1024, budgetMs: 3500 },
];
const callerKey = (c) => `${c.kind === 'js' ? 'js' : 'buf'}${c.mb}`;

/** The spawn-latency targets (bench/performance.md), by the caller's size: remoteSpawn / child_process.spawn. */
function spawnTarget(mb) {
  if (mb === 50) return { op: '<=', value: 0.8 };
  if (mb === 1024) return { op: '<=', value: 0.1 };
  return undefined;
}

async function latencyScenario(server, floorPath) {
  for (const caller of CALLERS) {
    const { kind, mb } = caller;
    const key = callerKey(caller);
    const what = `${mb >= 1024 ? `${mb / 1024} GB` : `${mb} MB`} of ${kind === 'js' ? 'JS heap' : 'Buffers'}`;
    if (!timed(`latency, caller holding ${what}`)) continue;
    log(`latency: caller holding ${what}`);
    const result = await runWorker('latency', {
      kind, heapMB: mb, socket: server.socket, floorPath, warmup: 5,
      minIters: 25, maxIters: 400, budgetMs: caller.budgetMs * scale,
      execMinIters: 20, execMaxIters: 200, execBudgetMs: caller.budgetMs * 0.4 * scale,
    }, { heapMB: kind === 'js' ? mb : 0 });
    const sums = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, summarize(v)]));
    raw[`latency_${key}`] = {
      kind, heapMB: mb, allocMs: result.allocMs, heapUsed: result.heapUsed, rss: result.rss, rssAfter: result.rssAfter,
      exit: sums(result.exit), sync: sums(result.sync), exec: sums(result.exec),
    };
    const sec = `Spawn latency, caller holding ${what} (RSS ${Math.round(result.rss / MIB)} MiB)`;
    const { exit, sync, exec } = result;
    row(sec, `spawn.local.${key}`, 'child_process.spawn true, call to exit', 'ms', msStats(exit.local));
    row(sec, `spawn.remote.${key}`, 'remoteSpawn true, call to exit (startWait 50)', 'ms', msStats(exit.remote),
      { ...ratioOf(exit.local, exit.remote), versus: 'child_process.spawn', target: spawnTarget(mb), label: `remoteSpawn / spawn (${what})` });
    row(sec, `spawn.remote0.${key}`, 'remoteSpawn true, call to exit (startWait 0)', 'ms', msStats(exit.remote0),
      { ...ratioOf(exit.local, exit.remote0), versus: 'child_process.spawn' });
    if (exit.floor.length) {
      row(sec, `spawn.floor.${key}`, 'C posix_spawn+waitpid floor (interleaved)', 'ms', msStats(exit.floor),
        { ...ratioOf(exit.local, exit.floor), versus: 'child_process.spawn', note: 'the best ratio any spawner could reach' });
      // The floor and remoteSpawn do not depend on the caller's memory: one target row, for the smallest caller.
      row(sec, `spawn.remoteVsFloor.${key}`, 'remoteSpawn (startWait 50) / C floor', 'ms', msStats(exit.remote),
        { ...ratioOf(exit.floor, exit.remote), versus: 'C floor',
          ...(key === 'js50' ? { target: { op: '<=', value: 1.5 }, label: `remoteSpawn / C floor (${what})` } : {}) });
    }
    row(sec, `spawncall.local.${key}`, 'child_process.spawn() returns (loop blocked)', 'ms', msStats(sync.local));
    row(sec, `spawncall.remote.${key}`, 'remoteSpawn() returns, startWait 50 (pid set)', 'ms', msStats(sync.remote),
      { ...ratioOf(sync.local, sync.remote), versus: 'child_process.spawn()' });
    row(sec, `spawncall.remote0.${key}`, 'remoteSpawn() returns, startWait 0 (pid at spawn)', 'ms', msStats(sync.remote0),
      { ...ratioOf(sync.local, sync.remote0), versus: 'child_process.spawn()' });
    row(sec, `exec.local.${key}`, "exec('echo hi'), call to callback", 'ms', msStats(exec.local));
    row(sec, `exec.remote.${key}`, "remoteExec('echo hi'), call to callback", 'ms', msStats(exec.remote),
      { ...ratioOf(exec.local, exec.remote), versus: 'exec' });
  }
}

async function throughputScenario(server) {
  if (!timed('throughput')) return;
  const total = QUICK ? 500 : 2000;
  const inFlight = 32;
  const chunk = QUICK ? 250 : 500;
  log(`throughput: at least ${total} spawns of true per side, ${inFlight} in flight, in alternating chunks of ${chunk}`);
  const result = await runWorker('throughput', {
    socket: server.socket, total, chunk, inFlight, warmupTotal: 100, maxChunks: 12,
    budgetMs: Math.min(16_000 * scale, remainingMs() - 30_000),
  });
  const { rate } = result;
  raw.throughput = { ...result, rate: Object.fromEntries(Object.entries(rate).map(([k, v]) => [k, summarize(v)])) };
  const sec = `Throughput: ${result.spawnsPerSide} spawns of true per side, ${inFlight} in flight, small caller (alternating chunks of ${chunk}: ${rate.local.length} per side)`;
  row(sec, 'throughput.local', 'child_process.spawn', 'spawns/s', summarize(rate.local));
  row(sec, 'throughput.remote', 'remoteSpawn (startWait 50)', 'spawns/s', summarize(rate.remote),
    { ...ratioOf(rate.local, rate.remote), versus: 'child_process.spawn', target: { op: '>=', value: 1.0 }, label: 'throughput remote / local' });
  row(sec, 'throughput.remote0', 'remoteSpawn (startWait 0)', 'spawns/s', summarize(rate.remote0),
    { ...ratioOf(rate.local, rate.remote0), versus: 'child_process.spawn' });
}

/**
 * Each side moves at least 1 GiB (the target's figure) in runs of 256 MiB,
 * alternating, and more runs while the budget lasts: short runs keep each
 * pair close in time. Through 'inherit' both sides run the same program into
 * the same pipe: the ratio is 1.0 but for noise, and on a busy 2-core machine
 * (the writer and cat fill both cores) single runs swing by 30% either way;
 * the median of many pairs is what settles it. BENCH_BYTES sets the run size.
 */
const BYTES_PLAN = {
  pipe: { minRounds: 4, maxRounds: 30, budgetMs: 7000 },
  inherit: { minRounds: 4, maxRounds: 40, budgetMs: 7000 },
};

async function bytesScenario(server) {
  for (const mode of ['pipe', 'inherit']) {
    const plan = BYTES_PLAN[mode];
    const bytes = Number(process.env.BENCH_BYTES) || 256 * MIB;
    if (!timed(`bytes through '${mode}'`)) continue;
    log(`bytes: head -c through '${mode}', runs of ${bytes / MIB} MiB`);
    const result = await runWorker('bytes', {
      socket: server.socket, bytes, mode, minRounds: plan.minRounds, maxRounds: plan.maxRounds, budgetMs: plan.budgetMs * scale,
    }, { drain: mode === 'inherit' });
    const { rate } = result;
    const mibs = (v) => v.map((x) => x / MIB);
    raw[`bytes_${mode}`] = { bytes, rate: Object.fromEntries(Object.entries(rate).map(([k, v]) => [k, summarize(v)])) };
    const moved = `${((bytes * rate.local.length) / 2 ** 30).toFixed(2)} GiB per side in runs of ${bytes / MIB} MiB (${rate.local.length})`;
    const sec = mode === 'pipe'
      ? `Bytes: head -c, stdout 'pipe' into a Node consumer, ${moved}`
      : `Bytes: head -c, stdout 'inherit' = a pipe into cat, ${moved}`;
    row(sec, `bytes.${mode}.local`, `child_process.spawn head, '${mode}'`, 'MiB/s', summarize(mibs(rate.local)));
    row(sec, `bytes.${mode}.remote`, `remoteSpawn head, '${mode}'`, 'MiB/s', summarize(mibs(rate.remote)),
      { ...ratioOf(rate.local, rate.remote), versus: 'child_process.spawn', target: { op: '>=', value: mode === 'pipe' ? 0.95 : 0.98 }, label: `'${mode}' bytes remote / local` });
  }
}

/** Quotes a word for hyperfine's --shell=none splitting (POSIX shell words). */
function shellWord(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * Times each command alternately, `rounds` rounds: with hyperfine (in
 * alternating blocks: one hyperfine call per round, each command `runs` times),
 * else with the C floor program's `alt` mode (alternating run by run), else
 * from Node (spawnSync, which adds Node's own spawn cost to every side).
 */
function timeCommands(commands, { hyperfine, floorPath, rounds, runs }) {
  const times = commands.map(() => []);
  if (hyperfine) {
    const file = path.join(tmp, 'hyperfine.json');
    for (let r = 0; r < rounds; r++) {
      const args = ['-N', '--warmup', '1', '--runs', String(runs), '--style', 'none', '--export-json', file];
      for (const c of commands) args.push('-n', c.name, c.argv.map(shellWord).join(' '));
      const h = childProcess.spawnSync(hyperfine, args, { encoding: 'utf8', timeout: 60_000 });
      if (h.status !== 0) throw new Error(`hyperfine failed: ${(h.stderr || h.error?.message || '').trim()}`);
      const json = JSON.parse(fs.readFileSync(file, 'utf8'));
      json.results.forEach((result, i) => times[i].push(...result.times.map((s) => s * 1e9)));
    }
    return { method: `hyperfine -N, ${rounds} alternating rounds of ${runs} runs (+1 warmup) per command`, times };
  }
  if (floorPath) {
    const args = ['alt', String(rounds * runs), '2'];
    for (const c of commands) args.push('--', ...c.argv);
    const r = childProcess.spawnSync(floorPath, args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`timing loop failed: ${r.stderr}`);
    for (const line of r.stdout.trim().split('\n')) {
      const [i, ns] = line.split(' ').map(Number);
      times[i].push(ns);
    }
    return { method: 'posix-spawn-floor alt: posix_spawn+waitpid, alternating run by run', times };
  }
  for (let k = 0; k < 2 + rounds * runs; k++) {
    commands.forEach((c, i) => {
      const t0 = nowNs();
      const r = childProcess.spawnSync(c.argv[0], c.argv.slice(1), { stdio: 'ignore' });
      const ns = nowNs() - t0;
      if (r.status !== 0) throw new Error(`${c.name} failed with ${r.status ?? r.signal}`);
      if (k >= 2) times[i].push(ns);
    });
  }
  return { method: 'Node spawnSync loop, alternating run by run (includes Node\'s own spawn cost)', times };
}

async function shimScenario(server, floorPath) {
  if (!timed('shim')) return;
  log('shim path: a process per call');
  const hyperfine = which('hyperfine');
  if (!hyperfine) skip('hyperfine', `not installed (Debian package hyperfine); timing with ${floorPath ? 'the C alt loop' : 'a Node loop'}`);
  const trueBin = which('true') ?? '/bin/true';
  const commands = [{ id: 'direct', name: 'true, run directly', argv: [trueBin] }];

  const s6sudo = which('s6-sudo');
  const s6ipcserver = which('s6-ipcserver');
  const s6sudod = which('s6-sudod');
  let s6 = null;
  if (s6sudo && s6ipcserver && s6sudod) {
    const socket = path.join(tmp, 's6.sock');
    const setpriv = which('setpriv');
    // s6-ipcserver forks an s6-sudod per connection, which runs `true` with the client's fds.
    const [file, ...args] = [...(setpriv ? [setpriv, '--pdeathsig', 'KILL'] : []), s6ipcserver, '-1', socket, s6sudod];
    const child = startHelper(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    await waitForLine(child, /\n/, 's6-ipcserver');
    s6 = child;
    commands.push({ id: 's6', name: 's6-sudo true (s6-ipcserver + s6-sudod)', argv: [s6sudo, socket, 'true'] });
  } else {
    skip('s6-sudo', `not installed (${['s6-sudo', 's6-ipcserver', 's6-sudod'].filter((n) => !which(n)).join(', ')} missing; Debian package s6)`);
  }
  // No '--' before the program (it follows the options anyway): the C alt
  // loop splits its commands at '--'.
  commands.push({ id: 'cli', name: 'sidecar exec true (Node CLI)', argv: [process.execPath, CLI, 'exec', '--connect', server.socket, 'true'] });
  const native = [process.env.SIDECAR_BENCH_NATIVE_CLIENT, ...NATIVE_CLIENT_CANDIDATES].find((p) => {
    try {
      return p && fs.statSync(p).isFile();
    } catch {
      return false;
    }
  });
  if (native) {
    commands.push({ id: 'native', name: `${path.basename(native)} --connect S true (native client)`, argv: [native, '--connect', server.socket, 'true'] });
  } else {
    skip('native shim client', `${path.relative(ROOT, NATIVE_CLIENT_CANDIDATES[0])} not built (\`npm run build:native\`); SIDECAR_BENCH_NATIVE_CLIENT=PATH times another client taking \`sidecar exec\`'s arguments`);
  }
  commands.push({ id: 'node', name: "node -e 0 (Node's start-up alone)", argv: [process.execPath, '-e', '0'] });

  try {
    const { method, times } = timeCommands(commands, { hyperfine, floorPath, rounds: QUICK ? 2 : 4, runs: QUICK ? 4 : 5 });
    const byId = Object.fromEntries(commands.map((c, i) => [c.id, times[i]]));
    raw.shim = { method, commands: commands.map((c, i) => ({ id: c.id, name: c.name, argv: c.argv, stats: summarize(times[i]) })) };
    const sec = `Shim path: one process per call (${method})`;
    for (const c of commands) {
      const extra = {};
      if (c.id === 's6' || c.id === 'node') Object.assign(extra, ratioOf(byId.direct, byId[c.id]), { versus: 'true directly' });
      if ((c.id === 'cli' || c.id === 'native') && byId.s6) {
        Object.assign(extra, ratioOf(byId.s6, byId[c.id]), { versus: 's6-sudo' });
        if (c.id === 'native') Object.assign(extra, { target: { op: '<=', value: 1.0 }, label: 'native shim client / s6-sudo' });
        else extra.targetNote = 'for the native client: <= 1.0';
      } else if (c.id === 'cli' || c.id === 'native') {
        Object.assign(extra, ratioOf(byId.direct, byId[c.id]), { versus: 'true directly', targetNote: 'vs s6-sudo, not installed' });
      }
      row(sec, `shim.${c.id}`, c.name, 'ms', msStats(byId[c.id]), extra);
    }
  } finally {
    if (s6) await stopProcess(s6);
  }
}

async function serverCostScenario() {
  if (!timed('server cost')) return;
  const count = QUICK ? 200 : 1000;
  log(`server cost: a fresh server holding ${count} running remote sleeps`);
  const server = await startServer('cost');
  try {
    const r = await runWorker('servercost', { socket: server.socket, serverPid: server.pid, count, sleepSeconds: 60 });
    raw.servercost = r;
    const sec = `Server cost: one server process holding ${r.count} running remote sleep programs` +
      (r.count < r.requested ? ` (fd limit ${r.serverLimit}: fewer than ${r.requested})` : '');
    const one = (v) => ({ median: v, min: v, max: v, n: 1 });
    row(sec, 'server.rss.idle', 'server RSS, idle (after 20 spawns)', 'MiB', one(r.idle.rss / MIB));
    row(sec, 'server.rss.holding', `server RSS holding ${r.count}`, 'MiB', one(r.holding.rss / MIB));
    row(sec, 'server.rss.per', 'server RSS per running program', 'KiB', one(r.rssPerProgram / 1024));
    row(sec, 'server.fds.idle', 'server fds, idle', 'fds', one(r.idle.fds));
    row(sec, 'server.fds.holding', `server fds holding ${r.count}`, 'fds', one(r.holding.fds));
    row(sec, 'server.fds.per', 'server fds per running program', 'fds', one(r.fdsPerProgram));
    row(sec, 'server.fds.after', 'server fds once all were killed (leak check)', 'fds', one(r.after.fds));
    row(sec, 'server.startRate', `starting them, startWait 0`, 'spawns/s', one(r.startRate));
  } finally {
    await stopProcess(server.child);
  }
}

/**
 * What holding every descendant of a program costs a spawn: remoteSpawn('true')
 * against two fresh servers that differ only in `containment`, 'none' (the
 * program's process group only) and 'auto' (a cgroup per program where the
 * server can make one, else a subreaper), alternated in one small caller.
 */
async function containmentScenario() {
  if (!timed('containment')) return;
  const none = await startServer('containment-none', 'none');
  const auto = await startServer('containment-auto', 'auto');
  try {
    log(`containment: remoteSpawn true against a server with containment 'none' and one with 'auto' (${auto.containment}), alternately`);
    const result = await runWorker('containment', {
      sockets: { none: none.socket, auto: auto.socket }, warmup: 20, minIters: 100, maxIters: 3000, budgetMs: 7000 * scale,
    });
    raw.containment = { inForce: auto.containment, none: summarize(result.exit.none), auto: summarize(result.exit.auto) };
    const sec = `Containment: remoteSpawn true, call to exit (startWait 50), small caller, against two servers (${result.exit.none.length} pairs)`;
    row(sec, 'containment.none', "containment 'none' (the process group only)", 'ms', msStats(result.exit.none));
    row(sec, 'containment.auto', `containment 'auto' (here: ${auto.containment})`, 'ms', msStats(result.exit.auto),
      { ...ratioOf(result.exit.none, result.exit.auto), versus: "containment 'none'", target: { op: '<=', value: 1.1 },
        label: `containment ${auto.containment} / none, remoteSpawn true` });
  } finally {
    await Promise.all([stopProcess(none.child), stopProcess(auto.child)]);
  }
}

/** What the register preload adds to a spawn it leaves local (bench/performance.md: < 2%). */
async function registerScenario(server) {
  if (!timed('register')) return;
  log('register: an unrouted spawn with and without the preload');
  const result = await runWorker('register', {
    socket: server.socket, warmup: 10, minIters: 100, maxIters: 1500, budgetMs: 4000 * scale,
  });
  raw.register = { plain: summarize(result.exit.plain), register: summarize(result.exit.register), decisionNs: summarize(result.decision) };
  const sec = 'register preload: a spawn it leaves local';
  row(sec, 'register.plain', 'child_process.spawn true, call to exit', 'ms', msStats(result.exit.plain));
  row(sec, 'register.unrouted', 'the same through the register preload (decided local)', 'ms', msStats(result.exit.register),
    { ...ratioOf(result.exit.plain, result.exit.register), versus: 'child_process.spawn', target: { op: '<=', value: 1.02 },
      label: 'register, unrouted spawn / spawn' });
  row(sec, 'register.decision', 'the decision alone, per call', 'us', scaleStats(summarize(result.decision), 1e-3));
}

// ---- report ----------------------------------------------------------------------

function machineFacts() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    libuv: process.versions.uv,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    loadavg: os.loadavg().map((x) => +x.toFixed(2)),
  };
}

/** A ratio or factor, with a third decimal when it is close to 1. */
const factor = (x) => (x > 0.9 && x < 1.1 ? x.toFixed(3) : x.toFixed(2));

function fmt(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (unit === 'ms') return v < 10 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(1);
  if (unit === 'fds') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return v >= 100 ? Math.round(v).toString() : v.toFixed(1);
}

function targetText(r) {
  return r.target ? `${r.target.op} ${r.target.value}` : r.targetNote ? `(${r.targetNote})` : '';
}

function metText(r) {
  if (r.met === undefined) return r.targetNote ? 'n/a' : '';
  return r.met ? 'yes' : `NO (${factor(r.miss)}x off)`;
}

function printTable(facts) {
  const header = ['name', 'median', 'min', 'max', 'unit', 'ratio', 'vs', 'target', 'met'];
  const lines = [];
  let section = null;
  const body = [];
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      body.push({ section });
    }
    body.push([r.name, fmt(r.median, r.unit), fmt(r.min, r.unit), fmt(r.max, r.unit), r.unit,
      typeof r.ratio === 'number' ? `${r.ratio.toFixed(3)}x` : '', r.versus ?? '', targetText(r), metText(r)]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.filter(Array.isArray).map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 || i >= 6 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  lines.push(`sidecar-exec bench, ${facts.date}: ${facts.cpu}, ${facts.cores} cores, ${facts.kernel}, Node ${facts.node}`);
  lines.push('ratio: median of per-pair ratios, the two sides run alternately (A, B, A, B...) in one process');
  lines.push('');
  lines.push(line(header));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) {
    if (Array.isArray(b)) lines.push(line(b));
    else lines.push(`-- ${b.section}`);
  }
  const targets = rows.filter((r) => r.met !== undefined);
  const missed = targets.filter((r) => !r.met);
  lines.push('');
  lines.push(`targets met: ${targets.length - missed.length} of ${targets.length}`);
  for (const r of missed) lines.push(`  missed: ${r.label ?? r.name}: ${r.ratio.toFixed(3)}x, target ${r.target.op} ${r.target.value} (${factor(r.miss)}x off)`);
  if (skipped.length) {
    lines.push('');
    for (const s of skipped) lines.push(`skipped: ${s.name}: ${s.reason}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---- main ------------------------------------------------------------------------

/** The sync-call targets (issue acceptance), by the caller's size: remote / child_process. */
const SYNC_CALLERS = [{ mb: 50, target: 1.0, budgetMs: 1200 }, { mb: 1024, target: 0.1, budgetMs: 2000 }];

async function syncScenario(server) {
  for (const caller of SYNC_CALLERS) {
    const what = caller.mb >= 1024 ? `${caller.mb / 1024} GB of Buffers` : `${caller.mb} MB of Buffers`;
    if (!timed(`sync calls, caller holding ${what}`)) continue;
    log(`sync calls: caller holding ${what}`);
    const result = await runWorker('sync', {
      heapMB: caller.mb, socket: server.socket, warmup: 3, minIters: 10, maxIters: 200, budgetMs: caller.budgetMs * scale,
    });
    raw[`sync_buf${caller.mb}`] = { heapMB: caller.mb, rss: result.rss, spawn: { local: summarize(result.spawn.local), remote: summarize(result.spawn.remote) },
      exec: { local: summarize(result.exec.local), remote: summarize(result.exec.remote) } };
    const sec = `Sync calls, caller holding ${what} (RSS ${Math.round(result.rss / MIB)} MiB)`;
    const target = { op: '<=', value: caller.target };
    row(sec, `spawnsync.local.buf${caller.mb}`, "spawnSync('true')", 'ms', msStats(result.spawn.local));
    row(sec, `spawnsync.remote.buf${caller.mb}`, "remoteSpawnSync('true')", 'ms', msStats(result.spawn.remote),
      { ...ratioOf(result.spawn.local, result.spawn.remote), versus: 'spawnSync', target, label: `remoteSpawnSync / spawnSync (${what})` });
    row(sec, `execsync.local.buf${caller.mb}`, "execSync('echo hi')", 'ms', msStats(result.exec.local));
    row(sec, `execsync.remote.buf${caller.mb}`, "remoteExecSync('echo hi')", 'ms', msStats(result.exec.remote),
      { ...ratioOf(result.exec.local, result.exec.remote), versus: 'execSync', target, label: `remoteExecSync / execSync (${what})` });
  }
}

async function main() {
  try {
    require('..').createServer(); // loads the native addon too; listens nowhere
  } catch (error) {
    process.stderr.write(`bench: cannot load sidecar-exec (${error.message}); run \`npm install\` (or \`npm run build\`) first\n`);
    process.exitCode = 1;
    return;
  }
  const factsBefore = machineFacts();
  log(`${factsBefore.cpu}, ${factsBefore.cores} cores, Node ${factsBefore.node}, load ${factsBefore.loadavg.join(' ')}`);
  const floorPath = wanted('floor') || wanted('latency') || wanted('shim') ? buildFloor() : null;
  const server = await startServer('main');
  const failures = [];
  const attempt = async (name, fn) => {
    if (!wanted(name)) return;
    try {
      await fn();
    } catch (error) {
      failures.push({ name, error: error.message });
      log(`FAILED: ${name}: ${error.message}`);
    }
  };
  try {
    await attempt('floor', () => floorScenario(floorPath));
    await attempt('latency', () => latencyScenario(server, floorPath));
    await attempt('sync', () => syncScenario(server));
    await attempt('throughput', () => throughputScenario(server));
    await attempt('bytes', () => bytesScenario(server));
    await attempt('shim', () => shimScenario(server, floorPath));
    await attempt('servercost', () => serverCostScenario());
    await attempt('containment', () => containmentScenario());
    await attempt('register', () => registerScenario(server));
  } finally {
    await stopProcess(server.child);
  }
  const facts = { ...factsBefore, loadavgAfter: os.loadavg().map((x) => +x.toFixed(2)), durationSeconds: +((Date.now() - benchStart) / 1000).toFixed(1) };
  const peers = {
    cc: which('cc') ? versionOf(which('cc')) : null,
    hyperfine: which('hyperfine') ? versionOf(which('hyperfine')) : null,
    s6: which('s6-sudo') ? 'installed' : null,
  };
  const results = {
    schema: 1,
    machine: facts,
    peers,
    quick: QUICK,
    notes: [
      'median/min/max over runs; the two sides of a comparison ran alternately (A, B, A, B...) in one process',
      'ratio: median over pairs of (run i of this / run i of versus), each pair back to back; pairMin/pairMax: their range; ratioOfMedians: median(this) / median(versus)',
      'callers hold touched JS heap (arrays of doubles; V8 maps its heap MADV_DONTFORK, so fork skips it) or Buffers (malloc\'d, copied by fork) on top of Node\'s own memory',
    ],
    rows,
    skipped,
    failures,
    raw,
  };
  fs.writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  printTable(facts);
  log(`wrote ${path.relative(process.cwd(), OUT)}; draw the chart with: node bench/chart.js`);
  if (failures.length) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`bench: ${error.stack}\n`);
  process.exitCode = 1;
});
