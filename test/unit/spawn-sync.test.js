'use strict';
// remoteSpawnSync's reading of the server's replies and of what the native
// exchange gathered, driven through the fake binding: every reply order and
// outcome gives child_process.spawnSync's result shape, and every fd made
// for the call is closed or handed to the exchange.

const os = require('node:os');
const { expect } = require('chai');
const { spawnSyncWith } = require('../../dist/client/spawn-sync');
const { encodeStarted, encodeFailed, encodeExit, decodeClientMessage, MessageType } = require('../../dist/protocol');
const { FakeBinding, nativeError, forbidRealIO } = require('../support/fake-binding');

const SOCKET = '/fake/sidecar.sock';
const { errno } = os.constants;

describe('remoteSpawnSync (fake binding)', function () {
  forbidRealIO();
  let binding;
  beforeEach(function () {
    binding = new FakeBinding();
  });
  afterEach(function () {
    binding.assertClean();
  });

  const run = (command, args, options) => spawnSyncWith(binding, command, args, { connect: SOCKET, ...options });

  it('STARTED then EXIT: status, pid, and each output pipe in its stdio place', function () {
    binding.script('exchangeSync', (socket, records, fds, inputs, inputData, outputs) => ({
      replies: [encodeStarted(77), encodeExit({ exitCode: 3, signal: null, reason: 0 })],
      outputs: outputs.map((fd, i) => Buffer.from(`out${i}`)),
    }));
    const result = run('prog', ['a'], { input: 'in' });
    expect(result).to.deep.equal({
      status: 3, signal: null, output: [null, Buffer.from('out0'), Buffer.from('out1')], pid: 77,
      stdout: Buffer.from('out0'), stderr: Buffer.from('out1'),
    });
    const [, records, fds, inputs, inputData, outputs, stopRecord, limits] = binding.callsOf('exchangeSync')[0];
    expect(fds).to.have.length(3);
    expect(inputs).to.have.length(1);
    expect(Buffer.from(inputData[0]).toString()).to.equal('in');
    expect(outputs).to.have.length(2);
    expect(decodeClientMessage(records[0]).type).to.equal(MessageType.Exec);
    expect(decodeClientMessage(stopRecord)).to.deep.equal({ type: MessageType.Signal, signal: os.constants.signals.SIGTERM });
    expect(limits).to.deep.equal({ timeoutMs: 0, maxBuffer: 1024 * 1024 });
  });

  it('a signal: signal name, status null, strings with an encoding', function () {
    binding.script('exchangeSync', { return: { replies: [encodeStarted(5), encodeExit({ exitCode: null, signal: 9, reason: 1 })] } });
    const result = run('prog', [], { encoding: 'utf8' });
    expect(result).to.include({ status: null, signal: 'SIGKILL', stdout: '', stderr: '' });
  });

  it('FAILED with an errno: spawnSync\'s error, nothing else', function () {
    binding.script('exchangeSync', { return: { replies: [encodeFailed({ errno: errno.ENOENT, code: 'ENOENT', syscall: 'execve', message: 'x' })] } });
    const result = run('prog', ['a']);
    expect(result).to.include({ status: null, signal: null, output: null, pid: 0, stdout: null, stderr: null });
    expect(result.error).to.include({ message: 'spawnSync prog ENOENT', code: 'ENOENT', errno: -errno.ENOENT, syscall: 'spawnSync prog', path: 'prog' });
    expect(result.error.spawnargs).to.deep.equal(['a']);
  });

  it('FAILED with our code: the SidecarError in the result', function () {
    binding.script('exchangeSync', { return: { replies: [encodeFailed({ errno: errno.EPERM, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', message: 'no' })] } });
    expect(run('prog').error.code).to.equal('ERR_SIDECAR_DENIED');
  });

  it('replies out of order: ERR_SIDECAR_PROTOCOL', function () {
    binding.script('exchangeSync', { return: { replies: [encodeExit({ exitCode: 0, signal: null, reason: 0 })] } });
    expect(run('prog').error.code).to.equal('ERR_SIDECAR_PROTOCOL');
  });

  it('no reply at all: ERR_SIDECAR_DISCONNECTED naming the send error', function () {
    binding.script('exchangeSync', { return: { sendErrno: errno.EPIPE } });
    const { error } = run('prog');
    expect(error.code).to.equal('ERR_SIDECAR_DISCONNECTED');
    expect(error.message).to.include('EPIPE');
  });

  it('started, then the server went away: reported as killed, as remoteSpawn does', function () {
    binding.script('exchangeSync', { return: { replies: [encodeStarted(9)] } });
    const result = run('prog');
    expect(result).to.include({ status: null, signal: 'SIGKILL', pid: 9 });
    expect(result.error.code).to.equal('ERR_SIDECAR_DISCONNECTED');
  });

  it('timedOut and overflowed become ETIMEDOUT and ENOBUFS', function () {
    const exit = encodeExit({ exitCode: null, signal: 15, reason: 1 });
    binding.script('exchangeSync', { return: { replies: [encodeStarted(1), exit], timedOut: true } },
      { return: { replies: [encodeStarted(1), exit], overflowed: true } });
    expect(run('prog', [], { timeout: 10 }).error.code).to.equal('ETIMEDOUT');
    expect(run('prog').error.code).to.equal('ENOBUFS');
  });

  it('connect fails: ERR_SIDECAR_CONNECT in the result and every pipe closed', function () {
    binding.script('connect', nativeError('ECONNREFUSED', 'connect'));
    const result = run('prog');
    expect(result.error.code).to.equal('ERR_SIDECAR_CONNECT');
    expect(binding.callsOf('exchangeSync')).to.have.length(0);
  });

  it('a server in this process: ERR_SIDECAR_UNSUPPORTED, the socket closed', function () {
    binding.credentials = { pid: process.pid, uid: 0, gid: 0 };
    expect(run('prog').error.code).to.equal('ERR_SIDECAR_UNSUPPORTED');
  });

  it('maxBuffer: absent is 1 MiB, an own undefined or 0 is no limit; input of a wrong type throws before any fd exists', function () {
    run('prog', [], { maxBuffer: undefined });
    run('prog', [], { maxBuffer: 0 });
    run('prog', [], { maxBuffer: 10 });
    expect(binding.callsOf('exchangeSync').map((args) => args[7].maxBuffer)).to.deep.equal([Infinity, Infinity, 10]);
    expect(() => run('prog', [], { input: 5 })).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => run('prog', [], { maxBuffer: -1 })).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
  });

  it('tty: ERR_SIDECAR_UNSUPPORTED, thrown before anything is made or sent (a sync call cannot relay a terminal); tty: false runs', function () {
    for (const tty of [true, { columns: 80, rows: 24 }]) {
      expect(() => run('prog', [], { tty })).to.throw(/"tty" is not supported/).with.property('code', 'ERR_SIDECAR_UNSUPPORTED');
    }
    expect(binding.callsOf('exchangeSync')).to.have.length(0);
    run('prog', [], { tty: false });
    expect(binding.callsOf('exchangeSync')).to.have.length(1);
  });
});
