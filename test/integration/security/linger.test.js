'use strict';
// A client's fd whose last close(2) blocks: a TCP socket with SO_LINGER
// {1, INT_MAX} and unsent data, to a peer that never reads. The server used
// to close what a client sent on its event loop, so one such socket, in any
// record (a PING sufficed, before any policy: allowUids did not help),
// froze it for as long as the linger: for ever. Now every fd a client sends,
// and every connection (its unread records may hold such fds), is closed on
// a closer thread (native/closer.cc), which interrupts a close still waiting
// after a second; a connection is closed at once only when, shut down, it
// holds no unread record (the usual end of a request). Each test hands the server such a socket, so that the
// server's close is the last, and shows: the close is under way, another
// client gets a PONG within 1 s meanwhile, the close is cut short while the
// socket's peer still does not read, and the server's fds come back to
// their baseline.

const fs = require('node:fs');
const { expect } = require('chai');
const { remoteSpawn } = require('../../..');
const { getBinding } = require('../../../dist/binding');
const protocol = require('../../../dist/protocol');
const {
  useServer, receiveRecord, execHead, pollUntil, fdCount, lingerHelperPath, lingeringSockets, closeInProgress, tcpSocket, pingWithin, run,
} = require('../../helpers');

const { MessageType } = protocol;

/**
 * The server's reply on a raw connection. A server that hangs up with our
 * records unread leaves ECONNRESET to be read first, then its reply.
 */
async function replyOn(binding, fd, timeout) {
  let record = await receiveRecord(binding, fd, timeout);
  if (record.reset) record = await receiveRecord(binding, fd, timeout);
  if (record.data === undefined) return record;
  return protocol.decodeServerMessage(record.data);
}

describe('security: a client\'s socket whose close lingers (needs cc)', function () {
  this.timeout(30000);
  const binding = getBinding();
  /** What a test leaves to clean up: the helper first (its exit ends any linger), then our fds. */
  let sockets;
  let held = [];
  let stopped = false;
  let pings = [];

  before(function () {
    if (lingerHelperPath() === null) this.skip(); // reported as pending: no C compiler here
  });

  // Registered before useServer()'s hooks, so that it runs before its leak check.
  afterEach(async function () {
    if (stopped) ctx.server.process.kill('SIGCONT');
    stopped = false;
    if (sockets !== undefined) await sockets.release();
    sockets = undefined;
    for (const fd of held.splice(0)) binding.close(fd);
    await Promise.all(pings.splice(0).map((ping) => ping.settled));
  });

  const ctx = useServer();

  function pause() {
    ctx.server.process.kill('SIGSTOP');
    stopped = true;
  }

  function resume() {
    ctx.server.process.kill('SIGCONT');
    stopped = false;
  }

  /** A raw connection to the server, closed after the test if still open. */
  function connect() {
    const fd = binding.connect(ctx.server.path);
    held.push(fd);
    return fd;
  }

  function hangUp(fd) {
    held.splice(held.indexOf(fd), 1);
    binding.close(fd);
  }

  /** Our copies of the sockets; only once the server holds them (or they are in flight to it). */
  function letGo() {
    for (const fd of sockets.fds.splice(0)) binding.close(fd);
  }

  /**
   * The server took the socket and closes it: while that close is under
   * way, another client is answered within 1 s; then the close is cut
   * short (the peer still reads nothing), and the server's fds are back.
   */
  async function expectServedWhileClosing(port) {
    const pids = [ctx.server.pid, process.pid];
    const closing = await pollUntil(() => closeInProgress(port, pids), { timeout: 5000, interval: 5 });
    expect(closing, `the server did not start closing the socket: ${JSON.stringify(tcpSocket(port))}`).to.equal(true);
    const ping = await pingWithin(ctx.server.path, 1000);
    pings.push(ping);
    expect(ping.answered, 'no PONG within 1 s while the server closes a lingering socket').to.equal(true);
    expect(closeInProgress(port, pids), `answered in ${ping.ms} ms, but not while the close was under way`).to.equal(true);
    const cut = await pollUntil(() => !closeInProgress(port, pids), { timeout: 4000, interval: 20 });
    expect(cut, 'the lingering close was not cut short').to.equal(true);
    expect(sockets.helper.exitCode, 'the peer was released before the close ended').to.equal(null);
    const baseline = ctx.serverBaseline;
    const back = await pollUntil(() => fdCount(ctx.server.pid) === baseline, { timeout: 2000 });
    expect(back, `server fds ${fdCount(ctx.server.pid)}, baseline ${baseline}`).to.equal(true);
  }

  it('attached to a PING: refused as a protocol error, and other clients are served while its close is pending', async function () {
    sockets = await lingeringSockets(1);
    const [port] = sockets.ports;
    pause(); // so that the server reads the record only after our copy is closed, and its close is the last
    const fd = connect();
    const ping = protocol.encodePing();
    expect(binding.send(fd, ping, 0, ping.length, sockets.fds)).to.equal(ping.length);
    letGo();
    resume();
    await expectServedWhileClosing(port);
    expect((await replyOn(binding, fd)).failed).to.include({ code: 'ERR_SIDECAR_PROTOCOL' });
  });

  it('attached to an EXEC request whose client hangs up before it is complete: other clients are served while its close is pending', async function () {
    sockets = await lingeringSockets(1);
    const [port] = sockets.ports;
    const fd = connect();
    const head = execHead(1000);
    expect(binding.send(fd, head, 0, head.length, sockets.fds)).to.equal(head.length);
    letGo(); // the server holds the request's fds until it is complete or its client is gone
    hangUp(fd);
    await expectServedWhileClosing(port);
  });

  /**
   * A PING, then `between` records of 0 bytes, then one the server never
   * reads carrying the socket: PONG, then the server closes the connection
   * with the last record(s) unread.
   */
  async function unreadAfterPing(between) {
    sockets = await lingeringSockets(1);
    const [port] = sockets.ports;
    pause();
    const fd = connect();
    const ping = protocol.encodePing();
    expect(binding.send(fd, ping, 0, ping.length, [])).to.equal(ping.length);
    for (let i = 0; i < between; i++) expect(binding.send(fd, ping, 0, 0, [])).to.equal(0);
    expect(binding.send(fd, ping, 0, ping.length, sockets.fds)).to.equal(ping.length);
    letGo();
    resume();
    expect((await replyOn(binding, fd)).type).to.equal(MessageType.Pong);
    await expectServedWhileClosing(port);
  }

  it('in a record the server never reads (after a PING): the connection\'s close releases it, and other clients are served meanwhile', async function () {
    await unreadAfterPing(0);
  });

  it('behind an empty record the server never reads: no end of the queue, so the connection\'s close still goes off the loop', async function () {
    // 0 bytes and no fds: what the end of the queue reads as, but for the timestamp every record gets.
    await unreadAfterPing(1);
  });
});

describe('security: the connection of a request that ended as usual', function () {
  this.timeout(30000);
  const ctx = useServer();

  /** The server's threads that close what clients chose (native/closer.cc names them). */
  function closerThreads(pid) {
    return fs.readdirSync(`/proc/${pid}/task`).filter((tid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === 'sidecar-close';
      } catch {
        return false; // the thread ended meanwhile
      }
    }).length;
  }

  it('is closed at once, on the loop, when it holds no unread record: no closer thread is woken or started for it', async function () {
    for (let i = 0; i < 5; i++) {
      const { exitArgs } = await run(remoteSpawn('true', [], { connect: ctx.server.path }));
      expect(exitArgs).to.deep.equal([0, null]);
    }
    // Its pipes are closed at once too (a pipe's close never waits): nothing went to the closer.
    expect(closerThreads(ctx.server.pid)).to.equal(0);
  });
});

describe('security: a lingering socket on a connection turned away (needs cc)', function () {
  this.timeout(30000);
  const binding = getBinding();
  let sockets;
  const held = [];

  before(function () {
    if (lingerHelperPath() === null) this.skip();
  });

  afterEach(async function () {
    ctx.server.process.kill('SIGCONT');
    if (sockets !== undefined) await sockets.release();
    sockets = undefined;
    for (const fd of held.splice(0)) binding.close(fd);
  });

  const ctx = useServer({ serverOptions: { maxConnections: 1 } });

  it('over maxConnections: the connection, with the socket in its unread record, is closed off the loop', async function () {
    sockets = await lingeringSockets(1);
    const [port] = sockets.ports;
    const first = binding.connect(ctx.server.path); // the one connection allowed, idle
    held.push(first);
    await ctx.server.waitEvent((event) => event.event === 'connection');
    ctx.server.process.kill('SIGSTOP');
    const second = binding.connect(ctx.server.path);
    held.push(second);
    const ping = protocol.encodePing();
    expect(binding.send(second, ping, 0, ping.length, sockets.fds)).to.equal(ping.length);
    for (const fd of sockets.fds.splice(0)) binding.close(fd);
    ctx.server.process.kill('SIGCONT');
    expect((await replyOn(binding, second)).failed).to.include({ code: 'ERR_SIDECAR_BUSY' });
    const pids = [ctx.server.pid, process.pid];
    expect(await pollUntil(() => closeInProgress(port, pids), { timeout: 5000, interval: 5 }), JSON.stringify(tcpSocket(port))).to.equal(true);
    // The server's loop is free: the idle connection's handshake is still timed, a new one is turned away at once.
    const third = binding.connect(ctx.server.path);
    held.push(third);
    expect(await replyOn(binding, third, 1000), 'no answer within 1 s while the close is pending').to.have.nested.property('failed.code', 'ERR_SIDECAR_BUSY');
    expect(closeInProgress(port, pids), 'answered, but not while the close was under way').to.equal(true);
    expect(await pollUntil(() => !closeInProgress(port, pids), { timeout: 4000, interval: 20 })).to.equal(true);
  });
});
