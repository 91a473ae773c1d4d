'use strict';
// The server's access policy: who may connect
// (socket mode, allowUids, allowGids, authorize), what they may run
// (allowCommands, resolved with the server's PATH), which variables reach
// the program (allowEnv, loader variables), uid/gid switching (allowSetuid),
// who may stop the server, and the events and counters a host sees.
//
// Servers run in their own process (test/fixtures/server.js, options as
// JSON, authorize as a rule set) and are leak-checked after each test;
// clients of another uid run through setpriv. The events and stats tests use
// an in-process server.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn, stopServer } = require('../..');
const { getBinding } = require('../../dist/binding');
const protocol = require('../../dist/protocol');
const {
  tempDir, run, useFdCheck, fixture, exited, readReport, pollUntil, sleep, fdCount, fdTable, describeFdDiff,
  allProcesses, zombieChildren,
  listenHere, closeHere, useServers, canSwitchUsers, asUser, NOBODY, otherUidReady, otherUidFixture,
} = require('../helpers');

const NODE = process.execPath;
// Run as another uid: from the copy that uid can read (helpers/users.js).
const ADMIN_CLIENT = () => otherUidFixture('admin-client.js');


/** Runs a command to completion; resolves with { code, signal, stdout, stderr }. */
function runCommand(argv, { cwd = '/', env } = {}) {
  const child = childProcess.spawn(argv[0], argv.slice(1), { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = [];
  const stderr = [];
  child.stdout.on('data', (chunk) => stdout.push(chunk));
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
    });
  });
}

/** remoteSpawn that may throw (as child_process does for EPERM): resolves with run()'s result, or { thrown }. */
async function spawnOrThrow(command, args, options) {
  let child;
  try {
    child = remoteSpawn(command, args, options);
  } catch (error) {
    return { thrown: error };
  }
  return run(child);
}

/** Expects a refusal with code ERR_SIDECAR_DENIED whose message includes `reason`; never started. */
function expectDenied(result, reason) {
  expect(result.error, `not refused: ${JSON.stringify(result.events)} ${result.stdout}`).to.be.an('error');
  expect(result.error.code).to.equal('ERR_SIDECAR_DENIED');
  expect(result.events).to.deep.equal(['error', 'close']);
  if (reason !== undefined) expect(result.error.message).to.include(reason);
}

function expectRan(result, stdout, code = 0) {
  expect(result.error, result.error && result.error.stack).to.equal(null);
  expect(result.exitArgs).to.deep.equal([code, null]);
  if (stdout !== undefined) expect(result.stdout.toString()).to.equal(stdout);
}

function envLines(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const cut = line.indexOf('=');
    if (cut > 0) env[line.slice(0, cut)] = line.slice(cut + 1);
  }
  return env;
}

describe('server policy', function () {
  this.timeout(30000);
  const servers = useServers();
  useFdCheck(async () => {
    const dir = tempDir();
    const server = await listenHere(path.join(dir, 'sock'));
    await run(remoteSpawn('true', [], { connect: path.join(dir, 'sock') }));
    await closeHere(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('clients of another uid (setpriv --reuid)', function () {
    let shared;
    let reports = 0;

    before(function () {
      const can = otherUidReady();
      if (can !== true) {
        console.log(`      (${can}: cannot run clients as another user; skipping)`);
        this.skip();
      }
    });

    beforeEach(function () {
      shared = tempDir('sidecar-uid-');
      // Anyone may reach the socket and leave reports (only its mode and the
      // policy decide), but sticky, as /tmp: nobody moves another's files, so
      // the server trusts it (a plain 0777 directory it would refuse).
      fs.chmodSync(shared, 0o1777);
    });

    afterEach(function () {
      if (shared !== undefined) fs.rmSync(shared, { recursive: true, force: true });
    });

    /**
     * test/fixtures/client.js as uid/gid (no supplementary groups), running
     * `id -u` with its stdio: resolves with its report lines, stdout, status.
     */
    async function clientAs(uid, socketPath, { gid = uid, command = 'id', args = ['-u'] } = {}) {
      const report = path.join(shared, `report-${reports++}`);
      const spec = { connect: socketPath, report, command, args, options: { cwd: '/' } };
      const result = await runCommand([...asUser(uid, gid), NODE, otherUidFixture('client.js'), JSON.stringify(spec)]);
      return { ...result, lines: readReport(report) };
    }

    function lineOf(result, event) {
      return result.lines.find((line) => line.event === event);
    }

    it('socket mode 0600 (the default) keeps another uid out: ERR_SIDECAR_CONNECT (EACCES), the server sees nothing', async function () {
      const server = await servers.start({ dir: shared });
      expect(fs.statSync(server.path).mode & 0o777).to.equal(0o600);
      const nobody = await clientAs(NOBODY, server.path);
      const error = lineOf(nobody, 'error');
      expect(error, `${JSON.stringify(nobody.lines)} ${nobody.stderr}`).to.be.an('object');
      expect(error.code).to.equal('ERR_SIDECAR_CONNECT');
      expect(error.errno).to.equal(-13);
      expect(error.message).to.include('EACCES');
      expect(lineOf(nobody, 'spawn')).to.equal(undefined);
      expect(nobody.code).to.equal(1);
      expect(server.events('connection')).to.deep.equal([]);
    });

    it('mode 0666 + allowUids [0]: uid 65534 is refused with ERR_SIDECAR_DENIED when it connects, before its request is read; root runs', async function () {
      const server = await servers.start({ dir: shared, serverOptions: { mode: 0o666, allowUids: [0] } });
      const nobody = await clientAs(NOBODY, server.path);
      const error = lineOf(nobody, 'error');
      expect(error, `${JSON.stringify(nobody.lines)} ${nobody.stderr}`).to.be.an('object');
      expect(error.code).to.equal('ERR_SIDECAR_DENIED');
      expect(error.message).to.include(`uid ${NOBODY}`);
      expect(lineOf(nobody, 'spawn')).to.equal(undefined);
      expect(nobody.stdout).to.equal('');
      const denied = await server.waitEvent((event) => event.event === 'denied');
      expect(denied.credentials).to.deep.include({ uid: NOBODY, gid: NOBODY });
      expect(denied.credentials.pid).to.equal(lineOf(nobody, 'start').pid);
      // Refused at accept: its request was never read, and it was no connection of the server's.
      expect(denied.argv).to.deep.equal([]);
      expect(server.events('connection').filter((event) => event.credentials.uid === NOBODY)).to.deep.equal([]);
      expect(server.events('spawn')).to.deep.equal([]);
      // Nor may it ask anything else.
      const ping = await runCommand([...asUser(NOBODY), NODE, ADMIN_CLIENT(), 'ping', server.path]);
      expect(JSON.parse(ping.stdout || '{}'), ping.stderr).to.deep.include({ ok: false, code: 'ERR_SIDECAR_DENIED' });

      expectRan(await run(remoteSpawn('id', ['-u'], { connect: server.path })), '0\n');
    });

    it('mode 0666 + allowUids [65534]: uid 65534 runs (as the server\'s user); root, not listed, is refused', async function () {
      const server = await servers.start({ dir: shared, serverOptions: { mode: 0o666, allowUids: [NOBODY] } });
      const nobody = await clientAs(NOBODY, server.path);
      expect(lineOf(nobody, 'error'), `${JSON.stringify(nobody.lines)} ${nobody.stderr}`).to.equal(undefined);
      expect(lineOf(nobody, 'exit')).to.deep.equal({ event: 'exit', code: 0, signal: null });
      expect(nobody.stdout).to.equal('0\n'); // the program runs as the server's uid, not the client's
      expect(nobody.code).to.equal(0);
      const spawned = await server.waitEvent((event) => event.event === 'spawn');
      expect(spawned.credentials.uid).to.equal(NOBODY);

      expectDenied(await run(remoteSpawn('id', ['-u'], { connect: server.path })), 'uid 0');
    });

    it('allowGids: a gid not listed is refused, a listed gid runs; allowUids or allowGids is enough', async function () {
      const wrongGid = await servers.start({ dir: shared, socketPath: path.join(shared, 'a.sock'), serverOptions: { mode: 0o666, allowGids: [12345] } });
      const refused = await clientAs(NOBODY, wrongGid.path);
      expect(lineOf(refused, 'error'), JSON.stringify(refused.lines)).to.deep.include({ code: 'ERR_SIDECAR_DENIED' });

      const rightGid = await servers.start({ dir: shared, socketPath: path.join(shared, 'b.sock'), serverOptions: { mode: 0o666, allowGids: [NOBODY] } });
      const allowed = await clientAs(NOBODY, rightGid.path);
      expect(lineOf(allowed, 'exit'), `${JSON.stringify(allowed.lines)} ${allowed.stderr}`).to.deep.equal({ event: 'exit', code: 0, signal: null });
      // uid 65534 with gid 12345: its gid is not listed, and neither is its uid.
      const otherGid = await clientAs(NOBODY, rightGid.path, { gid: 12345 });
      expect(lineOf(otherGid, 'error'), JSON.stringify(otherGid.lines)).to.deep.include({ code: 'ERR_SIDECAR_DENIED' });

      const either = await servers.start({ dir: shared, socketPath: path.join(shared, 'c.sock'), serverOptions: { mode: 0o666, allowUids: [0], allowGids: [NOBODY] } });
      const byGid = await clientAs(NOBODY, either.path);
      expect(lineOf(byGid, 'exit'), `${JSON.stringify(byGid.lines)} ${byGid.stderr}`).to.deep.equal({ event: 'exit', code: 0, signal: null });
      expectRan(await run(remoteSpawn('id', ['-u'], { connect: either.path })), '0\n');
    });

    it('authorize() refuses by credentials: the client of another uid sees the reason', async function () {
      const server = await servers.start({
        dir: shared,
        serverOptions: { mode: 0o666, authorize: { rules: [{ match: { uid: NOBODY }, answer: 'nobody may not run programs here' }] } },
      });
      const nobody = await clientAs(NOBODY, server.path);
      const error = lineOf(nobody, 'error');
      expect(error, `${JSON.stringify(nobody.lines)} ${nobody.stderr}`).to.be.an('object');
      expect(error.code).to.equal('ERR_SIDECAR_DENIED');
      expect(error.message).to.include('nobody may not run programs here');
      const asked = server.events('authorize');
      expect(asked).to.have.lengthOf(1);
      expect(asked[0].request.credentials).to.deep.equal({ pid: lineOf(nobody, 'start').pid, uid: NOBODY, gid: NOBODY });
      expectRan(await run(remoteSpawn('id', ['-u'], { connect: server.path })), '0\n');
    });

    it('stop from another uid is refused (ERR_SIDECAR_DENIED) and the server keeps serving; root stops it', async function () {
      const server = await servers.start({ dir: shared, serverOptions: { mode: 0o666 } });
      const attempt = await runCommand([...asUser(NOBODY), NODE, ADMIN_CLIENT(), 'stop', server.path]);
      expect(JSON.parse(attempt.stdout || '{}'), attempt.stderr).to.deep.include({ ok: false, code: 'ERR_SIDECAR_DENIED' });
      const denied = await server.waitEvent((event) => event.event === 'denied');
      expect(denied.credentials.uid).to.equal(NOBODY);
      await sleep(100);
      expect(server.alive, 'the server stopped for another uid').to.equal(true);
      expectRan(await run(remoteSpawn('echo', ['still serving'], { connect: server.path })), 'still serving\n');

      expect(await server.leaks()).to.deep.equal([]);
      servers.forget(server);
      await stopServer(server.path);
      const timer = setTimeout(() => server.process.kill('SIGKILL'), 5000);
      expect(await exited(server.process)).to.deep.equal({ code: 0, signal: null });
      clearTimeout(timer);
      await server.stop();
    });

    it('a server running as uid 65534 honours stop from its own uid, refuses another uid, and honours root', async function () {
      const server = await servers.start({ dir: shared, user: { uid: NOBODY, gid: NOBODY }, serverOptions: { mode: 0o666 } });
      const stranger = await runCommand([...asUser(NOBODY - 1), NODE, ADMIN_CLIENT(), 'stop', server.path]);
      expect(JSON.parse(stranger.stdout || '{}'), stranger.stderr).to.deep.include({ ok: false, code: 'ERR_SIDECAR_DENIED' });
      // cwd '/': the client's own (this checkout) may be closed to the server's uid.
      expectRan(await run(remoteSpawn('id', ['-u'], { connect: server.path, cwd: '/' })), `${NOBODY}\n`);
      expect(await server.leaks()).to.deep.equal([]);
      servers.forget(server);
      const own = await runCommand([...asUser(NOBODY), NODE, ADMIN_CLIENT(), 'stop', server.path]);
      expect(JSON.parse(own.stdout || '{}'), own.stderr).to.deep.equal({ ok: true, result: null });
      const timer = setTimeout(() => server.process.kill('SIGKILL'), 5000);
      expect(await exited(server.process)).to.deep.equal({ code: 0, signal: null });
      clearTimeout(timer);
      await server.stop();

      const second = await servers.start({ dir: shared, user: { uid: NOBODY, gid: NOBODY }, serverOptions: { mode: 0o666 } });
      servers.forget(second);
      await stopServer(second.path); // root
      const timer2 = setTimeout(() => second.process.kill('SIGKILL'), 5000);
      expect(await exited(second.process)).to.deep.equal({ code: 0, signal: null });
      clearTimeout(timer2);
      await second.stop();
    });
  });

  describe('stop', function () {
    it('allowStop: false refuses stop even from the server\'s own uid, which keeps serving', async function () {
      const server = await servers.start({ serverOptions: { allowStop: false } });
      let error;
      try {
        await stopServer(server.path);
      } catch (caught) {
        error = caught;
      }
      expect(error, 'stopServer resolved').to.be.an('error');
      expect(error.code).to.equal('ERR_SIDECAR_DENIED');
      expect(error.message).to.include('does not accept stop');
      const denied = await server.waitEvent((event) => event.event === 'denied');
      expect(denied.reason).to.include('stop');
      await sleep(100);
      expect(server.alive).to.equal(true);
      expectRan(await run(remoteSpawn('echo', ['up'], { connect: server.path })), 'up\n');
    });
  });

  describe('authorize()', function () {
    let work;
    beforeEach(function () {
      work = tempDir('sidecar-authz-');
    });
    afterEach(function () {
      fs.rmSync(work, { recursive: true, force: true });
    });

    const decisions = [
      // [token, rule (without match), expected: true (runs) or the reason the client sees]
      ['allow-true', { answer: true }, true],
      ['allow-undefined', {}, true],
      ['allow-object', { answer: { allow: true } }, true],
      ['deny-false', { answer: false }, 'refused by the server\'s authorize()'],
      ['deny-string', { answer: 'make is not for you' }, 'make is not for you'],
      ['deny-object', { answer: { allow: false, reason: 'not on a Sunday' } }, 'not on a Sunday'],
      ['deny-object-no-reason', { answer: { allow: false } }, 'refused by the server\'s authorize()'],
      ['deny-invalid', { answer: 42 }, 'invalid answer'],
      ['throws', { throw: 'the hook blew up' }, 'the hook blew up'],
    ];

    for (const mode of ['sync', 'async']) {
      it(`${mode}: allows (true, undefined, {allow}), denies with the reason the client sees (false, string, {allow:false}), and a throw denies`, async function () {
        const rules = decisions.map(([token, rule]) => ({ match: { arg: token }, ...rule, async: mode === 'async', delayMs: 20 }));
        if (mode === 'async') rules.push({ match: { arg: 'rejects' }, async: true, delayMs: 20, reject: 'the promise was rejected' });
        const cases = mode === 'async' ? [...decisions, ['rejects', {}, 'the promise was rejected']] : decisions;
        const server = await servers.start({ serverOptions: { authorize: { rules, default: 'no rule matched' } } });
        const results = await Promise.all(cases.map(([token]) => run(remoteSpawn('sh', ['-c', 'echo "ran $0"', token], { connect: server.path }))));
        for (const [index, [token, , expected]] of cases.entries()) {
          const result = results[index];
          if (expected === true) {
            expectRan(result, `ran ${token}\n`);
          } else {
            expectDenied(result, expected);
            expect(result.error.message, token).to.not.include('ran');
          }
        }
        const spawned = server.events('spawn').map((event) => event.argv[3]).sort();
        expect(spawned).to.deep.equal(cases.filter(([, , expected]) => expected === true).map(([token]) => token).sort());
        const denied = server.events('denied').map((event) => event.argv[3]).sort();
        expect(denied).to.deep.equal(cases.filter(([, , expected]) => expected !== true).map(([token]) => token).sort());
        expect(server.events('authorize')).to.have.lengthOf(cases.length);
        const stats = await server.stats();
        expect(stats).to.deep.include({ denied: denied.length, spawned: spawned.length });
        // No rule matched: `default` decides.
        expectDenied(await run(remoteSpawn('true', [], { connect: server.path })), 'no rule matched');
      });
    }

    it('sees the request: credentials, file, argv, env, cwd, uid, gid, detached, serverEnv, callerEnv', async function () {
      const server = await servers.start({ serverOptions: { authorize: { rules: [] } } });
      const result = await run(remoteSpawn('sh', ['-c', 'exit 0', 'arg one'], {
        connect: server.path, cwd: work, env: { SEEN_BY_HOOK: 'yes', PATH: process.env.PATH }, argv0: 'my-sh', callerEnv: ['SHELL', 'PATH'],
      }));
      expectRan(result);
      const [asked] = server.events('authorize');
      expect(asked.request).to.deep.equal({
        credentials: { pid: process.pid, uid: process.getuid(), gid: process.getgid() },
        file: 'sh',
        argv: ['my-sh', '-c', 'exit 0', 'arg one'],
        env: { SEEN_BY_HOOK: 'yes', PATH: process.env.PATH },
        cwd: work,
        detached: false,
        serverEnv: false,
        // In the protocol's order.
        callerEnv: ['PATH', 'SHELL'],
        // uid and gid are undefined (not asked for): absent in JSON
      });
    });

    for (const mode of ['sync', 'async']) {
      it(`${mode}: rewrites the environment (the program's whole env) and the working directory`, async function () {
        const elsewhere = fs.realpathSync(tempDir('sidecar-authz-cwd-'));
        try {
          const server = await servers.start({
            serverOptions: {
              authorize: {
                rules: [
                  { match: { argv0: 'rewrite-env' }, answer: { env: { ONLY_THIS: 'from the hook', N: 7 } }, async: mode === 'async', delayMs: 10 },
                  { match: { argv0: 'rewrite-cwd' }, answer: { cwd: elsewhere }, async: mode === 'async', delayMs: 10 },
                  { match: { argv0: 'rewrite-both' }, answer: { allow: true, env: { A: '1' }, cwd: '/' }, async: mode === 'async' },
                ],
              },
            },
          });
          const env = await run(remoteSpawn('/usr/bin/env', [], { connect: server.path, argv0: 'rewrite-env', env: { FROM_CLIENT: 'x', PATH: process.env.PATH } }));
          expectRan(env);
          expect(envLines(env.stdout.toString())).to.deep.equal({ ONLY_THIS: 'from the hook', N: '7' });
          const cwd = await run(remoteSpawn('/bin/pwd', ['-P'], { connect: server.path, argv0: 'rewrite-cwd', cwd: work }));
          expectRan(cwd, `${elsewhere}\n`);
          const both = await run(remoteSpawn('/bin/sh', ['-c', 'echo "$A $(pwd) ${FROM_CLIENT-unset}"'], { connect: server.path, argv0: 'rewrite-both', cwd: work, env: { FROM_CLIENT: 'x' } }));
          expectRan(both, '1 / unset\n');
          const seen = server.events('request').map((event) => [event.argv[0], event.cwd]);
          expect(seen).to.deep.equal([['rewrite-env', process.cwd()], ['rewrite-cwd', elsewhere], ['rewrite-both', '/']]);
        } finally {
          fs.rmSync(elsewhere, { recursive: true, force: true });
        }
      });
    }

    it('async: a client that disconnects while authorize() decides never gets its program run', async function () {
      const marker = path.join(work, 'ran');
      const server = await servers.start({ serverOptions: { authorize: { rules: [{ match: { argv0: 'slow-decision' }, answer: true, async: true, delayMs: 300 }] } } });
      const binding = getBinding();
      const fd = binding.connect(server.path);
      const payload = protocol.encodeExecPayload({
        file: '/bin/sh', argv: ['slow-decision', '-c', `echo ran > ${marker}`], env: [`PATH=${process.env.PATH}`], cwd: '',
        fdMap: [-1, -1, -1], newSession: false, serverEnv: false, uid: -1, gid: -1,
      });
      const [record] = protocol.encodeExecRecords(payload);
      expect(binding.send(fd, record, 0, record.length, [])).to.equal(record.length);
      await server.waitEvent((event) => event.event === 'authorize');
      binding.close(fd); // gone while the hook is still deciding
      await sleep(700);
      expect(fs.existsSync(marker), 'the program of a departed client ran').to.equal(false);
      expect(server.events('spawn').map((event) => event.argv[0]), 'the program of a departed client was started').to.deep.equal([]);
      expect((await server.stats()).connections).to.equal(0);
    });
  });

  describe('allowCommands', function () {
    let work;
    let good;
    let evil;
    let serverPath;

    beforeEach(function () {
      work = fs.realpathSync(tempDir('sidecar-cmds-'));
      good = path.join(work, 'good');
      evil = path.join(work, 'evil');
      for (const [dir, word] of [[good, 'good'], [evil, 'evil']]) {
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'probe'), `#!/bin/sh\necho ${word} "$@"\n`, { mode: 0o755 });
      }
      serverPath = `${good}:/usr/local/bin:/usr/bin:/bin`;
    });
    afterEach(function () {
      fs.rmSync(work, { recursive: true, force: true });
    });

    const clientEnv = () => ({ PATH: `${evil}:/usr/local/bin:/usr/bin:/bin` });

    it('without it, the client\'s PATH picks the program (the escape allowCommands closes)', async function () {
      const server = await servers.start({ env: { PATH: serverPath } });
      expectRan(await run(remoteSpawn('probe', [], { connect: server.path, env: clientEnv() })), 'evil\n');
    });

    it('a name is resolved with the server\'s PATH, never the client\'s, even when the client\'s PATH has a same-named program', async function () {
      const server = await servers.start({ env: { PATH: serverPath }, serverOptions: { allowCommands: ['probe', 'sh'] } });
      expectRan(await run(remoteSpawn('probe', ['x'], { connect: server.path, env: clientEnv() })), 'good x\n');
      expectRan(await run(remoteSpawn('probe', [], { connect: server.path, env: {} })), 'good\n');
      // The program's own lookups use the server's PATH too.
      expectRan(await run(remoteSpawn('sh', ['-c', 'probe'], { connect: server.path, env: clientEnv() })), 'good\n');
      expectDenied(await run(remoteSpawn('cat', ['/etc/hostname'], { connect: server.path })), 'cat is not an allowed command');
      // A path, even to a program named like an allowed one, is not a name.
      expectDenied(await run(remoteSpawn(path.join(evil, 'probe'), [], { connect: server.path })), 'not an allowed command');
      expectDenied(await run(remoteSpawn(path.join(good, 'probe'), [], { connect: server.path })), 'not an allowed command');
      expect(server.events('spawn').map((event) => event.argv[0])).to.deep.equal(['probe', 'probe', 'sh']);
    });

    it('an absolute path matches exactly; ../ and relative tricks are refused', async function () {
      const allowed = path.join(good, 'probe');
      const server = await servers.start({ env: { PATH: serverPath }, serverOptions: { allowCommands: [allowed] } });
      expectRan(await run(remoteSpawn(allowed, [], { connect: server.path })), 'good\n');
      // A spelling that normalizes to the allowed path runs the allowed file, nothing else.
      expectRan(await run(remoteSpawn(`${evil}/../good/probe`, [], { connect: server.path })), 'good\n');
      const refused = [
        'probe', // a name is looked up, not the path allowed
        path.join(evil, 'probe'),
        `${good}/../evil/probe`,
        `${good}/../../${path.basename(work)}/evil/probe`,
        `${allowed}/`,
        './probe',
        '../good/probe',
        'good/probe',
      ];
      for (const file of refused) {
        const result = await run(remoteSpawn(file, [], { connect: server.path, cwd: good, env: clientEnv() }));
        expectDenied(result, 'not an allowed command');
      }
      expect(server.events('denied')).to.have.lengthOf(refused.length);
      expect(server.events('spawn')).to.have.lengthOf(2);
    });

    it('a relative or empty entry of the server\'s PATH is skipped, never resolved in the client\'s cwd (review finding 8)', async function () {
      // The client's directory holds its own echo, and probe, at each relative spelling.
      fs.mkdirSync(path.join(evil, 'bin'));
      for (const file of [path.join(evil, 'echo'), path.join(evil, 'bin', 'probe')]) {
        fs.writeFileSync(file, '#!/bin/sh\necho "the client\'s own program ran"\n', { mode: 0o755 });
      }
      for (const serverPath of ['.:/usr/bin:/bin', ':/usr/bin:/bin', '/usr/bin::/bin']) {
        const server = await servers.start({ env: { PATH: serverPath }, serverOptions: { allowCommands: ['echo'] } });
        expectRan(await run(remoteSpawn('echo', ['the server\'s echo'], { connect: server.path, cwd: evil })), 'the server\'s echo\n');
      }
      // bin/probe through a relative entry is not found at all: the server's PATH has no probe elsewhere.
      const relative = await servers.start({ env: { PATH: 'bin:/usr/bin:/bin' }, serverOptions: { allowCommands: ['probe'] } });
      const result = await run(remoteSpawn('probe', [], { connect: relative.path, cwd: evil }));
      expect(result.stdout.toString()).to.not.include('the client\'s own program ran');
      expect(result.error, result.stdout.toString()).to.be.an('error').with.property('code', 'ENOENT');
    });

    it('shell: true runs /bin/sh, so it needs \'/bin/sh\' allowed (a name \'sh\' does not do)', async function () {
      const onlyEcho = await servers.start({ serverOptions: { allowCommands: ['echo', 'sh'] } });
      expectDenied(await run(remoteSpawn('echo hi', [], { connect: onlyEcho.path, shell: true })), '/bin/sh is not an allowed command');
      expectRan(await run(remoteSpawn('echo', ['hi'], { connect: onlyEcho.path })), 'hi\n');

      const withShell = await servers.start({ serverOptions: { allowCommands: ['/bin/sh'] } });
      expectRan(await run(remoteSpawn('echo hi; echo there', [], { connect: withShell.path, shell: true })), 'hi\nthere\n');
      expectDenied(await run(remoteSpawn('echo hi', [], { connect: withShell.path, shell: '/bin/bash' })), 'not an allowed command');
    });
  });

  describe('allowEnv and the variables that change how programs load', function () {
    let work;
    let lib; // a shared object that appends to `marker` when loaded (LD_PRELOAD) or audited (LD_AUDIT)
    let marker;
    let evilRc;
    let evilBin;

    before(function () {
      this.timeout(30000);
    });

    beforeEach(function () {
      work = fs.realpathSync(tempDir('sidecar-env-'));
      marker = path.join(work, 'marker');
      evilRc = path.join(work, 'evil.rc');
      fs.writeFileSync(evilRc, `echo rc-ran >> ${marker}\n`);
      evilBin = path.join(work, 'evil-bin');
      fs.mkdirSync(evilBin);
      fs.writeFileSync(path.join(evilBin, 'id'), `#!/bin/sh\necho path-ran >> ${marker}\n`, { mode: 0o755 });
      const source = path.join(work, 'mark.c');
      fs.writeFileSync(source, [
        '#include <fcntl.h>',
        '#include <string.h>',
        '#include <unistd.h>',
        'static void mark(const char *what) {',
        `  int fd = open(${JSON.stringify(marker)}, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);`,
        '  if (fd < 0) return;',
        '  (void) !write(fd, what, strlen(what));',
        '  close(fd);',
        '}',
        '__attribute__((constructor)) static void loaded(void) { mark("preload-ran\\n"); }',
        'unsigned int la_version(unsigned int version) { mark("audit-ran\\n"); return version; }',
        '',
      ].join('\n'));
      const built = childProcess.spawnSync('cc', ['-shared', '-fPIC', '-o', path.join(work, 'mark.so'), source], { encoding: 'utf8' });
      lib = built.status === 0 ? path.join(work, 'mark.so') : undefined;
    });
    afterEach(function () {
      fs.rmSync(work, { recursive: true, force: true });
    });

    function marks() {
      return fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').split('\n').filter(Boolean).sort() : [];
    }

    /** The attempts, each with a program that would show it took effect. */
    function attempts() {
      const list = [
        { name: 'BASH_ENV', env: { BASH_ENV: evilRc }, command: 'bash', args: ['-c', 'true'], marks: ['rc-ran'] },
        { name: 'ENV', env: { ENV: evilRc }, command: 'sh', args: ['-i', '-c', 'true'], marks: ['rc-ran'] },
        { name: 'PATH', env: { PATH: `${evilBin}:/usr/bin:/bin` }, command: 'sh', args: ['-c', 'id -u >/dev/null'], marks: ['path-ran'] },
      ];
      if (lib !== undefined) {
        list.push(
          { name: 'LD_PRELOAD', env: { LD_PRELOAD: lib }, command: 'true', args: [], marks: ['preload-ran'] },
          { name: 'LD_AUDIT', env: { LD_AUDIT: lib }, command: 'true', args: [], marks: ['audit-ran', 'preload-ran'] }, // an audit library is loaded too
        );
      }
      return list;
    }

    it('control: without a policy each attempt takes effect (so the tests below can tell)', async function () {
      if (lib === undefined) {
        console.log('      (no C compiler: LD_PRELOAD and LD_AUDIT are checked by the environment only)');
      }
      const server = await servers.start();
      for (const attempt of attempts()) {
        fs.rmSync(marker, { force: true });
        const result = await run(remoteSpawn(attempt.command, attempt.args, { connect: server.path, env: { PATH: '/usr/bin:/bin', ...attempt.env }, stdio: ['ignore', 'pipe', 'ignore'] }));
        expect(result.error, attempt.name).to.equal(null);
        expect(marks(), attempt.name).to.deep.equal(attempt.marks);
      }
    });

    it('under allowCommands, LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, BASH_ENV, ENV and PATH never reach the program', async function () {
      const serverPath = '/usr/local/bin:/usr/bin:/bin';
      const server = await servers.start({ env: { PATH: serverPath }, serverOptions: { allowCommands: ['bash', 'sh', 'true', 'env'] } });
      for (const attempt of attempts()) {
        fs.rmSync(marker, { force: true });
        const result = await run(remoteSpawn(attempt.command, attempt.args, { connect: server.path, env: { PATH: '/usr/bin:/bin', ...attempt.env }, stdio: ['ignore', 'pipe', 'ignore'] }));
        expect(result.error, `${attempt.name}: ${result.error && result.error.message}`).to.equal(null);
        expect(marks(), `${attempt.name} reached the program`).to.deep.equal([]);
      }
      // And as the program sees its environment:
      const loaders = {
        LD_PRELOAD: lib ?? '/nonexistent/mark.so', LD_LIBRARY_PATH: evilBin, LD_AUDIT: lib ?? '/nonexistent/mark.so', BASH_ENV: evilRc, ENV: evilRc,
        PATH: `${evilBin}:/usr/bin:/bin`,
      };
      const result = await run(remoteSpawn('env', [], { connect: server.path, env: { ...loaders, LANG: 'C', HARMLESS: 'dropped' } }));
      expectRan(result);
      const seen = envLines(result.stdout.toString());
      // allowCommands implies an allowlist: the language and terminal variables pass, nothing else of the client's.
      expect(seen.LANG).to.equal('C');
      expect(seen.HARMLESS).to.equal(undefined);
      expect(seen.PATH, 'the client\'s PATH reached the program').to.equal(serverPath);
      for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV']) {
        expect(seen[name], `${name} reached the program`).to.equal(undefined);
      }
      const request = server.events('request').find((event) => event.argv[0] === 'env');
      expect([...request.droppedEnv].sort()).to.deep.equal([...Object.keys(loaders), 'HARMLESS'].sort());
    });

    it('under allowCommands, each variable allowEnv names reaches the program', async function () {
      const names = ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV', 'PATH'];
      const server = await servers.start({ serverOptions: { allowCommands: ['bash', 'sh', 'true', 'env'], allowEnv: names } });
      for (const attempt of attempts()) {
        fs.rmSync(marker, { force: true });
        const result = await run(remoteSpawn(attempt.command, attempt.args, { connect: server.path, env: { PATH: '/usr/bin:/bin', ...attempt.env }, stdio: ['ignore', 'pipe', 'ignore'] }));
        expect(result.error, attempt.name).to.equal(null);
        expect(marks(), `${attempt.name} named in allowEnv did not reach the program`).to.deep.equal(attempt.marks);
      }
      const loaders = { LD_LIBRARY_PATH: evilBin, BASH_ENV: evilRc, ENV: evilRc, PATH: `${evilBin}:/usr/bin:/bin` };
      const result = await run(remoteSpawn('env', [], { connect: server.path, env: { ...loaders, NOT_NAMED: 'dropped' } }));
      expectRan(result);
      const seen = envLines(result.stdout.toString());
      for (const [name, value] of Object.entries(loaders)) {
        // PATH is made on the server: the caller's entries (all there) first, then the server's own.
        if (name === 'PATH') expect(seen.PATH.startsWith(`${value}:`), seen.PATH).to.equal(true);
        else expect(seen[name], name).to.equal(value);
      }
      expect(seen.NOT_NAMED, 'a variable allowEnv does not name reached the program').to.equal(undefined);
    });

    it('allowEnv alone: the server\'s environment plus the client\'s values of the names it lists', async function () {
      const server = await servers.start({ env: { SERVER_ONLY: 'server-value', SHARED: 'server-shared' }, serverOptions: { allowEnv: ['FOO', 'SHARED'] } });
      const result = await run(remoteSpawn('/usr/bin/env', [], {
        connect: server.path, env: { FOO: 'client-foo', BAR: 'client-bar', SHARED: 'client-shared', PATH: evilBin, LD_PRELOAD: '/nonexistent.so' },
      }));
      expectRan(result);
      const seen = envLines(result.stdout.toString());
      expect(seen).to.deep.include({ FOO: 'client-foo', SHARED: 'client-shared', SERVER_ONLY: 'server-value', PATH: process.env.PATH });
      expect(seen.BAR).to.equal(undefined);
      expect(seen.LD_PRELOAD).to.equal(undefined);
      const [request] = server.events('request');
      expect([...request.droppedEnv].sort()).to.deep.equal(['BAR', 'LD_PRELOAD', 'PATH']);
    });
  });

  describe('uid and gid switching', function () {
    /** child_process's error for a non-root caller asking for another uid, measured (or as Node documents it). */
    async function nodeReference() {
      const script = 'try { require("child_process").spawn("id", [], { uid: 0 }); console.log("{}") } catch (e) { console.log(JSON.stringify({ message: e.message, errno: e.errno, code: e.code, syscall: e.syscall, path: e.path, spawnargs: e.spawnargs })) }';
      if (process.getuid() !== 0) return JSON.parse((await runCommand([NODE, '-e', script])).stdout);
      if (canSwitchUsers() === true) return JSON.parse((await runCommand([...asUser(NOBODY), NODE, '-e', script])).stdout);
      return { message: 'spawn EPERM', errno: -1, code: 'EPERM', syscall: 'spawn' };
    }

    function errorOf(result) {
      const error = result.thrown ?? result.error;
      expect(error, `no error: ${JSON.stringify(result.events)} ${result.stdout}`).to.be.an('error');
      const fields = {
        message: error.message, errno: error.errno, code: error.code, syscall: error.syscall, path: error.path, spawnargs: error.spawnargs,
      };
      for (const name of Object.keys(fields)) if (fields[name] === undefined) delete fields[name];
      return fields;
    }

    it('without allowSetuid, another uid or gid is refused with EPERM, shaped as child_process\'s for a non-root caller', async function () {
      const server = await servers.start();
      const reference = await nodeReference();
      expect(reference).to.deep.equal({ message: 'spawn EPERM', errno: -1, code: 'EPERM', syscall: 'spawn' });
      const other = process.getuid() === 0 ? NOBODY : 0;
      for (const ids of [{ uid: other }, { gid: other }, { uid: other, gid: other }]) {
        const result = await spawnOrThrow('id', ['-u'], { connect: server.path, ...ids });
        expect(errorOf(result), JSON.stringify(ids)).to.deep.equal(reference);
        if (result.thrown === undefined) expect(result.events).to.deep.equal(['error', 'close']);
      }
      expect(server.events('spawn')).to.deep.equal([]);
      // Its own ids are not a switch.
      expectRan(await run(remoteSpawn('id', ['-u'], { connect: server.path, uid: process.getuid(), gid: process.getgid() })), `${process.getuid()}\n`);
    });

    describe('as root', function () {
      before(function () {
        const can = canSwitchUsers();
        if (can !== true) {
          console.log(`      (${can}: cannot test switching ids; skipping)`);
          this.skip();
        }
      });

      it('allowSetuid { uids: [65534], gids: [65534] } lets a root server run programs as 65534; other ids stay EPERM', async function () {
        const server = await servers.start({ serverOptions: { allowSetuid: { uids: [NOBODY], gids: [NOBODY] } } });
        // A uid without a gid would keep the server's group (root's): refused.
        const uidOnly = await spawnOrThrow('sh', ['-c', 'id -g'], { connect: server.path, uid: NOBODY, cwd: '/' });
        expect(errorOf(uidOnly)).to.deep.include({ message: 'spawn EPERM', code: 'EPERM' });
        expectRan(await run(remoteSpawn('sh', ['-c', 'id -u; id -g; id -G'], { connect: server.path, uid: NOBODY, gid: NOBODY, cwd: '/' })),
          `${NOBODY}\n${NOBODY}\n${NOBODY}\n`);
        for (const ids of [{ uid: 1000 }, { gid: 1000 }, { uid: NOBODY, gid: 1000 }]) {
          const result = await spawnOrThrow('id', ['-u'], { connect: server.path, cwd: '/', ...ids });
          expect(errorOf(result), JSON.stringify(ids)).to.deep.include({ message: 'spawn EPERM', errno: -1, code: 'EPERM', syscall: 'spawn' });
        }
      });

      it('allowSetuid { uids: [65534] } only: a gid switch is still EPERM, and a uid alone would keep root\'s group, so it is EPERM too', async function () {
        const server = await servers.start({ serverOptions: { allowSetuid: { uids: [NOBODY] } } });
        for (const ids of [{ uid: NOBODY }, { uid: NOBODY, gid: NOBODY }]) {
          const result = await spawnOrThrow('id', ['-g'], { connect: server.path, cwd: '/', ...ids });
          expect(errorOf(result), JSON.stringify(ids)).to.deep.include({ message: 'spawn EPERM', code: 'EPERM' });
        }
      });

      it('a server that cannot switch (running as 65534) refuses even ids allowSetuid names', async function () {
        const ready = otherUidReady();
        if (ready !== true) {
          console.log(`      (${ready}: cannot run a server as uid ${NOBODY}; skipping)`);
          this.skip();
        }
        const shared = tempDir('sidecar-setuid-');
        fs.chmodSync(shared, 0o1777); // root's and sticky: a server of uid 65534 may listen in it
        try {
          const server = await servers.start({ dir: shared, user: { uid: NOBODY, gid: NOBODY }, serverOptions: { mode: 0o666, allowSetuid: { uids: [0, 1000], gids: [0] } } });
          for (const ids of [{ uid: 0 }, { uid: 1000 }, { gid: 0 }]) {
            const result = await spawnOrThrow('id', ['-u'], { connect: server.path, cwd: '/', ...ids });
            expect(errorOf(result), JSON.stringify(ids)).to.deep.include({ message: 'spawn EPERM', code: 'EPERM' });
          }
          expectRan(await run(remoteSpawn('id', ['-u'], { connect: server.path, cwd: '/', uid: NOBODY })), `${NOBODY}\n`);
          expect(await server.leaks()).to.deep.equal([]);
          servers.forget(server);
          await server.stop();
        } finally {
          fs.rmSync(shared, { recursive: true, force: true });
        }
      });
    });
  });

  describe('events and stats() (in-process server)', function () {
    let dir;
    let server;
    let seen;

    beforeEach(function () {
      dir = tempDir('sidecar-events-');
      seen = [];
    });
    afterEach(async function () {
      if (server !== undefined && server.listening) await closeHere(server);
      server = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
      // No program of this process's server is left, nor a zombie.
      const left = await pollUntil(() => allProcesses().every((p) => p.ppid !== process.pid || !/^(sleep|sh|true|id)$/.test(p.comm)), { timeout: 2000 });
      expect(left, 'programs left behind').to.equal(true);
      expect(zombieChildren(process.pid).filter((p) => /^(sleep|sh|true|id)$/.test(p.comm))).to.deep.equal([]);
    });

    async function start(options) {
      server = await listenHere(path.join(dir, 'sock'), options);
      for (const name of ['connection', 'request', 'spawn', 'exit', 'denied']) server.on(name, (info) => seen.push([name, info]));
      server.on('clientError', (error, info) => seen.push(['clientError', { error, ...info }]));
      return server;
    }

    const named = (name) => seen.filter(([event]) => event === name).map(([, info]) => info);
    const me = () => ({ pid: process.pid, uid: process.getuid(), gid: process.getgid() });

    it('\'connection\', \'request\', \'spawn\', \'exit\' (code, signal, reason, durationMs) for a program that ran', async function () {
      await start();
      // The caller's PATH as given: the event's searchPath is then known here.
      const child = remoteSpawn('sh', ['-c', 'sleep 0.2; exit 3'], { connect: server.address(), cwd: dir, env: { PATH: '/usr/bin:/bin' }, callerEnv: ['PATH'] });
      const result = await run(child);
      expect(result.exitArgs).to.deep.equal([3, null]);
      await pollUntil(() => named('exit').length === 1, { timeout: 2000 });
      expect(seen.map(([name]) => name)).to.deep.equal(['connection', 'request', 'spawn', 'exit']);
      const base = { credentials: me(), argv: ['sh', '-c', 'sleep 0.2; exit 3'], cwd: dir, droppedEnv: [], searchPath: '/usr/bin:/bin', detached: false };
      expect(named('connection')[0]).to.deep.equal({ credentials: me() });
      expect(named('request')[0]).to.deep.equal(base);
      expect(named('spawn')[0]).to.deep.equal({ ...base, pid: result.pid });
      const exit = named('exit')[0];
      expect(exit).to.deep.include({ ...base, pid: result.pid, exitCode: 3, signal: null, reason: 'exit' });
      expect(exit.durationMs).to.be.a('number').that.is.at.least(150); // the program slept 200 ms
      expect(child.exitReason).to.equal('exit');
    });

    it('\'exit\' reasons: client-signal after kill(), disconnect when the client process dies, exit for a signal from elsewhere', async function () {
      await start();
      const killed = remoteSpawn('sleep', ['30'], { connect: server.address() });
      killed.once('spawn', () => killed.kill());
      const killedResult = await run(killed);
      expect(killedResult.exitArgs).to.deep.equal([null, 'SIGTERM']);
      expect(killed.exitReason).to.equal('client-signal');

      const outside = remoteSpawn('sleep', ['30'], { connect: server.address() });
      outside.once('spawn', () => process.kill(outside.pid, 'SIGTERM'));
      await run(outside);
      expect(outside.exitReason).to.equal('exit');

      const report = path.join(dir, 'report');
      const client = childProcess.spawn(NODE, [fixture('client.js'), JSON.stringify({ connect: server.address(), report, command: 'sleep', args: ['30'], options: { stdio: 'ignore' } })], { stdio: 'ignore' });
      await pollUntil(() => readReport(report).some((line) => line.event === 'spawn'), { timeout: 10000 });
      client.kill('SIGKILL');
      await exited(client);
      await pollUntil(() => named('exit').length === 3, { timeout: 3000 });
      const exits = named('exit').map((info) => [info.reason, info.signal, info.credentials.pid]);
      expect(exits).to.deep.equal([
        ['client-signal', 'SIGTERM', process.pid],
        ['exit', 'SIGTERM', process.pid],
        ['disconnect', 'SIGKILL', client.pid],
      ]);
    });

    it('\'denied\' and \'clientError\' carry the credentials; stats() counts connections, running, queued, bufferedBytes, spawned, failed, denied', async function () {
      // 100 connections of 66 fds fit this process's fd limit: maxConnections stays as given.
      await start({ maxConcurrent: 1, maxConnections: 100, authorize: (request) => (request.argv[0] === 'deny-me' ? 'not this one' : true) });
      // 'auto': a cgroup where this machine lets the server make one, else the subreaper.
      const { containment } = server.stats();
      expect(['cgroup', 'subreaper']).to.include(containment);
      const idle = { bufferedBytes: 0, maxConnections: 100, detached: 0, lingering: 0, containment };
      expect(server.stats()).to.deep.equal({ connections: 0, running: 0, queued: 0, ...idle, spawned: 0, failed: 0, denied: 0 });

      const first = remoteSpawn('sh', ['-c', 'read line; exit 0'], { connect: server.address() });
      const firstDone = run(first);
      await new Promise((resolve) => first.once('spawn', resolve));
      const second = remoteSpawn('sh', ['-c', 'read line; exit 0'], { connect: server.address() });
      const secondDone = run(second);
      await pollUntil(() => server.stats().queued === 1, { timeout: 2000 });
      // The waiting request's bytes are held until its program starts.
      const waiting = server.stats();
      expect(waiting.bufferedBytes).to.be.above(0);
      expect(waiting).to.deep.equal({ connections: 2, running: 1, queued: 1, bufferedBytes: waiting.bufferedBytes, maxConnections: 100, spawned: 1, failed: 0, denied: 0, detached: 0, lingering: 0, containment });
      first.stdin.end('go\n');
      await new Promise((resolve) => second.once('spawn', resolve));
      expect(server.stats()).to.deep.include({ running: 1, queued: 0, bufferedBytes: 0, spawned: 2 });
      second.stdin.end('go\n');
      expectRan(await firstDone);
      expectRan(await secondDone);
      await pollUntil(() => server.stats().connections === 0, { timeout: 2000 });
      expect(server.stats()).to.deep.equal({ connections: 0, running: 0, queued: 0, ...idle, spawned: 2, failed: 0, denied: 0 });

      const missing = await run(remoteSpawn('sidecar-test-no-such-command', [], { connect: server.address() }));
      expect(missing.error.code).to.equal('ENOENT');
      expect(server.stats()).to.deep.include({ spawned: 2, failed: 1, denied: 0 });

      const refused = await run(remoteSpawn('true', [], { connect: server.address(), argv0: 'deny-me' }));
      expectDenied(refused, 'not this one');
      expect(server.stats()).to.deep.include({ spawned: 2, failed: 1, denied: 1 });
      expect(named('denied')).to.deep.equal([{ credentials: me(), argv: ['deny-me'], reason: 'not this one' }]);

      // A raw client that breaks the protocol: 'clientError' with its credentials.
      const binding = getBinding();
      const fd = binding.connect(server.address());
      const garbage = Buffer.from([9, 9, 9, 9, 9]);
      expect(binding.send(fd, garbage, 0, garbage.length, [])).to.equal(garbage.length);
      await pollUntil(() => named('clientError').some((info) => info.error.code === 'ERR_SIDECAR_PROTOCOL'), { timeout: 2000 });
      binding.close(fd);
      const protocolError = named('clientError').find((info) => info.error.code === 'ERR_SIDECAR_PROTOCOL');
      expect(protocolError.error).to.be.an('error');
      expect(protocolError.error.message).to.include('version');
      expect(protocolError.credentials).to.deep.equal(me());
      expect(server.stats()).to.deep.include({ spawned: 2, failed: 2, denied: 1 });
      await pollUntil(() => server.stats().connections === 0, { timeout: 2000 });
      expect(server.stats()).to.deep.equal({ connections: 0, running: 0, queued: 0, ...idle, spawned: 2, failed: 2, denied: 1 });
    });

    it('\'clientError\' for a request whose program could not be started (it "failed before its program ran")', async function () {
      await start();
      const missing = await run(remoteSpawn('sidecar-test-no-such-command', [], { connect: server.address() }));
      expect(missing.error.code).to.equal('ENOENT');
      await sleep(50);
      const errors = named('clientError');
      expect(errors.map((info) => info.error.code), 'no \'clientError\' for a spawn that failed with ENOENT').to.deep.equal(['ENOENT']);
      expect(errors[0].credentials).to.deep.equal(me());
    });

    it('\'request\' lists the variables the policy kept from the program (droppedEnv)', async function () {
      await start({ allowCommands: ['env'] });
      const result = await run(remoteSpawn('env', [], { connect: server.address(), env: { LD_PRELOAD: '/nonexistent.so', OK: '1' } }));
      expectRan(result);
      expect(named('request')[0].droppedEnv).to.deep.equal(['LD_PRELOAD', 'OK']);
      expect(named('spawn')[0].droppedEnv).to.deep.equal(['LD_PRELOAD', 'OK']);
    });

    it('the server\'s fd count returns to where it was (in-process)', async function () {
      await start({ maxConcurrent: 2 });
      await run(remoteSpawn('true', [], { connect: server.address() }));
      const before = fdCount(process.pid);
      const table = fdTable(process.pid);
      await Promise.all(Array.from({ length: 20 }, (_, i) => run(remoteSpawn('sh', ['-c', `exit ${i % 3}`], { connect: server.address() }))));
      let after = fdCount(process.pid);
      await pollUntil(() => (after = fdCount(process.pid)) === before, { timeout: 2000 });
      expect(after, describeFdDiff(table, fdTable(process.pid))).to.equal(before);
      expect(server.stats()).to.deep.include({ spawned: 21, running: 0, queued: 0 });
    });
  });
});
