'use strict';
// Malformed messages from a raw client (the addon used directly): each gets a
// FAILED reply with ERR_SIDECAR_PROTOCOL (or, where no reply can be given, a
// hang-up); the server then still serves a normal client and holds no fd of
// the bad one (the leak check of useServer counts /proc/<server>/fd).

const fs = require('node:fs');
const { expect } = require('chai');
const { remoteSpawn } = require('../..');
const { getBinding } = require('../../dist/binding');
const protocol = require('../../dist/protocol');
const {
  useServer, run, fdTable, isAlive, pollUntil, sleep, receiveRecord,
} = require('../helpers');

const T = { Exec: 1, ExecMore: 2, Signal: 3, Stop: 4, Started: 16, Failed: 17, Exit: 18, Stopping: 19 };

describe('malformed messages from a raw client', function () {
  let binding;
  let open = [];

  before(function () {
    binding = getBinding();
  });

  // Registered before useServer()'s hooks so that it runs before its leak check.
  afterEach(function () {
    for (const fd of open.splice(0)) {
      try { binding.close(fd); } catch { /* already closed */ }
    }
  });

  const ctx = useServer();

  function track(fd) {
    open.push(fd);
    return fd;
  }

  function closeTracked(fd) {
    open = open.filter((other) => other !== fd);
    binding.close(fd);
  }

  function connect() {
    return track(binding.connect(ctx.server.path));
  }

  async function send(fd, data, fds = []) {
    for (let i = 0; i < 500; i++) {
      const sent = binding.send(fd, data, 0, data.length, fds);
      if (sent >= 0) {
        expect(sent).to.equal(data.length);
        return;
      }
      await sleep(2);
    }
    throw new Error('send kept returning EAGAIN');
  }

  function receive(fd, timeout) {
    return receiveRecord(binding, fd, timeout);
  }

  /** Expects a FAILED reply with code ERR_SIDECAR_PROTOCOL, then a hang-up. */
  async function expectProtocolFailure(fd, expectedCode = 'ERR_SIDECAR_PROTOCOL') {
    const reply = await receive(fd);
    expect(reply.timeout, 'no reply within 5 s').to.equal(undefined);
    expect(reply.hangup, 'hung up without a FAILED reply').to.equal(undefined);
    const message = protocol.decodeServerMessage(reply.data);
    expect(message.type).to.equal(T.Failed);
    expect(message.failed.code).to.equal(expectedCode);
    expect(message.failed.errno).to.be.above(0);
    expect(reply.fds).to.equal(0);
    const after = await receive(fd);
    expect(after.hangup, `expected a hang-up after FAILED, got ${JSON.stringify(after)}`).to.equal(true);
    return message.failed;
  }

  /** A pipe; returns its ends and a check that the server holds no fd of it. */
  function pipeProbe() {
    const [readEnd, writeEnd] = binding.pipe();
    track(readEnd);
    track(writeEnd);
    const ino = fs.fstatSync(readEnd).ino;
    const target = `pipe:[${ino}]`;
    return {
      readEnd,
      writeEnd,
      serverHolds: () => [...fdTable(ctx.server.pid).values()].includes(target),
    };
  }

  async function expectReleased(probe) {
    const released = await pollUntil(() => !probe.serverHolds(), { timeout: 2000 });
    expect(released, 'the server still holds an fd it received').to.equal(true);
  }

  async function expectServes() {
    const result = await run(remoteSpawn('sh', ['-c', 'echo ok; exit 3'], { connect: ctx.server.path }));
    expect(result.error, result.error && result.error.stack).to.equal(null);
    expect(result.exitArgs).to.deep.equal([3, null]);
    expect(result.stdout.toString()).to.equal('ok\n');
  }

  function validExec({ argv = ['sleep', '30'], fdMap = [0, 0, 0] } = {}) {
    const payload = protocol.encodeExecPayload({
      file: argv[0], argv, env: [`PATH=${process.env.PATH}`], cwd: '', fdMap, newSession: false, serverEnv: false,
    });
    return { payload, records: protocol.encodeExecRecords(payload) };
  }

  /** Random bytes whose first byte is never the protocol version (so they cannot start a valid request). */
  function garbage(length, seed) {
    const bytes = Buffer.alloc(length);
    let state = seed;
    for (let i = 0; i < length; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      bytes[i] = state >>> 24;
    }
    if (bytes[0] === protocol.PROTOCOL_VERSION) bytes[0] = 0x7f;
    return bytes;
  }

  it('random bytes', async function () {
    for (const [length, seed] of [[1, 1], [7, 2], [100, 3], [4096, 4]]) {
      const fd = connect();
      await send(fd, garbage(length, seed));
      await expectProtocolFailure(fd);
      closeTracked(fd);
    }
    await expectServes();
  });

  it('a truncated record: shorter than the header, and an exec payload cut short', async function () {
    const short = connect();
    await send(short, Buffer.from([1, T.Exec]));
    await expectProtocolFailure(short);

    const cut = connect();
    const { payload } = validExec();
    const half = payload.subarray(0, payload.length >> 1);
    const record = Buffer.alloc(8 + half.length);
    record.set([1, T.Exec, 0, 0]);
    record.writeUInt32LE(half.length, 4); // announces exactly what it sends: the payload itself is cut
    half.copy(record, 8);
    await send(cut, record);
    await expectProtocolFailure(cut);
    await expectServes();
  });

  it('a wrong protocol version (with fds attached)', async function () {
    const probe = pipeProbe();
    for (const version of [0, 2, 255]) {
      const fd = connect();
      const record = Buffer.from(validExec().records[0]);
      record[0] = version;
      await send(fd, record, [probe.writeEnd, probe.readEnd]);
      const failed = await expectProtocolFailure(fd);
      expect(failed.message).to.include('version');
    }
    await expectReleased(probe);
    await expectServes();
  });

  it('non-zero reserved bytes, an unknown type, a record over MAX_RECORD_BYTES', async function () {
    const reserved = connect();
    const record = Buffer.from(validExec().records[0]);
    record[2] = 1;
    await send(reserved, record);
    await expectProtocolFailure(reserved);

    const unknown = connect();
    await send(unknown, Buffer.from([1, 99, 0, 0]));
    await expectProtocolFailure(unknown);

    const oversize = connect();
    const big = Buffer.alloc(protocol.MAX_RECORD_BYTES + 1000, 0);
    big.set([1, T.Exec, 0, 0]);
    big.writeUInt32LE(big.length - 8, 4);
    await send(oversize, big);
    await expectProtocolFailure(oversize);
    await expectServes();
  });

  it('fds attached to garbage are closed by the server', async function () {
    const probe = pipeProbe();
    const devNull = track(binding.openReadWrite('/dev/null'));
    const fd = connect();
    await send(fd, garbage(64, 9), [probe.writeEnd, devNull, probe.readEnd]);
    await expectProtocolFailure(fd);
    await expectReleased(probe);
    await expectServes();
  });

  it('fds attached to a SIGNAL message (before and after a program started)', async function () {
    const probe = pipeProbe();
    const first = connect();
    await send(first, protocol.encodeSignal(15), [probe.writeEnd]);
    await expectProtocolFailure(first);

    // A running program: the violation counts as the client leaving, so the
    // program is killed and the connection closed.
    const devNull = track(binding.openReadWrite('/dev/null'));
    const running = connect();
    await send(running, validExec().records[0], [devNull]);
    const started = await receive(running);
    expect(started.data, JSON.stringify(started)).to.be.an.instanceOf(Buffer);
    const message = protocol.decodeServerMessage(started.data);
    expect(message.type).to.equal(T.Started);
    expect(isAlive(message.pid)).to.equal(true);
    await send(running, protocol.encodeSignal(15), [probe.writeEnd]);
    const end = await receive(running);
    expect(end.timeout, 'the server neither replied nor hung up').to.equal(undefined);
    if (!end.hangup) {
      // An exit report is acceptable too, as long as the connection ends.
      expect(protocol.decodeServerMessage(end.data).type).to.equal(T.Exit);
      expect((await receive(running)).hangup).to.equal(true);
    }
    expect(await pollUntil(() => !isAlive(message.pid), { timeout: 1000 }), 'the program still runs').to.equal(true);
    await expectReleased(probe);
    await expectServes();
  });

  it('a SIGNAL before any request, a second EXEC, and EXEC_MORE without a request', async function () {
    const early = connect();
    await send(early, protocol.encodeSignal(15));
    await expectProtocolFailure(early);

    const more = connect();
    await send(more, Buffer.from([1, T.ExecMore, 0, 0, 1, 2, 3]));
    await expectProtocolFailure(more);

    const twice = connect();
    const { payload } = validExec();
    const first = Buffer.alloc(8 + 4);
    first.set([1, T.Exec, 0, 0]);
    first.writeUInt32LE(payload.length, 4);
    payload.copy(first, 8, 0, 4);
    await send(twice, first);
    await send(twice, first);
    await expectProtocolFailure(twice);
    await expectServes();
  });

  it('an EXEC announcing more bytes than it sends, then closing: fds released, nothing started', async function () {
    const probe = pipeProbe();
    const { payload } = validExec({ argv: ['sh', '-c', 'echo should-not-run >&2'], fdMap: [0, 1, 1] });
    const record = Buffer.alloc(8 + payload.length);
    record.set([1, T.Exec, 0, 0]);
    record.writeUInt32LE(payload.length + 1000, 4);
    payload.copy(record, 8);
    const fd = connect();
    await send(fd, record, [probe.readEnd, probe.writeEnd]);
    await sleep(50);
    expect(probe.serverHolds(), 'the server should hold the fds while it waits for the rest').to.equal(true);
    closeTracked(fd);
    await expectReleased(probe);
    await expectServes();
  });

  it('200 EXECs announcing the maximum size but sending 16 bytes reserve no memory in the server', async function () {
    // A server that sized its buffer by the announcement would map 200 x 8 MiB.
    const vmSize = () => Number(/VmSize:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${ctx.server.pid}/status`, 'utf8'))[1]) * 1024;
    const before = vmSize();
    const fds = [];
    for (let i = 0; i < 200; i++) {
      const fd = connect();
      const record = Buffer.alloc(8 + 16);
      record.set([1, T.Exec, 0, 0]);
      record.writeUInt32LE(protocol.MAX_REQUEST_BYTES, 4);
      await send(fd, record);
      fds.push(fd);
    }
    await sleep(200);
    const grown = vmSize() - before;
    for (const fd of fds) closeTracked(fd);
    expect(grown, `server address space grew by ${grown} bytes`).to.be.below(200 * protocol.MAX_REQUEST_BYTES / 4);
    await expectServes();
  });

  it('an EXEC over MAX_REQUEST_BYTES is refused with ERR_SIDECAR_REQUEST_TOO_LARGE', async function () {
    const probe = pipeProbe();
    const fd = connect();
    const record = Buffer.alloc(8 + 16);
    record.set([1, T.Exec, 0, 0]);
    record.writeUInt32LE(protocol.MAX_REQUEST_BYTES + 1, 4);
    await send(fd, record, [probe.writeEnd]);
    await expectProtocolFailure(fd, 'ERR_SIDECAR_REQUEST_TOO_LARGE');
    await expectReleased(probe);
    await expectServes();
  });

  it('an exec payload whose fd map points past the attached fds', async function () {
    const probe = pipeProbe();
    const fd = connect();
    const { records } = validExec({ fdMap: [0, 1, 2] });
    await send(fd, records[0], [probe.readEnd]);
    await expectProtocolFailure(fd);
    await expectReleased(probe);
    await expectServes();
  });

  it('a client that connects and hangs up at once, many times', async function () {
    for (let i = 0; i < 50; i++) closeTracked(connect());
    await expectServes();
  });
});
