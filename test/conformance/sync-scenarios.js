'use strict';
// The sync parity TABLE: each row runs through child_process's spawnSync,
// execSync or execFileSync and through sidecar-exec's, side by side
// (sync-harness.js), and the two are compared field by field.
//
// Row fields:
//   name         unique title
//   call         'spawnSync' | 'execSync' | 'execFileSync' | 'client.<one of them>' (createClient(clientDefaults))
//   args         the call's arguments, or (ctx) => arguments (ctx.dir: a scratch directory, the same path for
//                both sides; ctx.cleanups: functions run after the call)
//   inspect      (observation, ctx) after the call: adds facts to ctx.extra, or reduces what differs by
//                timing alone (how much output a killed program wrote before maxBuffer stopped it)
//   expectLocal  assertions on child_process's observation, so that a row cannot pass vacuously
//   differences  documented differences (harness.js DIFFERENCES), with their parameters (missingCwd)

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { fixture } = require('../helpers');

const NO_SUCH = 'sidecar-sync-parity-no-such-command';
const SLOW = 'echo hi; exec sleep 10';
const TIMEOUT = 1500;

/** child_process's observation: returned a result with this error code (or none). */
const resultError = (code) => (obs) => {
  expect(obs.returned, 'child_process returned').to.be.an('object');
  if (code === undefined) expect(obs.returned.error).to.equal(undefined);
  else expect(obs.returned.error && obs.returned.error.code).to.equal(code);
};

/** child_process's observation: threw, with this code (a number: the status). */
const thrown = (code) => (obs) => {
  expect(obs.threw, 'child_process threw').to.be.an('object');
  if (typeof code === 'number') expect(obs.threw.status).to.equal(code);
  else if (code !== undefined) expect(obs.threw.error.code).to.equal(code);
};

/**
 * Output of a program stopped by maxBuffer: how much was read before the kill
 * depends on scheduling, so each output is reduced to whether it passed the limit.
 */
function overflowAt(limit) {
  const reduce = (value) => {
    if (Buffer.isBuffer(value) || typeof value === 'string') return value.length > limit ? `> ${limit}` : `<= ${limit}`;
    return value;
  };
  return (obs) => {
    for (const holder of [obs.returned, obs.threw]) {
      if (holder === null || typeof holder !== 'object') continue;
      for (const key of ['stdout', 'stderr']) if (key in holder) holder[key] = reduce(holder[key]);
      if (Array.isArray(holder.output)) holder.output = holder.output.map(reduce);
      if (holder.error instanceof Error) {
        for (const key of ['stdout', 'stderr']) if (key in holder.error) holder.error[key] = reduce(holder.error[key]);
        if (Array.isArray(holder.error.output)) holder.error.output = holder.error.output.map(reduce);
      }
    }
    if (typeof obs.returned === 'string' || Buffer.isBuffer(obs.returned)) obs.returned = reduce(obs.returned);
  };
}

/** An fd open on ctx.dir/name for writing, closed after the call; the file's content lands in extra.files. */
function fileFd(ctx, name) {
  const fd = fs.openSync(ctx.file(name), 'w');
  ctx.cleanups.push(() => fs.closeSync(fd));
  return fd;
}
const readInto = (...names) => (obs, ctx) => {
  obs.extra.files = {};
  for (const name of names) obs.extra.files[name] = fs.readFileSync(ctx.file(name), 'utf8');
};

const TABLE = [
  // ---- spawnSync: exit, output, encoding ----
  { name: 'spawnSync true', call: 'spawnSync', args: ['true'], expectLocal: resultError() },
  { name: 'spawnSync exit code 3', call: 'spawnSync', args: ['sh', ['-c', 'exit 3']] },
  { name: 'spawnSync stdout and stderr', call: 'spawnSync', args: ['sh', ['-c', 'echo out; echo err >&2']] },
  { name: 'spawnSync options without args', call: 'spawnSync', args: ['pwd', { cwd: '/' }] },
  { name: 'spawnSync encoding utf8', call: 'spawnSync', args: ['sh', ['-c', 'printf "h\\303\\251 %s" x; echo e >&2'], { encoding: 'utf8' }] },
  { name: 'spawnSync encoding latin1', call: 'spawnSync', args: ['printf', ['\\303\\251'], { encoding: 'latin1' }] },
  { name: 'spawnSync encoding hex', call: 'spawnSync', args: ['printf', ['ab'], { encoding: 'hex' }] },
  { name: 'spawnSync encoding buffer', call: 'spawnSync', args: ['printf', ['ab'], { encoding: 'buffer' }] },
  { name: 'spawnSync 200 kB of output', call: 'spawnSync', args: ['head', ['-c', '200000', '/dev/urandom'], { maxBuffer: Infinity }],
    inspect: (obs) => { obs.returned.stdout = obs.returned.stdout.length; obs.returned.output = obs.returned.output.map((o) => o && o.length); } },
  { name: 'spawnSync 3 MB with maxBuffer undefined given (no limit)', call: 'spawnSync', args: ['head', ['-c', '3000000', '/dev/zero'], { maxBuffer: undefined }],
    expectLocal: resultError() },
  // ---- input ----
  { name: 'spawnSync input string', call: 'spawnSync', args: ['cat', { input: 'hello\n' }] },
  { name: 'spawnSync input Buffer', call: 'spawnSync', args: ['cat', [], { input: Buffer.from([0, 1, 2, 255]) }] },
  { name: 'spawnSync input Uint8Array', call: 'spawnSync', args: ['wc', ['-c'], { input: new Uint8Array(70000) }] },
  { name: 'spawnSync input string in hex encoding', call: 'spawnSync', args: ['cat', { input: '68690a', encoding: 'hex' }] },
  { name: 'spawnSync input the program leaves unread in the pipe', call: 'spawnSync', args: ['sh', ['-c', 'sleep 0.2'], { input: 'unread' }],
    expectLocal: resultError() },
  { name: 'spawnSync input with stdin ignored', call: 'spawnSync', args: ['cat', { input: 'lost', stdio: ['ignore', 'pipe', 'pipe'] }] },
  // ---- stdio forms ----
  { name: 'spawnSync stdio ignore', call: 'spawnSync', args: ['sh', ['-c', 'echo out; echo err >&2'], { stdio: 'ignore' }] },
  { name: 'spawnSync stdio inherit', call: 'spawnSync', args: ['true', { stdio: 'inherit' }] },
  { name: 'spawnSync stdio array with inherit', call: 'spawnSync', args: ['sh', ['-c', 'echo out'], { stdio: ['ignore', 'pipe', 'inherit'] }] },
  { name: 'spawnSync stdout to an fd', call: 'spawnSync', args: (ctx) => ['sh', ['-c', 'echo to-file; echo err >&2'], { stdio: ['ignore', fileFd(ctx, 'out'), 'pipe'] }],
    inspect: readInto('out') },
  { name: 'spawnSync null and undefined stdio entries', call: 'spawnSync', args: ['sh', ['-c', 'echo a; echo b >&2'], { stdio: [null, undefined, 'pipe'] }] },
  // ---- signals, timeout, maxBuffer ----
  { name: 'spawnSync killed by SIGTERM', call: 'spawnSync', args: ['sh', ['-c', 'kill -TERM $$']] },
  { name: 'spawnSync killed by SIGKILL', call: 'spawnSync', args: ['sh', ['-c', 'echo before; kill -KILL $$']] },
  { name: 'spawnSync timeout', call: 'spawnSync', args: ['sh', ['-c', SLOW], { timeout: TIMEOUT }], expectLocal: resultError('ETIMEDOUT') },
  { name: 'spawnSync timeout with killSignal SIGKILL', call: 'spawnSync', args: ['sh', ['-c', SLOW], { timeout: TIMEOUT, killSignal: 'SIGKILL' }],
    expectLocal: resultError('ETIMEDOUT') },
  { name: 'spawnSync timeout with killSignal as a number', call: 'spawnSync', args: ['sh', ['-c', SLOW], { timeout: TIMEOUT, killSignal: 2 }],
    expectLocal: resultError('ETIMEDOUT') },
  { name: 'spawnSync maxBuffer overflow on stdout', call: 'spawnSync', args: ['yes', { maxBuffer: 10 }],
    inspect: overflowAt(10), expectLocal: resultError('ENOBUFS') },
  { name: 'spawnSync maxBuffer overflow on stderr', call: 'spawnSync', args: ['sh', ['-c', 'exec yes >&2'], { maxBuffer: 100 }],
    inspect: overflowAt(100), expectLocal: resultError('ENOBUFS') },
  { name: 'spawnSync maxBuffer exactly reached', call: 'spawnSync', args: ['printf', ['0123456789'], { maxBuffer: 10 }], expectLocal: resultError() },
  { name: 'spawnSync default maxBuffer (1 MiB) overflow', call: 'spawnSync', args: ['yes', ['long line of output']],
    inspect: overflowAt(1024 * 1024), expectLocal: resultError('ENOBUFS') },
  // ---- failures to run ----
  { name: 'spawnSync ENOENT', call: 'spawnSync', args: [NO_SUCH], expectLocal: resultError('ENOENT') },
  { name: 'spawnSync ENOENT with args', call: 'spawnSync', args: [NO_SUCH, ['a', 'b']], expectLocal: resultError('ENOENT') },
  { name: 'spawnSync EACCES: file without execute permission', call: 'spawnSync', args: [fixture('not-executable.sh'), ['x']],
    expectLocal: resultError('EACCES') },
  { name: 'spawnSync missing cwd', call: 'spawnSync', args: ['true', { cwd: '/nonexistent/sidecar-sync-dir' }],
    missingCwd: '/nonexistent/sidecar-sync-dir', differences: ['cwd-message'], expectLocal: resultError('ENOENT') },
  // ---- shell, cwd, env, argv0 ----
  { name: 'spawnSync shell true', call: 'spawnSync', args: ['echo $((6 * 7)) | tr 4 x', { shell: true }] },
  { name: 'spawnSync shell /bin/bash', call: 'spawnSync', args: ['echo', ['$BASH_VERSION', '|', 'wc', '-c'], { shell: '/bin/bash', encoding: 'utf8' }] },
  { name: 'spawnSync cwd absolute', call: 'spawnSync', args: (ctx) => ['pwd', { cwd: ctx.dir }] },
  { name: 'spawnSync cwd relative to the caller', call: 'spawnSync', args: (ctx) => ['pwd', { cwd: path.relative(process.cwd(), ctx.dir) }] },
  { name: 'spawnSync env only given names', call: 'spawnSync', args: ['/usr/bin/env', { env: { ONLY: '1' } }] },
  { name: 'spawnSync env added to the caller\'s', call: 'spawnSync', args: ['sh', ['-c', 'echo "$FOO" "$HOME"'], { env: { ...process.env, FOO: 'bar' } }] },
  { name: 'spawnSync argv0', call: 'spawnSync', args: ['sh', ['-c', 'echo $0'], { argv0: 'custom-name' }] },
  // ---- argument errors ----
  { name: 'spawnSync input of a wrong type', call: 'spawnSync', args: ['cat', { input: 5 }], expectLocal: (obs) => expect(obs.threw).to.be.an('object') },
  { name: 'spawnSync negative maxBuffer', call: 'spawnSync', args: ['true', { maxBuffer: -1 }], expectLocal: thrown('ERR_OUT_OF_RANGE') },
  { name: 'spawnSync negative timeout', call: 'spawnSync', args: ['true', { timeout: -1 }], expectLocal: thrown('ERR_OUT_OF_RANGE') },
  { name: 'spawnSync unknown killSignal', call: 'spawnSync', args: ['true', { killSignal: 'SIGNOPE' }], expectLocal: thrown('ERR_UNKNOWN_SIGNAL') },
  { name: 'spawnSync command not a string', call: 'spawnSync', args: [42], expectLocal: thrown('ERR_INVALID_ARG_TYPE') },
  // ---- execSync ----
  { name: 'execSync echo', call: 'execSync', args: ['echo hi'] },
  { name: 'execSync encoding utf8', call: 'execSync', args: ['echo hi', { encoding: 'utf8' }] },
  { name: 'execSync exit 3 with stderr', call: 'execSync', args: ['echo bad >&2; exit 3', { stdio: 'pipe' }], expectLocal: thrown(3) },
  { name: 'execSync exit 3 without stderr', call: 'execSync', args: ['exit 3', { stdio: 'pipe', encoding: 'utf8' }], expectLocal: thrown(3) },
  { name: 'execSync killed by a signal', call: 'execSync', args: ['kill -KILL $$', { stdio: 'pipe' }], expectLocal: thrown() },
  { name: 'execSync command not found in the shell', call: 'execSync', args: [`${NO_SUCH} arg`, { stdio: 'pipe' }], expectLocal: thrown(127) },
  { name: 'execSync timeout', call: 'execSync', args: [SLOW, { timeout: TIMEOUT }], expectLocal: thrown('ETIMEDOUT') },
  { name: 'execSync maxBuffer overflow', call: 'execSync', args: ['exec yes', { maxBuffer: 10 }],
    inspect: overflowAt(10), expectLocal: thrown('ENOBUFS') },
  { name: 'execSync input', call: 'execSync', args: ['tr a-z A-Z', { input: 'shout' }] },
  { name: 'execSync shell /bin/bash', call: 'execSync', args: ['echo ${BASH_VERSION:+bash}', { shell: '/bin/bash', encoding: 'utf8' }] },
  { name: 'execSync shell ENOENT', call: 'execSync', args: ['true', { shell: `/nonexistent/${NO_SUCH}` }], expectLocal: thrown('ENOENT') },
  { name: 'execSync stdio ignore returns null', call: 'execSync', args: ['echo hidden', { stdio: 'ignore' }] },
  { name: 'execSync cwd', call: 'execSync', args: (ctx) => ['pwd', { cwd: ctx.dir, encoding: 'utf8' }] },
  { name: 'execSync command not a string', call: 'execSync', args: [['echo']], expectLocal: thrown('ERR_INVALID_ARG_TYPE') },
  // ---- execFileSync ----
  { name: 'execFileSync echo with args', call: 'execFileSync', args: ['echo', ['a', 'b c']] },
  { name: 'execFileSync options without args', call: 'execFileSync', args: ['pwd', { cwd: '/', encoding: 'latin1' }] },
  { name: 'execFileSync ENOENT', call: 'execFileSync', args: [NO_SUCH, ['x']], expectLocal: thrown('ENOENT') },
  { name: 'execFileSync EACCES', call: 'execFileSync', args: [fixture('not-executable.sh')], expectLocal: thrown('EACCES') },
  { name: 'execFileSync exit code with stderr', call: 'execFileSync', args: ['sh', ['-c', 'echo nope >&2; exit 4'], { stdio: 'pipe' }],
    expectLocal: thrown(4) },
  { name: 'execFileSync failure names argv0', call: 'execFileSync', args: ['sh', ['-c', 'exit 1'], { argv0: 'renamed', stdio: 'pipe' }],
    expectLocal: thrown(1) },
  { name: 'execFileSync shell true', call: 'execFileSync', args: ['echo', ['$((1 + 1))'], { shell: true, encoding: 'utf8' }] },
  { name: 'execFileSync timeout with SIGKILL', call: 'execFileSync', args: ['sh', ['-c', SLOW], { timeout: TIMEOUT, killSignal: 'SIGKILL' }],
    expectLocal: thrown('ETIMEDOUT') },
  { name: 'execFileSync input Buffer', call: 'execFileSync', args: ['od', ['-An', '-tx1'], { input: Buffer.from('AB') }] },
  // ---- createClient ----
  { name: 'client.spawnSync with default encoding', call: 'client.spawnSync', clientDefaults: { encoding: 'utf8' }, args: ['echo', ['x']] },
  { name: 'client.spawnSync call options over defaults', call: 'client.spawnSync', clientDefaults: { encoding: 'utf8' }, args: ['echo', ['x'], { encoding: 'hex' }] },
  { name: 'client.execSync with default env', call: 'client.execSync', clientDefaults: { env: { V: 'from-defaults' }, encoding: 'utf8' }, args: ['echo $V'] },
  { name: 'client.execFileSync with default cwd', call: 'client.execFileSync', clientDefaults: { cwd: '/' }, args: ['pwd'] },
];

module.exports = { TABLE };
