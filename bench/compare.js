#!/usr/bin/env node
// Spawn latency of this checkout against another build of sidecar-exec, in
// one run: `npm run bench` compares with child_process and peers, this
// compares with an earlier version of the project itself (what a change
// cost or won).
//
//   node bench/compare.js OTHER_CHECKOUT [--rounds=N] [--chunks=N] [--warmup=N] [--containment=none,auto]
//
// OTHER_CHECKOUT is a built checkout (dist/ and the addon), for example
//   git worktree add ../before REV && (cd ../before && npm install)
// Each side is its own client library and its own server (bench/server.js of
// its tree), so that a request costs what it costs in that version from the
// call to 'exit'. This tree runs once per containment mode asked for ('auto'
// is a cgroup per program where the server can make one); a tree from before
// containment has none. child_process.spawn runs in the same rounds as a
// yardstick. Every round runs each side once, in a new random order (a side
// always following another would inherit its caches and its noise), and each
// ratio is the median of the per-round ratios. Then throughput, as the bench
// measures it (32 spawns in flight, startWait 50 and 0): chunks of 300 spawns
// per side, alternating in the same way, the ratio of median rates.
'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { summarize, sleep, timeSpawn, runBatch } = require('./lib');

const HERE = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const value = (name, fallback) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const other = argv.find((a) => !a.startsWith('--'));
if (other === undefined) {
  process.stderr.write('usage: node bench/compare.js OTHER_CHECKOUT [--rounds=N] [--chunks=N] [--warmup=N] [--containment=none,auto]\n');
  process.exit(2);
}
const OTHER = path.resolve(other);
const ROUNDS = Number(value('rounds', '400'));
const MODES = value('containment', 'none,auto').split(',');
const CHUNKS = Number(value('chunks', '6'));
// Rounds before the measured ones: a fresh server runs its first thousand
// requests or so partly unoptimised (V8 compiles its hot functions as they
// get hot), and more code takes longer to get there; --warmup=2000 measures
// servers that have run a while.
const WARMUP_ROUNDS = Number(value('warmup', '30'));
const CHUNK_SPAWNS = 300;
const IN_FLIGHT = 32;

for (const [what, file] of [['dist/', 'dist/index.js'], ['bench/server.js', 'bench/server.js']]) {
  if (!fs.existsSync(path.join(OTHER, file))) {
    process.stderr.write(`compare: ${OTHER} has no ${what}: not a built checkout of sidecar-exec (npm install there)\n`);
    process.exit(2);
  }
}
if (!Number.isInteger(ROUNDS) || ROUNDS < 10 || !Number.isInteger(CHUNKS) || CHUNKS < 0 || !Number.isInteger(WARMUP_ROUNDS) || WARMUP_ROUNDS < 0) {
  process.stderr.write('compare: --rounds must be an integer from 10, --chunks and --warmup from 0\n');
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-bench-compare-'));
const servers = [];

/** A bench server of `tree`, listening once it says ready. */
function startServer(tree, name, containment) {
  const socket = path.join(dir, `${name}.sock`);
  const child = childProcess.spawn(process.execPath, [path.join(tree, 'bench', 'server.js'), socket], {
    env: { ...process.env, SIDECAR_BENCH_CONTAINMENT: containment, BENCH_PARENT_PID: String(process.pid) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  servers.push(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the server of ${tree} exited (${code}) before it was ready`)));
    child.stdout.once('data', (line) => resolve({ socket, containment: String(line).trim().split(' ')[2] ?? 'none' }));
  });
}

/** Milliseconds from the call to 'exit'. */
async function timed(start) {
  return Number((await timeSpawn(start)).exit) / 1e6;
}

/** Spawns per second over `CHUNK_SPAWNS` spawns, `IN_FLIGHT` at a time. */
async function chunkRate(start) {
  return CHUNK_SPAWNS / (Number(await runBatch(start, CHUNK_SPAWNS, IN_FLIGHT)) / 1e9);
}

function shuffled(items) {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

async function main() {
  const otherLib = require(OTHER);
  const hereLib = require(HERE);
  // Each side: a name and how it spawns `true` with a given startWait.
  const sides = [{ name: 'child_process.spawn', start: () => () => childProcess.spawn('true') }];
  const otherServer = await startServer(OTHER, 'other', 'none');
  sides.push({ name: `other (${path.basename(OTHER)})`, start: (startWait) => () => otherLib.remoteSpawn('true', [], { connect: otherServer.socket, startWait }) });
  for (const mode of MODES) {
    const server = await startServer(HERE, `here-${mode}`, mode);
    sides.push({ name: `this tree, containment ${server.containment}`, start: (startWait) => () => hereLib.remoteSpawn('true', [], { connect: server.socket, startWait }) });
  }
  const fmt = (x, digits) => x.toFixed(digits);

  const latency = sides.map((side) => side.start(50));
  for (let round = 0; round < WARMUP_ROUNDS; round++) for (const start of latency) await timed(start);
  const samples = sides.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const index of shuffled(sides.map((_, i) => i))) samples[index].push(await timed(latency[index]));
  }
  const perRound = (a, b) => summarize(samples[b].map((x, i) => x / samples[a][i])).median;
  process.stdout.write(`remoteSpawn('true'), call to 'exit', ${ROUNDS} rounds (medians; ratios: median of per-round ratios)\n`);
  sides.forEach((side, i) => {
    const versusOther = i === 0 ? '' : `  /other ${fmt(perRound(1, i), 3)}`;
    process.stdout.write(`  ${side.name.padEnd(36)} ${fmt(summarize(samples[i]).median, 3).padStart(7)} ms  /child_process ${fmt(perRound(0, i), 3)}${versusOther}\n`);
  });

  if (CHUNKS === 0) return;
  // child_process once; every sidecar side with startWait 50 and 0.
  const runs = [{ name: sides[0].name, start: sides[0].start(), side: 0 }];
  for (const startWait of [50, 0]) {
    sides.forEach((side, i) => { if (i > 0) runs.push({ name: `${side.name}, startWait ${startWait}`, start: side.start(startWait), side: i, startWait }); });
  }
  for (const run of runs) await chunkRate(run.start); // warm-up
  const rates = runs.map(() => []);
  for (let round = 0; round < CHUNKS; round++) {
    for (const index of shuffled(runs.map((_, i) => i))) rates[index].push(await chunkRate(runs[index].start));
  }
  const median = (i) => summarize(rates[i]).median;
  process.stdout.write(`throughput: ${CHUNKS} chunks of ${CHUNK_SPAWNS} spawns per side, ${IN_FLIGHT} in flight (median spawns/s; ratios of medians)\n`);
  runs.forEach((run, i) => {
    const other = runs.findIndex((r) => r.side === 1 && r.startWait === run.startWait);
    const versusOther = run.side === 0 ? '' : `  /other ${fmt(median(i) / median(other), 3)}`;
    process.stdout.write(`  ${run.name.padEnd(50)} ${fmt(median(i), 0).padStart(6)}/s  /child_process ${fmt(median(i) / median(0), 3)}${versusOther}\n`);
  });
}

function cleanUp() {
  for (const child of servers) child.kill();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().then(async () => {
  cleanUp();
  await sleep(100);
}, (error) => {
  process.stderr.write(`compare: ${error.stack ?? error}\n`);
  cleanUp();
  process.exitCode = 1;
});
