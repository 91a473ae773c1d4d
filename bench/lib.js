// Helpers shared by the bench's processes: statistics, timing, the orphan
// watchdog, /proc readings. No dependencies.
'use strict';

const fs = require('node:fs');

/** Nanoseconds since an arbitrary origin, as a Number (exact well beyond a bench's length). */
function nowNs() {
  return Number(process.hrtime.bigint());
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median, min, max (and quartiles, mean, n) of a list of numbers. */
function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    min: sorted.length ? sorted[0] : NaN,
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

/**
 * The ratio of two sides measured alternately (A, B, A, B...): the median of
 * the per-pair ratios b[i] / a[i]. Each pair ran back to back, so a change in
 * the machine's load between pairs cancels out; on a shared, noisy machine
 * this is steadier than median(b) / median(a), which is kept as
 * ratioOfMedians. pairMin and pairMax show the spread.
 */
function ratioOf(a, b) {
  const pairs = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) pairs.push(b[i] / a[i]);
  const p = summarize(pairs);
  return { ratio: p.median, ratioOfMedians: summarize(b).median / summarize(a).median, pairMin: p.min, pairMax: p.max, pairs: p.n };
}

/**
 * Calls onOrphan when the bench's driver (BENCH_PARENT_PID) or this process's
 * parent is gone, or when BENCH_MAX_LIFETIME_MS has passed: nothing the bench
 * starts outlives it, even when the driver is killed with SIGKILL. The timer
 * does not keep the process alive.
 */
function startWatchdog(onOrphan) {
  const parent = Number(process.env.BENCH_PARENT_PID);
  const lifetime = Number(process.env.BENCH_MAX_LIFETIME_MS) || 300_000;
  const started = Date.now();
  const ppid = process.ppid; // run.js, or the shell of a pipeline it started
  const timer = setInterval(() => {
    let gone = Date.now() - started > lifetime || process.ppid !== ppid;
    if (!gone && parent > 0) {
      try {
        process.kill(parent, 0);
      } catch (error) {
        gone = error.code === 'ESRCH';
      }
    }
    if (gone) {
      clearInterval(timer);
      onOrphan();
    }
  }, 500);
  timer.unref();
  return timer;
}

/** VmRSS of a process in bytes (Linux /proc). */
function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

/** Number of open fds of a process (Linux /proc). */
function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Soft limit on open files of a process. */
function openFileLimit(pid) {
  const limits = fs.readFileSync(`/proc/${pid}/limits`, 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!match) return Infinity;
  return match[1] === 'unlimited' ? Infinity : Number(match[1]);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One spawn from the call (`make()`) to 'close': resolves with the
 * nanoseconds until make() returned (`sync`) and until 'exit' (`exit`);
 * rejects if the program did not exit 0.
 */
function timeSpawn(make) {
  return new Promise((resolve, reject) => {
    const t0 = nowNs();
    const child = make();
    const sync = nowNs() - t0;
    let exit = 0;
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      exit = nowNs() - t0;
      if (code !== 0) reject(new Error(`${child.spawnfile} ended with ${code ?? signal}`));
    });
    // Wait for 'close' too, so that the next run starts with nothing pending.
    child.on('close', () => resolve({ sync, exit }));
  });
}

/** `total` spawns of `make()`, `inFlight` at a time, each to 'close' with status 0: resolves with the nanoseconds they took. */
function runBatch(make, total, inFlight) {
  return new Promise((resolve, reject) => {
    let launched = 0;
    let done = 0;
    const t0 = nowNs();
    const launch = () => {
      launched++;
      const child = make();
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (code !== 0) return reject(new Error(`true ended with ${code ?? signal}`));
        done++;
        if (done === total) resolve(nowNs() - t0);
        else if (launched < total) launch();
      });
    };
    for (let i = 0; i < Math.min(inFlight, total); i++) launch();
  });
}

module.exports = { nowNs, summarize, ratioOf, quantile, startWatchdog, rssBytes, fdCount, openFileLimit, sleep, timeSpawn, runBatch };
