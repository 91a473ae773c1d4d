'use strict';
// A raw protocol client: the addon used directly, for tests that speak (or
// break) the protocol themselves.

const { MAX_RECORD_BYTES, PROTOCOL_VERSION, MessageType } = require('../../dist/protocol');
const { sleep } = require('./proc');

/**
 * The next record on a raw connection: { data, fds } (attached fds are
 * closed, only counted), { hangup: true } at its end or on a reset, or
 * { timeout: true } after `timeout` ms of silence.
 */
async function receiveRecord(binding, fd, timeout = 5000) {
  const buffer = new Uint8Array(MAX_RECORD_BYTES);
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    let received;
    try {
      received = binding.receive(fd, buffer);
    } catch (error) {
      if (error.code === 'ECONNRESET') return { hangup: true, reset: true };
      throw error;
    }
    if (received !== null) {
      for (const attached of received.fds) binding.close(attached);
      if (received.bytes === 0) return { hangup: true };
      return { data: Buffer.from(buffer.subarray(0, received.bytes)), fds: received.fds.length };
    }
    await sleep(5);
  }
  return { timeout: true };
}

/** An EXEC record announcing `total` payload bytes and carrying the first `first` of them (zeros). */
function execHead(total, first = 0) {
  const record = Buffer.alloc(8 + first);
  record.set([PROTOCOL_VERSION, MessageType.Exec, 0, 0]);
  record.writeUInt32LE(total, 4);
  return record;
}

module.exports = { receiveRecord, execHead };
