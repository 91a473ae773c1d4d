'use strict';
// Protocol v1 codec (src/protocol): round trips, chunking, and every malformed
// input rejected with ProtocolError (never another exception type).

const { expect } = require('chai');
const protocol = require('../../dist/protocol');

const {
  PROTOCOL_VERSION, HEADER_BYTES, MAX_RECORD_BYTES, MAX_FDS, MAX_REPLY_STRING_BYTES, FD_IGNORE, FD_CLOSED, FD_TERMINAL, NO_ID,
  ProtocolError, encodeExecPayload, encodeExecRecords, encodeSignal, encodeStop, encodeStarted, encodeFailed,
  encodeExit, encodeStopping, decodeClientMessage, decodeExecPayload, decodeServerMessage,
} = protocol;

// MessageType's values, spelled out from docs/protocol.md rather than read
// from protocol.MessageType, so that a change to the enum fails here:
const T = { Exec: 1, ExecMore: 2, Signal: 3, Stop: 4, Started: 16, Failed: 17, Exit: 18, Stopping: 19 };

function request(overrides = {}) {
  return {
    file: 'printf',
    argv: ['printf', '%s\\n', 'héllo wörld ✓', ''],
    env: ['PATH=/usr/bin:/bin', 'EQUALS=a=b=c', 'EMPTY='],
    cwd: '/tmp/some dir',
    fdMap: [0, 1, FD_IGNORE, FD_CLOSED, 2],
    newSession: false,
    serverEnv: false,
    callerEnv: [],
    terminal: null,
    uid: NO_ID,
    gid: NO_ID,
    ...overrides,
  };
}

/** Reassembles the payload from the records, as the server does. */
function reassemble(records) {
  const first = decodeClientMessage(records[0]);
  expect(first.type).to.equal(T.Exec);
  const chunks = [Buffer.from(first.chunk)];
  for (const record of records.slice(1)) {
    const message = decodeClientMessage(record);
    expect(message.type).to.equal(T.ExecMore);
    chunks.push(Buffer.from(message.chunk));
  }
  const payload = Buffer.concat(chunks);
  expect(payload.length).to.equal(first.totalBytes);
  return payload;
}

function expectProtocolError(fn, pattern) {
  let thrown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a ProtocolError, nothing was thrown').to.exist;
  expect(thrown).to.be.an.instanceOf(ProtocolError, `threw ${thrown && thrown.stack}`);
  expect(thrown.name).to.equal('ProtocolError');
  if (pattern !== undefined) expect(thrown.message).to.match(pattern);
}

/** A small deterministic PRNG (mulberry32), so that a failing fuzz case can be replayed. */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('protocol v1 codec', function () {
  it('exports version 1 and sane limits', function () {
    expect(PROTOCOL_VERSION).to.equal(1);
    expect(require('../..').PROTOCOL_VERSION).to.equal(PROTOCOL_VERSION);
    expect(HEADER_BYTES).to.equal(4);
    expect(MAX_RECORD_BYTES).to.be.at.least(4096);
    expect(MAX_FDS).to.be.at.least(3);
  });

  describe('round trips', function () {
    it('exec request: every field, with UTF-8 and "=" in env values', function () {
      for (const flags of [{}, { newSession: true }, { serverEnv: true }, { newSession: true, serverEnv: true },
        { callerEnv: ['PATH'] }, { callerEnv: ['PATH', 'HOME', 'TMPDIR', 'SHELL', 'USER', 'LOGNAME'] }, { serverEnv: true, callerEnv: ['LOGNAME'] },
        { uid: 0, gid: 0 }, { uid: 65534, gid: 65533 }, { uid: 2147483647, gid: NO_ID }]) {
        const original = request(flags);
        const records = encodeExecRecords(encodeExecPayload(original));
        expect(records).to.have.lengthOf(1);
        expect(records[0][0]).to.equal(PROTOCOL_VERSION);
        expect(records[0][1]).to.equal(T.Exec);
        expect(records[0].readUInt16LE(2)).to.equal(0);
        const decoded = decodeExecPayload(reassemble(records), 3);
        expect(decoded).to.deep.equal(original);
      }
    });

    it('exec request with an empty cwd, no env and no fds', function () {
      const original = request({ cwd: '', env: [], fdMap: [], argv: ['true'], file: 'true' });
      expect(decodeExecPayload(reassemble(encodeExecRecords(encodeExecPayload(original))), 0)).to.deep.equal(original);
    });

    it('exec request with a terminal: its size, and FD_TERMINAL entries in the fd map', function () {
      for (const terminal of [{ columns: 80, rows: 24 }, { columns: 1, rows: 65535 }, { columns: 65535, rows: 1 }]) {
        const original = request({ terminal, fdMap: [FD_TERMINAL, FD_TERMINAL, 0, FD_IGNORE] });
        expect(decodeExecPayload(reassemble(encodeExecRecords(encodeExecPayload(original))), 1)).to.deep.equal(original);
      }
    });

    it('signal, stop, started, stopping', function () {
      for (const signal of [1, 2, 9, 15, 64]) {
        expect(decodeClientMessage(encodeSignal(signal))).to.deep.equal({ type: T.Signal, signal });
      }
      expect(decodeClientMessage(encodeStop())).to.deep.equal({ type: T.Stop });
      for (const pid of [1, 4242, 4194304]) {
        expect(decodeServerMessage(encodeStarted(pid))).to.deep.equal({ type: T.Started, pid });
      }
      expect(decodeServerMessage(encodeStopping())).to.deep.equal({ type: T.Stopping });
    });

    it('failed reply, including negative-looking and large errno values', function () {
      const failed = { errno: 2, code: 'ENOENT', syscall: 'execve', message: 'execve nope: ENOENT ✗' };
      expect(decodeServerMessage(encodeFailed(failed))).to.deep.equal({ type: T.Failed, failed });
      const protocolFailure = { errno: 71, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'protocol', message: '' };
      expect(decodeServerMessage(encodeFailed(protocolFailure))).to.deep.equal({ type: T.Failed, failed: protocolFailure });
    });

    it('failed reply with over-long strings is clipped so that it still decodes', function () {
      for (const unit of ['x', 'é', '✓', '😀']) {
        const long = unit.repeat(10000);
        const decoded = decodeServerMessage(encodeFailed({ errno: 5, code: long, syscall: long, message: long }));
        expect(decoded.type).to.equal(T.Failed);
        for (const field of ['code', 'syscall', 'message']) {
          expect(Buffer.byteLength(decoded.failed[field])).to.be.at.most(MAX_REPLY_STRING_BYTES);
          expect(decoded.failed[field].startsWith(unit.repeat(10))).to.equal(true);
          expect(decoded.failed[field]).to.not.include('\ufffd'); // not cut inside a character
        }
      }
    });

    it('exit reply: codes 0..255 and signals', function () {
      for (const exitCode of [0, 1, 42, 126, 255]) {
        expect(decodeServerMessage(encodeExit({ exitCode, signal: null, reason: 0 })))
          .to.deep.equal({ type: T.Exit, exit: { exitCode, signal: null, reason: 0 } });
      }
      for (const signal of [1, 9, 15, 64]) {
        expect(decodeServerMessage(encodeExit({ exitCode: null, signal, reason: 0 })))
          .to.deep.equal({ type: T.Exit, exit: { exitCode: null, signal, reason: 0 } });
      }
    });
  });

  describe('chunking', function () {
    it('splits a 2 MiB request into records of at most MAX_RECORD_BYTES and reassembles it exactly', function () {
      const arg = 'a'.repeat(1000);
      const original = request({ argv: ['sh', ...Array.from({ length: 2100 }, (_, i) => `${i}:${arg}`)] });
      const payload = encodeExecPayload(original);
      expect(payload.length).to.be.greaterThan(2 * 1024 * 1024);
      const records = encodeExecRecords(payload);
      expect(records.length).to.be.at.least(Math.ceil(payload.length / MAX_RECORD_BYTES));
      for (const record of records) {
        expect(record.length).to.be.at.most(MAX_RECORD_BYTES);
        expect(record.length).to.be.greaterThan(HEADER_BYTES);
      }
      // All but the last are full: the split wastes no records.
      for (const record of records.slice(0, -1)) expect(record.length).to.equal(MAX_RECORD_BYTES);
      const reassembled = reassemble(records);
      expect(reassembled.equals(payload)).to.equal(true);
      expect(decodeExecPayload(reassembled, 3)).to.deep.equal(original);
    });

    it('splits exactly at the record boundary', function () {
      const firstRoom = MAX_RECORD_BYTES - HEADER_BYTES - 4;
      const moreRoom = MAX_RECORD_BYTES - HEADER_BYTES;
      const cases = [[1, 1], [firstRoom, 1], [firstRoom + 1, 2], [firstRoom + moreRoom, 2], [firstRoom + moreRoom + 1, 3]];
      for (const [size, count] of cases) {
        const payload = Buffer.alloc(size, 0x5a);
        payload[size - 1] = 0x01;
        const records = encodeExecRecords(payload);
        expect(records, `payload of ${size} bytes`).to.have.lengthOf(count);
        for (const record of records) expect(record.length).to.be.at.most(MAX_RECORD_BYTES);
        expect(reassemble(records).equals(payload)).to.equal(true);
      }
    });
  });

  describe('malformed client records throw ProtocolError', function () {
    const good = () => encodeExecRecords(encodeExecPayload(request()))[0];

    it('records shorter than the header (truncated)', function () {
      for (let length = 0; length < HEADER_BYTES; length++) {
        expectProtocolError(() => decodeClientMessage(good().subarray(0, length)), /header/);
      }
    });

    it('a wrong version', function () {
      for (const version of [0, 2, 0x7f, 0xff]) {
        const record = good();
        record[0] = version;
        expectProtocolError(() => decodeClientMessage(record), /version/);
        const signal = encodeSignal(15);
        signal[0] = version;
        expectProtocolError(() => decodeClientMessage(signal), /version/);
      }
    });

    it('non-zero reserved header bytes', function () {
      for (const index of [2, 3]) {
        const record = good();
        record[index] = 1;
        expectProtocolError(() => decodeClientMessage(record), /reserved/);
      }
    });

    it('an unknown message type, including server-only types', function () {
      for (const type of [0, 6, 15, 20, T.Started, T.Failed, T.Exit, T.Stopping, 0xff]) {
        const record = encodeStop();
        record[1] = type;
        expectProtocolError(() => decodeClientMessage(record), /unknown/);
      }
    });

    it('an exec record truncated before its total length, or whose chunk exceeds it', function () {
      const header = Buffer.from([1, T.Exec, 0, 0, 9, 0]); // u32 total cut after 2 bytes
      expectProtocolError(() => decodeClientMessage(header));
      const record = good();
      record.writeUInt32LE(3, HEADER_BYTES); // announces 3 bytes, carries more
      expectProtocolError(() => decodeClientMessage(record), /exceeds/);
    });

    it('signal: truncated, trailing bytes, not a signal number', function () {
      expectProtocolError(() => decodeClientMessage(encodeSignal(15).subarray(0, HEADER_BYTES + 2)), /truncated/);
      expectProtocolError(() => decodeClientMessage(Buffer.concat([encodeSignal(15), Buffer.from([0])])), /trailing/);
      for (const signal of [0, 65, 0xffffffff]) {
        expectProtocolError(() => decodeClientMessage(encodeSignal(signal)));
      }
    });

    it('stop with trailing bytes', function () {
      expectProtocolError(() => decodeClientMessage(Buffer.concat([encodeStop(), Buffer.from([1])])), /trailing/);
    });
  });

  describe('malformed exec payloads throw ProtocolError', function () {
    const payload = () => encodeExecPayload(request());

    it('every truncation of a valid payload', function () {
      const full = payload();
      expect(decodeExecPayload(full, 3)).to.deep.equal(request());
      for (let length = 0; length < full.length; length++) {
        expectProtocolError(() => decodeExecPayload(full.subarray(0, length), 3));
      }
    });

    it('trailing bytes', function () {
      expectProtocolError(() => decodeExecPayload(Buffer.concat([payload(), Buffer.from([0])]), 3), /trailing/);
    });

    it('unknown flags', function () {
      for (const flags of [1 << 9, 1 << 31 >>> 0, 0xffffffff]) {
        const bad = payload();
        bad.writeUInt32LE(flags, 0);
        expectProtocolError(() => decodeExecPayload(bad, 3), /flags/);
      }
    });

    it('a relative cwd (the server would take it from its own directory); an absolute or empty one is fine', function () {
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ cwd: 'sub/dir' })), 3), /not absolute/);
      for (const cwd of ['', '/srv/work']) expect(decodeExecPayload(encodeExecPayload(request({ cwd })), 3).cwd).to.equal(cwd);
    });

    it('more argv and env strings together than MAX_STRINGS, refused before any is decoded', function () {
      const { MAX_STRINGS } = require('../../dist/protocol');
      const env = Array.from({ length: MAX_STRINGS }, (_, i) => `V${i}=x`);
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ env })), 3), /131072/);
      // One fewer, with argv's one string, is still a request.
      expect(decodeExecPayload(encodeExecPayload(request({ argv: ['tool'], env: env.slice(1) })), 3).env).to.have.lengthOf(MAX_STRINGS - 1);
    });

    it('an empty argv, and argc/envc larger than the payload can hold', function () {
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ argv: [] })), 3), /argv/);
      for (const [offset, value] of [[4, 0xffffffff], [8, 0xffffffff], [4, 0x40000000], [8, 1000000]]) {
        const bad = payload();
        bad.writeUInt32LE(value, offset);
        expectProtocolError(() => decodeExecPayload(bad, 3));
      }
    });

    it('a uid or gid below NO_ID (-1)', function () {
      expect(NO_ID).to.equal(-1);
      for (const ids of [{ uid: -2 }, { gid: -2 }, { uid: -2147483648 }]) {
        expectProtocolError(() => decodeExecPayload(encodeExecPayload(request(ids)), 3), /uid|gid/);
      }
    });

    it('an fd map longer than MAX_FDS', function () {
      const fdMap = Array.from({ length: MAX_FDS + 1 }, () => FD_IGNORE);
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ fdMap })), 0), /fd map/);
    });

    it('a bad fd map index: not attached, or below FD_CLOSED', function () {
      expectProtocolError(() => decodeExecPayload(payload(), 2), /fd map entry/); // index 2 with 2 fds attached
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ fdMap: [0] })), 0), /fd map entry/);
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ fdMap: [FD_CLOSED - 1] })), 3), /fd map entry/);
      // FD_TERMINAL names the request's terminal: without one it names nothing.
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ fdMap: [FD_TERMINAL] })), 3), /fd map entry/);
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ terminal: { columns: 80, rows: 24 }, fdMap: [FD_TERMINAL - 1] })), 3), /fd map entry/);
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ fdMap: [-32768] })), 3), /fd map entry/);
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ fdMap: [32767] })), 3), /fd map entry/);
    });

    it('a NUL byte in file, cwd, an argument or an env entry', function () {
      for (const overrides of [
        { file: 'pr\0intf' }, { cwd: '/tmp\0/x' }, { argv: ['printf', 'a\0b'] }, { env: ['A=b\0c'] }, { env: ['A\0=b'] },
      ]) {
        expectProtocolError(() => decodeExecPayload(encodeExecPayload(request(overrides)), 3), /NUL/);
      }
    });

    it('an env entry without "=", or with an empty name', function () {
      for (const env of [['NOEQUALS'], ['=value'], ['PATH=/bin', '']]) {
        expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ env })), 3), /NAME=value/);
      }
    });

    it('an empty file', function () {
      expectProtocolError(() => decodeExecPayload(encodeExecPayload(request({ file: '' })), 3), /file/);
    });

    it('a string length that runs past the end', function () {
      const bad = payload();
      // flags, argc, envc, fdCount, uid, gid (4 bytes each), then the fd map.
      const fileLengthOffset = 24 + request().fdMap.length * 2;
      bad.writeUInt32LE(0xfffffff0, fileLengthOffset);
      expectProtocolError(() => decodeExecPayload(bad, 3));
    });
  });

  describe('malformed server records throw ProtocolError', function () {
    it('exit with both a code and a signal, or with neither', function () {
      const both = encodeExit({ exitCode: 1, signal: 9, reason: 0 });
      expectProtocolError(() => decodeServerMessage(both), /exactly one/);
      const neither = encodeExit({ exitCode: null, signal: null, reason: 0 });
      expectProtocolError(() => decodeServerMessage(neither), /exactly one/);
    });

    it('exit code out of range', function () {
      for (const code of [256, -2, 0x7fffffff]) {
        const record = encodeExit({ exitCode: 0, signal: null, reason: 0 });
        record.writeInt32LE(code, HEADER_BYTES);
        expectProtocolError(() => decodeServerMessage(record), /range/);
      }
    });

    it('truncated and trailing bytes', function () {
      for (const record of [encodeStarted(42), encodeExit({ exitCode: 3, signal: null, reason: 0 }),
        encodeFailed({ errno: 2, code: 'ENOENT', syscall: 'execve', message: 'm' })]) {
        for (let length = 0; length < record.length; length++) {
          expectProtocolError(() => decodeServerMessage(record.subarray(0, length)));
        }
        expectProtocolError(() => decodeServerMessage(Buffer.concat([record, Buffer.from([0])])), /trailing/);
      }
      expectProtocolError(() => decodeServerMessage(Buffer.concat([encodeStopping(), Buffer.from([0])])), /trailing/);
    });

    it('a failed reply whose string exceeds MAX_REPLY_STRING_BYTES', function () {
      const text = 'x'.repeat(MAX_REPLY_STRING_BYTES + 1);
      const record = Buffer.alloc(HEADER_BYTES + 4 + 4 + text.length + 8);
      record[0] = 1;
      record[1] = T.Failed;
      record.writeUInt32LE(text.length, HEADER_BYTES + 4);
      record.write(text, HEADER_BYTES + 8);
      expectProtocolError(() => decodeServerMessage(record), /exceeds/);
    });

    it('a wrong version, reserved bytes, unknown (or client-only) type', function () {
      const version = encodeStarted(1);
      version[0] = 2;
      expectProtocolError(() => decodeServerMessage(version), /version/);
      const reserved = encodeStarted(1);
      reserved[3] = 0x80;
      expectProtocolError(() => decodeServerMessage(reserved), /reserved/);
      for (const type of [0, T.Exec, T.ExecMore, T.Signal, T.Stop, 5, 21, 0xff]) {
        const record = encodeStopping();
        record[1] = type;
        expectProtocolError(() => decodeServerMessage(record), /unknown/);
      }
    });
  });

  describe('fuzz: random and mutated records either decode or throw ProtocolError', function () {
    const seeds = [1, 2, 3];

    for (const seed of seeds) {
      it(`seed ${seed}`, function () {
        const random = prng(seed);
        const bytes = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
        const valid = [
          encodeExecRecords(encodeExecPayload(request()))[0], encodeSignal(2), encodeStop(), encodeStarted(7),
          encodeFailed({ errno: 13, code: 'EACCES', syscall: 'execve', message: 'no' }), encodeExit({ exitCode: 4, signal: null, reason: 0 }),
        ];
        const payloads = [encodeExecPayload(request())];
        const attempt = (fn) => {
          try {
            fn();
          } catch (error) {
            if (!(error instanceof ProtocolError)) {
              throw new Error(`seed ${seed}: threw ${error && error.name} instead of ProtocolError: ${error && error.stack}`);
            }
          }
        };
        for (let i = 0; i < 3000; i++) {
          let record;
          if (random() < 0.3) {
            record = bytes(Math.floor(random() * 64));
            if (random() < 0.5 && record.length >= 4) {
              record[0] = 1;
              record[2] = 0;
              record[3] = 0;
            }
          } else {
            const source = random() < 0.5 ? valid[Math.floor(random() * valid.length)] : payloads[0];
            record = Buffer.from(source);
            const flips = 1 + Math.floor(random() * 4);
            for (let f = 0; f < flips; f++) record[Math.floor(random() * record.length)] = Math.floor(random() * 256);
            if (random() < 0.3) record = record.subarray(0, Math.floor(random() * record.length));
          }
          attempt(() => decodeClientMessage(record));
          attempt(() => decodeServerMessage(record));
          attempt(() => decodeExecPayload(record, Math.floor(random() * 4)));
        }
      });
    }
  });
});
