'use strict';
// A request sent in records that carry nothing or almost nothing. Each record
// used to cost the server a Buffer object of its own (about 200 bytes) while
// adding no byte to what maxRequestBytes counts, so one connection of empty
// continuations could drive it out of memory. Now the request is put
// together in one buffer that grows with the bytes that arrive, and an
// empty continuation is refused.

const fs = require('node:fs');
const { expect } = require('chai');
const { getBinding } = require('../../../dist/binding');
const protocol = require('../../../dist/protocol');
const { useServer, receiveRecord, execHead, sleep } = require('../../helpers');

const { MessageType } = protocol;

/** The server's resident memory in bytes. */
function rss(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match[1]) * 1024;
}

function execMore(bytes) {
  const record = Buffer.alloc(4 + bytes, 0x41);
  record.set([protocol.PROTOCOL_VERSION, MessageType.ExecMore, 0, 0]);
  return record;
}

describe('security: requests in empty or tiny records', function () {
  this.timeout(60000);
  let binding;
  let fd = -1;

  before(function () {
    binding = getBinding();
  });

  // Registered before useServer()'s hooks so that it runs before its leak check.
  afterEach(function () {
    if (fd >= 0) binding.close(fd);
    fd = -1;
  });

  // No handshake deadline: the flood alone must not hurt the server.
  const ctx = useServer({ serverOptions: { handshakeTimeout: 0 } });

  /** Sends one record, waiting while the socket buffer is full. */
  async function send(record) {
    for (;;) {
      if (binding.send(fd, record, 0, record.length, []) >= 0) return;
      await sleep(1);
    }
  }

  it('refuses an empty continuation record with ERR_SIDECAR_PROTOCOL', async function () {
    fd = binding.connect(ctx.server.path);
    await send(execHead(1000, 10));
    await send(execMore(0));
    const reply = await receiveRecord(binding, fd);
    expect(reply.data, JSON.stringify(reply)).to.not.equal(undefined);
    const message = protocol.decodeServerMessage(reply.data);
    expect(message.type).to.equal(MessageType.Failed);
    expect(message.failed).to.include({ code: 'ERR_SIDECAR_PROTOCOL' });
    expect(message.failed.message).to.include('empty request continuation');
  });

  it('holds 300,000 one-byte continuation records in the bytes they carry, not a buffer each', async function () {
    const records = 300_000;
    fd = binding.connect(ctx.server.path);
    const before = rss(ctx.server.pid);
    await send(execHead(records + 2, 1)); // one byte short of complete at the end
    const one = execMore(1);
    let peak = before;
    for (let i = 0; i < records; i++) {
      await send(one);
      if (i % 20_000 === 0) peak = Math.max(peak, rss(ctx.server.pid));
    }
    // Let the server read what is queued, then look again.
    await sleep(200);
    peak = Math.max(peak, rss(ctx.server.pid));
    // One buffer of 300 KB (doubling: at most 600 KB) and transient garbage;
    // a Buffer per record was 60 MB and more.
    expect(peak - before, `server RSS grew by ${((peak - before) / 1048576).toFixed(1)} MiB`).to.be.below(24 * 1048576);
    // The server still answers this connection: the request is incomplete, so nothing came back yet.
    const pending = await receiveRecord(binding, fd, 50);
    expect(pending.timeout, JSON.stringify(pending.data && protocol.decodeServerMessage(pending.data))).to.equal(true);
  });
});
