'use strict';
// The server's work queue (src/server/work-queue.ts): places, the line, FIFO
// order, idempotent done(), and re-entrant starts. Pure code, no I/O.

const { expect } = require('chai');
const { WorkQueue } = require('../../dist/server/work-queue');
const { forbidRealIO } = require('../support/fake-binding');

describe('unit: WorkQueue', () => {
  forbidRealIO();

  /** enter() with a start that logs its name and keeps its ticket. */
  function entrant(queue, log, name) {
    const holder = {};
    holder.ticket = queue.enter((ticket) => {
      log.push(name);
      holder.started = ticket;
    });
    return holder;
  }

  it('starts a request at once while a place is free, before enter() returns', () => {
    const queue = new WorkQueue(2, 5);
    const log = [];
    const a = entrant(queue, log, 'a');
    expect(log).to.deep.equal(['a']);
    expect(a.ticket).to.equal(a.started);
    expect(a.ticket.waiting).to.equal(false);
    expect([queue.running, queue.queued]).to.deep.equal([1, 0]);
  });

  it('makes requests over maxConcurrent wait, and turns them away once maxQueued wait', () => {
    const queue = new WorkQueue(1, 2);
    const log = [];
    entrant(queue, log, 'a');
    const b = entrant(queue, log, 'b');
    const c = entrant(queue, log, 'c');
    const d = entrant(queue, log, 'd');
    expect(log).to.deep.equal(['a']);
    expect(b.ticket.waiting).to.equal(true);
    expect(c.ticket.waiting).to.equal(true);
    expect(d.ticket).to.equal(undefined);
    expect([queue.running, queue.queued]).to.deep.equal([1, 2]);
  });

  it('runs waiting requests first come, first served as places are given back', () => {
    const queue = new WorkQueue(1, 10);
    const log = [];
    const a = entrant(queue, log, 'a');
    const b = entrant(queue, log, 'b');
    const c = entrant(queue, log, 'c');
    a.ticket.done();
    expect(log).to.deep.equal(['a', 'b']);
    expect(b.started).to.equal(b.ticket);
    expect(b.ticket.waiting).to.equal(false);
    b.ticket.done();
    expect(log).to.deep.equal(['a', 'b', 'c']);
    c.ticket.done();
    expect([queue.running, queue.queued]).to.deep.equal([0, 0]);
  });

  it('lets a waiting request leave the line without starting it or freeing a place', () => {
    const queue = new WorkQueue(1, 10);
    const log = [];
    const a = entrant(queue, log, 'a');
    const b = entrant(queue, log, 'b');
    entrant(queue, log, 'c');
    b.ticket.done();
    expect([queue.running, queue.queued]).to.deep.equal([1, 1]);
    a.ticket.done();
    expect(log).to.deep.equal(['a', 'c']);
  });

  it('counts done() once per ticket', () => {
    const queue = new WorkQueue(2, 10);
    const log = [];
    const a = entrant(queue, log, 'a');
    entrant(queue, log, 'b');
    entrant(queue, log, 'c');
    a.ticket.done();
    a.ticket.done();
    a.ticket.done();
    expect(log).to.deep.equal(['a', 'b', 'c']);
    expect([queue.running, queue.queued]).to.deep.equal([2, 0]);
  });

  it('keeps going when a started request gives its place back from inside start (a spawn that fails)', () => {
    const queue = new WorkQueue(1, 10);
    const log = [];
    const a = entrant(queue, log, 'a');
    queue.enter((ticket) => {
      log.push('b (fails)');
      ticket.done();
    });
    entrant(queue, log, 'c');
    a.ticket.done();
    expect(log).to.deep.equal(['a', 'b (fails)', 'c']);
    expect([queue.running, queue.queued]).to.deep.equal([1, 0]);
  });

  it('with maxQueued 0 runs or refuses, never queues', () => {
    const queue = new WorkQueue(1, 0);
    const log = [];
    const a = entrant(queue, log, 'a');
    expect(entrant(queue, log, 'b').ticket).to.equal(undefined);
    a.ticket.done();
    expect(entrant(queue, log, 'c').ticket.waiting).to.equal(false);
    expect(log).to.deep.equal(['a', 'c']);
  });
});
