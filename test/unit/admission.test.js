'use strict';
// The server's decision at accept (src/server/admission.ts): allowUids and
// allowGids on the kernel's credentials, maxConnections and
// maxConnectionsPerUid, the fd budget of maxConnections against
// RLIMIT_NOFILE; the budget of request bytes (src/server/byte-budget.ts);
// and the validation of the options that set them.

const os = require('node:os');
const { expect } = require('chai');
const {
  Admission, RESERVED_FDS, budgetConnections, fdsPerConnection, fitConnections, openFdCount, openFileLimit,
} = require('../../dist/server/admission');
const { ByteBudget } = require('../../dist/server/byte-budget');
const { normalizeServerOptions } = require('../../dist/server/options');

const { EAGAIN, EPERM } = os.constants.errno;
const OWN = 4000;
const peer = (uid, gid = uid) => ({ pid: 77, uid, gid });

function admission(options = {}) {
  return new Admission(normalizeServerOptions(options), OWN);
}

describe('unit: admission at accept', () => {
  describe('allowUids / allowGids', () => {
    it('refuses an unlisted peer as a denial, with the reason the request-time check gave', () => {
      const gate = admission({ allowUids: [1000], allowGids: [50] });
      expect(gate.admit(peer(1001))).to.deep.equal({
        denied: true, reply: { errno: EPERM, code: 'ERR_SIDECAR_DENIED', syscall: 'connect', message: 'uid 1001 (gid 1001) may not use this server' },
      });
      expect(gate.open).to.equal(0);
    });

    it('admits a listed uid, or a listed effective gid; without either option, anyone', () => {
      const gate = admission({ allowUids: [1000], allowGids: [50] });
      expect(gate.admit(peer(1000))).to.equal(undefined);
      expect(gate.admit(peer(1234, 50))).to.equal(undefined);
      expect(gate.open).to.equal(2);
      expect(admission().admit(peer(1234))).to.equal(undefined);
    });
  });

  describe('maxConnections', () => {
    it('turns away the connection over it as busy, and takes one again after a release', () => {
      const gate = admission({ maxConnections: 2 });
      expect(gate.admit(peer(1))).to.equal(undefined);
      expect(gate.admit(peer(2))).to.equal(undefined);
      expect(gate.admit(peer(3))).to.deep.equal({
        denied: false, reply: { errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'accept', message: 'the server has too many connections' },
      });
      gate.release(peer(1));
      expect(gate.admit(peer(3))).to.equal(undefined);
    });

    it('uses the lowered maxConnections set at listen', () => {
      const gate = admission({ maxConnections: 100 });
      gate.maxConnections = 1;
      expect(gate.admit(peer(1))).to.equal(undefined);
      expect(gate.admit(peer(2))).to.deep.include({ denied: false });
    });

    it('judges the uid before the count: a refused peer is told it is refused even when the server is full', () => {
      const gate = admission({ maxConnections: 1, allowUids: [1] });
      gate.admit(peer(1));
      expect(gate.admit(peer(2))).to.deep.include({ denied: true });
    });
  });

  describe('maxConnectionsPerUid', () => {
    it('caps each uid on its own (default 64), counting releases', () => {
      const gate = admission();
      for (let i = 0; i < 64; i++) expect(gate.admit(peer(1000))).to.equal(undefined);
      expect(gate.admit(peer(1000))).to.deep.equal({
        denied: false,
        reply: { errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'accept', message: 'uid 1000 has 64 connections, as many as this server allows one uid (64)' },
      });
      expect(gate.admit(peer(1001))).to.equal(undefined);
      expect(gate.heldBy(1000)).to.equal(64);
      gate.release(peer(1000));
      expect(gate.heldBy(1000)).to.equal(63);
      expect(gate.admit(peer(1000))).to.equal(undefined);
    });

    it('does not cap root or the server\'s own uid', () => {
      const gate = admission({ maxConnectionsPerUid: 1 });
      for (const uid of [0, OWN]) {
        for (let i = 0; i < 5; i++) expect(gate.admit(peer(uid))).to.equal(undefined);
      }
      expect(gate.admit(peer(7))).to.equal(undefined);
      expect(gate.admit(peer(7))).to.deep.include({ denied: false });
      expect(gate.open).to.equal(11);
    });

    it('forgets a uid once it holds nothing', () => {
      const gate = admission();
      gate.admit(peer(9));
      gate.release(peer(9));
      expect(gate.heldBy(9)).to.equal(0);
      expect(gate.open).to.equal(0);
    });
  });

  describe('maxConnections against RLIMIT_NOFILE', () => {
    it('budgets each connection its socket, maxFds fds, a pidfd and a cgroup\'s directory, above the fds open and a reserve', () => {
      expect(fdsPerConnection(64)).to.equal(67);
      expect(fitConnections(1024, 64, 20000, 25)).to.equal(Math.floor((20000 - 25 - RESERVED_FDS) / 67));
      expect(fitConnections(1024, 64, 1_048_576, 25)).to.equal(1024);
      expect(fitConnections(1024, 0, 1000, 18)).to.equal(Math.floor((1000 - 18 - RESERVED_FDS) / 3));
    });

    it('keeps maxConnections without a limit, and at least 1 under a tiny one', () => {
      expect(fitConnections(Infinity, 64, undefined, 25)).to.equal(Infinity);
      expect(fitConnections(Infinity, 64, 20000, 25)).to.equal(297);
      expect(fitConnections(1024, 64, 64, 25)).to.equal(1);
    });

    it('reads the soft limit from /proc/self/limits ("unlimited": none)', () => {
      const text = (soft, hard) => `Limit                     Soft Limit           Hard Limit           Units     \nMax processes             unlimited            unlimited            processes \nMax open files            ${soft}                ${hard}                files     \n`;
      expect(openFileLimit(text('1024', '524288'))).to.equal(1024);
      expect(openFileLimit(text('unlimited', 'unlimited'))).to.equal(undefined);
      expect(openFileLimit('nothing of the kind')).to.equal(undefined);
      const own = openFileLimit();
      expect(own === undefined || own > openFdCount()).to.equal(true);
    });

    it('warns, naming the limit and what it holds, when a maxConnections the host chose does not fit; fits a default quietly', () => {
      const limit = openFileLimit();
      if (limit === undefined) return;
      const fits = budgetConnections({ maxConnections: 1, maxFds: 0 }, true);
      expect(fits).to.deep.equal({ maxConnections: 1 });
      const quiet = budgetConnections({ maxConnections: limit, maxFds: 64 }, false);
      expect(quiet.warning).to.equal(undefined);
      expect(quiet.maxConnections).to.be.below(limit / 67);
      const { maxConnections, warning } = budgetConnections({ maxConnections: limit, maxFds: 64 }, true);
      expect(maxConnections).to.be.below(limit / 67);
      expect(warning).to.be.an.instanceOf(Error);
      expect(warning).to.include({ name: 'SidecarWarning', code: 'SIDECAR_NOFILE_LIMIT', limit, maxConnections, configured: limit });
      expect(warning.message).to.include(`RLIMIT_NOFILE ${limit}`).and.to.include(`holds ${maxConnections} connections`);
    });
  });
});

describe('unit: the budget of request bytes', () => {
  it('lets claims take up to the limit together, refusing (taking nothing) past it', () => {
    const budget = new ByteBudget(100);
    const a = budget.claim();
    const b = budget.claim();
    expect(a.take(60)).to.equal(true);
    expect(b.take(50)).to.equal(false);
    expect([a.bytes, b.bytes, budget.held]).to.deep.equal([60, 0, 60]);
    expect(b.take(40)).to.equal(true);
    expect(budget.held).to.equal(100);
  });

  it('gives a claim back whole, once, and lets it take again', () => {
    const budget = new ByteBudget(100);
    const a = budget.claim();
    a.take(30);
    a.take(30);
    a.release();
    a.release();
    expect([a.bytes, budget.held]).to.deep.equal([0, 0]);
    expect(a.take(100)).to.equal(true);
  });
});

describe('unit: server options of admission', () => {
  it('maxConnectionsPerUid: an integer from 1, or Infinity (default 64)', () => {
    expect(normalizeServerOptions({}).maxConnectionsPerUid).to.equal(64);
    expect(normalizeServerOptions({ maxConnectionsPerUid: Infinity }).maxConnectionsPerUid).to.equal(Infinity);
    expect(() => normalizeServerOptions({ maxConnectionsPerUid: 0 })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => normalizeServerOptions({ maxConnectionsPerUid: 1.5 })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => normalizeServerOptions({ maxConnectionsPerUid: '8' })).to.throw().with.property('code', 'ERR_INVALID_ARG_TYPE');
  });

  it('maxBufferedBytes: at least maxRequestBytes, or Infinity (default 64 MiB)', () => {
    expect(normalizeServerOptions({}).maxBufferedBytes).to.equal(64 * 1024 * 1024);
    expect(normalizeServerOptions({ maxRequestBytes: 1024, maxBufferedBytes: 1024 }).maxBufferedBytes).to.equal(1024);
    expect(normalizeServerOptions({ maxBufferedBytes: Infinity }).maxBufferedBytes).to.equal(Infinity);
    let error;
    try {
      normalizeServerOptions({ maxBufferedBytes: 1024 * 1024 });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(error.message).to.include('options.maxBufferedBytes').and.to.include('at least options.maxRequestBytes (8388608)');
    expect(() => normalizeServerOptions({ maxBufferedBytes: null })).to.throw().with.property('code', 'ERR_INVALID_ARG_TYPE');
  });
});
