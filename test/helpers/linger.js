'use strict';
// TCP sockets whose last close blocks (test/fixtures/linger-sockets.c,
// compiled here with `cc` on first use), and what /proc/net/tcp says of them.
//
//   lingerHelperPath()        the compiled helper, or null when there is no cc
//   lingeringSockets(count)   { fds, ports, release() }; see below
//   tcpSocket(port)           { state, inode } of the 127.0.0.1 socket bound
//                             to that local port, or null once it is gone
//   closeInProgress(port, pids)  a close(2) holds it: still attached to a
//                             socket inode (inode 0 once the kernel orphaned
//                             it) that no fd of `pids` names, in FIN_WAIT1
//   pingWithin(path, ms)      whether the server answers a ping in time

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pingServer } = require('../..');
const { getBinding } = require('../../dist/binding');
const { tempDir } = require('./tmp');
const { sleep } = require('./proc');
const { exited } = require('./server');

const SOURCE = path.join(__dirname, '..', 'fixtures', 'linger-sockets.c');
/** SO_LINGER's longest: the close would wait for ever (68 years). */
const FOREVER_SECONDS = 2147483647;
const TCP_FIN_WAIT1 = '04';

let compiled;

function lingerHelperPath() {
  if (compiled === undefined) {
    const out = path.join(tempDir('sidecar-linger-'), 'linger-sockets');
    const result = childProcess.spawnSync('cc', ['-O2', '-Wall', '-o', out, SOURCE], { encoding: 'utf8' });
    if (result.error !== undefined && result.error.code === 'ENOENT') {
      compiled = null;
    } else if (result.error !== undefined || result.status !== 0) {
      throw new Error(`cc ${SOURCE} failed: ${result.error ?? result.stderr}`);
    } else {
      compiled = out;
    }
  }
  return compiled;
}

/**
 * `count` TCP sockets on 127.0.0.1 with SO_LINGER {1, seconds} and a full
 * send buffer, to a listener that never reads: { fds, ports, release }.
 * The fds are this process's only copies. Close one here only while
 * another process still holds it (in flight to the server, or held by it),
 * or after release(): closing the last copy would block this process.
 * release(): the helper ends and its listener closes, which resets every
 * connection and so ends any close lingering on one; resolves once it has.
 */
async function lingeringSockets(count, seconds = FOREVER_SECONDS) {
  const helper = lingerHelperPath();
  if (helper === null) throw new Error('no cc: lingering sockets cannot be made');
  const binding = getBinding();
  const [mine, theirs] = binding.socketPair();
  let child;
  try {
    child = childProcess.spawn(helper, [String(count), String(seconds)], { stdio: ['pipe', 'ignore', 'pipe', theirs] });
  } finally {
    binding.close(theirs);
  }
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const release = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      await exited(child);
    }
  };
  const bytes = Buffer.alloc(2 * count);
  let got = 0;
  const fds = [];
  const deadline = Date.now() + 10000;
  try {
    while (got < bytes.length) {
      const received = binding.receive(mine, bytes.subarray(got));
      if (received === null) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`linger-sockets gave no sockets: ${stderr}`);
        await sleep(5);
        continue;
      }
      if (received.bytes === 0) throw new Error(`linger-sockets hung up: ${stderr}`);
      fds.push(...received.fds);
      got += received.bytes;
    }
  } catch (error) {
    await release();
    for (const fd of fds) binding.close(fd);
    throw error;
  } finally {
    binding.close(mine);
  }
  const ports = Array.from({ length: count }, (_, i) => bytes.readUInt16BE(2 * i));
  return { fds, ports, helper: child, release };
}

/** 127.0.0.1 as /proc/net/tcp prints it: the address's bytes as one number in host order. */
const LOOPBACK_HEX = os.endianness() === 'LE' ? '0100007F' : '7F000001';

function tcpSocket(port) {
  const local = `${LOOPBACK_HEX}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length > 9 && fields[1] === local) return { state: fields[3], inode: fields[9] };
  }
  return null;
}

function closeInProgress(port, pids) {
  const socket = tcpSocket(port);
  if (socket === null || socket.inode === '0' || socket.state !== TCP_FIN_WAIT1) return false;
  const name = `socket:[${socket.inode}]`;
  for (const pid of pids) {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === name) return false;
      } catch {
        // closed meanwhile
      }
    }
  }
  return true;
}

/**
 * A PONG from the server at `path` within `ms`: { answered, ms, settled }.
 * `settled` resolves once the ping is over either way (await it before the
 * test ends: its connection is this process's).
 */
async function pingWithin(path, ms) {
  const started = Date.now();
  const settled = pingServer(path).then(() => true, () => false);
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, ms, false); });
  const answered = await Promise.race([settled, late]);
  clearTimeout(timer);
  return { answered, ms: Date.now() - started, settled };
}

module.exports = {
  lingerHelperPath, lingeringSockets, tcpSocket, closeInProgress, pingWithin,
};
