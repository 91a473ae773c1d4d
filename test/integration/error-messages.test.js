'use strict';
// Errors that used to point elsewhere now name their cause, keeping Node's
// codes and shapes: a socket path that is a regular file or a directory
// (ENOTSOCK, where connect(2) says ECONNREFUSED as for a dead server), a
// stream socket (EPROTOTYPE: another kind of server), listen() on a file that
// is no socket (EADDRINUSE, saying what is there), a #! line naming a
// missing interpreter (ENOENT for a file that exists), and a working
// directory that is a file (ENOTDIR). Through the SDK and `sidecar`; the
// native client's words are compared with `sidecar exec`'s in
// native-client.test.js.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn, pingServer } = require('../..');
const {
  useServer, tempDir, fixture, runCommand, listenHere, closeHere, exited,
} = require('../helpers');

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');

/** The error a remoteSpawn ends with, thrown or emitted. */
function spawnError(command, args, options) {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = remoteSpawn(command, args, options);
    } catch (error) {
      resolve(error);
      return;
    }
    child.on('error', resolve);
    child.on('close', () => reject(new Error(`${command} ran without an error`)));
  });
}

describe('error messages that name the real cause', function () {
  this.timeout(30000);
  const ctx = useServer();
  let dir;

  beforeEach(function () {
    dir = tempDir();
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('a socket path that is no sidecar socket', function () {
    for (const [name, make, kind] of [
      ['a regular file', (p) => fs.writeFileSync(p, ''), 'a regular file'],
      ['a directory', (p) => fs.mkdirSync(p), 'a directory'],
    ]) {
      it(`${name}: ERR_SIDECAR_CONNECT with ENOTSOCK, "... is not a socket", from remoteSpawn and pingServer`, async function () {
        const socket = path.join(dir, 'not-a-socket');
        make(socket);
        const message = `cannot connect to the sidecar server at ${socket}: ENOTSOCK (${socket} is not a socket: it is ${kind})`;
        const error = await spawnError('true', [], { connect: socket });
        expect(error).to.include({ code: 'ERR_SIDECAR_CONNECT', message, errno: -88, syscall: 'connect', socket });
        expect(error.cause.code).to.equal('ECONNREFUSED');
        const ping = await pingServer(socket).then(() => undefined, (caught) => caught);
        expect(ping).to.include({ code: 'ERR_SIDECAR_CONNECT', message });
      });
    }

    it('a socket nobody listens on any more still says ECONNREFUSED (nothing is listening on it)', async function () {
      const socket = path.join(dir, 'stale.sock');
      // A listener that is gone, leaving its socket file behind.
      childProcess.execFileSync(process.execPath, ['-e', `
        const net = require('node:net');
        const server = net.createServer().listen(${JSON.stringify(socket)}, () => process.exit(0));`]);
      expect(fs.lstatSync(socket).isSocket()).to.equal(true);
      const error = await spawnError('true', [], { connect: socket });
      expect(error).to.include({ code: 'ERR_SIDECAR_CONNECT', errno: -111 });
      expect(error.message).to.equal(`cannot connect to the sidecar server at ${socket}: ECONNREFUSED (nothing is listening on it)`);
    });

    it('a stream socket: EPROTOTYPE, "... is a stream socket, not a sidecar server"', async function () {
      const socket = path.join(dir, 'stream.sock');
      const stream = childProcess.spawn(process.execPath,
        ['-e', `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await new Promise((resolve) => stream.stdout.once('data', resolve));
        const error = await spawnError('true', [], { connect: socket });
        expect(error).to.include({
          code: 'ERR_SIDECAR_CONNECT', errno: -91,
          message: `cannot connect to the sidecar server at ${socket}: EPROTOTYPE (${socket} is a stream socket, not a sidecar server)`,
        });
      } finally {
        stream.kill();
        await exited(stream);
      }
    });
  });

  describe('listen on a path taken by a file that is no socket', function () {
    it('EADDRINUSE, and the message says what is there; the file is left alone', async function () {
      const socketPath = path.join(dir, 'precious');
      fs.writeFileSync(socketPath, 'precious data\n');
      const error = await listenHere(socketPath).then(closeHere, (caught) => caught);
      expect(error).to.be.an('error');
      expect(error.code).to.equal('EADDRINUSE');
      expect(error.message).to.equal(`listen EADDRINUSE ${socketPath}: ${socketPath} is a regular file, not a socket; a server replaces only a stale socket, never another file`);
      expect(fs.readFileSync(socketPath, 'utf8')).to.equal('precious data\n');
    });

    it('sidecar start says the same in one line and exits 1', async function () {
      const socketPath = path.join(dir, 'precious');
      fs.writeFileSync(socketPath, '');
      const result = await runCommand(process.execPath, [CLI, 'start', socketPath]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.equal(`sidecar: cannot listen on ${socketPath}: listen EADDRINUSE ${socketPath}: ${socketPath} is a regular file, not a socket; a server replaces only a stale socket, never another file\n`);
      expect(result.stderr).to.not.match(/listen EADDRINUSE [^:]*\n/);
    });
  });

  describe('a program whose interpreter is missing', function () {
    it('a #! line naming a missing interpreter: ENOENT in Node\'s shape, the message naming the interpreter', async function () {
      const script = fixture('missing-interpreter.sh');
      const error = await spawnError(script, ['a'], { connect: ctx.server.path });
      expect(error).to.include({
        code: 'ENOENT', errno: -2, syscall: `spawn ${script}`, path: script,
        message: `spawn ${script} ENOENT: interpreter /nonexistent/sidecar-interpreter named by #! not found`,
      });
      expect(error.spawnargs).to.deep.equal(['a']);
      expect(error.serverSyscall).to.equal('interpreter');
    });

    it('found through PATH, the same; a program that is not there at all still says only ENOENT', async function () {
      fs.copyFileSync(fixture('missing-interpreter.sh'), path.join(dir, 'sidecar-bad-interpreter'));
      fs.chmodSync(path.join(dir, 'sidecar-bad-interpreter'), 0o755);
      const env = { PATH: `${dir}:/usr/bin:/bin` };
      const error = await spawnError('sidecar-bad-interpreter', [], { connect: ctx.server.path, env });
      expect(error.message).to.equal('spawn sidecar-bad-interpreter ENOENT: interpreter /nonexistent/sidecar-interpreter named by #! not found');
      const missing = await spawnError('sidecar-no-such-program', [], { connect: ctx.server.path, env });
      expect(missing).to.include({ code: 'ENOENT', message: 'spawn sidecar-no-such-program ENOENT' });
      expect(missing.serverSyscall).to.equal('execve');
    });

    it('a binary whose dynamic loader is missing: ENOENT, the message saying the file exists', async function () {
      const binary = fs.readFileSync('/bin/true');
      const loader = /\/lib[^\0]*\/ld-[^\0]*\.so\.\d/.exec(binary.toString('latin1'));
      if (loader === null) this.skip();
      // The same binary, its PT_INTERP renamed to a loader of the same length that is not there.
      const renamed = `${loader[0].slice(0, -1)}${loader[0].endsWith('9') ? '8' : '9'}`;
      const copy = path.join(dir, 'no-loader');
      fs.writeFileSync(copy, Buffer.from(binary.toString('latin1').replace(loader[0], renamed), 'latin1'), { mode: 0o755 });
      const error = await spawnError(copy, [], { connect: ctx.server.path });
      expect(error).to.include({ code: 'ENOENT', path: copy });
      expect(error.message).to.equal(`spawn ${copy} ENOENT: the file exists, but the interpreter it needs (its #! line's, or a binary's dynamic loader) was not found`);
    });
  });

  it('a working directory that is a file: ENOTDIR, thrown as spawn() throws it, naming the directory', async function () {
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, '');
    const error = await spawnError('true', [], { connect: ctx.server.path, cwd: file, startWait: 10000 });
    expect(error).to.include({
      code: 'ENOTDIR', errno: -20, syscall: 'spawn',
      message: `spawn ENOTDIR: working directory ${JSON.stringify(file)} on the server is not a directory`,
    });
    expect(error.serverSyscall).to.equal('chdir');
  });
});
