'use strict';
// The sync calls against real servers: what they leave behind (fds, zombies,
// programs), and how they fail when the server cannot be reached, does not
// answer, goes away mid-run, or runs in this very process. Parity with
// child_process, call by call, is in test/conformance/sync-parity.test.js.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  createClient, createServer, remoteExecFileSync, remoteExecSync, remoteSpawnSync,
} = require('../..');
const {
  useServer, startServer, tempDir, fdCount, fdTable, describeFdDiff, zombieChildren, isAlive, pollUntil,
} = require('../helpers');

const NO_SUCH = 'sidecar-sync-test-no-such-command';

describe('sync calls through a real server', function () {
  this.timeout(30000);
  const ctx = useServer();
  const connect = () => ctx.server.path;

  it('a batch of sync calls, failures included, leaves no fd and no zombie behind', function () {
    const dir = tempDir('sidecar-sync-');
    try {
      // One call first, so that anything created once per process exists.
      remoteSpawnSync('true', { connect: connect() });
      const before = fdTable(process.pid);
      const beforeCount = fdCount(process.pid);
      const outcomes = [];
      for (let round = 0; round < 3; round++) {
        outcomes.push(remoteSpawnSync('sh', ['-c', 'echo out; echo err >&2; exit 2'], { connect: connect() }).status);
        outcomes.push(remoteSpawnSync('cat', { connect: connect(), input: 'x'.repeat(100000) }).stdout.length);
        outcomes.push(remoteSpawnSync(NO_SUCH, { connect: connect() }).error.code);
        outcomes.push(remoteSpawnSync('true', { connect: path.join(dir, 'no-socket') }).error.code);
        outcomes.push(remoteSpawnSync('yes', { connect: connect(), maxBuffer: 1000 }).error.code);
        outcomes.push(remoteSpawnSync('sleep', ['10'], { connect: connect(), timeout: 100 }).error.code);
        outcomes.push(remoteSpawnSync('sh', ['-c', 'exec 0<&-; sleep 0.2'], { connect: connect(), input: 'y'.repeat(200000) }).error.code);
        const fd = fs.openSync(path.join(dir, 'out'), 'w');
        outcomes.push(remoteSpawnSync('echo', ['to-fd'], { connect: connect(), stdio: ['ignore', fd, 'inherit'] }).status);
        fs.closeSync(fd);
        try {
          remoteExecSync('exit 5', { connect: connect(), stdio: 'pipe' });
        } catch (error) {
          outcomes.push(error.status);
        }
        outcomes.push(remoteExecFileSync('echo', ['x'], { connect: connect(), encoding: 'utf8' }));
      }
      expect(outcomes.slice(0, 10)).to.deep.equal([2, 100000, 'ENOENT', 'ERR_SIDECAR_CONNECT', 'ENOBUFS', 'ETIMEDOUT', 'EPIPE', 0, 5, 'x\n']);
      expect(fs.readFileSync(path.join(dir, 'out'), 'utf8')).to.equal('to-fd\n');
      const after = fdTable(process.pid);
      expect(fdCount(process.pid), describeFdDiff(before, after)).to.equal(beforeCount);
      expect(zombieChildren(process.pid)).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forks nothing of the caller: the program is a child of the server', function () {
    const result = remoteSpawnSync('sh', ['-c', 'echo $PPID'], { connect: connect(), encoding: 'utf8' });
    expect(Number(result.stdout)).to.equal(ctx.server.pid);
    expect(result.pid).to.be.above(0);
  });

  it('the calling process creates no process at all (strace: no fork, vfork, or clone but threads)', function () {
    const version = childProcess.spawnSync('strace', ['-V']);
    if (version.error || version.status !== 0) {
      console.log('      (skipped: strace is not installed)');
      this.skip();
    }
    const dir = tempDir('sidecar-sync-');
    try {
      const trace = path.join(dir, 'trace');
      const script = `const s = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
        const c = { connect: process.argv[1] };
        if (s.remoteSpawnSync('true', c).status !== 0) process.exit(2);
        if (s.remoteExecSync('echo hi', { ...c, encoding: 'utf8' }) !== 'hi\\n') process.exit(3);
        if (s.remoteExecFileSync('echo', ['x'], { ...c, encoding: 'utf8', input: 'in' }) !== 'x\\n') process.exit(4);`;
      const traced = childProcess.spawnSync('strace', ['-f', '-qq', '-o', trace, '-e', 'trace=fork,vfork,clone,clone3',
        process.execPath, '-e', script, connect()], { encoding: 'utf8', timeout: 20000 });
      expect(traced.status, traced.stderr).to.equal(0);
      const calls = fs.readFileSync(trace, 'utf8').split('\n').filter((line) => /\b(fork|vfork|clone|clone3)\(/.test(line));
      expect(calls.length, 'strace saw no thread creation: the trace is not working').to.be.above(0);
      expect(calls.filter((line) => !line.includes('CLONE_THREAD'))).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('timeout: the remote program gets killSignal and is gone when the call returns', function () {
    const dir = tempDir('sidecar-sync-');
    try {
      const pidFile = path.join(dir, 'pid');
      const result = remoteSpawnSync('sh', ['-c', `echo $$ > ${pidFile}; exec sleep 30`],
        { connect: connect(), timeout: 300, killSignal: 'SIGINT' });
      expect(result.error.code).to.equal('ETIMEDOUT');
      expect(result.signal).to.equal('SIGINT');
      expect(isAlive(Number(fs.readFileSync(pidFile, 'utf8')))).to.equal(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connect failures: ERR_SIDECAR_CONNECT in spawnSync\'s result, thrown by execSync and execFileSync', function () {
    const socket = path.join(tempDir('sidecar-sync-'), 'nothing-here');
    try {
      const result = remoteSpawnSync('true', { connect: socket });
      expect(result).to.include({ status: null, signal: null, output: null, pid: 0, stdout: null, stderr: null });
      expect(result.error.code).to.equal('ERR_SIDECAR_CONNECT');
      expect(result.error.message).to.include(socket);
      for (const call of [() => remoteExecSync('true', { connect: socket }), () => remoteExecFileSync('true', [], { connect: socket })]) {
        let thrown;
        try {
          call();
        } catch (error) {
          thrown = error;
        }
        expect(thrown.code).to.equal('ERR_SIDECAR_CONNECT');
        expect(thrown.error).to.equal(thrown);
        expect(thrown).to.include({ status: null, signal: null, output: null, pid: 0 });
      }
    } finally {
      fs.rmSync(path.dirname(socket), { recursive: true, force: true });
    }
  });

  it('no socket configured: ERR_SIDECAR_NO_SOCKET thrown, as remoteSpawn throws it', function () {
    const saved = process.env.SIDECAR_SOCKET;
    delete process.env.SIDECAR_SOCKET;
    try {
      expect(() => remoteSpawnSync('true')).to.throw().with.property('code', 'ERR_SIDECAR_NO_SOCKET');
      expect(() => remoteExecSync('true')).to.throw().with.property('code', 'ERR_SIDECAR_NO_SOCKET');
    } finally {
      if (saved !== undefined) process.env.SIDECAR_SOCKET = saved;
    }
  });

  it('createClient binds the server and defaults for the sync calls', function () {
    const client = createClient({ connect: connect(), encoding: 'utf8', env: { WHO: 'client' } });
    expect(client.spawnSync('sh', ['-c', 'echo $WHO']).stdout).to.equal('client\n');
    expect(client.execSync('echo $WHO')).to.equal('client\n');
    expect(client.execFileSync('sh', ['-c', 'echo $WHO'], { env: { WHO: 'call' } })).to.equal('call\n');
  });
});

describe('sync calls and servers that misbehave', function () {
  this.timeout(30000);

  it('a server that never answers: with timeout, the call returns ETIMEDOUT', function () {
    const dir = tempDir('sidecar-sync-');
    const socket = path.join(dir, 'sock');
    // A listener that accepts nothing: the connection waits in its backlog.
    const script = `const b = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'binding'))}).getBinding();
      b.listen(process.argv[1], 0o600, 16); setInterval(() => {}, 1000);`;
    const silent = childProcess.spawn(process.execPath, ['-e', script, socket], { stdio: 'ignore' });
    try {
      childProcess.execFileSync('sh', ['-c', `while [ ! -S ${socket} ]; do sleep 0.05; done`], { timeout: 10000 });
      const started = Date.now();
      const result = remoteSpawnSync('true', { connect: socket, timeout: 200 });
      expect(Date.now() - started).to.be.below(15000);
      expect(result.error.code).to.equal('ETIMEDOUT');
      expect(result).to.include({ pid: 0, status: null, signal: null });
    } finally {
      silent.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a server that floods records with fds: ERR_SIDECAR_PROTOCOL, the fds it sent closed, no record hoarded', function () {
    const dir = tempDir('sidecar-sync-');
    const socket = path.join(dir, 'sock');
    const dist = path.join(__dirname, '..', '..', 'dist');
    // Accepts, then sends STARTED records, each with an fd, for as long as the client reads.
    const script = `const b = require(${JSON.stringify(path.join(dist, 'binding'))}).getBinding();
      const { encodeStarted } = require(${JSON.stringify(path.join(dist, 'protocol'))});
      const l = b.listen(process.argv[1], 0o600, 16); const nul = b.openReadWrite('/dev/null');
      setInterval(() => { const c = b.accept(l); if (c < 0) return;
        setInterval(() => { try { for (let i = 0; i < 50; i++) b.send(c, encodeStarted(i + 1), 0, 8, [nul]); } catch {} }, 5); }, 5);`;
    const hostile = childProcess.spawn(process.execPath, ['-e', script, socket], { stdio: 'ignore' });
    try {
      childProcess.execFileSync('sh', ['-c', `while [ ! -S ${socket} ]; do sleep 0.05; done`], { timeout: 10000 });
      remoteSpawnSync('true', { connect: socket, timeout: 300 });
      const before = fdCount(process.pid);
      const result = remoteSpawnSync('true', { connect: socket, timeout: 300 });
      expect(result.error.code).to.equal('ERR_SIDECAR_PROTOCOL');
      expect(fdCount(process.pid)).to.equal(before);
    } finally {
      hostile.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a server that goes away mid-run: ERR_SIDECAR_DISCONNECTED, reported as killed', async function () {
    const server = await startServer();
    try {
      const result = remoteSpawnSync('sh', ['-c', `sleep 0.3; kill -KILL ${server.pid}; exec sleep 5`], { connect: server.path });
      expect(result.error.code).to.equal('ERR_SIDECAR_DISCONNECTED');
      expect(result.signal).to.equal('SIGKILL');
      expect(result.pid).to.be.above(0);
    } finally {
      await server.stop().catch(() => {});
    }
  });

  it('a server in this very process: ERR_SIDECAR_UNSUPPORTED instead of waiting for itself', async function () {
    const dir = tempDir('sidecar-sync-');
    const server = createServer();
    try {
      await server.listen(path.join(dir, 'sock'));
      const result = remoteSpawnSync('true', { connect: path.join(dir, 'sock') });
      expect(result.error.code).to.equal('ERR_SIDECAR_UNSUPPORTED');
      expect(result.error.message).to.include('this process');
      await pollUntil(() => server.stats().connections === 0, { timeout: 2000 }).catch(() => {});
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
