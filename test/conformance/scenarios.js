'use strict';
// The parity TABLE: each row is run through node:child_process and through
// sidecar-exec (see harness.js) and compared field by field.
//
// Row fields:
//   name         unique title
//   call         'spawn' | 'exec' | 'execFile' (callback appended by the harness) | '<exec|execFile>:promise'
//                (util.promisify form) | 'client.<spawn|exec|execFile>[:promise]' (createClient(clientDefaults))
//   args         the call's arguments, or (ctx) => arguments (built afresh for each side: signals, streams, fds)
//   input        written to stdin, which is then ended
//   stdioInput   { index: data } written to extra pipes, which are then ended
//   noCallback   exec/execFile called without the harness's callback
//   during       (child, ctx), called right after the call returned (may be async): actions while it runs
//                (kill, abort...); ctx.note() records results in order with the events; ctx.api is the side's
//                { spawn, exec, execFile, createClient, kill } (kill: process.kill here, remoteKill there)
//   inspect      async (child, ctx, observation) after 'close': adds facts to ctx.extra
//   custom       async (api, ctx) => observation, for scenarios that are not one call (parallel runs, client scripts)
//   stdioFlags   also compare readable/writable of every stdio stream
//   expectLocal  assertions on child_process's observation, so that a row cannot pass vacuously
//   differences  the documented inherent differences that apply (harness.js DIFFERENCES), asserted exactly;
//                their parameters: missingCwd, fileCwd, missingInterpreter, inheritedEnv, rtSignal, unsupportedOption
//   needsSetpriv the 'uid-policy' rows: skipped (visibly) without setpriv
//   strictPid    the one row that does not get the implicit 'pid-timing' (see the end of the table)
//
// `startWait` and `callerEnv` in a row's options are sidecar-exec's own options; child_process
// ignores unknown options, so both sides still get the same arguments.
//
// Programs are the same on both sides: PATH programs of this machine or
// absolute paths, run with the same arguments in the same scratch directory
// (ctx.dir, the same path for both sides, emptied in between).

const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { once } = require('node:events');
const { expect } = require('chai');
const { fixture, sleep, procStat } = require('../helpers');
const { goneWithin, PACKAGE_ROOT } = require('./harness');

/** Resolves once the child emitted 'spawn' (at once if it already did). */
function spawned(child, ctx) {
  if (ctx.log.some((entry) => entry[0] === 'spawn')) return Promise.resolve();
  return new Promise((resolve) => child.once('spawn', resolve));
}

const NO_SUCH = 'sidecar-parity-no-such-command';

/** What fds 0-4 of a running process are ('fifo', 'socket', 'char /dev/null', 'file <path>', 'closed'), seen from /proc. */
function fdKinds(pid) {
  return [0, 1, 2, 3, 4].map((n) => {
    const link = `/proc/${pid}/fd/${n}`;
    try {
      const stat = fs.statSync(link);
      if (stat.isFIFO()) return 'fifo';
      if (stat.isSocket()) return 'socket';
      return `${stat.isCharacterDevice() ? 'char' : stat.isFile() ? 'file' : 'other'} ${fs.readlinkSync(link)}`;
    } catch (error) {
      return error.code === 'ENOENT' ? 'closed' : error.code;
    }
  });
}

/**
 * A `during` hook: at 'spawn', records what the program's fds are
 * (extra.fds), optionally where 0-2 lead (extra.links, for fds that are the
 * caller's own) and its process group and session (extra.groups), then ends
 * it with kill(). The program must still run then: NAP.
 */
function inspectAtSpawn({ links = false, groups = false } = {}) {
  return async (child, ctx) => {
    await spawned(child, ctx);
    const { pid } = child;
    // Past the program's own start-up: the same answer twice in a row.
    let kinds = fdKinds(pid);
    for (let i = 0; i < 20; i++) {
      await sleep(25);
      const again = fdKinds(pid);
      if (JSON.stringify(again) === JSON.stringify(kinds)) break;
      kinds = again;
    }
    ctx.extra.fds = kinds;
    if (links) ctx.extra.links = [0, 1, 2].map((n) => fs.readlinkSync(`/proc/${pid}/fd/${n}`));
    if (groups) {
      const stat = procStat(pid);
      ctx.extra.groups = {
        groupLeader: stat.pgid === pid,
        sessionLeader: stat.sid === pid,
        callersGroup: stat.pgid === procStat(process.pid).pgid,
      };
    }
    ctx.note('kill()', () => child.kill());
  };
}

/**
 * The program whose fds and groups are inspected, ended by inspectAtSpawn.
 * Without LANG it opens no locale files, which would show as fds for a moment.
 */
const NAP = ['sleep', ['5']];
const NAP_ENV = { PATH: process.env.PATH };


/** Runs `fn(child, ctx)` once the child has spawned and `ms` more passed. */
function afterSpawn(ms, fn) {
  return async (child, ctx) => {
    await spawned(child, ctx);
    if (ms > 0) await sleep(ms);
    await fn(child, ctx);
  };
}

/** A program that runs until a scenario ends it (kill, timeout, abort). */
const LONG = ['sleep', ['5']];

const expectThrew = (code) => (local) => {
  expect(local.threw, 'child_process did not throw').to.be.an('error');
  if (code) expect(local.threw.code).to.equal(code);
};
const expectEvents = (...names) => (local) => {
  expect(local.threw, local.threw && local.threw.stack).to.equal(undefined);
  expect(local.log.map((entry) => entry[0])).to.deep.equal(names);
};
const expectError = (code) => (local) => {
  expect(local.threw, local.threw && local.threw.stack).to.equal(undefined);
  const error = local.log.find((entry) => entry[0] === 'error' || (entry[0] === 'callback' && entry[1]) || entry[0] === 'rejected');
  expect(error, `child_process did not fail: ${JSON.stringify(local.log.map((e) => e[0]))}`).to.not.equal(undefined);
  if (code !== undefined) expect(error[1].code).to.equal(code);
};

/** The bytes 0..255, four times: binary data both ways. */
const BINARY = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
const UNICODE = 'héllo wörld ✓ — 日本語 🎉 \u0000 نص \r\n end';

/** Waits for a plain child (the harness's own helpers) to close; collects stdout. */
function finished(child) {
  const out = [];
  child.stdout?.on('data', (chunk) => out.push(chunk));
  return new Promise((resolve) => {
    const events = [];
    child.on('spawn', () => events.push(['spawn']));
    child.on('error', (error) => events.push(['error', error]));
    child.on('exit', (code, signal) => events.push(['exit', code, signal]));
    child.on('close', (code, signal) => {
      events.push(['close', code, signal]);
      resolve({ events, stdout: Buffer.concat(out) });
    });
  });
}

/**
 * A node client script run in its own process: unref() must let it exit while
 * the program runs. A program that is not `detached` sleeps (alive here,
 * killed by the server there: 'outlives-parent'); a `detached` one waits
 * until its caller is gone, then writes a file, on both sides.
 */
function unrefClient(whenUnref, { detached = false } = {}) {
  return async (api, ctx) => {
    const spawnExpr = ctx.side === 'local'
      ? 'require(\'node:child_process\').spawn'
      : `require(${JSON.stringify(PACKAGE_ROOT)}).remoteSpawn`;
    const marker = ctx.file('finished');
    // The caller's pid is $1: `kill -0` fails once it exited (and was reaped).
    const program = detached
      ? ['sh', ['-c', 'while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; echo "after the caller exited" > "$0"', marker]]
      : ['sleep', ['3']];
    const script = `
      const spawn = ${spawnExpr};
      const args = ${JSON.stringify(program[1])}.concat(${detached ? '[String(process.pid)]' : '[]'});
      // startWait: sidecar-exec's own option (child_process ignores it), so that pid is known on return.
      const child = spawn(${JSON.stringify(program[0])}, args, { stdio: 'ignore', startWait: 2000, detached: ${detached} });
      const report = (when) => process.stdout.write(JSON.stringify({ when, pid: child.pid }) + '\\n');
      ${whenUnref === 'now'
    ? 'report(\'return\'); child.unref();'
    : 'child.on(\'spawn\', () => { report(\'spawn\'); child.unref(); });'}
    `;
    const started = Date.now();
    const client = childProcess.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr = [];
    client.stderr.on('data', (chunk) => stderr.push(chunk));
    const { events, stdout } = await finished(client);
    const elapsed = Date.now() - started;
    const report = JSON.parse(stdout.toString().trim() || '{}');
    if (typeof report.pid === 'number') {
      ctx.onCleanup(() => {
        try { process.kill(report.pid, 'SIGKILL'); } catch { /* gone */ }
      });
      if (detached) {
        // The program, its caller gone, finishes and leaves its file.
        ctx.extra.programFinished = await goneWithin(report.pid, 10000);
        ctx.readFiles('finished');
      } else {
        // The program of a client that is gone: alive here, killed by the server there.
        ctx.extra.programAliveAfterClientExit = !(await goneWithin(report.pid, 1000));
      }
    }
    return {
      clientEvents: events,
      clientStderr: Buffer.concat(stderr),
      exitedPromptly: elapsed < 2000 ? true : `after ${elapsed} ms`,
      reported: { when: report.when, pid: typeof report.pid },
    };
  };
}

/** Opens a file in the scratch directory for writing; closed after the run. */
function openOut(ctx, name) {
  const fd = fs.openSync(ctx.file(name), 'w');
  ctx.onCleanup(() => fs.closeSync(fd));
  return fd;
}

const TABLE = [
  // ---- exit status, events, state ----------------------------------------------
  { name: 'spawn true: spawn, exit 0, close', call: 'spawn', args: ['true', []], expectLocal: expectEvents('spawn', 'exit', 'close') },
  { name: 'spawn false: exit code 1', call: 'spawn', args: ['false'] },
  { name: 'exit code 42 through sh -c', call: 'spawn', args: ['sh', ['-c', 'echo out; echo err >&2; exit 42']] },
  { name: 'death by SIGTERM sent to itself', call: 'spawn', args: ['sh', ['-c', 'kill -TERM $$']] },
  {
    name: 'death by a real-time signal (SIGRTMIN, 34)',
    call: 'spawn',
    args: ['sh', ['-c', 'kill -34 $$']],
    rtSignal: 34,
    differences: ['rt-signal'],
  },
  {
    name: '\'exit\' before \'close\' with 200 KB of output',
    call: 'spawn',
    args: ['head', ['-c', '204800', '/dev/zero']],
    expectLocal: expectEvents('spawn', 'exit', 'close'),
  },
  {
    name: 'grandchild holding stdout open: \'close\' waits for it',
    call: 'spawn',
    args: ['sh', ['-c', '(sleep 0.4; echo late) & echo early']],
    inspect: (child, ctx) => { ctx.extra.closeWaitedForGrandchild = ctx.times.close - ctx.times.exit >= 300; },
    expectLocal: (local) => expect(local.extra.closeWaitedForGrandchild).to.equal(true),
  },
  {
    name: 'program closes stdout and stderr, runs on: \'close\' after \'exit\'',
    call: 'spawn',
    args: ['sh', ['-c', 'echo before; exec >&- 2>&-; sleep 0.2']],
  },

  // ---- spawn failures ---------------------------------------------------------
  { name: 'ENOENT: name not found in PATH', call: 'spawn', args: [NO_SUCH, ['a', 'b c']], expectLocal: expectError('ENOENT') },
  {
    name: 'failed spawn: \'close\' comes after the \'error\' listener\'s nextTick and microtasks',
    call: 'spawn',
    args: [NO_SUCH, []],
    during: (child, ctx) => child.on('error', () => {
      process.nextTick(() => ctx.log.push(['nextTick after error']));
      Promise.resolve().then(() => ctx.log.push(['microtask after error']));
    }),
    expectLocal: expectError('ENOENT'),
  },
  {
    name: 'failed spawn with stdio \'ignore\': \'close\' at once after \'error\'',
    call: 'spawn',
    args: [NO_SUCH, [], { stdio: 'ignore' }],
    during: (child, ctx) => child.on('error', () => {
      process.nextTick(() => ctx.log.push(['nextTick after error']));
      Promise.resolve().then(() => ctx.log.push(['microtask after error']));
    }),
    expectLocal: expectError('ENOENT'),
  },
  { name: 'ENOENT: absolute path that does not exist', call: 'spawn', args: ['/nonexistent/sidecar/prog', []], expectLocal: expectError('ENOENT') },
  { name: 'EACCES: file without execute permission', call: 'spawn', args: [fixture('not-executable.sh'), ['x']], expectLocal: expectError('EACCES') },
  { name: 'EACCES: a directory', call: 'spawn', args: ['/tmp', []], expectLocal: expectError('EACCES') },
  {
    name: 'ENOENT: PATH of options.env has no such program (kept as given with callerEnv)',
    call: 'spawn',
    // callerEnv is sidecar-exec's own; child_process ignores it.
    args: ['sh', ['-c', 'true'], { env: { PATH: '/nonexistent-dir' }, callerEnv: ['PATH'] }],
    expectLocal: expectError('ENOENT'),
  },
  {
    name: 'cwd that does not exist: ENOENT with the directory named',
    call: 'spawn',
    args: ['true', [], { cwd: '/nonexistent/sidecar-dir' }],
    missingCwd: '/nonexistent/sidecar-dir',
    differences: ['cwd-message'],
    expectLocal: expectError('ENOENT'),
  },
  {
    name: 'cwd that is a file: ENOTDIR thrown by spawn()',
    call: 'spawn',
    args: ['true', [], { cwd: '/etc/hostname', startWait: 2000 }],
    fileCwd: '/etc/hostname',
    differences: ['cwd-file-message'],
    expectLocal: expectThrew('ENOTDIR'),
  },
  {
    name: 'a #! line naming a missing interpreter: ENOENT for a file that exists, the interpreter named',
    call: 'spawn',
    args: [fixture('missing-interpreter.sh'), []],
    missingInterpreter: '/nonexistent/sidecar-interpreter',
    differences: ['interpreter-message'],
    expectLocal: expectError('ENOENT'),
  },
  {
    name: 'one argument over 128 KiB: E2BIG thrown by spawn()',
    call: 'spawn',
    args: ['true', ['x'.repeat(128 * 1024)], { startWait: 2000 }],
    expectLocal: expectThrew('E2BIG'),
  },
  {
    name: 'E2BIG with startWait: 0: emitted, not thrown',
    call: 'spawn',
    args: ['true', ['x'.repeat(128 * 1024)], { startWait: 0 }],
    expectLocal: expectThrew('E2BIG'),
    differences: ['spawn-error-timing'],
  },
  {
    name: 'execFile with one argument over 128 KiB: E2BIG thrown',
    call: 'execFile',
    args: ['true', ['y'.repeat(130 * 1024)], { startWait: 2000 }],
    expectLocal: expectThrew('E2BIG'),
  },

  // ---- arguments ----------------------------------------------------------------
  { name: 'no args at all: spawn(\'true\')', call: 'spawn', args: ['true'] },
  { name: 'empty-string arguments are kept', call: 'spawn', args: ['printf', ['[%s]', '', 'a', '', '']] },
  {
    name: '1 MiB of arguments (8192 x 128 bytes)',
    call: 'spawn',
    args: ['sh', ['-c', 'printf "%s\\n" "$@"', 'sh',
      ...Array.from({ length: 8192 }, (_, i) => `${String(i).padStart(6, '0')}${'a'.repeat(121)}`)]],
    differences: ['pid-timing'],
  },
  { name: 'unicode arguments', call: 'spawn', args: ['printf', ['%s|%s', 'héllo 🎉', '日本語']] },
  {
    name: 'an argument that is a number (child_process converts it)',
    call: 'spawn',
    args: ['printf', ['%s|%s', 'a', 42]],
    expectLocal: expectEvents('spawn', 'exit', 'close'),
  },

  // ---- stdio --------------------------------------------------------------------
  {
    name: 'stdio default: fds 0-2 are pipes, 3-4 closed',
    call: 'spawn',
    args: [...NAP, { env: NAP_ENV }],
    during: inspectAtSpawn(),
    differences: ['pipe-kind'],
  },
  { name: 'stdio \'pipe\': binary data through cat both ways', call: 'spawn', args: ['cat', [], { stdio: 'pipe' }], input: BINARY },
  { name: 'stdio \'overlapped\' is \'pipe\': unicode through cat both ways', call: 'spawn', args: ['cat', [], { stdio: 'overlapped' }], input: UNICODE },
  { name: 'binary stdin as the program reads it (od)', call: 'spawn', args: ['od', ['-An', '-tx1', '-v']], input: BINARY },
  {
    name: 'stdio \'ignore\': /dev/null at 0-2',
    call: 'spawn',
    args: [...NAP, { env: NAP_ENV, stdio: 'ignore' }],
    during: inspectAtSpawn(),
  },
  {
    name: 'stdio \'inherit\': the caller\'s own fds',
    call: 'spawn',
    args: [...NAP, { env: NAP_ENV, stdio: 'inherit' }],
    during: inspectAtSpawn({ links: true }),
  },
  {
    name: 'stdio [\'ignore\', \'pipe\', \'inherit\'] mixed',
    call: 'spawn',
    args: ['sh', ['-c', 'echo out; exec sleep 5'], { env: NAP_ENV, stdio: ['ignore', 'pipe', 'inherit'] }],
    during: inspectAtSpawn(),
    differences: ['pipe-kind'],
  },
  {
    name: 'stdio [null, undefined, null, null]: pipes at 0-2, closed at 3',
    call: 'spawn',
    args: [...NAP, { env: NAP_ENV, stdio: [null, undefined, null, null] }],
    during: inspectAtSpawn(),
    differences: ['pipe-kind'],
  },
  {
    name: 'stdio entry -1 (accepted by child_process)',
    call: 'spawn',
    args: [...NAP, { env: NAP_ENV, stdio: ['ignore', 'ignore', 'ignore', -1] }],
    during: inspectAtSpawn(),
    expectLocal: expectEvents('spawn', 'note', 'exit', 'close'),
  },
  {
    name: 'stdio integer: an fd of a file opened by the caller',
    call: 'spawn',
    args: (ctx) => ['sh', ['-c', 'echo to-file; echo to-err >&2'], { stdio: ['ignore', openOut(ctx, 'out'), 'pipe'] }],
    inspect: (child, ctx) => ctx.readFiles('out'),
  },
  {
    name: 'stdio Stream with an fd: an opened fs.WriteStream',
    call: 'spawn',
    args: async (ctx) => {
      const stream = fs.createWriteStream(ctx.file('out'));
      await once(stream, 'open');
      ctx.onCleanup(() => new Promise((resolve) => stream.end(resolve)));
      return ['printf', ['written through a WriteStream\\n'], { stdio: ['ignore', stream, 'inherit'] }];
    },
    inspect: (child, ctx) => ctx.readFiles('out'),
  },
  {
    name: 'stdio Stream with an fd: a connected net.Socket',
    call: 'spawn',
    args: async (ctx) => {
      const received = [];
      const server = net.createServer((socket) => {
        socket.on('data', (chunk) => received.push(chunk));
        socket.on('end', () => socket.end());
      });
      server.listen(path.join(ctx.dir, 'net.sock'));
      await once(server, 'listening');
      const socket = net.connect(path.join(ctx.dir, 'net.sock'));
      await once(socket, 'connect');
      ctx.socketParts = { server, socket, received };
      ctx.onCleanup(() => {
        socket.destroy();
        return new Promise((resolve) => server.close(resolve));
      });
      return ['printf', ['through a net.Socket'], { stdio: ['ignore', socket, 'pipe'] }];
    },
    inspect: async (child, ctx) => {
      const { socket, received } = ctx.socketParts;
      socket.resume();
      socket.end();
      await once(socket, 'close');
      ctx.extra.socketReceived = Buffer.concat(received);
    },
  },
  {
    name: 'extra \'pipe\' at fd 3 written by the program',
    call: 'spawn',
    args: ['sh', ['-c', 'echo to-fd3 >&3; echo to-stdout'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }],
  },
  {
    name: 'extra \'pipe\' at fd 3 read by the program',
    call: 'spawn',
    args: ['sh', ['-c', 'cat <&3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }],
    stdioInput: { 3: 'from the caller through fd 3\n' },
  },
  {
    name: 'extra \'pipe\' at fd 3 is duplex: read, then answer on it',
    call: 'spawn',
    args: ['sh', ['-c', 'read line <&3; echo "got:$line" >&3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }],
    stdioInput: { 3: 'ping\n' },
  },
  {
    name: 'extra \'pipe\' at fd 3 is a socket, as in Node',
    call: 'spawn',
    args: [...NAP, { env: NAP_ENV, stdio: ['ignore', 'ignore', 'ignore', 'pipe'] }],
    during: inspectAtSpawn(),
  },
  {
    name: 'extra entries as passed fds: \'ignore\' at 3, a file at 4',
    call: 'spawn',
    args: (ctx) => ['sh', ['-c', 'echo to-fd4 >&4; exec sleep 5'], { env: NAP_ENV, stdio: ['ignore', 'ignore', 'ignore', 'ignore', openOut(ctx, 'out')] }],
    during: inspectAtSpawn(),
    inspect: (child, ctx) => ctx.readFiles('out'),
  },
  {
    name: 'stdio streams: which are readable and writable',
    call: 'spawn',
    args: ['true', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'ignore'] }],
    stdioFlags: true,
  },

  // ---- other spawn options ------------------------------------------------------------------
  { name: 'cwd as a string', call: 'spawn', args: ['pwd', [], { cwd: '/usr/bin' }] },
  // Relative: the caller's directory (these tests run from the checkout), never one of that name on the server.
  { name: 'a relative cwd is the caller\'s', call: 'spawn', args: ['pwd', [], { cwd: 'test/conformance' }] },
  { name: 'a relative cwd with ..', call: 'spawn', args: ['pwd', [], { cwd: 'test/../native' }] },
  { name: 'cwd as a file: URL', call: 'spawn', args: () => ['pwd', [], { cwd: new URL('file:///usr/lib') }] },
  {
    name: 'cwd as a Buffer',
    call: 'spawn',
    args: () => ['pwd', [], { cwd: Buffer.from('/etc') }],
    bufferCwd: '/etc',
    differences: ['buffer-cwd'],
  },
  {
    name: 'env: values containing \'=\', empty values, numbers',
    call: 'spawn',
    args: ['env', [], { env: { PATH: '/usr/bin:/bin', EQ: 'a=b=c', LEAD: '=x', EMPTY: '', NUMBER: 42, UNDEF: undefined } }],
    differences: ['located-env'],
  },
  {
    name: 'env: PATH with entries missing on the server, relative and empty ones, made on the server',
    call: 'spawn',
    args: ['/usr/bin/env', [], { env: { PATH: '/nonexistent-dir:.::bin:/usr/bin', X: '1' } }],
    differences: ['located-env'],
  },
  {
    name: 'env: PATH, HOME, USER as given with callerEnv',
    call: 'spawn',
    args: ['/usr/bin/env', [], { env: { PATH: '/nonexistent-dir:.', HOME: '/nonexistent-home', USER: 'someone' }, callerEnv: ['PATH', 'HOME', 'USER'] }],
  },
  { name: 'env: empty object (PATH-less lookup of env)', call: 'spawn', args: ['env', [], { env: {} }] },
  { name: 'env: unicode values', call: 'spawn', args: ['/usr/bin/env', [], { env: { U: 'héllo ✓ 🎉', 'NAME_É': 'x' } }] },
  {
    name: 'env: inherited (prototype) properties',
    call: 'spawn',
    args: () => {
      const env = Object.create({ INHERITED: 'from-the-prototype' });
      env.OWN = 'own';
      return ['/usr/bin/env', [], { env }];
    },
    inheritedEnv: ['INHERITED=from-the-prototype'],
    differences: ['env-own-only'],
  },
  {
    name: 'argv0 replaces argv[0] (and spawnargs[0])',
    call: 'spawn',
    args: ['/bin/sh', ['-c', 'tr "\\0" "\\n" < /proc/$$/cmdline'], { argv0: 'custom-argv0' }],
  },
  {
    name: 'detached: the program leads a new session',
    call: 'spawn',
    args: [...NAP, { env: NAP_ENV, detached: true, stdio: 'ignore' }],
    during: inspectAtSpawn({ groups: true }),
    expectLocal: (local) => expect(local.extra.groups).to.deep.equal({ groupLeader: true, sessionLeader: true, callersGroup: false }),
  },
  {
    name: 'not detached: process group',
    call: 'spawn',
    args: [...NAP, { env: NAP_ENV, stdio: 'ignore' }],
    during: inspectAtSpawn({ groups: true }),
    differences: ['process-group'],
  },
  {
    name: 'uid and gid equal to the caller\'s own',
    call: 'spawn',
    args: () => ['id', [], { uid: process.getuid(), gid: process.getgid() }],
  },
  {
    name: 'uid of another user: EPERM as for an unprivileged caller',
    call: 'spawn',
    args: ['true', [], { uid: 12345, startWait: 2000 }],
    needsSetpriv: true,
    differences: ['uid-policy'],
  },
  {
    name: 'gid of another group: EPERM as for an unprivileged caller',
    call: 'spawn',
    args: ['true', [], { gid: 12345, startWait: 2000 }],
    needsSetpriv: true,
    differences: ['uid-policy'],
  },
  { name: 'shell: true joins command and args for /bin/sh -c', call: 'spawn', args: ['echo', ['a   b', '$((1+2))', '"q"'], { shell: true }] },
  { name: 'shell: a string names the shell', call: 'spawn', args: ['echo "$0" ${BASH_VERSION:+bash}', { shell: '/bin/bash' }] },
  { name: 'windowsHide and windowsVerbatimArguments are ignored', call: 'spawn', args: ['printf', ['%s', 'a b'], { windowsHide: true, windowsVerbatimArguments: true }] },
  {
    name: 'startWait: 0 (remote-only option): pid known at \'spawn\'',
    call: 'spawn',
    args: ['true', [], { startWait: 0 }],
    differences: ['pid-timing'],
  },
  {
    name: 'timeout: killed with SIGTERM',
    call: 'spawn',
    args: [...LONG, { timeout: 100 }],
    expectLocal: expectEvents('spawn', 'exit', 'close'),
  },
  { name: 'timeout with killSignal \'SIGKILL\'', call: 'spawn', args: [...LONG, { timeout: 100, killSignal: 'SIGKILL' }] },
  { name: 'timeout with killSignal as a number (2)', call: 'spawn', args: [...LONG, { timeout: 100, killSignal: 2 }] },
  {
    name: 'timeout with killSignal as a lower-case name',
    call: 'spawn',
    args: [...LONG, { timeout: 100, killSignal: 'sigkill' }],
    expectLocal: (local) => expect(local.end.signalCode).to.equal('SIGKILL'),
  },
  { name: 'timeout not reached', call: 'spawn', args: ['true', [], { timeout: 5000 }] },
  {
    name: 'signal: AbortSignal aborted before spawn',
    call: 'spawn',
    args: () => [...LONG, { signal: AbortSignal.abort() }],
    expectLocal: expectEvents('spawn', 'error', 'exit', 'close'),
  },
  {
    name: 'signal: aborted after spawn',
    call: 'spawn',
    args: (ctx) => {
      ctx.controller = new AbortController();
      return [...LONG, { signal: ctx.controller.signal }];
    },
    during: afterSpawn(50, (child, ctx) => ctx.note('abort()', () => ctx.controller.abort())),
  },
  {
    name: 'signal: aborted with a reason, killSignal \'SIGKILL\'',
    call: 'spawn',
    args: (ctx) => {
      ctx.controller = new AbortController();
      return [...LONG, { signal: ctx.controller.signal, killSignal: 'SIGKILL' }];
    },
    during: afterSpawn(20, (child, ctx) => ctx.controller.abort(new Error('the reason'))),
  },
  {
    name: 'signal: aborted after the program exited',
    call: 'spawn',
    args: (ctx) => {
      ctx.controller = new AbortController();
      return ['true', [], { signal: ctx.controller.signal }];
    },
    inspect: async (child, ctx) => {
      ctx.note('abort() after close', () => ctx.controller.abort());
      await sleep(20);
    },
  },

  // ---- kill() ------------------------------------------------------------------------
  { name: 'kill(): SIGTERM by default', call: 'spawn', args: LONG, during: afterSpawn(0, (child, ctx) => ctx.note('kill()', () => child.kill())) },
  { name: 'kill(\'SIGINT\')', call: 'spawn', args: LONG, during: afterSpawn(0, (child, ctx) => ctx.note('kill(SIGINT)', () => child.kill('SIGINT'))) },
  { name: 'kill(9)', call: 'spawn', args: LONG, during: afterSpawn(0, (child, ctx) => ctx.note('kill(9)', () => child.kill(9))) },
  {
    name: 'kill(\'SIGUSR1\') right after return, before \'spawn\'',
    call: 'spawn',
    args: LONG,
    during: (child, ctx) => ctx.note('kill(SIGUSR1)', () => child.kill('SIGUSR1')),
  },
  {
    name: 'kill() with unknown signals throws ERR_UNKNOWN_SIGNAL',
    call: 'spawn',
    args: LONG,
    during: afterSpawn(0, (child, ctx) => {
      ctx.note('kill(SIGFOO)', () => child.kill('SIGFOO'));
      ctx.note('kill(999)', () => child.kill(999));
      ctx.note('kill(-1)', () => child.kill(-1));
      ctx.note('kill(\'\')', () => child.kill(''));
      ctx.note('killed', () => child.killed);
      ctx.note('kill(SIGKILL)', () => child.kill('SIGKILL'));
    }),
  },
  {
    name: 'kill(\'sigint\'): a lower-case name',
    call: 'spawn',
    args: LONG,
    during: afterSpawn(0, (child, ctx) => {
      ctx.note('kill(sigint)', () => child.kill('sigint'));
      ctx.note('killed', () => child.killed);
      if (!child.killed) child.kill('SIGKILL');
    }),
  },
  {
    name: 'kill(0) checks and counts as sent',
    call: 'spawn',
    args: LONG,
    during: afterSpawn(0, (child, ctx) => {
      ctx.note('kill(0)', () => child.kill(0));
      ctx.note('killed', () => child.killed);
      child.kill('SIGKILL');
    }),
  },
  {
    name: 'kill() after the program exited returns false',
    call: 'spawn',
    args: ['true'],
    inspect: (child, ctx) => {
      ctx.note('kill() after close', () => child.kill());
      ctx.note('killed', () => child.killed);
    },
  },
  {
    name: 'kill() signals the process group',
    call: 'spawn',
    args: ['sh', ['-c', 'sleep 0.7; echo never']],
    during: afterSpawn(150, (child, ctx) => ctx.note('kill()', () => child.kill())),
    inspect: (child, ctx) => { ctx.extra.closeWaitedForGrandchild = ctx.times.close - ctx.times.exit >= 300; },
    differences: ['group-kill'],
  },

  // ---- kill by pid: process.kill(child.pid) here, remoteKill(child.pid) there -------------
  {
    name: 'kill by pid: process.kill / remoteKill with a signal name',
    call: 'spawn',
    args: LONG,
    during: afterSpawn(0, (child, ctx) => {
      ctx.note('kill(pid, SIGINT)', () => ctx.api.kill(child.pid, 'SIGINT'));
      ctx.note('killed', () => child.killed);
    }),
  },
  {
    name: 'kill by pid: signal 0 checks, an unknown signal throws',
    call: 'spawn',
    args: LONG,
    during: afterSpawn(0, (child, ctx) => {
      ctx.note('kill(pid, 0)', () => ctx.api.kill(child.pid, 0));
      ctx.note('kill(pid, SIGFOO)', () => ctx.api.kill(child.pid, 'SIGFOO'));
      ctx.note('kill(pid)', () => ctx.api.kill(child.pid));
    }),
  },
  {
    name: 'kill by pid after the program ended: ESRCH',
    call: 'spawn',
    args: ['true'],
    inspect: (child, ctx) => ctx.note('kill(pid) after close', () => ctx.api.kill(child.pid, 'SIGTERM')),
  },

  // ---- unsupported by design ----------------------------------------------------------
  {
    name: 'stdio \'ipc\'',
    call: 'spawn',
    args: ['true', [], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }],
    unsupportedOption: 'stdio',
    differences: ['no-ipc'],
  },
  {
    name: 'serialization',
    call: 'spawn',
    args: ['true', [], { serialization: 'advanced' }],
    unsupportedOption: 'serialization',
    differences: ['no-ipc'],
  },

  // ---- argument validation ------------------------------------------------------------
  ...[
    ['file not a string', 'spawn', [42]],
    ['empty file', 'spawn', ['']],
    ['file with a null byte', 'spawn', ['tr\u0000ue']],
    ['args not an array', 'spawn', ['true', 'not-an-array']],
    ['an argument with a null byte', 'spawn', ['true', ['a\u0000b']]],
    ['options not an object', 'spawn', ['true', [], 'options']],
    ['cwd not a string', 'spawn', ['true', [], { cwd: 42 }]],
    ['cwd with a null byte', 'spawn', ['true', [], { cwd: '/tmp\u0000x' }]],
    ['detached not a boolean', 'spawn', ['true', [], { detached: 'yes' }]],
    ['uid not an integer', 'spawn', ['true', [], { uid: 'root' }]],
    ['gid a fraction', 'spawn', ['true', [], { gid: 1.5 }]],
    ['uid negative', 'spawn', ['true', [], { uid: -1 }]],
    ['shell neither boolean nor string', 'spawn', ['true', [], { shell: 42 }]],
    ['argv0 not a string', 'spawn', ['true', [], { argv0: 42 }]],
    ['stdio an unknown string', 'spawn', ['true', [], { stdio: 'bogus' }]],
    ['stdio entry an unknown string', 'spawn', ['true', [], { stdio: ['pipe', 'bogus'] }]],
    ['stdio entry a Buffer (sync input)', 'spawn', () => ['true', [], { stdio: ['pipe', 'pipe', 'pipe', Buffer.from('x')] }]],
    ['timeout negative', 'spawn', ['true', [], { timeout: -1 }]],
    ['killSignal unknown', 'spawn', ['true', [], { killSignal: 'SIGNOPE' }]],
    ['signal not an AbortSignal', 'spawn', ['true', [], { signal: {} }]],
    ['env value with a null byte', 'spawn', ['true', [], { env: { A: 'x\u0000y' } }]],
    ['windowsHide not a boolean', 'spawn', ['true', [], { windowsHide: 'yes' }]],
    ['exec: command not a string', 'exec', [42]],
    ['exec: empty command', 'exec', ['']],
    ['exec: callback not a function', 'exec', ['true', {}, 'not-a-function'], { noCallback: true }],
    ['execFile: maxBuffer negative', 'execFile', ['true', [], { maxBuffer: -1 }]],
    ['execFile: timeout not a number', 'execFile', ['true', { timeout: 'x' }]],
  ].map(([what, call, args, more]) => ({
    name: `validation: ${what}`, call, args, expectLocal: expectThrew(), ...more,
  })),
  {
    name: 'validation: stdio entry a WriteStream not yet open',
    call: 'spawn',
    args: (ctx) => {
      // An open() that never answers: the stream's fd stays null however long
      // the harness takes between building the arguments and the call.
      const neverOpens = { open() {}, write() {}, close(fd, callback) { callback(); } };
      const stream = fs.createWriteStream(ctx.file('unopened'), { fs: neverOpens });
      ctx.onCleanup(() => stream.destroy());
      return ['true', [], { stdio: ['pipe', stream, 'pipe'] }];
    },
    expectLocal: expectThrew('ERR_INVALID_ARG_VALUE'),
  },

  // ---- exec / execFile ------------------------------------------------------------------
  { name: 'exec: stdout and stderr as utf8 strings', call: 'exec', args: ['echo hello; echo err >&2'] },
  { name: 'exec: exit code 3 gives an error with code, killed, signal, cmd', call: 'exec', args: ['echo partial; echo oops >&2; exit 3'], expectLocal: expectError(3) },
  { name: 'exec: command not found (127)', call: 'exec', args: [`${NO_SUCH} arg`], expectLocal: expectError(127) },
  { name: 'exec: encoding latin1', call: 'exec', args: ['printf "\\351t\\351"', { encoding: 'latin1' }] },
  { name: 'exec: encoding \'buffer\' gives Buffers', call: 'exec', args: ['printf "\\000\\377\\001"; printf e >&2', { encoding: 'buffer' }] },
  { name: 'exec: unknown encoding gives Buffers', call: 'exec', args: ['printf abc', { encoding: 'no-such-encoding' }] },
  { name: 'exec: unicode output', call: 'exec', args: [`printf '%s' '${UNICODE.replace(/\u0000/g, '')}'`] },
  { name: 'exec: maxBuffer overflow on stdout', call: 'exec', args: ['head -c 100000 /dev/zero | tr "\\0" a; exec sleep 5', { maxBuffer: 1000 }], expectLocal: expectError('ERR_CHILD_PROCESS_STDIO_MAXBUFFER') },
  { name: 'exec: maxBuffer overflow on stderr', call: 'exec', args: ['echo out; head -c 100000 /dev/zero >&2; exec sleep 5', { maxBuffer: 100 }], expectLocal: expectError('ERR_CHILD_PROCESS_STDIO_MAXBUFFER') },
  { name: 'exec: maxBuffer counts bytes of multi-byte text', call: 'exec', args: ['printf "ééééé"; exec sleep 5', { maxBuffer: 5 }] },
  { name: 'exec: maxBuffer exactly reached is not an overflow', call: 'exec', args: ['printf 12345', { maxBuffer: 5 }] },
  { name: 'exec: timeout kills with SIGTERM', call: 'exec', args: ['sleep 5', { timeout: 100 }], expectLocal: expectError(null) },
  { name: 'exec: timeout with killSignal SIGKILL', call: 'exec', args: ['sleep 5', { timeout: 100, killSignal: 'SIGKILL' }] },
  { name: 'exec: cwd and env', call: 'exec', args: ['pwd; echo "$X"', { cwd: '/usr', env: { X: 'x=1', PATH: process.env.PATH } }] },
  { name: 'exec: shell string', call: 'exec', args: ['echo "$0"', { shell: '/bin/bash' }] },
  {
    name: 'exec: signal aborted after spawn',
    call: 'exec',
    args: (ctx) => {
      ctx.controller = new AbortController();
      return ['sleep 5', { signal: ctx.controller.signal }];
    },
    during: afterSpawn(30, (child, ctx) => ctx.controller.abort()),
    expectLocal: expectError('ABORT_ERR'),
  },
  { name: 'exec: uid and gid equal to the caller\'s own', call: 'exec', args: () => ['id -u; id -g', { uid: process.getuid(), gid: process.getgid() }] },
  { name: 'execFile: args, no shell', call: 'execFile', args: ['printf', ['%s-%s|', 'a b', '$HOME']] },
  { name: 'execFile: empty-string args', call: 'execFile', args: ['printf', ['[%s][%s]', '', '']] },
  { name: 'execFile: exit code through a script', call: 'execFile', args: [fixture('exit-with.sh'), ['4']], expectLocal: expectError(4) },
  { name: 'execFile: ENOENT carries errno, code, syscall, path, spawnargs, cmd', call: 'execFile', args: [NO_SUCH, ['x', 'y']], expectLocal: expectError('ENOENT') },
  { name: 'execFile: shell: true', call: 'execFile', args: ['echo', ['$((6*7))'], { shell: true }] },
  {
    name: 'execFile: binary output as a Buffer',
    call: 'execFile',
    args: (ctx) => {
      fs.writeFileSync(ctx.file('binary'), BINARY);
      return ['cat', [ctx.file('binary')], { encoding: 'buffer' }];
    },
  },
  { name: 'execFile: (file, callback) form', call: 'execFile', args: ['pwd'] },
  { name: 'execFile: timeout with numeric killSignal', call: 'execFile', args: ['sleep', ['5'], { timeout: 100, killSignal: 9 }] },
  { name: 'promisify(exec) resolves { stdout, stderr }', call: 'exec:promise', args: ['echo out; echo err >&2'] },
  { name: 'promisify(exec) rejects with the error, stdout, stderr', call: 'exec:promise', args: ['echo out; echo err >&2; exit 2'] },
  { name: 'promisify(execFile) resolves with Buffers', call: 'execFile:promise', args: ['printf', ['%s', 'buf'], { encoding: 'buffer' }] },
  { name: 'promisify(execFile) rejects on ENOENT', call: 'execFile:promise', args: [NO_SUCH, []] },

  // ---- createClient ---------------------------------------------------------------------
  {
    name: 'createClient: spawn with defaults, cwd overridden by the call',
    call: 'client.spawn',
    clientDefaults: { cwd: '/usr', env: { X: 'from-defaults', PATH: process.env.PATH } },
    args: ['sh', ['-c', 'pwd; echo "$X"'], { cwd: '/etc' }],
  },
  {
    name: 'createClient: spawn(command, options) form keeps the defaults',
    call: 'client.spawn',
    clientDefaults: { cwd: '/usr', env: { X: 'from-defaults', PATH: process.env.PATH } },
    args: ['pwd', { stdio: ['ignore', 'pipe', 'pipe'] }],
  },
  {
    name: 'createClient: exec with encoding \'buffer\' default overridden by the call',
    call: 'client.exec',
    clientDefaults: { encoding: 'buffer', env: { Y: 'y', PATH: process.env.PATH } },
    args: ['echo "$Y"', { encoding: 'utf8' }],
  },
  {
    name: 'createClient: exec(command, callback) keeps the defaults',
    call: 'client.exec',
    clientDefaults: { encoding: 'buffer', cwd: '/usr' },
    args: ['pwd'],
  },
  {
    name: 'createClient: execFile with a default timeout',
    call: 'client.execFile',
    clientDefaults: { timeout: 100 },
    args: ['sleep', ['5']],
  },
  {
    name: 'createClient: execFile default timeout overridden by the call',
    call: 'client.execFile',
    clientDefaults: { timeout: 100 },
    args: ['sh', ['-c', 'sleep 0.3; echo done'], { timeout: 0 }],
  },
  {
    name: 'createClient: promisify(exec) with default env',
    call: 'client.exec:promise',
    clientDefaults: { env: { Z: 'zed', PATH: process.env.PATH } },
    args: ['echo "$Z"; exit 1'],
  },

  // ---- many at once, caller lifetime -------------------------------------------------------
  {
    name: '200 parallel spawns',
    custom: async (api) => {
      const children = [];
      const atReturn = [];
      const atSpawn = [];
      for (let i = 0; i < 200; i++) {
        const child = api.spawn('sh', ['-c', 'printf "%s\\n" "$1"; exit $(($1 % 7))', 'sh', String(i)]);
        atReturn.push(typeof child.pid);
        child.on('spawn', () => atSpawn.push(typeof child.pid));
        children.push(child);
      }
      const results = await Promise.all(children.map((child) => finished(child)));
      return {
        aggregate: {
          returned: { pid: atReturn.every((t) => t === 'number') ? 'number' : 'undefined' },
          pidAtSpawn: atSpawn.length === 200 && atSpawn.every((t) => t === 'number') ? 'number' : `${atSpawn.length} spawned`,
        },
        results,
      };
    },
    differences: ['pid-timing'],
  },
  {
    name: 'unref() right after spawn() lets the caller exit while the program runs',
    custom: unrefClient('now'),
    differences: ['outlives-parent'],
  },
  {
    name: 'unref() at \'spawn\' lets the caller exit while the program runs',
    custom: unrefClient('spawn'),
    differences: ['outlives-parent'],
  },
  {
    name: 'detached: true, unref() and exit: the program outlives its caller and finishes (the daemon idiom)',
    custom: unrefClient('now', { detached: true }),
    expectLocal: (observation) => {
      expect(observation.extra.programFinished).to.equal(true);
      expect(observation.extra.files.finished.toString()).to.equal('after the caller exited\n');
    },
  },
];

TABLE.push({
  name: 'pid is set when spawn() returns (startWait: 2000, remote-only option)',
  call: 'spawn',
  args: ['true', [], { startWait: 2000 }],
  strictPid: true,
});

// pid-timing applies to every remote start: with the default startWait
// (50 ms) a busy machine can make the server answer later, and pid is then
// set at 'spawn', as documented. Every row therefore declares it (its
// handler still fails unless pid is a number on return, or undefined on
// return and a number at 'spawn'); the row above pins the synchronous pid
// strictly, with a startWait long enough for any load.
for (const scenario of TABLE) {
  const declared = scenario.differences || [];
  if (scenario.strictPid || declared.includes('pid-timing')) continue;
  scenario.differences = [...declared, 'pid-timing'];
  scenario.pidTimingImplicit = true;
}

module.exports = { TABLE, NO_SUCH };
