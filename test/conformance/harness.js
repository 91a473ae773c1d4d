'use strict';
// The parity harness: runs one scenario through node:child_process ("local")
// and through sidecar-exec against a live server in another process
// ("remote"), reduces each run to an observation, applies the documented
// inherent differences the scenario declares (each asserted exactly, then
// normalised away), and compares what is left field by field.
//
// An observation (raw, before canonicalisation):
//   threw      the error the call threw synchronously (then nothing else)
//   returned   { pid: typeof child.pid, stdio: which entries are streams } right after the call returned
//   log        the ordered record of everything observable: ['spawn'], ['error', err], ['exit', code, signal],
//              ['close', code, signal], ['callback', err, stdout, stderr] (exec/execFile),
//              ['resolved', value] / ['rejected', err] (promisified), ['note', label, result] (scenario actions)
//   pidAtSpawn typeof child.pid inside the 'spawn' listener
//   end        exitCode, signalCode, killed, spawnfile, spawnargs, connected, pid after 'close'
//   stdout, stderr, pipes[n]   bytes read from the child's streams (spawn calls)
//   extra      what the scenario's inspect() added (files the program wrote, timing verdicts...)
//
// Canonical form (canon.js): Errors become their fields (class, name, message, stack
// header, code, errno, syscall, path, spawnargs, cmd, killed, signal, stdout,
// stderr, cause, own keys), Buffers their length, sha256 and (when short) hex,
// long strings their length and sha256. The comparison flattens both to
// path -> value and reports every path that differs.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { AssertionError } = require('chai');
const { isAlive, otherUidPath } = require('../helpers');
const {
  sha256, canonOutput, canonString, errorFields, canon,
} = require('./canon');

const PACKAGE_ROOT = path.join(__dirname, '..', '..');
const DIFFERENCES_DOC = path.join(PACKAGE_ROOT, 'docs', 'differences.md');

// ---- canonical form (canon.js) and comparison ---------------------------------

/** path -> JSON text of every leaf. */
function flatten(value, prefix = '', out = new Map()) {
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) out.set(prefix || '(root)', Array.isArray(value) ? '[]' : '{}');
    for (const key of keys) flatten(value[key], prefix === '' ? key : `${prefix}.${key}`, out);
  } else {
    out.set(prefix || '(root)', JSON.stringify(value));
  }
  return out;
}

/** Lines 'path: child_process X | sidecar-exec Y' for every field that differs. */
function compareCanon(local, remote) {
  const a = flatten(local);
  const b = flatten(remote);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  const lines = [];
  for (const key of keys) {
    if (a.get(key) !== b.get(key)) {
      lines.push(`  ${key}:\n      child_process: ${a.get(key) ?? '(absent)'}\n      sidecar-exec:  ${b.get(key) ?? '(absent)'}`);
    }
  }
  return lines;
}

function eventNames(observation) {
  if (observation.threw !== undefined) return 'threw synchronously';
  return (observation.log || []).map((entry) => (entry[0] === 'note' ? `note ${entry[1]}` : entry[0])).join(', ');
}

/** One side threw synchronously, the other did not: say that, not every field. */
function describeThrowMismatch(local, remote) {
  const describe = (name, o) => (o.threw !== undefined
    ? `  ${name} threw synchronously: ${JSON.stringify(o.threw instanceof Error ? errorFields(o.threw) : o.threw.error)}`
    : `  ${name} did not throw: [${eventNames(o)}], exitCode ${o.end && o.end.exitCode}, signalCode ${o.end && o.end.signalCode}`
      + `${o.stdout !== undefined ? `, stdout ${JSON.stringify(canonString(o.stdout.toString()))}` : ''}`);
  return `${describe('child_process', local)}\n${describe('sidecar-exec', remote)}`;
}

// ---- documented inherent differences ----------------------------------------

/** Walks arrays and plain objects; calls fn on every Error. */
function forEachError(value, fn, seen = new Set()) {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Error) {
    fn(value);
    return;
  }
  if (Buffer.isBuffer(value)) return;
  for (const key of Object.keys(value)) forEachError(value[key], fn, seen);
}

function fail(difference, message) {
  throw new AssertionError(`[documented difference '${difference}' not as documented] ${message}`);
}

function lines(buffer) {
  return buffer === undefined ? [] : buffer.toString('utf8').split('\n').filter((line) => line !== '');
}

/**
 * A difference where sidecar-exec's error message is child_process's
 * followed by the server's words (`suffixOf(scenario)`): asserted on every
 * error that has it, then cut off.
 */
function messageSuffix(name, row, suffixOf) {
  return {
    row,
    apply(local, remote, scenario) {
      const suffix = suffixOf(scenario);
      let found = 0;
      forEachError(remote, (error) => {
        if (typeof error.message === 'string' && error.message.endsWith(suffix)) {
          found++;
          error.message = error.message.slice(0, -suffix.length);
          error.stack = String(error.stack).replace(suffix, '');
        }
      });
      if (found === 0) fail(name, `no sidecar-exec error ends with ${JSON.stringify(suffix)}`);
    },
  };
}

/**
 * The differences docs/differences.md lists, each with a piece of its row
 * (checked to be in the document, so that a scenario can only declare a
 * difference that is documented) and apply(local, remote, scenario), which
 * asserts that the difference shows exactly as documented and then makes the
 * two observations comparable.
 */
const DIFFERENCES = {
  'pid-timing': {
    row: 'set when `remoteSpawn()` returns if the server answers within `startWait` ms',
    apply(local, remote) {
      const pairs = remote.aggregate ? [[local.aggregate, remote.aggregate]] : [[local, remote]];
      for (const [l, r] of pairs) {
        if (r.returned === undefined || l.returned === undefined) continue;
        if (r.returned.pid === l.returned.pid) continue;
        if (l.returned.pid !== 'number') fail('pid-timing', `child_process has pid ${l.returned.pid} on return`);
        if (r.returned.pid !== 'undefined' || r.pidAtSpawn !== 'number') {
          fail('pid-timing', `sidecar-exec: pid ${r.returned.pid} on return and ${r.pidAtSpawn} at 'spawn' (documented: undefined on return only when known at 'spawn')`);
        }
        r.returned.pid = l.returned.pid;
      }
    },
  },
  'spawn-error-timing': {
    row: 'thrown the same way when the server answers within `startWait`; otherwise emitted as `\'error\'` (same fields), then `\'close\'` with `(-errno, null)`',
    apply(local, remote) {
      const thrown = local.threw;
      if (!(thrown instanceof Error) || typeof thrown.errno !== 'number' || thrown.syscall !== 'spawn') {
        fail('spawn-error-timing', `child_process did not throw a spawn error: ${eventNames(local)}`);
      }
      if (remote.threw !== undefined) return; // answered in time: compared as it is
      const [first, second, ...more] = remote.log;
      if (!first || first[0] !== 'error' || !second || second[0] !== 'close' || second[1] !== thrown.errno || second[2] !== null || more.length > 0) {
        fail('spawn-error-timing', `sidecar-exec: [${eventNames(remote)}] ${JSON.stringify(second)} (documented: 'error', then 'close' (${thrown.errno}, null))`);
      }
      if (remote.returned.pid !== 'undefined') fail('spawn-error-timing', 'sidecar-exec has a pid after a failed start');
      const error = first[1];
      for (const key of Object.keys(remote)) delete remote[key];
      remote.threw = error;
    },
  },
  'cwd-message': messageSuffix('cwd-message', 'followed by `: cannot change to the working directory "<dir>" on the server: ENOENT`',
    (scenario) => `: cannot change to the working directory ${JSON.stringify(scenario.missingCwd)} on the server: ENOENT`),
  'cwd-file-message': messageSuffix('cwd-file-message', 'followed by `: working directory "<dir>" on the server is not a directory`',
    (scenario) => `: working directory ${JSON.stringify(scenario.fileCwd)} on the server is not a directory`),
  'interpreter-message': messageSuffix('interpreter-message', 'followed by `: interpreter <path> named by #! not found`',
    (scenario) => `: interpreter ${scenario.missingInterpreter} named by #! not found`),
  'buffer-cwd': {
    row: 'a `cwd` given as a Buffer is ignored (Node 20 validates it, then does not pass it on)',
    apply(local, remote, scenario) {
      const asked = `${scenario.bufferCwd}\n`;
      if (String(remote.stdout) !== asked) fail('buffer-cwd', `sidecar-exec ran in ${JSON.stringify(String(remote.stdout))}, not ${JSON.stringify(asked)}`);
      if (String(local.stdout) === asked) fail('buffer-cwd', 'child_process honoured the Buffer cwd: the difference is gone');
      remote.stdout = local.stdout;
    },
  },
  'env-own-only': {
    row: '`env` includes inherited (prototype) properties',
    apply(local, remote, scenario) {
      const inherited = scenario.inheritedEnv;
      const localLines = lines(local.stdout);
      for (const line of inherited) {
        if (!localLines.includes(line)) fail('env-own-only', `child_process did not pass the inherited ${line}`);
        if (lines(remote.stdout).includes(line)) fail('env-own-only', `sidecar-exec passed the inherited ${line}`);
      }
      const kept = localLines.filter((line) => !inherited.includes(line));
      local.stdout = Buffer.from(kept.map((line) => `${line}\n`).join(''));
    },
  },
  'located-env': {
    row: '`PATH` keeps the caller\'s absolute entries that are directories on the server, in order, then the server\'s own not listed',
    apply(local, remote) {
      // env(1)'s output: here PATH as given; there the given entries that
      // are directories on the server (this machine), then the server's own
      // (the test server runs with this process's PATH).
      const pathOf = (observation) => lines(observation.stdout).find((line) => line.startsWith('PATH='))?.slice(5);
      const given = pathOf(local);
      const made = pathOf(remote);
      if (given === undefined || made === undefined) fail('located-env', 'a side printed no PATH');
      const entries = given.split(':').filter((entry) => entry.startsWith('/') && fs.statSync(entry, { throwIfNoEntry: false })?.isDirectory());
      for (const entry of process.env.PATH.split(':')) {
        if (entry.startsWith('/') && !entries.includes(entry)) entries.push(entry);
      }
      if (made !== entries.join(':')) fail('located-env', `sidecar-exec's PATH ${made}, documented: ${entries.join(':')}`);
      if (made === given) fail('located-env', 'the PATH reached the program as given: the scenario does not show the difference');
      remote.stdout = Buffer.from(String(remote.stdout).replace(`PATH=${made}\n`, `PATH=${given}\n`));
    },
  },
  'pipe-kind': {
    row: '`\'pipe\'` stdio at 0-2 are unix socket pairs',
    apply(local, remote, scenario) {
      // extra.fds: the file type of the program's fds 0-4, seen from here in /proc.
      const l = local.extra.fds;
      const r = remote.extra.fds;
      if (!Array.isArray(l) || !Array.isArray(r) || l.length !== r.length) return; // the generic comparison reports it
      let differing = 0;
      for (let fd = 0; fd < r.length; fd++) {
        if (r[fd] === l[fd]) continue;
        if (fd > 2 || r[fd] !== 'fifo' || l[fd] !== 'socket') {
          fail('pipe-kind', `fd ${fd}: child_process ${l[fd]}, sidecar-exec ${r[fd]} (documented: only 0-2, socket here, fifo there)`);
        }
        differing++;
        r[fd] = l[fd];
      }
      if (differing === 0) fail('pipe-kind', 'no pipe at 0-2 differed: the scenario does not show the difference');
    },
  },
  'process-group': {
    row: 'always in a session and process group of its own, `detached` or not',
    apply(local, remote) {
      // extra.groups: { groupLeader, sessionLeader, callersGroup } of the program, from /proc.
      const l = local.extra.groups;
      const r = remote.extra.groups;
      if (!l || l.groupLeader !== false || l.sessionLeader !== false || l.callersGroup !== true) {
        fail('process-group', `child_process: ${JSON.stringify(l)} (expected the caller's group and session)`);
      }
      if (!r || r.groupLeader !== true || r.sessionLeader !== true || r.callersGroup !== false) {
        fail('process-group', `sidecar-exec: ${JSON.stringify(r)} (expected a session and group of its own)`);
      }
      remote.extra.groups = { ...r, groupLeader: false, sessionLeader: false, callersGroup: true };
    },
  },
  'group-kill': {
    row: '`kill()` signals every process of the program\'s tree',
    apply(local, remote) {
      // kill() of a shell whose grandchild holds stdout: here only the shell
      // dies and 'close' waits for the grandchild; there the group dies at once.
      if (local.extra.closeWaitedForGrandchild !== true) fail('group-kill', 'child_process did not wait for the grandchild');
      if (remote.extra.closeWaitedForGrandchild !== false) fail('group-kill', 'sidecar-exec waited for the grandchild: it was not signalled');
      remote.extra.closeWaitedForGrandchild = true;
    },
  },
  'outlives-parent': {
    row: 'the child outlives a parent that exits (unless signalled)',
    apply(local, remote) {
      if (local.extra.programAliveAfterClientExit !== true) fail('outlives-parent', 'the local program died with its parent');
      if (remote.extra.programAliveAfterClientExit !== false) fail('outlives-parent', 'the remote program outlived its client');
      remote.extra.programAliveAfterClientExit = true;
    },
  },
  'uid-policy': {
    row: 'by default it allows only its own ids and refuses others with `EPERM`, shaped as child_process reports it to an unprivileged caller',
    apply(local, remote, scenario, env) {
      // child_process as root switches user; the server refuses. What it
      // refuses with must be what child_process gives a caller without the
      // privilege: run the same call as uid 65534 (setpriv) and compare to that.
      if (local.threw !== undefined) fail('uid-policy', `child_process as root threw ${local.threw.message}`);
      const exit = local.log.find((entry) => entry[0] === 'exit');
      if (!exit || exit[1] !== 0) fail('uid-policy', `child_process as root did not run the program: ${eventNames(local)}`);
      const unprivileged = env.unprivileged.get(scenario.name);
      if (unprivileged === undefined) fail('uid-policy', 'no unprivileged capture');
      for (const key of Object.keys(local)) delete local[key];
      Object.assign(local, unprivileged);
    },
  },
  'rt-signal': {
    row: 'a program killed by a real-time signal is reported as `\'exit\'` `(0, null)`',
    apply(local, remote, scenario) {
      const name = `SIG${scenario.rtSignal}`;
      for (const event of ['exit', 'close']) {
        const l = local.log.find((entry) => entry[0] === event);
        const r = remote.log.find((entry) => entry[0] === event);
        if (!l || l[1] !== 0 || l[2] !== null) fail('rt-signal', `child_process '${event}' ${JSON.stringify(l)} (documented: 0, null)`);
        if (!r || r[1] !== null || r[2] !== name) fail('rt-signal', `sidecar-exec '${event}' ${JSON.stringify(r)} (documented: null, ${name})`);
        r[1] = 0;
        r[2] = null;
      }
      if (local.end.exitCode !== 0 || local.end.signalCode !== null) fail('rt-signal', 'child_process exitCode/signalCode');
      if (remote.end.exitCode !== null || remote.end.signalCode !== name) fail('rt-signal', `sidecar-exec exitCode ${remote.end.exitCode}, signalCode ${remote.end.signalCode}`);
      remote.end.exitCode = 0;
      remote.end.signalCode = null;
    },
  },
  'no-ipc': {
    row: '`stdio: \'ipc\'`, `serialization`, `send()` | `ERR_SIDECAR_UNSUPPORTED`',
    apply(local, remote, scenario) {
      if (local.threw !== undefined) fail('no-ipc', `child_process threw: ${local.threw.message}`);
      const e = remote.threw;
      if (e === undefined) fail('no-ipc', `sidecar-exec did not throw: ${eventNames(remote)}`);
      if (e.code !== 'ERR_SIDECAR_UNSUPPORTED' || e.name !== 'SidecarError' || !e.message.includes(`"${scenario.unsupportedOption}"`)) {
        fail('no-ipc', `sidecar-exec threw ${e.name} ${e.code}: ${e.message}`);
      }
      for (const o of [local, remote]) {
        for (const key of Object.keys(o)) delete o[key];
        o.unsupported = scenario.unsupportedOption;
      }
    },
  },
};

let documentText;
/** Throws unless every declared difference is known and its row is in docs/differences.md. */
function checkDeclaredDifferences(scenario) {
  documentText ??= fs.readFileSync(DIFFERENCES_DOC, 'utf8');
  for (const name of scenario.differences || []) {
    const difference = DIFFERENCES[name];
    if (difference === undefined) throw new Error(`scenario '${scenario.name}' declares unknown difference '${name}'`);
    if (!documentText.includes(difference.row)) {
      throw new Error(`difference '${name}' is not (or no longer) documented in docs/differences.md: ${difference.row}`);
    }
  }
}

// ---- the two sides --------------------------------------------------------

/**
 * child_process with the same default-merging as createClient, so that a
 * scenario can call both the same way: defaults, then the call's own options.
 */
function localClient(defaults) {
  const merge = (options) => ({ ...defaults, ...options });
  const spawn = (command, args, options) => (Array.isArray(args) || args == null
    ? childProcess.spawn(command, args ?? [], merge(options))
    : childProcess.spawn(command, merge(args)));
  function split(rest) {
    let [args, options, callback] = rest;
    if (typeof args === 'function') [args, options, callback] = [[], undefined, args];
    else if (!Array.isArray(args) && args != null) [args, options, callback] = [[], args, options];
    if (typeof options === 'function') [options, callback] = [undefined, options];
    return [args ?? [], merge(options), callback];
  }
  const execFile = (file, ...rest) => {
    const [args, options, callback] = split(rest);
    return childProcess.execFile(file, args, options, callback);
  };
  const exec = (command, options, callback) => {
    if (typeof options === 'function') [options, callback] = [undefined, options];
    return childProcess.exec(command, merge(options), callback);
  };
  exec[util.promisify.custom] = (command, options) => util.promisify(childProcess.exec)(command, merge(options));
  execFile[util.promisify.custom] = (file, ...rest) => {
    const [args, options] = split(rest);
    return util.promisify(childProcess.execFile)(file, args, options);
  };
  return { spawn, exec, execFile };
}

function sides() {
  // Loaded here, not at the top: the unprivileged capture requires this file too.
  const sidecar = require(PACKAGE_ROOT);
  return {
    local: {
      name: 'child_process',
      spawn: childProcess.spawn,
      exec: childProcess.exec,
      execFile: childProcess.execFile,
      createClient: localClient,
      kill: (pid, signal) => process.kill(pid, signal),
    },
    remote: {
      name: 'sidecar-exec',
      spawn: sidecar.remoteSpawn,
      exec: sidecar.remoteExec,
      execFile: sidecar.remoteExecFile,
      // The socket comes from SIDECAR_SOCKET, as for the functions above.
      createClient: (defaults) => sidecar.createClient(defaults),
      kill: (pid, signal) => sidecar.remoteKill(pid, signal),
    },
  };
}

// ---- one run ---------------------------------------------------------------

/** Copies plain data (arrays, plain objects); anything else is shared. */
function clonePlain(value) {
  if (Array.isArray(value)) return value.map(clonePlain);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out = {};
    for (const key of Object.keys(value)) out[key] = clonePlain(value[key]);
    return out;
  }
  return value;
}

/** What a scenario's hooks get: its side, a scratch directory (same path on both sides), notes, cleanups. */
class SideContext {
  constructor(side, api, dir, log) {
    this.side = side;
    this.api = api;
    this.dir = dir;
    this.log = log;
    this.extra = {};
    this.times = {};
    this.cleanups = [];
    this.t0 = performance.now();
  }

  file(name) {
    return path.join(this.dir, name);
  }

  /** Runs fn now and records its result (or what it threw) in the log, in order with the events. */
  note(label, fn) {
    try {
      const value = fn();
      this.log.push(['note', label, value]);
      return value;
    } catch (error) {
      this.log.push(['note', label, { threw: error }]);
      return undefined;
    }
  }

  /** Reads the named files of the scratch directory into extra.files. */
  readFiles(...names) {
    this.extra.files ??= {};
    for (const name of names) {
      try {
        this.extra.files[name] = fs.readFileSync(this.file(name));
      } catch (error) {
        this.extra.files[name] = `<${error.code}>`;
      }
    }
  }

  onCleanup(fn) {
    this.cleanups.push(fn);
  }
}

function resetDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
}

const DEFAULT_WAIT_MS = 8000;

/** Runs the scenario on one side and returns its raw observation. */
async function observe(scenario, sideName, env) {
  const api = env.sides[sideName];
  resetDir(env.dir);
  const log = [];
  const ctx = new SideContext(sideName, api, env.dir, log);
  try {
    if (scenario.custom) {
      const observation = await scenario.custom(api, ctx);
      observation.extra = { ...ctx.extra, ...(observation.extra || {}) };
      return observation;
    }
    return await observeCall(scenario, api, ctx);
  } finally {
    for (const fn of ctx.cleanups.reverse()) {
      try {
        await fn();
      } catch { /* best effort */ }
    }
  }
}

async function observeCall(scenario, api, ctx) {
  const { log } = ctx;
  const obs = { log, extra: ctx.extra };
  const args = typeof scenario.args === 'function' ? await scenario.args(ctx) : clonePlain(scenario.args);
  const [kind, form] = scenario.call.split(':'); // 'spawn', 'exec', 'execFile', 'client.exec', ... ':promise'
  let target = api;
  let method = kind;
  if (kind.startsWith('client.')) {
    method = kind.slice('client.'.length);
    target = api.createClient(clonePlain(scenario.clientDefaults || {}));
  }
  let settledResolve;
  const settled = new Promise((resolve) => { settledResolve = resolve; });
  let child;
  // Both sides make the call from the same kind of context (a fresh
  // macrotask), so that nextTicks and microtasks order the same way.
  await new Promise((resolve) => setImmediate(resolve));
  try {
    if (form === 'promise') {
      const promise = util.promisify(target[method])(...args);
      obs.promiseHasChild = promise.child !== undefined && typeof promise.child.on === 'function';
      child = promise.child;
      promise.then((value) => {
        log.push(['resolved', { keys: Object.keys(value).sort().join(','), stdout: canonOutput(value.stdout), stderr: canonOutput(value.stderr) }]);
        settledResolve();
      }, (error) => {
        log.push(['rejected', error]);
        settledResolve();
      });
    } else if (method === 'spawn') {
      child = target.spawn(...args);
      settledResolve();
    } else {
      const callback = (error, stdout, stderr) => {
        log.push(['callback', error, canonOutput(stdout), canonOutput(stderr)]);
        settledResolve();
      };
      child = scenario.noCallback ? target[method](...args) : target[method](...args, callback);
      if (scenario.noCallback) settledResolve();
    }
  } catch (error) {
    // Only what was thrown: nothing else happened.
    for (const key of Object.keys(obs)) delete obs[key];
    obs.threw = error;
    return obs;
  }
  if (child === undefined) {
    obs.noChild = true;
    return obs;
  }

  obs.returned = {
    pid: typeof child.pid,
    stdio: Array.isArray(child.stdio) ? child.stdio.map((s) => (s === null || s === undefined ? null : 'stream')) : canon(child.stdio),
    stdin: child.stdin === null ? null : 'stream',
    stdout: child.stdout === null ? null : 'stream',
    stderr: child.stderr === null ? null : 'stream',
  };
  if (scenario.stdioFlags) {
    obs.returned.flags = child.stdio.map((s) => (s === null ? null : { readable: s.readable, writable: s.writable }));
  }

  let spawned = false;
  obs.dataBeforeSpawn = false;
  const collected = {};
  const collect = (index) => {
    const stream = child.stdio[index];
    if (!stream || !stream.readable) return;
    collected[index] = [];
    stream.on('data', (chunk) => {
      if (!spawned && index === 1) obs.dataBeforeSpawn = true;
      collected[index].push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, stream.readableEncoding || 'utf8'));
    });
  };
  if (method === 'spawn') for (let i = 1; i < child.stdio.length; i++) collect(i);
  if (child.stdin) {
    // A program that exits without reading its stdin makes writes fail with
    // EPIPE, at a moment that depends on scheduling: recorded, not compared.
    child.stdin.on('error', (error) => { obs.stdinError = error.code; });
  }

  const closed = new Promise((resolve) => {
    child.on('spawn', () => {
      spawned = true;
      obs.pidAtSpawn = typeof child.pid;
      ctx.times.spawn = performance.now() - ctx.t0;
      log.push(['spawn']);
    });
    child.on('error', (error) => log.push(['error', error]));
    child.on('exit', (code, signal) => {
      ctx.times.exit = performance.now() - ctx.t0;
      log.push(['exit', code, signal]);
    });
    child.on('close', (code, signal) => {
      ctx.times.close = performance.now() - ctx.t0;
      log.push(['close', code, signal]);
      // One macrotask more, so that a duplicate event would show.
      setTimeout(resolve, 5);
    });
  });

  if (scenario.input !== undefined) child.stdin.end(scenario.input);
  for (const [index, data] of Object.entries(scenario.stdioInput || {})) child.stdio[index].end(data);

  // Synchronously after the call returned, as a caller's next statement.
  let during;
  try {
    during = Promise.resolve(scenario.during ? scenario.during(child, ctx) : undefined);
  } catch (error) {
    during = Promise.reject(error);
  }
  const limit = scenario.wait ?? DEFAULT_WAIT_MS;
  let timer;
  const timedOut = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), limit); });
  // A failing scenario action is recorded (and so compared), not thrown past the cleanup.
  const duringDone = during.catch((error) => { obs.duringFailed = error; });
  const outcome = await Promise.race([Promise.all([closed, settled, duringDone]), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    obs.timedOut = `no 'close' (or callback) within ${limit} ms`;
    try { child.kill('SIGKILL'); } catch { /* gone */ }
    for (const s of child.stdio || []) s?.destroy();
  }

  obs.end = {
    exitCode: child.exitCode,
    signalCode: child.signalCode,
    killed: child.killed,
    spawnfile: child.spawnfile,
    spawnargs: child.spawnargs,
    connected: child.connected,
    pid: typeof child.pid,
  };
  if (method === 'spawn') {
    if (collected[1]) obs.stdout = Buffer.concat(collected[1]);
    if (collected[2]) obs.stderr = Buffer.concat(collected[2]);
    for (const index of Object.keys(collected).filter((i) => i > 2)) {
      obs.pipes ??= {};
      obs.pipes[index] = Buffer.concat(collected[index]);
    }
  }
  if (scenario.inspect) await scenario.inspect(child, ctx, obs);
  return obs;
}

/** The observation in canonical, comparable form. */
function canonObservation(obs) {
  const out = {};
  for (const key of Object.keys(obs).sort()) {
    if (key === 'stdinError') continue; // see observeCall
    const value = obs[key];
    if (key === 'log') {
      // The order as one field; each entry's arguments under its name and
      // occurrence, so that a reordering shows once, not as shifted fields.
      out.sequence = eventNames(obs);
      out.events = {};
      const seen = new Map();
      for (const [name, ...rest] of value) {
        const label = name === 'note' ? `note ${rest.shift()}` : name;
        seen.set(label, (seen.get(label) || 0) + 1);
        out.events[`${label} #${seen.get(label)}`] = rest.map((part) => (part instanceof Error ? { error: errorFields(part) } : canon(part)));
      }
    } else {
      out[key] = canon(value);
    }
  }
  return out;
}

/**
 * Runs a scenario on both sides, applies its declared differences and
 * compares. Throws an AssertionError listing every differing field.
 */
async function runScenario(scenario, env) {
  checkDeclaredDifferences(scenario);
  if (scenario.before) await scenario.before(env);
  const local = await observe(scenario, 'local', env);
  if (scenario.expectLocal) {
    // The scenario only means something if child_process does what it is
    // meant to show (fails, is killed, ...): checked, so that the comparison
    // cannot pass vacuously.
    scenario.expectLocal(local);
  }
  const remote = await observe(scenario, 'remote', env);
  for (const name of scenario.differences || []) DIFFERENCES[name].apply(local, remote, scenario, env);
  if ((local.threw === undefined) !== (remote.threw === undefined)) {
    throw new AssertionError(`sidecar-exec differs from child_process: only one threw\n${describeThrowMismatch(local, remote)}`);
  }
  const l = canonObservation(local);
  const r = canonObservation(remote);
  const differing = compareCanon(l, r);
  if (differing.length > 0) {
    throw new AssertionError(
      `sidecar-exec differs from child_process in ${differing.length} field(s)\n`
      + `  events: child_process [${eventNames(local)}] | sidecar-exec [${eventNames(remote)}]\n${differing.join('\n')}`,
      { actual: r, expected: l, showDiff: false },
    );
  }
  return { local, remote };
}

// ---- helpers for scenarios ---------------------------------------------------

/**
 * Runs a spawn-like call with child_process in a node process as uid/gid
 * 65534 without supplementary groups (setpriv), and returns its observation
 * in the same raw-ish form ({ threw } or { log, ... }), with errors already
 * reduced to their fields. That process loads canon.js from the other-uid
 * copy: this checkout may be closed to uid 65534.
 */
function captureUnprivileged(method, args) {
  const script = `
    const { errorFields } = require(${JSON.stringify(otherUidPath('test/conformance/canon.js'))});
    const cp = require('node:child_process');
    const [method, args] = JSON.parse(process.argv[1]);
    let child;
    try {
      child = cp[method](...args);
    } catch (error) {
      process.stdout.write(JSON.stringify({ threw: { error: errorFields(error) } }));
      process.exit(0);
    }
    const log = [];
    child.on('spawn', () => log.push(['spawn']));
    child.on('error', (error) => log.push(['error', { error: errorFields(error) }]));
    child.on('exit', (code, signal) => log.push(['exit', code, signal]));
    child.on('close', (code, signal) => {
      log.push(['close', code, signal]);
      process.stdout.write(JSON.stringify({ log }));
    });`;
  const result = childProcess.spawnSync('setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script, JSON.stringify([method, args])],
    { cwd: '/', encoding: 'utf8', timeout: 10000 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`unprivileged capture failed (${result.status ?? result.signal}): ${result.stderr}`);
  // Errors arrive as { error: fields }: canon() leaves that form as it is.
  return JSON.parse(result.stdout);
}

/** Waits up to `timeout` ms for a process to be gone (or a zombie); true if it is. */
async function goneWithin(pid, timeout) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return !isAlive(pid);
}

module.exports = {
  DIFFERENCES, runScenario, observe, canon, canonObservation, compareCanon, errorFields, captureUnprivileged,
  sides, goneWithin, localClient, PACKAGE_ROOT, sha256,
};
