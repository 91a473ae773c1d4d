'use strict';
// Tests that try to break the server, each counting what
// leaks (the server's fds, processes, zombies):
//   - a fuzzer: over 100,000 random and mutated records, many with fds of
//     every kind attached, over many connections;
//   - the server SIGKILLed: its programs die within a second, every client
//     process gets an error and exits;
//   - RLIMIT_NOFILE 64 on the server and 200 clients at once;
//   - a flood of TCP sockets whose close would linger for ever.
//   - refused-uid connection hogs: uid 65534, which allowUids refuses,
//     keeping 1,100 connections open that send nothing or partial requests
//     with fds, while root is served.
//   - requests in empty and one-byte continuation records.
// (A client SIGKILLed mid-run with grandchildren is in client-lifecycle.test.js.)

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn } = require('../..');
const { getBinding } = require('../../dist/binding');
const protocol = require('../../dist/protocol');
const {
  tempDir, run, useFdCheck, fixture, exited, readReport, pollUntil, sleep, isAlive, fdCount, fdTable, describeFdDiff,
  allProcesses, zombieChildren, useServers, execHead, lingerHelperPath, lingeringSockets, closeInProgress, pingWithin,
  useHogs, startHog, probeWhile, otherUidReady, NOBODY,
} = require('../helpers');
const { prng, makeFuzzer, T } = require('../helpers/fuzz');

const NODE = process.execPath;
/** Resident set size of a process, in bytes. */
function rss(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)[1]) * 1024;
}

describe('chaos', function () {
  this.timeout(120000);
  useHogs();
  const servers = useServers();
  useFdCheck(async () => {
    const { createServer } = require('../..');
    const dir = tempDir();
    const server = createServer();
    await new Promise((resolve) => server.listen(path.join(dir, 'sock'), resolve));
    await run(remoteSpawn('true', [], { connect: path.join(dir, 'sock') }));
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('fuzzer', function () {
    const binding = getBinding();
    let work;
    let zoo; // [kind, fd] pairs this test owns

    beforeEach(function () {
      work = tempDir('sidecar-fuzz-');
      zoo = [];
    });

    afterEach(function () {
      for (const [, fd] of zoo) {
        try { binding.close(fd); } catch { /* closed */ }
      }
      fs.rmSync(work, { recursive: true, force: true });
    });

    /** fds of every kind we can make: pipes, sockets, /dev/null, a directory, a file, eventfd, epoll, a listening socket. */
    function makeZoo() {
      const [readEnd, writeEnd] = binding.pipe();
      zoo.push(['pipe read end', readEnd], ['pipe write end', writeEnd]);
      const [one, two] = binding.socketPair();
      zoo.push(['socketpair', one], ['socketpair', two]);
      zoo.push(['/dev/null', binding.openReadWrite('/dev/null')]);
      zoo.push(['directory', fs.openSync(work, 'r')]);
      const file = path.join(work, 'file');
      fs.writeFileSync(file, 'data\n');
      zoo.push(['regular file', fs.openSync(file, 'r+')]);
      zoo.push(['/dev/zero', fs.openSync('/dev/zero', 'r')]);
      zoo.push(['listening seqpacket socket', binding.listen(path.join(work, 'listener.sock'), 0o600, 4)]);
      for (const name of fs.readdirSync('/proc/self/fd')) {
        let target;
        try {
          target = fs.readlinkSync(`/proc/self/fd/${name}`);
        } catch {
          continue;
        }
        for (const kind of ['anon_inode:[eventfd]', 'anon_inode:[eventpoll]', 'anon_inode:[timerfd]', 'anon_inode:[signalfd]']) {
          if (target === kind && !zoo.some(([k]) => k === kind)) zoo.push([kind, binding.dup(Number(name))]);
        }
      }
      return zoo;
    }

    it('100,000+ random and mutated records with fds of every kind: the server lives, serves, and is back to its fds and memory', async function () {
      const seed = Number(process.env.SIDECAR_FUZZ_SEED) || (Date.now() >>> 0);
      const random = prng(seed);
      // allowCommands keeps most valid requests from costing a spawn (the fuzzer is about input, not load);
      // the allowed /bin/true still runs, with the fds passed as its stdio.
      const okProgram = '/bin/true';
      const server = await servers.start({
        nodeOptions: ['--expose-gc'], serverOptions: { report: false, allowStop: false, handshakeTimeout: 500, allowCommands: [okProgram, '/bin/sh'] },
      });
      const fds = makeZoo();
      const kinds = new Set(fds.map(([kind]) => kind));
      expect(kinds.has('anon_inode:[eventfd]'), 'no eventfd found to pass').to.equal(true);
      const missingProgram = path.join(work, 'no-such-program');

      // Warm the server up with a valid request, then take its baselines.
      const warm = await run(remoteSpawn(okProgram, [], { connect: server.path }));
      expect(warm.exitArgs).to.deep.equal([0, null]);
      await sleep(200);
      server.fdBaseline = fdCount(server.pid);
      server.fdTable = fdTable(server.pid);
      const rssBefore = rss(server.pid);
      let rssPeak = rssBefore;
      await server.stats();
      const heapBefore = server.memory.heapUsed;

      const fuzzer = makeFuzzer({ random, fds, okProgram, missingProgram });
      const { script } = fuzzer;

      const TARGET = Number(process.env.SIDECAR_FUZZ_TARGET) || 100000;
      const BATCH = 64;
      const deadline = Date.now() + 75000;
      const receiveBuffer = new Uint8Array(protocol.MAX_RECORD_BYTES);
      const replies = new Map();
      let sent = 0;
      let connections = 0;
      let withFds = 0;
      let mostFds = 0;
      while (sent < TARGET && Date.now() < deadline) {
        const open = [];
        for (let i = 0; i < BATCH; i++) {
          let fd;
          try {
            fd = binding.connect(server.path);
          } catch (error) {
            if (error.code === 'EAGAIN') break; // backlog full: let the server catch up
            throw error;
          }
          open.push(fd);
          connections++;
          for (const [record, attached] of script(fd)) {
            let result;
            try {
              result = binding.send(fd, record, 0, record.length, attached);
            } catch (error) {
              if (['EPIPE', 'ECONNRESET', 'ETOOMANYREFS', 'EMSGSIZE', 'ENOBUFS'].includes(error.code)) break;
              throw error;
            }
            if (result < 0) break; // EAGAIN: its queue is full; the server hangs up on it soon anyway
            sent++;
            if (attached.length > 0) withFds++;
            mostFds = Math.max(mostFds, attached.length);
          }
        }
        // Give the server a moment on this batch, collecting its answers, then hang up.
        const pending = new Set(open);
        const until = Date.now() + 15;
        while (pending.size > 0 && Date.now() < until) {
          for (const fd of pending) {
            let received;
            try {
              received = binding.receive(fd, receiveBuffer);
            } catch (error) {
              // ECONNRESET: it hung up on records it did not read; its answer may still be queued.
              if (error.code !== 'ECONNRESET') pending.delete(fd);
              continue;
            }
            if (received === null) continue;
            for (const attached of received.fds) binding.close(attached);
            if (received.bytes === 0) {
              pending.delete(fd);
              continue;
            }
            let type = 'undecodable';
            try {
              const message = protocol.decodeServerMessage(receiveBuffer.subarray(0, received.bytes));
              type = message.type === T.Failed ? `FAILED ${message.failed.code}` : String(message.type);
            } catch { /* counted as undecodable */ }
            replies.set(type, (replies.get(type) ?? 0) + 1);
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        for (const fd of open) binding.close(fd);
        // Let the server catch up (its fd count says how much it holds) rather than fill its connection limit.
        const slowDown = Date.now() + 2000;
        while (fdCount(server.pid) > server.fdBaseline + 300 && Date.now() < slowDown) await sleep(2);
        if (connections % (BATCH * 20) === 0) rssPeak = Math.max(rssPeak, rss(server.pid));
      }
      const summary = `seed ${seed}: ${sent} records on ${connections} connections, ${withFds} with fds (at most ${mostFds}); replies ${JSON.stringify([...replies])}`;
      expect(sent, `${summary}: too few records sent in time`).to.be.at.least(TARGET);
      expect(server.alive, `${summary}\n${server.output()}`).to.equal(true);
      expect(mostFds).to.be.at.least(64);
      // The server read what was sent and decided on it (its counters), and what it answered was well formed.
      const stats = await server.stats();
      expect(stats.failed + stats.denied + stats.spawned, `${summary}; ${JSON.stringify(stats)}: the server decided on few connections`).to.be.above(connections / 2);
      expect(stats.spawned, `${summary}: no valid request ran`).to.be.above(0);
      expect(replies.get('FAILED ERR_SIDECAR_PROTOCOL') ?? 0, summary).to.be.above(0);
      expect(replies.has('undecodable'), summary).to.equal(false);

      // Alive and serving.
      const after = await run(remoteSpawn('/bin/sh', ['-c', 'echo still here'], { connect: server.path }));
      expect(after.error, after.error && after.error.stack).to.equal(null);
      expect(after.stdout.toString()).to.equal('still here\n');

      // Back to its fds, no program or zombie left, memory bounded.
      let count = fdCount(server.pid);
      await pollUntil(() => (count = fdCount(server.pid)) === server.fdBaseline, { timeout: 5000, interval: 50 });
      expect(count, `server fds: ${describeFdDiff(server.fdTable, fdTable(server.pid))}`).to.equal(server.fdBaseline);
      expect(await pollUntil(() => allProcesses().every((p) => p.ppid !== server.pid), { timeout: 2000 }), 'programs left').to.equal(true);
      expect(zombieChildren(server.pid)).to.deep.equal([]);
      expect(await server.stats()).to.deep.include({ connections: 0, running: 0, queued: 0 });
      const heapGrown = server.memory.heapUsed - heapBefore; // after a full GC: what the server retains
      const grown = rss(server.pid) - rssBefore;
      rssPeak = Math.max(rssPeak, rss(server.pid));
      expect(grown, `RSS grew by ${(grown / 1048576).toFixed(1)} MB`).to.be.below(200 * 1048576);
      expect(rssPeak - rssBefore, `RSS peaked ${((rssPeak - rssBefore) / 1048576).toFixed(1)} MB above its start`).to.be.below(200 * 1048576);
      expect(heapGrown, `the server retains ${(heapGrown / 1048576).toFixed(1)} MB more heap (after GC) than before ${connections} connections`).to.be.below(16 * 1048576);
      if (process.env.SIDECAR_FUZZ_VERBOSE) console.log(`      ${summary}; RSS +${(grown / 1048576).toFixed(1)} MB, heap +${(heapGrown / 1048576).toFixed(1)} MB`);
    });
  });

  describe('memory', function () {
    it('connections that come and go leave nothing behind in the server\'s heap (measured after a full GC)', async function () {
      const binding = getBinding();
      const server = await servers.start({ nodeOptions: ['--expose-gc'], serverOptions: { report: false } });
      const warm = await run(remoteSpawn('true', [], { connect: server.path }));
      expect(warm.exitArgs).to.deep.equal([0, null]);
      const churn = async (count) => {
        let made = 0;
        while (made < count) {
          const open = [];
          for (let i = 0; i < 50 && made < count; i++) {
            try {
              open.push(binding.connect(server.path));
              made++;
            } catch (error) {
              if (error.code !== 'EAGAIN') throw error;
              break;
            }
          }
          for (const fd of open) binding.close(fd);
          await pollUntil(() => fdCount(server.pid) <= server.fdBaseline + 10, { timeout: 2000, interval: 1 });
        }
        await pollUntil(() => fdCount(server.pid) === server.fdBaseline, { timeout: 2000 });
        await server.stats();
        return server.memory.heapUsed;
      };
      const first = await churn(2000); // warm-up: whatever is created once is there now
      const second = await churn(10000);
      const perConnection = (second - first) / 10000;
      expect(perConnection, `the server's heap grew by ${((second - first) / 1048576).toFixed(2)} MB over 10,000 connections (${perConnection.toFixed(0)} bytes each)`).to.be.below(100);
      // Connections the clients closed may still wait in the listen backlog:
      // the server accepts (and drops) them a turn or two later.
      let stats;
      await pollUntil(async () => (stats = await server.stats()).connections === 0, { timeout: 2000 });
      expect(stats.connections).to.equal(0);
    });
  });

  describe('the server SIGKILLed', function () {
    let dir;
    beforeEach(function () {
      dir = tempDir('sidecar-kill-');
    });
    afterEach(function () {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('every program it started is gone within a second; every client process (running or queued) gets an error and exits', async function () {
      const server = await servers.start({ serverOptions: { maxConcurrent: 6 } });
      const clients = [];
      for (let i = 0; i < 12; i++) {
        const report = path.join(dir, `report-${i}`);
        const child = childProcess.spawn(NODE, [fixture('client.js'), JSON.stringify({
          connect: server.path, report, command: 'sleep', args: ['1000'], options: { stdio: 'ignore' },
        })], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk) => { stderr += chunk; });
        clients.push({ child, report, stderr: () => stderr });
      }
      const running = await pollUntil(() => server.events('spawn').length === 6 && server.events('request').length === 12, { timeout: 15000 });
      expect(running, `${server.events('spawn').length} running, ${server.events('request').length} requests`).to.equal(true);
      expect((await server.stats()).queued).to.equal(6);
      const programs = server.events('spawn').map((event) => event.pid);
      for (const pid of programs) expect(isAlive(pid)).to.equal(true);

      servers.forget(server);
      await server.kill();
      const gone = await pollUntil(() => programs.every((pid) => !isAlive(pid)), { timeout: 1000, interval: 10 });
      const left = programs.filter((pid) => isAlive(pid));
      for (const pid of left) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
      expect(gone, `programs survived their server by a second: ${left.join(', ')}`).to.equal(true);

      const statuses = await Promise.all(clients.map(async ({ child }) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        const status = await exited(child);
        clearTimeout(timer);
        return status;
      }));
      for (const [i, { report, stderr }] of clients.entries()) {
        const lines = readReport(report);
        const events = lines.map((line) => line.event);
        expect(statuses[i], `client ${i} hung (killed after 10 s): ${JSON.stringify(lines)} ${stderr()}`).to.deep.equal({ code: 1, signal: null });
        const error = lines.find((line) => line.event === 'error');
        expect(error, `client ${i}: ${JSON.stringify(lines)}`).to.be.an('object');
        expect(error.code).to.equal('ERR_SIDECAR_DISCONNECTED');
        expect(events[events.length - 1]).to.equal('process-exit');
        expect(events).to.satisfy((list) => JSON.stringify(list) === JSON.stringify(['start', 'spawn', 'error', 'exit', 'close', 'process-exit'])
          || JSON.stringify(list) === JSON.stringify(['start', 'error', 'close', 'process-exit']), JSON.stringify(events));
      }
      const spawnedClients = clients.filter(({ report }) => readReport(report).some((line) => line.event === 'spawn'));
      expect(spawnedClients).to.have.lengthOf(6);
      await server.stop();
    });
  });

  describe('lingering sockets', function () {
    const binding = getBinding();
    const FLOOD = 48; // three times the closer's threads
    let sockets;
    let server;
    const held = [];
    const pings = [];

    afterEach(async function () {
      if (server !== undefined && server.alive) server.process.kill('SIGCONT');
      server = undefined;
      if (sockets !== undefined) await sockets.release(); // before our copies: their close no longer lingers
      sockets = undefined;
      for (const fd of held.splice(0)) binding.close(fd);
      await Promise.all(pings.splice(0).map((ping) => ping.settled));
    });

    it(`${FLOOD} sockets whose close lingers for ever, in PINGs, requests and unread records: every ping answered within 1 s, a program runs to its end, every close cut short, fds back`, async function () {
      if (lingerHelperPath() === null) this.skip(); // no C compiler here
      server = await servers.start({ serverOptions: { report: false } });
      sockets = await lingeringSockets(FLOOD);
      const { ports } = sockets;
      const ping = protocol.encodePing();
      const head = execHead(1000);
      const send = (fd, record, fds) => expect(binding.send(fd, record, 0, record.length, fds)).to.equal(record.length);
      // Stopped, so that every socket is in flight when our copies close: the server's close is the last.
      server.process.kill('SIGSTOP');
      for (let i = 0; i < FLOOD; i++) {
        const fd = binding.connect(server.path);
        const one = [sockets.fds[i]];
        if (i % 3 === 0) {
          send(fd, ping, one);
        } else if (i % 3 === 1) {
          send(fd, head, one); // a request never completed: its client hangs up
        } else {
          send(fd, ping, []);
          send(fd, ping, one); // never read: released with the connection
        }
        if (i % 3 === 1) binding.close(fd);
        else held.push(fd);
      }
      for (const fd of sockets.fds.splice(0)) binding.close(fd);
      server.process.kill('SIGCONT');

      const pids = [server.pid, process.pid];
      expect(await pollUntil(() => ports.some((port) => closeInProgress(port, pids)), { timeout: 5000 }), 'no close started').to.equal(true);
      // Its fds wait behind the flood's for a closer thread: about a second per round of 16.
      const honest = run(remoteSpawn('sh', ['-c', 'echo still here'], { connect: server.path }), { timeout: 15000 });
      let worst = 0;
      for (const started = Date.now(); Date.now() - started < 3000;) {
        const answer = await pingWithin(server.path, 1000);
        pings.push(answer);
        expect(answer.answered, `no PONG within 1 s, ${Date.now() - started} ms into the flood`).to.equal(true);
        worst = Math.max(worst, answer.ms);
        await sleep(100);
      }
      const result = await honest;
      expect(result.error, result.error && result.error.message).to.equal(null);
      expect(result.events).to.deep.equal(['spawn', 'exit', 'close']);
      expect(result.stdout.toString()).to.equal('still here\n');
      const cut = await pollUntil(() => ports.every((port) => !closeInProgress(port, pids)), { timeout: 10000, interval: 50 });
      expect(cut, `closes still lingering: ${ports.filter((port) => closeInProgress(port, pids)).length}`).to.equal(true);
      expect(sockets.helper.exitCode, 'the peer was released before the closes ended').to.equal(null);
      let count = fdCount(server.pid);
      await pollUntil(() => (count = fdCount(server.pid)) === server.fdBaseline, { timeout: 3000 });
      expect(count, describeFdDiff(server.fdTable, fdTable(server.pid))).to.equal(server.fdBaseline);
      if (process.env.SIDECAR_FUZZ_VERBOSE) console.log(`      slowest PONG ${worst} ms`);
    });
  });

  describe('requests in empty and one-byte records', function () {
    const servers = useServers();
    const CONNECTIONS = 8;
    const RECORDS = 100_000; // one-byte continuations per connection (a Buffer each took the server past +100 MB)

    it(`${CONNECTIONS} connections sending ${RECORDS.toLocaleString('en')} one-byte continuations each, and empty ones: every ping answered within 1 s, RSS bounded during and after, fds back`, async function () {
      this.timeout(120000);
      const binding = getBinding();
      // No handshake deadline: the flood alone must not hurt the server.
      const server = await servers.start({ serverOptions: { report: false, handshakeTimeout: 0 } });
      const before = rss(server.pid);
      const one = Buffer.from([protocol.PROTOCOL_VERSION, T.ExecMore, 0, 0, 0x41]);
      const empty = Buffer.from([protocol.PROTOCOL_VERSION, T.ExecMore, 0, 0]);
      const send = async (fd, record) => {
        while (binding.send(fd, record, 0, record.length, []) < 0) await sleep(1);
      };
      const fds = [];
      let peak = before;
      let slowest = 0;
      let unanswered = 0;
      try {
        for (let c = 0; c < CONNECTIONS; c++) {
          const fd = binding.connect(server.path);
          fds.push(fd);
          await send(fd, execHead(RECORDS + 1000)); // never completed
        }
        for (let i = 0; i < RECORDS; i++) {
          for (const fd of fds) await send(fd, one);
          if (i % 5000 === 0) {
            const ping = await pingWithin(server.path, 1000);
            slowest = Math.max(slowest, ping.ms);
            if (!ping.answered) unanswered++;
            peak = Math.max(peak, rss(server.pid));
          }
        }
        // Empty continuations: each connection is refused at its first.
        for (const fd of fds) await send(fd, empty);
        const ping = await pingWithin(server.path, 1000);
        if (!ping.answered) unanswered++;
        peak = Math.max(peak, rss(server.pid));
      } finally {
        for (const fd of fds) binding.close(fd);
      }
      expect(unanswered, `pings unanswered within 1 s (slowest ${slowest} ms)`).to.equal(0);
      expect(peak - before, `RSS grew by ${((peak - before) / 1048576).toFixed(1)} MB during the flood`).to.be.below(100 * 1048576);
      let count;
      await pollUntil(() => (count = fdCount(server.pid)) === server.fdBaseline, { timeout: 3000 });
      expect(count, describeFdDiff(server.fdTable, fdTable(server.pid))).to.equal(server.fdBaseline);
      const after = rss(server.pid);
      expect(after - before, `RSS is ${((after - before) / 1048576).toFixed(1)} MB above where it started`).to.be.below(50 * 1048576);
      expect(isAlive(server.pid)).to.equal(true);
    });
  });

  describe('out of fds', function () {
    it('RLIMIT_NOFILE 64 and 200 clients at once: refuses what it cannot take, keeps serving, recovers', async function () {
      const server = await servers.start({ nofile: 64, serverOptions: { report: false } });
      const warm = await run(remoteSpawn('true', [], { connect: server.path }));
      expect(warm.exitArgs).to.deep.equal([0, null]);
      await sleep(100);
      server.fdBaseline = fdCount(server.pid);
      server.fdTable = fdTable(server.pid);
      expect(server.fdBaseline, 'the limit leaves the server no room: the test cannot tell anything').to.be.below(40);

      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => run(remoteSpawn('sh', ['-c', 'sleep 0.1; echo ok'], {
        connect: server.path, stdio: i % 2 === 0 ? 'pipe' : ['ignore', 'pipe', 'ignore'],
      }), { timeout: 30000 })));
      expect(results.filter((r) => r.timedOut).length, 'clients left without an answer').to.equal(0);
      expect(server.alive, server.output()).to.equal(true);
      const succeeded = results.filter((r) => r.error === null);
      for (const result of succeeded) {
        expect(result.events).to.deep.equal(['spawn', 'exit', 'close']);
        expect(result.stdout.toString()).to.equal('ok\n');
      }
      const codes = results.filter((r) => r.error !== null).map((r) => r.error.code);
      const unexpected = codes.filter((code) => !['ERR_SIDECAR_BUSY', 'EMFILE', 'ENFILE', 'ERR_SIDECAR_CONNECT'].includes(code));
      const messages = [...new Set(results.filter((r) => r.error !== null && unexpected.includes(r.error.code)).map((r) => r.error.message))];
      expect(unexpected, `refusals other than BUSY/EMFILE/CONNECT: ${messages.join(' | ')}`).to.deep.equal([]);
      expect(succeeded.length, 'nothing got through while it was short of fds').to.be.above(0);

      // Recovered: a run of normal spawns, then back to its fds.
      for (let i = 0; i < 20; i++) {
        const result = await run(remoteSpawn('sh', ['-c', `echo again ${i}`], { connect: server.path }));
        expect(result.error, result.error && result.error.message).to.equal(null);
        expect(result.stdout.toString()).to.equal(`again ${i}\n`);
      }
      let count = fdCount(server.pid);
      await pollUntil(() => (count = fdCount(server.pid)) === server.fdBaseline, { timeout: 3000 });
      expect(count, describeFdDiff(server.fdTable, fdTable(server.pid))).to.equal(server.fdBaseline);
      if (process.env.SIDECAR_FUZZ_VERBOSE) console.log(`      ${succeeded.length} of 200 ran; refusals ${JSON.stringify(codes.reduce((m, c) => ({ ...m, [c]: (m[c] ?? 0) + 1 }), {}))}`);
    });
  });

  describe('refused-uid connection hogs', function () {
    it('uid 65534 keeps 1,100 connections coming, silent or partial with fds: the server lives, root is served throughout (each ping within 1 s), RSS stays within +100 MB and comes back within +50 MB, fds at baseline', async function () {
      const ready = otherUidReady();
      if (ready !== true) {
        console.log(`      (${ready}: cannot run clients as another user; skipping)`);
        this.skip();
      }
      const shared = tempDir('sidecar-hogs-');
      fs.chmodSync(shared, 0o1777);
      try {
        const server = await servers.start({ dir: shared, nodeOptions: ['--expose-gc'], serverOptions: { report: false, mode: 0o666, allowUids: [0] } });
        expect((await run(remoteSpawn('true', [], { connect: server.path, cwd: '/' }))).exitArgs).to.deep.equal([0, null]);
        await sleep(200);
        server.fdBaseline = fdCount(server.pid);
        server.fdTable = fdTable(server.pid);
        const rssBefore = rss(server.pid);

        const hogs = [
          await startHog(server.path, { connections: 600 }, NOBODY),
          await startHog(server.path, { connections: 500, announce: 8 * 1048576, send: 1048576, fds: 16 }, NOBODY),
        ];
        const probe = probeWhile(server.path);
        let rssPeak = rss(server.pid);
        const deadline = Date.now() + 8000;
        while (Date.now() < deadline) {
          await sleep(100);
          rssPeak = Math.max(rssPeak, rss(server.pid));
        }
        const probed = await probe.stop();
        const done = [];
        for (const hog of hogs) done.push(await hog.stop());
        const summary = `hogs ${JSON.stringify(done)}; probes ${JSON.stringify(probed)}; RSS peaked ${((rssPeak - rssBefore) / 1048576).toFixed(1)} MB above its start`;

        expect(server.alive, `${summary}\n${server.output()}`).to.equal(true);
        expect(probed.failures, summary).to.deep.equal([]);
        expect(probed.rounds, summary).to.be.at.least(20);
        expect(probed.slowest.ping, summary).to.be.below(1000);
        expect(probed.slowest.spawn, summary).to.be.below(1000);
        for (const hog of done) expect(Object.keys(hog.replies), summary).to.deep.equal(['ERR_SIDECAR_DENIED']);
        expect(rssPeak - rssBefore, summary).to.be.below(100 * 1048576);

        const stats = await server.stats();
        expect(stats, summary).to.deep.include({ connections: 0, running: 0, queued: 0, bufferedBytes: 0 });
        expect(stats.denied, summary).to.be.at.least(1100);
        let count = fdCount(server.pid);
        await pollUntil(() => (count = fdCount(server.pid)) === server.fdBaseline, { timeout: 3000 });
        expect(count, describeFdDiff(server.fdTable, fdTable(server.pid))).to.equal(server.fdBaseline);
        const grown = rss(server.pid) - rssBefore;
        expect(grown, `${summary}; RSS after: +${(grown / 1048576).toFixed(1)} MB`).to.be.below(50 * 1048576);
        if (process.env.SIDECAR_FUZZ_VERBOSE) console.log(`      ${summary}; ${stats.denied} refused`);
      } finally {
        fs.rmSync(shared, { recursive: true, force: true });
      }
    });
  });
});
