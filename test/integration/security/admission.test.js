'use strict';
// Connections a client is admitted to, and what they may hold. A uid that
// allowUids/allowGids refuse used to be refused only after a whole request:
// until then it held a connection slot, the fds it sent and the request's
// buffer, so that hundreds of its connections kept every allowed client out
// (all 1,024 slots, all the fds the process may open, and gigabytes of
// buffers). Now it is refused at accept, from the kernel's credentials,
// before a byte is read; one uid holds at most maxConnectionsPerUid
// connections; partial requests together hold at most maxBufferedBytes; and
// maxConnections is lowered to what RLIMIT_NOFILE can hold with maxFds fds
// on each connection, so that the server turns clients away rather than
// running out of fds.
//
// The hogs are test/fixtures/hog-client.js, as uid 65534 through setpriv
// where the uid matters.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const { expect } = require('chai');
const { pingServer, remoteSpawn } = require('../../..');
const {
  NOBODY, otherUidReady, useServers, useFdCheck, run, tempDir, pollUntil, sleep, fdCount, startHog, useHogs, probeWhile, waitFor, rss,
} = require('../../helpers');

const MiB = 1024 * 1024;

describe('security: admission at accept (refused uids, per-uid and byte caps, RLIMIT_NOFILE)', function () {
  this.timeout(120000);
  useHogs();
  const servers = useServers();
  useFdCheck(async () => {
    // What this process creates once and keeps: the binding, child_process's SIGCHLD watch.
    await pingServer('/nonexistent/sidecar.sock').catch(() => undefined);
    await new Promise((resolve) => childProcess.spawn('true').on('exit', resolve));
  });
  let shared;

  beforeEach(function () {
    shared = tempDir('sidecar-admission-');
    fs.chmodSync(shared, 0o1777); // anyone may reach the socket: only its mode and the server decide
  });

  afterEach(function () {
    fs.rmSync(shared, { recursive: true, force: true });
  });

  function needOtherUid(context) {
    const ready = otherUidReady();
    if (ready !== true) {
      console.log(`      (${ready}: cannot run clients as another user; skipping)`);
      context.skip();
    }
  }

  it('a refused uid with hundreds of silent and partial connections holds nothing; root is served throughout, each ping and spawn within 1 s', async function () {
    needOtherUid(this);
    const server = await servers.start({ dir: shared, nodeOptions: ['--expose-gc'], serverOptions: { report: false, mode: 0o666, allowUids: [0] } });
    expect((await run(remoteSpawn('true', [], { connect: server.path, cwd: '/' }))).exitArgs).to.deep.equal([0, null]);
    await sleep(100);
    const rssBefore = rss(server.pid);
    const fdsBefore = fdCount(server.pid);

    // 600 + 500: more than maxConnections (1024), each partial one with 16 fds and 1 MiB.
    const silent = await startHog(server.path, { connections: 600 }, NOBODY);
    const partial = await startHog(server.path, { connections: 500, announce: 8 * MiB, send: MiB, fds: 16 }, NOBODY);
    const probe = probeWhile(server.path);
    let rssPeak = rss(server.pid);
    let fdsPeak = fdCount(server.pid);
    let mostConnections = 0;
    for (let i = 0; i < 20; i++) {
      await sleep(200);
      rssPeak = Math.max(rssPeak, rss(server.pid));
      fdsPeak = Math.max(fdsPeak, fdCount(server.pid));
      mostConnections = Math.max(mostConnections, (await server.stats()).connections);
    }
    const probed = await probe.stop();
    const done = [await silent.stop(), await partial.stop()];
    const stats = await server.stats();
    const summary = `${JSON.stringify(done)}; probes ${JSON.stringify(probed)}; ${JSON.stringify(stats)}; at most ${mostConnections} connections, ${fdsPeak} fds, RSS +${((rssPeak - rssBefore) / MiB).toFixed(1)} MiB`;

    expect(server.alive, server.output()).to.equal(true);
    expect(probed.failures, summary).to.deep.equal([]);
    expect(probed.rounds, summary).to.be.at.least(10);
    expect(probed.slowest.ping, `slowest ping: ${summary}`).to.be.below(1000);
    expect(probed.slowest.spawn, `slowest spawn: ${summary}`).to.be.below(1000);
    // Each refused connection was told why, and was counted and reported as a denial.
    for (const hog of done) {
      expect(hog.opened, summary).to.be.at.least(500);
      expect(Object.keys(hog.replies), summary).to.deep.equal(['ERR_SIDECAR_DENIED']);
    }
    expect(stats.denied, summary).to.be.at.least(done[0].replies.ERR_SIDECAR_DENIED + done[1].replies.ERR_SIDECAR_DENIED);
    // Nothing held for the refused uid: no slot (the probes' own come and go), no fd, no buffer.
    expect(mostConnections, summary).to.be.below(10);
    // Held, the 1,100 connections alone would be 1,100 fds (and 8,000 more
    // fds passed by the partial ones). Each is closed as it is refused, on a
    // closer thread: on a loaded machine a few hundred closes may be in
    // flight at the peak, never all of them.
    expect(fdsPeak - fdsBefore, summary).to.be.below(550);
    expect(rssPeak - rssBefore, summary).to.be.below(100 * MiB);
    expect(stats.bufferedBytes, summary).to.equal(0);
    // And afterwards: back to its fds (useServers' leak check) and memory.
    expect(await pollUntil(() => fdCount(server.pid) === fdsBefore, { timeout: 3000 }), summary).to.equal(true);
    await server.stats();
    expect(rss(server.pid) - rssBefore, summary).to.be.below(50 * MiB);
  });

  it('maxConnectionsPerUid: one uid holds at most that many connections, the rest are ERR_SIDECAR_BUSY; root and the server\'s own uid are not capped', async function () {
    needOtherUid(this);
    const server = await servers.start({ dir: shared, serverOptions: { mode: 0o666, maxConnectionsPerUid: 16, handshakeTimeout: 0 } });
    const hog = await startHog(server.path, { connections: 60, reconnect: false }, NOBODY);
    expect(await waitFor(async () => (await server.stats()).connections === 16)).to.equal(true);
    await sleep(300);
    const stats = await server.stats();
    expect(stats.connections, JSON.stringify(stats)).to.equal(16);
    // Root (the server's uid here) is served while uid 65534 is at its cap, and may hold more than 16 itself.
    const own = await startHog(server.path, { connections: 30, reconnect: false });
    await sleep(300);
    expect((await server.stats()).connections).to.equal(46);
    expect((await pingServer(server.path)).version).to.equal(1);
    const summary = await hog.stop();
    expect(summary.replies, JSON.stringify(summary)).to.deep.equal({ ERR_SIDECAR_BUSY: 44 });
    expect((await own.stop()).replies).to.deep.equal({});
    const refusals = server.events('clientError').filter((event) => event.credentials.uid === NOBODY);
    expect(refusals).to.have.lengthOf(44);
    expect(refusals[0]).to.deep.include({ code: 'ERR_SIDECAR_BUSY' });
    expect(refusals[0].message).to.include(`uid ${NOBODY}`).and.to.include('16');
    expect(await waitFor(async () => (await server.stats()).connections === 0)).to.equal(true);
    // Its slots are free again once its connections are gone.
    const again = await startHog(server.path, { connections: 16, reconnect: false }, NOBODY);
    expect((await again.stop()).replies).to.deep.equal({});
  });

  it('maxBufferedBytes: partial requests together hold at most that many bytes; the request that would pass it is ERR_SIDECAR_BUSY', async function () {
    const server = await servers.start({
      nodeOptions: ['--expose-gc'],
      serverOptions: { report: false, maxRequestBytes: MiB, maxBufferedBytes: 4 * MiB, handshakeTimeout: 0 },
    });
    expect((await run(remoteSpawn('true', [], { connect: server.path, cwd: '/' }))).exitArgs).to.deep.equal([0, null]);
    await server.stats();
    const rssBefore = rss(server.pid);
    // 40 requests of 1 MiB, each 900 KiB sent and never finished: 36 MiB if each were held.
    const hog = await startHog(server.path, { connections: 40, announce: MiB, send: 900 * 1024, reconnect: false });
    await sleep(500);
    const held = await server.stats();
    const rssHeld = rss(server.pid);
    const summary = await hog.stop();
    const text = `${JSON.stringify(summary)}; ${JSON.stringify(held)}; RSS +${((rssHeld - rssBefore) / MiB).toFixed(1)} MiB`;
    // Each request held needs 1 MiB (its buffer doubles up to its size): 4 fit, or 3 when two were cut off halfway.
    expect(held.bufferedBytes, text).to.be.at.most(4 * MiB).and.at.least(3 * MiB);
    expect(held.connections, text).to.be.oneOf([3, 4]);
    expect(summary.replies, text).to.deep.equal({ ERR_SIDECAR_BUSY: 40 - held.connections });
    expect(rssHeld - rssBefore, text).to.be.below(24 * MiB);
    // Released with the connections; requests are taken again.
    expect(await waitFor(async () => (await server.stats()).bufferedBytes === 0)).to.equal(true);
    const after = await run(remoteSpawn('echo', Array(5).fill('x'.repeat(100 * 1024)), { connect: server.path, cwd: '/', stdio: 'ignore' }));
    expect(after.exitArgs, after.error && after.error.message).to.deep.equal([0, null]);
    expect((await server.stats()).bufferedBytes).to.equal(0);
  });

  it('RLIMIT_NOFILE too small for maxConnections x maxFds: maxConnections is lowered (a \'warning\', stats()), and a flood of 64-fd requests is turned away, not met with EMFILE', async function () {
    const nofile = 1024;
    const server = await servers.start({ nofile, serverOptions: { handshakeTimeout: 0, maxConnections: 1024 } });
    const warning = await server.waitEvent((event) => event.event === 'warning');
    const stats = await server.stats();
    expect(stats.maxConnections).to.be.above(0).and.below(1024);
    // Each connection may hold its socket, 64 fds, a pidfd and a cgroup's directory.
    expect(stats.maxConnections * 67).to.be.at.most(nofile - server.fdBaseline);
    expect(warning).to.deep.include({ code: 'SIDECAR_NOFILE_LIMIT', maxConnections: stats.maxConnections });
    expect(warning.message).to.include(String(nofile)).and.to.include(String(stats.maxConnections));

    const hog = await startHog(server.path, { connections: 40, announce: 1000, send: 10, fds: 64, reconnect: false });
    await sleep(300);
    const held = await server.stats();
    const summary = await hog.stop();
    const text = `${JSON.stringify(summary)}; ${JSON.stringify(held)}`;
    expect(held.connections, text).to.equal(stats.maxConnections);
    expect(summary.replies, text).to.deep.equal({ ERR_SIDECAR_BUSY: 40 - stats.maxConnections });
    expect(server.events('clientError').filter((event) => event.code === 'EMFILE'), text).to.deep.equal([]);
    // Free again: a request with 64 fds runs.
    expect(await waitFor(async () => (await server.stats()).connections === 0)).to.equal(true);
    const devNull = fs.openSync('/dev/null', 'r+');
    // The default maxConnections is fitted the same way, without a warning: there was nothing the host asked for.
    const quiet = await servers.start({ nofile, serverOptions: { handshakeTimeout: 0 } });
    expect((await quiet.stats()).maxConnections).to.be.within(stats.maxConnections - 1, stats.maxConnections + 1);
    expect(quiet.events('warning')).to.deep.equal([]);
    const wide = await run(remoteSpawn('true', [], { connect: server.path, cwd: '/', stdio: Array(64).fill(devNull) }));
    fs.closeSync(devNull);
    expect(wide.exitArgs, wide.error && wide.error.message).to.deep.equal([0, null]);
  });
});
