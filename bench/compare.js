#!/usr/bin/env node
// Spawn latency of this checkout against another build of sidecar-exec, in
// one run: `npm run bench` compares with child_process and peers, this
// compares with an earlier version of the project itself (what a change
// cost or won).
//
//   node bench/compare.js OTHER_CHECKOUT [--rounds=N] [--containment=none,auto]
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
// ratio is the median of the per-round ratios.
'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { summarize, nowNs, sleep } = require('./lib');

const HERE = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const value = (name, fallback) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const other = argv.find((a) => !a.startsWith('--'));
if (other === undefined) {
  process.stderr.write('usage: node bench/compare.js OTHER_CHECKOUT [--rounds=N] [--containment=none,auto]\n');
  process.exit(2);
}
const OTHER = path.resolve(other);
const ROUNDS = Number(value('rounds', '400'));
const MODES = value('containment', 'none,auto').split(',');
const WARMUP_ROUNDS = 30;

for (const [what, file] of [['dist/', 'dist/index.js'], ['bench/server.js', 'bench/server.js']]) {
  if (!fs.existsSync(path.join(OTHER, file))) {
    process.stderr.write(`compare: ${OTHER} has no ${what}: not a built checkout of sidecar-exec (npm install there)\n`);
    process.exit(2);
  }
}
if (!Number.isInteger(ROUNDS) || ROUNDS < 10) {
  process.stderr.write('compare: --rounds must be an integer from 10\n');
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
function timed(start) {
  return new Promise((resolve, reject) => {
    const begin = nowNs();
    const child = start();
    child.once('error', reject);
    child.once('exit', () => resolve(Number(nowNs() - begin) / 1e6));
  });
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
  const sides = [{ name: 'child_process.spawn', start: () => childProcess.spawn('true') }];
  const otherServer = await startServer(OTHER, 'other', 'none');
  sides.push({ name: `other (${path.basename(OTHER)})`, start: () => otherLib.remoteSpawn('true', [], { connect: otherServer.socket }) });
  for (const mode of MODES) {
    const server = await startServer(HERE, `here-${mode}`, mode);
    sides.push({ name: `this tree, containment ${server.containment}`, start: () => hereLib.remoteSpawn('true', [], { connect: server.socket }) });
  }
  for (let round = 0; round < WARMUP_ROUNDS; round++) for (const side of sides) await timed(side.start);
  const samples = sides.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const index of shuffled(sides.map((_, i) => i))) samples[index].push(await timed(sides[index].start));
  }
  const perRound = (a, b) => summarize(samples[b].map((x, i) => x / samples[a][i])).median;
  const rows = sides.map((side, i) => ({
    side: side.name,
    medianMs: Number(summarize(samples[i]).median.toFixed(4)),
    vsChildProcess: Number(perRound(0, i).toFixed(3)),
    vsOther: i === 0 ? null : Number(perRound(1, i).toFixed(3)),
  }));
  process.stdout.write(`remoteSpawn('true'), call to 'exit', ${ROUNDS} rounds (medians; ratios: median of per-round ratios)\n`);
  for (const row of rows) {
    process.stdout.write(`${row.side.padEnd(36)} ${row.medianMs.toFixed(3).padStart(7)} ms  /child_process ${row.vsChildProcess.toFixed(3)}${row.vsOther === null ? '' : `  /other ${row.vsOther.toFixed(3)}`}\n`);
  }
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
