'use strict';
// Facts about processes and their file descriptors, read from /proc.

const fs = require('node:fs');

/** Number of open fds of a process (the readdir's own fd counts in, consistently, for our own pid). */
function fdCount(pid = process.pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** fd number -> link target ('pipe:[123]', 'socket:[456]', '/dev/null', ...). */
function fdTable(pid = process.pid) {
  const table = new Map();
  for (const name of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      table.set(Number(name), fs.readlinkSync(`/proc/${pid}/fd/${name}`));
    } catch {
      // closed between readdir and readlink (or it was the readdir's own fd)
    }
  }
  return table;
}

/** Human-readable difference between two fd tables: what appeared, what went. */
function describeFdDiff(before, after) {
  const added = [];
  const removed = [];
  for (const [fd, target] of after) if (before.get(fd) !== target) added.push(`${fd} -> ${target}`);
  for (const [fd, target] of before) if (after.get(fd) !== target) removed.push(`${fd} -> ${target}`);
  return `added [${added.join(', ')}], removed [${removed.join(', ')}]`;
}

/**
 * Parsed /proc/<pid>/stat, or null if the process is gone. comm may contain
 * spaces and parentheses, so the fields are read after the last ')'.
 */
function procStat(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  return {
    pid: Number(pid),
    comm,
    state: fields[0],
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    sid: Number(fields[3]),
  };
}

/** Every process on the machine, as procStat gives it. */
function allProcesses() {
  const list = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(name);
    if (stat !== null) list.push(stat);
  }
  return list;
}

/** Processes whose process group id is pgid (zombies included). */
function processGroup(pgid) {
  return allProcesses().filter((p) => p.pgid === pgid);
}

/** Zombie (state Z) children of pid: processes nobody reaped. */
function zombieChildren(pid) {
  return allProcesses().filter((p) => p.ppid === pid && p.state === 'Z');
}

/** Whether a process exists and is not a zombie. */
function isAlive(pid) {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z';
}

/** flags field of /proc/<pid>/fdinfo/<fd> (octal string parsed to a number). */
function fdFlags(pid, fd) {
  const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
  const match = /^flags:\s+([0-7]+)$/m.exec(info);
  return parseInt(match[1], 8);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls check() every `interval` ms until it returns a truthy value or
 * `timeout` ms have passed; resolves with the last value either way.
 */
async function pollUntil(check, { timeout = 1000, interval = 10 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check(); // a check may be async (a server's stats())
    if (value || Date.now() >= deadline) return value;
    await sleep(interval);
  }
}

/** Waits (up to timeout) for the fd count of pid to equal `expected`; returns the last count. */
async function settledFdCount(pid, expected, timeout = 2000) {
  let count = fdCount(pid);
  await pollUntil(() => (count = fdCount(pid)) === expected, { timeout });
  return count;
}

module.exports = {
  fdCount, fdTable, describeFdDiff, procStat, allProcesses, processGroup, zombieChildren, isAlive, fdFlags,
  sleep, pollUntil, settledFdCount,
};
