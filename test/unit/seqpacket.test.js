'use strict';
// SeqpacketSocket (src/transport/seqpacket.ts) against the fake binding: the
// send queue and its EAGAIN back-pressure, the receive loop, end of stream,
// ECONNRESET read once, failures, and who closes which fd.

const { expect } = require('chai');
const { SeqpacketSocket } = require('../../dist/transport/seqpacket');
const { MAX_RECORD_BYTES } = require('../../dist/protocol');
const { FakeBinding, nativeError, forbidRealIO, READABLE, WRITABLE } = require('../support/fake-binding');

/** Handlers that log what the socket reports; data is copied, as the contract asks. */
function recorder(onMessage) {
  const log = { messages: [], ends: [] };
  log.handlers = {
    onMessage(data, fds, truncated, fdsLost) {
      log.messages.push({ text: Buffer.from(data).toString(), length: data.length, fds, truncated, fdsLost });
      if (onMessage !== undefined) onMessage(data, fds);
    },
    onEnd(error) {
      log.ends.push(error);
    },
  };
  return log;
}

describe('unit: SeqpacketSocket', () => {
  forbidRealIO();

  let binding;
  let fd;
  beforeEach(() => {
    binding = new FakeBinding();
    fd = binding.newFd('socket');
  });

  function open(receivesFds = true, onMessage = undefined) {
    const log = recorder(onMessage);
    const socket = new SeqpacketSocket(fd, binding, log.handlers, receivesFds);
    return { socket, log, poller: binding.pollerFor(fd) };
  }

  describe('sending', () => {
    it('watches the fd for reading from the start', () => {
      const { socket, poller } = open();
      expect(poller.history).to.deep.equal([`start:${READABLE}`]);
      socket.destroy();
      binding.assertClean();
    });

    it('sends a record at once and closes the fds it carried once sent', () => {
      const { socket } = open();
      const passed = [binding.newFd('stdin'), binding.newFd('stdout')];
      socket.send(Buffer.from('hello'), passed);
      expect(binding.sent(fd)).to.deep.equal([{ data: Buffer.from('hello'), fds: passed }]);
      expect(passed.map((passedFd) => binding.isOpen(passedFd))).to.deep.equal([false, false]);
      expect(socket.isFlushed).to.equal(true);
      socket.destroy();
      binding.assertClean();
    });

    it('on EAGAIN keeps records (and their fds) in order, watches for writability, and sends them when writable', () => {
      const { socket, poller } = open();
      binding.blockSends(fd);
      const first = binding.newFd('first');
      const second = binding.newFd('second');
      socket.send(Buffer.from('one'), [first]);
      socket.send(Buffer.from('two'), [second]);
      socket.send(Buffer.from('three'));
      expect(binding.callsOf('send')).to.have.length(1); // the others wait behind the first
      expect(socket.isFlushed).to.equal(false);
      expect(poller.events).to.equal(READABLE | WRITABLE);
      expect([binding.isOpen(first), binding.isOpen(second)]).to.deep.equal([true, true]);

      binding.unblockSends(fd);
      poller.fire(0, WRITABLE);
      expect(binding.sent(fd).map((record) => record.data.toString())).to.deep.equal(['one', 'two', 'three']);
      expect([binding.isOpen(first), binding.isOpen(second)]).to.deep.equal([false, false]);
      expect(poller.events).to.equal(READABLE);
      expect(socket.isFlushed).to.equal(true);
      socket.destroy();
      binding.assertClean();
    });

    it('end() closes at once when nothing is queued, else once the queue is sent', () => {
      const { socket, poller, log } = open();
      binding.blockSends(fd);
      socket.send(Buffer.from('last words'));
      socket.end();
      expect(binding.isOpen(fd)).to.equal(true);
      expect(socket.isDestroyed).to.equal(false);
      binding.unblockSends(fd);
      poller.fire(0, WRITABLE);
      expect(binding.sent(fd)).to.have.length(1);
      expect(socket.isDestroyed).to.equal(true);
      expect(log.ends).to.deep.equal([]); // a close of our own is not reported as an end
      binding.assertClean();
    });

    it('drops a record sent after end() or destroy(), closing its fds at once', () => {
      const { socket } = open();
      binding.blockSends(fd);
      socket.send(Buffer.from('queued'));
      socket.end();
      const late = binding.newFd('late');
      socket.send(Buffer.from('too late'), [late]);
      expect(binding.isOpen(late)).to.equal(false);
      socket.destroy();
      const afterDestroy = binding.newFd('after destroy');
      socket.send(Buffer.from('after'), [afterDestroy]);
      expect(binding.isOpen(afterDestroy)).to.equal(false);
      expect(binding.sent(fd)).to.deep.equal([]);
      binding.assertClean();
    });

    it('destroy() closes the fds of records still queued, the poller and the socket (closeConnection: its unread records may hold a client\'s fds), once', () => {
      const { socket, poller } = open();
      binding.blockSends(fd);
      const queued = binding.newFd('queued');
      socket.send(Buffer.from('x'), [queued]);
      socket.destroy();
      socket.destroy();
      expect(poller.closed).to.equal(true);
      expect(binding.callsOf('close').map(([closed]) => closed)).to.deep.equal([queued]);
      expect(binding.callsOf('closeConnection').map(([closed]) => closed)).to.deep.equal([fd]);
      expect(binding.callsOf('closeOffLoop')).to.deep.equal([]);
      binding.assertClean();
    });

    it('a send that throws (EPIPE) delivers what the peer sent before, then ends with that error', () => {
      const { socket, log } = open();
      binding.queueRecord(fd, 'reply before hang-up');
      binding.script('send', nativeError('EPIPE', 'sendmsg'));
      const passed = binding.newFd('passed');
      socket.send(Buffer.from('request'), [passed]);
      expect(log.messages.map((message) => message.text)).to.deep.equal(['reply before hang-up']);
      expect(log.ends).to.have.length(1);
      expect(log.ends[0]).to.include({ code: 'EPIPE', syscall: 'sendmsg' });
      expect(socket.isDestroyed).to.equal(true);
      binding.assertClean();
    });
  });

  describe('receiving', () => {
    it('reads every record the poll made readable, in order, until EAGAIN', () => {
      const { socket, poller, log } = open();
      binding.queueRecord(fd, 'a');
      const fds = binding.queueRecord(fd, 'b', { fds: 2 });
      binding.queueRecord(fd, 'c');
      poller.fire(0, READABLE);
      expect(log.messages.map(({ text, fds: got }) => [text, got])).to.deep.equal([['a', []], ['b', fds], ['c', []]]);
      expect(binding.callsOf('receive')).to.have.length(4); // three records and the EAGAIN
      // The callee owns received fds: the socket does not close them.
      expect(fds.every((received) => binding.isOpen(received))).to.equal(true);
      for (const received of fds) binding.close(received);
      socket.destroy();
      binding.assertClean();
    });

    it('reports the end of stream once, closes everything, and reads nothing after it', () => {
      const { socket, poller, log } = open();
      binding.queueRecord(fd, 'last');
      binding.queueEnd(fd);
      binding.queueRecord(fd, 'never read');
      poller.fire(0, READABLE);
      expect(log.messages.map((message) => message.text)).to.deep.equal(['last']);
      expect(log.ends).to.deep.equal([undefined]);
      expect(socket.isDestroyed).to.equal(true);
      expect(binding.callsOf('receive')).to.have.length(2);
      binding.assertClean();
    });

    it('treats an empty record that carries fds as a message, not as the end', () => {
      const { socket, poller, log } = open();
      const fds = binding.queueRecord(fd, '', { fds: 1 });
      poller.fire(0, READABLE);
      expect(log.messages).to.deep.equal([{ text: '', length: 0, fds, truncated: false, fdsLost: false }]);
      expect(log.ends).to.deep.equal([]);
      binding.close(fds[0]);
      socket.destroy();
      binding.assertClean();
    });

    it('reads past one ECONNRESET to the records the peer sent before closing, and ends cleanly', () => {
      const { poller, log } = open();
      binding.queueError(fd, nativeError('ECONNRESET', 'recvmsg'));
      binding.queueRecord(fd, 'FAILED reply');
      binding.queueEnd(fd);
      poller.fire(0, READABLE);
      expect(log.messages.map((message) => message.text)).to.deep.equal(['FAILED reply']);
      expect(log.ends).to.deep.equal([undefined]);
      binding.assertClean();
    });

    it('ends with the error on a second ECONNRESET, or on any other receive error', () => {
      for (const errors of [['ECONNRESET', 'ECONNRESET'], ['EIO']]) {
        binding = new FakeBinding();
        fd = binding.newFd('socket');
        const { poller, log } = open();
        for (const code of errors) binding.queueError(fd, nativeError(code, 'recvmsg'));
        poller.fire(0, READABLE);
        expect(log.ends.map((error) => error.code), errors.join()).to.deep.equal([errors[errors.length - 1]]);
        binding.assertClean();
      }
    });

    it('on a poll error delivers the queued records first, then ends with the error libuv reported, named by its code, from poll', () => {
      const { poller, log } = open();
      binding.queueRecord(fd, 'EXIT');
      poller.fire(-104, READABLE);
      expect(log.messages.map((message) => message.text)).to.deep.equal(['EXIT']);
      expect(log.ends).to.have.length(1);
      expect(log.ends[0]).to.include({ errno: 104, code: 'ECONNRESET', syscall: 'poll' });
      binding.assertClean();
    });

    it('with receivesFds false closes fds that arrive and hands over none', () => {
      const { socket, poller, log } = open(false);
      const fds = binding.queueRecord(fd, 'unexpected fds', { fds: 3 });
      poller.fire(0, READABLE);
      expect(log.messages[0].fds).to.deep.equal([]);
      expect(fds.some((received) => binding.isOpen(received))).to.equal(false);
      socket.destroy();
      // A client's socket: its peer is the server it trusts, and its process gets no closer thread.
      expect(binding.callsOf('close').map(([closed]) => closed)).to.deep.equal([...fds, fd]);
      expect(binding.callsOf('closeOffLoop')).to.deep.equal([]);
      expect(binding.callsOf('closeConnection')).to.deep.equal([]);
      binding.assertClean();
    });

    it('when the kernel dropped fds (MSG_CTRUNC), closes those that came and flags the record fdsLost', () => {
      const { socket, poller, log } = open();
      const fds = binding.queueRecord(fd, 'request', { fds: 2, fdsTruncated: true });
      poller.fire(0, READABLE);
      expect(log.messages).to.deep.equal([{ text: 'request', length: 7, fds: [], truncated: false, fdsLost: true }]);
      expect(fds.some((received) => binding.isOpen(received))).to.equal(false);
      expect(binding.callsOf('closeOffLoop').map(([closed]) => closed)).to.deep.equal(fds);
      socket.destroy();
      binding.assertClean();
    });

    it('flags a record longer than MAX_RECORD_BYTES as truncated, handing over only what fits', () => {
      const { socket, poller, log } = open();
      binding.queueRecord(fd, Buffer.alloc(MAX_RECORD_BYTES + 100, 0x61));
      poller.fire(0, READABLE);
      expect(log.messages[0]).to.include({ length: MAX_RECORD_BYTES, truncated: true });
      socket.destroy();
      binding.assertClean();
    });

    it('stops reading as soon as a handler destroys the socket', () => {
      const { socket, poller, log } = open(true, () => socket.destroy());
      binding.queueRecord(fd, 'first');
      binding.queueRecord(fd, 'second');
      poller.fire(0, READABLE);
      expect(log.messages.map((message) => message.text)).to.deep.equal(['first']);
      expect(binding.callsOf('receive')).to.have.length(1);
      expect(log.ends).to.deep.equal([]);
      binding.assertClean();
    });

    it('receiveOne() dispatches exactly one record and leaves the rest for the loop', () => {
      const { socket, poller, log } = open();
      binding.queueRecord(fd, 'first');
      binding.queueRecord(fd, 'second');
      socket.receiveOne();
      expect(log.messages.map((message) => message.text)).to.deep.equal(['first']);
      poller.fire(0, READABLE);
      expect(log.messages.map((message) => message.text)).to.deep.equal(['first', 'second']);
      socket.destroy();
      binding.assertClean();
    });
  });

  describe('the rest of its surface', () => {
    it('passes peerCredentials(), waitReadableBlocking(ms), ref() and unref() through to its fd and poller', () => {
      const { socket, poller } = open();
      binding.credentials = { pid: 1, uid: 2, gid: 3 };
      expect(socket.peerCredentials()).to.deep.equal({ pid: 1, uid: 2, gid: 3 });
      expect(socket.waitReadableBlocking(25)).to.equal(false);
      binding.queueRecord(fd, 'ready');
      expect(socket.waitReadableBlocking(30)).to.equal(true);
      expect(binding.callsOf('waitReadable')).to.deep.equal([[fd, 25], [fd, 30]]);
      socket.unref();
      expect(poller.refed).to.equal(false);
      socket.ref();
      expect(poller.refed).to.equal(true);
      socket.destroy();
      binding.assertClean();
    });

    it('peerHungUp() asks the fd whether the peer left, records still unread or not, and says yes once destroyed', () => {
      const { socket } = open();
      binding.queueRecord(fd, 'request');
      expect(socket.peerHungUp()).to.equal(false);
      binding.queueEnd(fd);
      expect(socket.peerHungUp()).to.equal(true);
      expect(binding.callsOf('peerHungUp')).to.deep.equal([[fd], [fd]]);
      socket.destroy();
      expect(socket.peerHungUp()).to.equal(true);
      expect(binding.callsOf('peerHungUp')).to.have.length(2);
      binding.assertClean();
    });

    it('never waits on a destroyed socket\'s fd', () => {
      const { socket } = open();
      socket.destroy();
      expect(socket.waitReadableBlocking(1000)).to.equal(false);
      expect(binding.callsOf('waitReadable')).to.deep.equal([]);
      binding.assertClean();
    });

    it('connect() throws the native error and leaves nothing open', () => {
      binding = new FakeBinding();
      binding.script('connect', nativeError('ECONNREFUSED', 'connect'));
      expect(() => SeqpacketSocket.connect('/fake/sock', binding, recorder().handlers))
        .to.throw().with.property('code', 'ECONNREFUSED');
      expect(binding.pollers).to.deep.equal([]);
      binding.assertClean();
    });
  });
});
