'use strict';
// Collecting what a child process (remote or local) does.

const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');

/**
 * Collects the events of a ChildProcess or RemoteChildProcess until 'close'.
 * Resolves with:
 *   events: names in order ('spawn', 'error', 'exit', 'close'); events that
 *           arrive up to one macrotask after 'close' are included too, so that
 *           a duplicate shows up,
 *   exitArgs, closeArgs: the arguments of 'exit' and 'close' (null if none),
 *   error: the first 'error' (null if none), errors: all of them,
 *   stdout, stderr: Buffers of everything read from the pipes (empty when not piped),
 *   pid: child.pid as seen at 'spawn'.
 * Pass { input } to write it to stdin and end it.
 * If 'close' has not come after `timeout` ms (default 10 s), resolves anyway
 * with timedOut: true and what was seen, so that a missing 'close' fails the
 * test's assertions on `events` quickly and readably, not by mocha's timeout.
 */
function run(child, { input, timeout = 10000 } = {}) {
  const result = {
    events: [], exitArgs: null, closeArgs: null, error: null, errors: [], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0),
    pid: undefined, timedOut: false,
  };
  const stdout = [];
  const stderr = [];
  child.stdout?.on('data', (chunk) => stdout.push(chunk));
  child.stderr?.on('data', (chunk) => stderr.push(chunk));
  if (input !== undefined) child.stdin.end(input);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      result.timedOut = true;
      result.stdout = Buffer.concat(stdout);
      result.stderr = Buffer.concat(stderr);
      resolve(result);
    }, timeout);
    child.on('spawn', () => {
      result.events.push('spawn');
      result.pid = child.pid;
    });
    child.on('error', (error) => {
      result.events.push('error');
      result.errors.push(error);
      result.error ??= error;
    });
    child.on('exit', (...args) => {
      result.events.push('exit');
      result.exitArgs = args;
    });
    child.on('close', (...args) => {
      result.events.push('close');
      result.closeArgs = args;
      clearTimeout(timer);
      setTimeout(() => {
        result.stdout = Buffer.concat(stdout);
        result.stderr = Buffer.concat(stderr);
        resolve(result);
      }, 0);
    });
  });
}

/**
 * A mustCall-style tracker: wrap callbacks that must run an exact number of
 * times, then verify() at the end of the test.
 */
function callTracker() {
  const tracked = [];
  return {
    mustCall(fn = () => {}, expected = 1, name = fn.name || '<anonymous>') {
      const entry = { name, expected, actual: 0, stack: new Error().stack };
      tracked.push(entry);
      return function wrapped(...args) {
        entry.actual++;
        return fn.apply(this, args);
      };
    },
    mustNotCall(name = '<mustNotCall>') {
      return this.mustCall(() => {}, 0, name);
    },
    verify() {
      const wrong = tracked.filter((entry) => entry.actual !== entry.expected);
      if (wrong.length > 0) {
        const lines = wrong.map((entry) => `${entry.name}: expected ${entry.expected} call(s), got ${entry.actual}\n${entry.stack}`);
        throw new Error(`mustCall mismatch:\n${lines.join('\n')}`);
      }
    },
  };
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function sha256File(file) {
  return sha256(fs.readFileSync(file));
}

/** The JSON lines a fixture client appended to its report file. */
function readReport(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** The fields of an error that child_process sets on a failed spawn. */
function spawnErrorFields(error) {
  return {
    name: error.name,
    message: error.message,
    code: error.code,
    errno: error.errno,
    syscall: error.syscall,
    path: error.path,
    spawnargs: error.spawnargs,
  };
}

/**
 * Runs a command to its end with piped stdout and stderr (and stdin when
 * `input` is given); resolves with { code, signal, stdout, stderr } as strings.
 */
function runCommand(command, args, { cwd, env, input } = {}) {
  const child = childProcess.spawn(command, args, {
    cwd, env: { ...process.env, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const stdout = [];
  const stderr = [];
  child.stdout.on('data', (chunk) => stdout.push(chunk));
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  if (input !== undefined) child.stdin.end(input);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({
      code, signal, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString(),
    }));
  });
}

/** Resolves with the first line the stream prints. */
function firstLine(stream) {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk) => {
      text += chunk;
      if (text.includes('\n')) {
        stream.off('data', onData);
        resolve(text.split('\n')[0]);
      }
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`stream ended before a line: ${JSON.stringify(text)}`)));
  });
}

module.exports = { run, runCommand, firstLine, callTracker, sha256, sha256File, readReport, spawnErrorFields };
