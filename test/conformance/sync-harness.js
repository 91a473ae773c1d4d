'use strict';
// The parity harness of the sync calls: runs one scenario of
// sync-scenarios.js through node:child_process ("local") and through
// sidecar-exec against a live server in another process ("remote"), reduces
// each to an observation, applies the documented differences it declares
// (harness.js DIFFERENCES) and compares the canonical forms field by field.
//
// An observation:
//   threw     what the call threw: the error's fields (canon.js), plus the
//             spawnSync result child_process lays over an exec*Sync error
//             (status, signal, output, stdout, stderr, pid, whether
//             error.error is the error itself)
//   returned  what it returned: a spawnSync result (every key, in order) or
//             exec*Sync's stdout
//   extra     what the scenario's inspect() added
// A pid becomes '<pid>' when positive (the two sides' pids differ by
// nature); 0 stays 0.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { AssertionError } = require('chai');
const { canon, errorFields } = require('./canon');
const { DIFFERENCES, PACKAGE_ROOT, compareCanon } = require('./harness');

const DIFFERENCES_DOC = path.join(PACKAGE_ROOT, 'docs', 'differences.md');

/** child_process with createClient's default-merging, so that a scenario calls both sides the same way. */
function localClient(defaults) {
  const merge = (options) => ({ ...defaults, ...options });
  const split = (args, options) => (Array.isArray(args) || args == null ? [args ?? [], merge(options)] : [[], merge(args)]);
  return {
    spawnSync: (command, args, options) => childProcess.spawnSync(command, ...split(args, options)),
    execSync: (command, options) => childProcess.execSync(command, merge(options)),
    execFileSync: (file, args, options) => childProcess.execFileSync(file, ...split(args, options)),
  };
}

function syncSides() {
  const sidecar = require(PACKAGE_ROOT);
  return {
    local: {
      name: 'child_process',
      spawnSync: childProcess.spawnSync,
      execSync: childProcess.execSync,
      execFileSync: childProcess.execFileSync,
      createClient: localClient,
    },
    remote: {
      name: 'sidecar-exec',
      spawnSync: sidecar.remoteSpawnSync,
      execSync: sidecar.remoteExecSync,
      execFileSync: sidecar.remoteExecFileSync,
      createClient: (defaults) => sidecar.createClient(defaults),
    },
  };
}

const pidForm = (pid) => (typeof pid === 'number' && pid > 0 ? '<pid>' : pid);

/** A spawnSync result with its keys in order (child_process's order is part of its shape). */
function resultFields(result) {
  const out = { keys: Object.keys(result).join(',') };
  for (const key of Object.keys(result)) out[key] = key === 'pid' ? pidForm(result.pid) : result[key];
  return out;
}

/** What an exec*Sync error carries besides an error's usual fields. */
function thrownFields(error) {
  if (!(error instanceof Error)) return { notAnError: canon(error) };
  const out = { error };
  for (const key of ['status', 'signal', 'output', 'stdout', 'stderr']) {
    if (key in error) out[key] = error[key];
  }
  if ('pid' in error) out.pid = pidForm(error.pid);
  if ('error' in error) out.errorIsItself = error.error === error;
  return out;
}

/** Runs the scenario's call on one side. Raw: errors stay Errors until canonSync, so that DIFFERENCES can edit them. */
function observeSync(scenario, api, ctx) {
  const args = typeof scenario.args === 'function' ? scenario.args(ctx) : scenario.args;
  const [kind] = scenario.call.split(':');
  let target = api;
  let method = kind;
  if (kind.startsWith('client.')) {
    method = kind.slice('client.'.length);
    target = api.createClient({ ...(scenario.clientDefaults || {}) });
  }
  const obs = { extra: ctx.extra };
  try {
    const value = target[method](...args);
    obs.returned = method === 'spawnSync' ? resultFields(value) : value;
  } catch (error) {
    obs.threw = thrownFields(error);
  }
  if (scenario.inspect) scenario.inspect(obs, ctx);
  return obs;
}

/** The observation with every Error reduced to its fields. */
function canonSync(value) {
  if (value instanceof Error) return { error: errorFields(value) };
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !Array.isArray(value)) {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = canonSync(value[key]);
    return out;
  }
  if (Array.isArray(value)) return value.map(canonSync);
  return canon(value);
}

let documentText;

/** Runs one scenario on both sides and compares; throws an AssertionError listing every differing field. */
function runSyncScenario(scenario, env) {
  documentText ??= fs.readFileSync(DIFFERENCES_DOC, 'utf8');
  for (const name of scenario.differences || []) {
    if (DIFFERENCES[name] === undefined) throw new Error(`scenario '${scenario.name}' declares unknown difference '${name}'`);
    if (!documentText.includes(DIFFERENCES[name].row)) throw new Error(`difference '${name}' is not documented`);
  }
  const observations = {};
  for (const side of ['local', 'remote']) {
    fs.rmSync(env.dir, { recursive: true, force: true });
    fs.mkdirSync(env.dir, { recursive: true });
    const ctx = { side, dir: env.dir, extra: {}, file: (name) => path.join(env.dir, name), cleanups: [] };
    try {
      observations[side] = observeSync(scenario, env.sides[side], ctx);
    } finally {
      for (const fn of ctx.cleanups.reverse()) fn();
    }
    if (side === 'local' && scenario.expectLocal) scenario.expectLocal(observations.local);
  }
  const { local, remote } = observations;
  for (const name of scenario.differences || []) DIFFERENCES[name].apply(local, remote, scenario, env);
  const differing = compareCanon(canonSync(local), canonSync(remote));
  if (differing.length > 0) {
    throw new AssertionError(`sidecar-exec differs from child_process in ${differing.length} field(s)\n${differing.join('\n')}`);
  }
}

module.exports = { runSyncScenario, syncSides, localClient };
