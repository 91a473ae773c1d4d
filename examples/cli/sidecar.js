#!/usr/bin/env node
// sidecar: the command-line tool, built only on sidecar-exec's public API.
//
//   sidecar start [--mode MODE] [--parents] [options] PATH   (see USAGE)
//   sidecar stop PATH
//   sidecar ping PATH
//   sidecar exec --connect PATH [--workdir DIR] [--env NAME[=VALUE]]... [--] PROGRAM [ARG]...
//
// `exec` passes its own stdin, stdout and stderr to the remote program,
// forwards the signals it can catch, and exits with the program's status
// (128+N when signal N killed it). Its own failures follow coreutils' env and
// timeout: 125 bad usage or no server, 126 found but cannot run, 127 not found.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createServer, pingServer, remoteSpawn, stopServer } = require('../..');

const EXIT_USAGE = 125;
const EXIT_CANNOT_RUN = 126;
const EXIT_NOT_FOUND = 127;

/** Signals `exec` catches and forwards; SIGKILL and SIGSTOP cannot be caught. */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGALRM', 'SIGCONT'];

const USAGE = `usage:
  sidecar start [--mode MODE] [--group GID] [--parents] [--print-ready | --ready-fd N] [-v | -vv]
                [--allow-uid UID]... [--allow-gid GID]... [--allow-command NAME|PATH]... [--allow-env NAME]...
                [--max-concurrent N] [--max-queued N] [--queue-timeout MS] [--max-connections N]
                [--max-runtime MS] [--handshake-timeout MS] [--close-timeout MS] [--no-stop] PATH
  sidecar stop PATH
  sidecar ping PATH
  sidecar exec --connect PATH [--workdir DIR] [--env NAME[=VALUE]]... [--] PROGRAM [ARG]...`;

class UsageError extends Error {}

function say(message) {
  process.stderr.write(`sidecar: ${message}\n`);
}

/** Splits argv into flags (with the names that take a value) and operands. */
function parse(argv, valueFlags, booleanFlags, stopAtFirstOperand) {
  const flags = { __proto__: null };
  const operands = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (/^-v{1,2}$/.test(arg) && booleanFlags.includes(arg.slice(1))) {
      flags[arg.slice(1)] = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (stopAtFirstOperand) break;
      operands.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (booleanFlags.includes(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
    } else if (valueFlags.includes(name)) {
      let value;
      if (eq !== -1) value = arg.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new UsageError(`--${name} needs a value`);
      (flags[name] ??= []).push(value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  operands.push(...argv.slice(i));
  return { flags, operands };
}

function single(flags, name) {
  const values = flags[name];
  if (values === undefined) return undefined;
  if (values.length > 1) throw new UsageError(`--${name} given more than once`);
  return values[0];
}

/** Numeric flags of `start`, and the server options they set. */
const START_NUMBERS = {
  'max-concurrent': 'maxConcurrent',
  'max-queued': 'maxQueued',
  'queue-timeout': 'queueTimeout',
  'max-connections': 'maxConnections',
  'max-runtime': 'maxRuntime',
  'handshake-timeout': 'handshakeTimeout',
  'close-timeout': 'closeTimeout',
};

function integerFlag(flags, name) {
  const text = single(flags, name);
  if (text === undefined) return undefined;
  if (text === 'inf' || text === 'Infinity') return Infinity;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a non-negative integer: ${text}`);
  return Number(text);
}

function idList(flags, name) {
  const values = flags[name];
  if (values === undefined) return undefined;
  return values.flatMap((value) => value.split(',')).map((id) => {
    if (!/^\d+$/.test(id)) throw new UsageError(`--${name} takes numeric ids: ${id}`);
    return Number(id);
  });
}

/** One line per finished request on stderr, as -v asks. */
function logRequests(server, verbose) {
  server.on('exit', (info) => {
    const end = info.signal ?? `exit ${info.exitCode}`;
    const why = info.reason === 'exit' ? '' : ` (${info.reason})`;
    say(`uid ${info.credentials.uid} pid ${info.credentials.pid} ${info.argv[0]}: ${end}${why} in ${info.durationMs} ms`);
  });
  server.on('denied', (info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} denied ${info.argv[0] ?? ''}: ${info.reason}`));
  server.on('clientError', (error, info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} failed: ${error.message}`));
  if (verbose > 1) {
    server.on('spawn', (info) => say(`uid ${info.credentials.uid} pid ${info.credentials.pid} started ${info.pid}: ${info.argv.join(' ')}`));
  }
}

function start(argv) {
  const { flags, operands } = parse(argv,
    ['mode', 'group', 'allow-uid', 'allow-gid', 'allow-command', 'allow-env', 'ready-fd', ...Object.keys(START_NUMBERS)],
    ['parents', 'no-stop', 'print-ready', 'v', 'vv'], false);
  if (operands.length !== 1) throw new UsageError('start takes exactly one PATH');
  const socketPath = operands[0];
  const modeText = single(flags, 'mode');
  const options = {
    allowStop: !flags['no-stop'],
    allowUids: idList(flags, 'allow-uid'),
    allowGids: idList(flags, 'allow-gid'),
    allowCommands: flags['allow-command']?.flatMap((value) => value.split(',')),
    allowEnv: flags['allow-env']?.flatMap((value) => value.split(',')),
    // A foreground server should not hang on a program that never ends.
    closeTimeout: 10_000,
  };
  if (modeText !== undefined) {
    if (!/^[0-7]{1,4}$/.test(modeText)) throw new UsageError(`--mode must be octal, as 0660: ${modeText}`);
    options.mode = Number.parseInt(modeText, 8);
    if (options.mode > 0o777) throw new UsageError(`--mode must be at most 0777: ${modeText}`);
  }
  const group = single(flags, 'group');
  if (group !== undefined) {
    if (!/^\d+$/.test(group)) throw new UsageError(`--group takes a numeric gid: ${group}`);
    options.group = Number(group);
  }
  for (const [flag, option] of Object.entries(START_NUMBERS)) {
    const value = integerFlag(flags, flag);
    if (value !== undefined) options[option] = value;
  }
  const readyFd = integerFlag(flags, 'ready-fd');
  if (flags.parents) fs.mkdirSync(path.dirname(path.resolve(socketPath)), { recursive: true });

  const server = createServer(options);
  server.on('error', (error) => {
    say(`cannot listen on ${socketPath}: ${error.message}`);
    process.exitCode = 1;
    server.close();
  });
  server.on('close', () => {
    for (const signal of ['SIGINT', 'SIGTERM']) process.removeAllListeners(signal);
  });
  if (flags.v || flags.vv) logRequests(server, flags.vv ? 2 : 1);
  // The first signal stops accepting and lets running programs finish (up
  // to the close timeout); a second one exits now, and the programs die with
  // the server (their parent-death signal).
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (stopping) process.exit(128 + os.constants.signals[signal]);
      stopping = true;
      server.close();
    });
  }
  server.listen(socketPath, () => {
    // Readiness, as s6-ipcserver -1: a line once the socket accepts.
    if (flags['print-ready']) process.stdout.write(`${socketPath}\n`);
    if (readyFd !== undefined) {
      fs.writeSync(readyFd, '\n');
      fs.closeSync(readyFd);
    }
  });
}

async function ping(argv) {
  const { operands } = parse(argv, [], [], false);
  if (operands.length !== 1) throw new UsageError('ping takes exactly one PATH');
  try {
    const { version } = await pingServer(operands[0]);
    process.stdout.write(`${operands[0]}: up, protocol version ${version}\n`);
  } catch (error) {
    say(error.message);
    process.exitCode = 1;
  }
}

async function stop(argv) {
  const { operands } = parse(argv, [], [], false);
  if (operands.length !== 1) throw new UsageError('stop takes exactly one PATH');
  try {
    await stopServer(operands[0]);
  } catch (error) {
    say(error.message);
    process.exitCode = 1;
  }
}

/** The env overlay of `--env NAME=VALUE` and `--env NAME` (the caller's own value). */
function envOverlay(entries) {
  const env = { __proto__: null };
  for (const entry of entries ?? []) {
    const eq = entry.indexOf('=');
    if (eq === 0) throw new UsageError(`--env needs NAME or NAME=VALUE: ${entry}`);
    if (eq === -1) {
      if (process.env[entry] !== undefined) env[entry] = process.env[entry];
    } else {
      env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
  }
  return env;
}

/** Exit status and one stderr line for a failure to run the program at all. */
function failureStatus(error, program, socketPath) {
  if (error.code === 'ENOENT' && /working directory/.test(error.message)) {
    return [EXIT_USAGE, error.message]; // as `env -C DIR` when DIR is missing
  }
  if (error.code === 'ENOENT') return [EXIT_NOT_FOUND, `${program}: command not found on the server at ${socketPath}`];
  if (typeof error.code === 'string' && error.code.startsWith('ERR_SIDECAR_')) {
    // Refused by policy, or lost mid-run: the program could not be run. No
    // server, a busy one, or a broken exchange: sidecar itself failed.
    const cannotRun = error.code === 'ERR_SIDECAR_DISCONNECTED' || error.code === 'ERR_SIDECAR_DENIED';
    return [cannotRun ? EXIT_CANNOT_RUN : EXIT_USAGE, error.message];
  }
  return [EXIT_CANNOT_RUN, `cannot run ${program}: ${error.message}`];
}

function exec(argv) {
  const { flags, operands } = parse(argv, ['connect', 'workdir', 'env'], [], true);
  const socketPath = single(flags, 'connect') ?? process.env.SIDECAR_SOCKET;
  if (socketPath === undefined || socketPath === '') throw new UsageError('exec needs --connect PATH (or SIDECAR_SOCKET)');
  if (operands.length === 0) throw new UsageError('exec needs a PROGRAM');
  const [program, ...args] = operands;

  // Handlers first: remoteSpawn may block briefly for the started reply, and
  // a signal that arrives meanwhile must still be forwarded (handlers run
  // from the event loop, after `child` is set).
  let child;
  const forward = (signal) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);

  const options = {
    connect: socketPath,
    cwd: single(flags, 'workdir') ?? process.cwd(),
    env: envOverlay(flags.env),
    serverEnv: true,
    stdio: 'inherit',
  };
  try {
    child = remoteSpawn(program, args, options);
  } catch (error) {
    // As child_process, errors other than ENOENT/EACCES (E2BIG, EPERM) are thrown.
    for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
    if (error.syscall !== 'spawn') throw error;
    const [status, line] = failureStatus(error, program, socketPath);
    say(line);
    process.exitCode = status;
    return;
  }

  let failed = false;
  child.on('error', (error) => {
    failed = true;
    const [status, line] = failureStatus(error, program, socketPath);
    say(line);
    process.exitCode = status;
  });
  child.on('exit', (code, signal) => {
    if (failed) return; // the server went away: its error already set the status
    if (child.exitReason === 'maxRuntime' || child.exitReason === 'close') {
      say(`${program}: ended by the server (${child.exitReason === 'maxRuntime' ? 'it ran longer than the server allows' : 'the server is closing'})`);
    }
    // Real-time signals have no name in os.constants: signalCode is 'SIG<n>'.
    process.exitCode = signal === null ? code : 128 + (os.constants.signals[signal] ?? Number(signal.slice(3)));
  });
  child.on('close', () => {
    for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
  });
}

async function main(argv) {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start': return start(rest);
      case 'stop': return await stop(rest);
      case 'ping': return await ping(rest);
      case 'exec': return exec(rest);
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return undefined;
      default:
        throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`);
    }
  } catch (error) {
    if (!(error instanceof UsageError) && !(error && typeof error.code === 'string')) throw error;
    say(error.message);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exitCode = EXIT_USAGE;
    return undefined;
  }
}

main(process.argv.slice(2));
