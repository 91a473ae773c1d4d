'use strict';
// The fuzzer's record generator (test/integration/chaos.test.js): scripts of
// random and mutated protocol records, each with fds to attach.
//
//   const { prng, makeFuzzer } = require('../helpers/fuzz');
//   const fuzzer = makeFuzzer({ random: prng(seed), fds, okProgram, missingProgram });
//   for (const [record, fdsToAttach] of fuzzer.script(connectionFd)) ...

const protocol = require('../../dist/protocol');

const T = {
  Exec: 1, ExecMore: 2, Signal: 3, Stop: 4, Ping: 5, Started: 16, Failed: 17, Exit: 18, Stopping: 19, Pong: 20,
};

/** A small seeded PRNG (xorshift32), so that a failing run can be repeated. */
function prng(seed) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  return {
    u32: next,
    int: (n) => next() % n, // [0, n)
    chance: (p) => next() / 0x100000000 < p,
    pick: (list) => list[next() % list.length],
    bytes(n) {
      const buffer = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) {
        const value = next();
        for (let j = 0; j < 4 && i + j < n; j++) buffer[i + j] = (value >>> (8 * j)) & 0xff;
      }
      return buffer;
    },
  };
}

/**
 * fds: [kind, fd] pairs to attach; okProgram runs (e.g. /bin/true),
 * missingProgram does not exist. Valid requests name one of the two, so that
 * no mutation can name a program that does harm.
 */
function makeFuzzer({ random, fds, okProgram, missingProgram }) {
  function header(type, bodyLength) {
    const record = Buffer.alloc(4 + bodyLength);
    record[0] = protocol.PROTOCOL_VERSION;
    record[1] = type;
    return record;
  }

  /** A valid request; its fd map may use `attached` fds (indexes below it), /dev/null (-1) or closed (-2). */
  function validPayload(attached = 0) {
    const argc = 1 + random.int(4);
    const argv = [random.chance(0.3) ? okProgram : missingProgram];
    for (let i = 1; i < argc; i++) argv.push(random.bytes(random.int(20)).toString('latin1').replace(/\0/g, 'x'));
    const env = Array.from({ length: random.int(4) }, (_, i) => `V${i}=${random.bytes(random.int(16)).toString('hex')}`);
    const fdMap = Array.from({ length: random.int(5) }, () => (attached > 0 && random.chance(0.7) ? random.int(attached) : random.pick([-1, -2])));
    return {
      fdMap,
      payload: protocol.encodeExecPayload({
        file: argv[0], argv, env, cwd: random.chance(0.5) ? '' : '/', fdMap, newSession: random.chance(0.5), serverEnv: random.chance(0.3), uid: -1, gid: -1,
      }),
    };
  }

  function mutate(buffer) {
    const copy = Buffer.from(buffer);
    const how = random.int(6);
    if (how === 0 && copy.length > 0) { // flip bytes
      for (let n = 1 + random.int(8); n > 0; n--) copy[random.int(copy.length)] ^= 1 << random.int(8);
      return copy;
    }
    if (how === 1 && copy.length > 0) { // random bytes
      for (let n = 1 + random.int(4); n > 0; n--) copy[random.int(copy.length)] = random.int(256);
      return copy;
    }
    if (how === 2) return copy.subarray(0, random.int(copy.length + 1)); // truncate
    if (how === 3) { // insert
      const at = random.int(copy.length + 1);
      return Buffer.concat([copy.subarray(0, at), random.bytes(1 + random.int(16)), copy.subarray(at)]);
    }
    if (how === 4 && copy.length >= 24) { // a count field set to an extreme
      copy.writeUInt32LE(random.pick([0, 1, 0xffff, 0x7fffffff, 0xffffffff, random.u32()]), 4 * random.int(6));
      return copy;
    }
    return copy;
  }

  /** A script for one connection: records, each with the fds to attach. */
  function script(self) {
    const attach = () => {
      if (random.chance(0.6)) return [];
      const max = random.chance(0.05) ? 64 : random.chance(0.01) ? 200 : 4;
      return Array.from({ length: 1 + random.int(max) }, () => (random.chance(0.1) ? self : random.pick(fds)[1]));
    };
    const kind = random.int(14);
    const records = [];
    switch (kind) {
      case 0: // random bytes
        records.push([random.bytes(random.int(300)), attach()]);
        break;
      case 1: { // wrong version
        const { payload } = validPayload();
        const [record] = protocol.encodeExecRecords(payload);
        record[0] = random.pick([0, 2, 3, 0x7f, 0xff]);
        records.push([record, attach()]);
        break;
      }
      case 2: { // unknown or server-side types, reserved bytes set
        const record = header(random.pick([0, 6, 7, 15, T.Started, T.Failed, T.Exit, T.Stopping, T.Pong, 99, 255]), random.int(16));
        if (random.chance(0.3)) record[2 + random.int(2)] = 1 + random.int(255);
        records.push([record, attach()]);
        break;
      }
      case 3: { // SIGNAL, STOP and PING with wrong bodies, or in the wrong state
        const type = random.pick([T.Signal, T.Stop, T.Ping]);
        const record = header(type, random.pick([0, 1, 3, 4, 8]));
        if (record.length >= 8) record.writeUInt32LE(random.pick([0, 9, 15, 65, 0xffffffff]), 4);
        records.push([record, attach()]);
        break;
      }
      case 4: { // truncated valid records
        const { payload } = validPayload();
        const [record] = protocol.encodeExecRecords(payload);
        records.push([record.subarray(0, random.int(record.length)), attach()]);
        break;
      }
      case 5: // oversize: more than one record may hold
        if (random.chance(0.05)) {
          const record = Buffer.alloc(protocol.MAX_RECORD_BYTES + 1 + random.int(30000));
          record.set([1, T.Exec, 0, 0]);
          record.writeUInt32LE(record.length - 8, 4);
          records.push([record, attach()]);
        } else {
          records.push([random.bytes(1 + random.int(64)), attach()]);
        }
        break;
      case 6:
      case 7: { // a valid EXEC whose fd map uses the fds attached, often mutated
        const attached = attach();
        const { payload } = validPayload(attached.length);
        const [record] = protocol.encodeExecRecords(random.chance(0.7) ? mutate(payload) : payload);
        records.push([random.chance(0.3) ? mutate(record) : record, attached]);
        break;
      }
      case 12:
      case 13:
      case 8: { // a long request: EXEC announcing more, then EXEC_MORE chunks (each one parsed), then something wrong or nothing
        const announced = random.pick([1000, 50000, protocol.MAX_REQUEST_BYTES, protocol.MAX_REQUEST_BYTES + 1]);
        const first = header(T.Exec, 4 + 8);
        first.writeUInt32LE(announced, 4);
        records.push([first, attach()]);
        for (let n = 1 + random.int(10); n > 0; n--) {
          const more = header(T.ExecMore, random.int(200));
          random.bytes(more.length - 4).copy(more, 4);
          records.push([more, random.chance(0.1) ? attach() : []]);
        }
        if (random.chance(0.5)) records.push([random.pick([header(T.Exec, 4), header(T.Signal, 4), header(T.Stop, 0), random.bytes(8)]), []]);
        break;
      }
      case 9: { // a valid request split into EXEC + EXEC_MORE, with a mutated tail
        const attached = attach();
        const { payload } = validPayload(attached.length);
        const cut = Math.max(1, random.int(payload.length));
        const first = header(T.Exec, 4 + cut);
        first.writeUInt32LE(payload.length, 4);
        payload.copy(first, 8, 0, cut);
        const rest = header(T.ExecMore, payload.length - cut);
        payload.copy(rest, 4, cut);
        records.push([first, attached], [random.chance(0.5) ? mutate(rest) : rest, []]);
        break;
      }
      case 10: { // a valid request, then records the server must not take mid-run
        const attached = attach();
        const { payload } = validPayload(attached.length);
        records.push([protocol.encodeExecRecords(payload)[0], attached]);
        // Any signal but the stop signals (19-22): a stopped program that holds this very
        // connection (passed to it as a stdio fd) would keep it open after the client left.
        const signal = () => random.pick([1 + random.int(18), 23 + random.int(42)]);
        for (let n = random.int(4); n > 0; n--) records.push([random.pick([protocol.encodeSignal(signal()), header(T.Exec, 4), random.bytes(12)]), random.chance(0.2) ? attach() : []]);
        break;
      }
      default: { // an empty record (with fds: not an end of stream), or a PING (answered PONG)
        records.push(random.chance(0.5) ? [Buffer.alloc(0), attach()] : [header(T.Ping, 0), []]);
        break;
      }
    }
    return records;
  }

  return { script, validPayload, mutate, header };
}

module.exports = { prng, makeFuzzer, T };
