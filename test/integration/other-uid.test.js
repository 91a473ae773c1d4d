'use strict';
// What runs as another uid (uid 65534: clients and servers in the policy,
// socket-file and parity tests) runs from a copy of the package and fixtures
// that uid can read (test/helpers/users.js), so that the suite passes in a
// checkout other users cannot enter (a clone under /root, a 0700 mktemp -d).
// Here a checkout closed like that is simulated: a copy of this one inside a
// 0700 directory, its files 0600 and directories 0700 as a clone made with
// umask 077 has them. uid 65534 cannot run a fixture from it; from the copy
// copyForOtherUsers makes of it, it can, against a real server.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  tempDir, listenHere, closeHere, exited, readReport, copyForOtherUsers, loadsAs, otherUidReady, otherUidFixture, otherUidRoot, NOBODY,
} = require('../helpers');

/** chmod -R go-rwx: what a clone made with umask 077 looks like. */
function closeUp(target) {
  const stat = fs.lstatSync(target);
  if (stat.isSymbolicLink()) return;
  fs.chmodSync(target, stat.mode & 0o700);
  if (stat.isDirectory()) for (const name of fs.readdirSync(target)) closeUp(path.join(target, name));
}

/** Runs `node file ...args` as uid/gid 65534 (cwd /); resolves with { status, stdout, stderr }. */
async function nodeAsNobody(file, args) {
  const child = childProcess.spawn(process.execPath, [file, ...args], {
    uid: NOBODY, gid: NOBODY, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const status = await exited(child);
  return { status, stdout, stderr };
}

describe('other-uid copy of a checkout other users cannot enter', function () {
  this.timeout(30000);
  let closed; // 0700: holds the simulated private checkout
  let open; // 0755: holds the copy made from it
  let shared; // 1777 (sticky, as /tmp): the socket and the reports
  let checkout;
  let server;

  before(function () {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      console.log('      (not running as root: cannot run processes as another uid; skipping)');
      this.skip();
    }
  });

  beforeEach(async function () {
    closed = tempDir('sidecar-test-private-');
    checkout = copyForOtherUsers({ to: path.join(closed, 'checkout') });
    closeUp(closed);
    open = tempDir('sidecar-test-open-');
    fs.chmodSync(open, 0o755);
    shared = tempDir('sidecar-test-shared-');
    fs.chmodSync(shared, 0o1777);
    server = await listenHere(path.join(shared, 'sock'), { mode: 0o666 });
  });

  afterEach(async function () {
    if (server !== undefined && server.listening) await closeHere(server);
    server = undefined;
    for (const dir of [closed, open, shared]) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** client.js's spec: `id -u` through the server, its stdio the client's own. */
  const spec = (report) => JSON.stringify({ connect: path.join(shared, 'sock'), report, command: 'id', args: ['-u'], options: { cwd: '/' } });

  it('control: uid 65534 cannot run a fixture of the closed checkout (Cannot find module)', async function () {
    const report = path.join(shared, 'report');
    const result = await nodeAsNobody(path.join(checkout, 'test', 'fixtures', 'client.js'), [spec(report)]);
    expect(result.status.code, result.stderr).to.not.equal(0);
    expect(result.stderr).to.include('Cannot find module');
    expect(readReport(report)).to.deep.equal([]);
    expect(loadsAs(checkout)).to.be.a('string').that.includes('cannot load the package');
  });

  it('from copyForOtherUsers\' copy of it, uid 65534 loads the package and runs client.js and admin-client.js against a server', async function () {
    const copy = copyForOtherUsers({ from: checkout, to: path.join(open, 'checkout') });
    expect(loadsAs(copy)).to.equal(true);

    const report = path.join(shared, 'report');
    const client = await nodeAsNobody(path.join(copy, 'test', 'fixtures', 'client.js'), [spec(report)]);
    const lines = readReport(report);
    expect(client.status, `${JSON.stringify(lines)} ${client.stderr}`).to.deep.equal({ code: 0, signal: null });
    expect(lines.map((line) => line.event)).to.include('spawn');
    expect(lines.find((line) => line.event === 'exit')).to.deep.equal({ event: 'exit', code: 0, signal: null });
    expect(client.stdout).to.equal('0\n'); // the program runs as the server's user

    const ping = await nodeAsNobody(path.join(copy, 'test', 'fixtures', 'admin-client.js'), ['ping', path.join(shared, 'sock')]);
    expect(JSON.parse(ping.stdout || '{}'), ping.stderr).to.deep.include({ ok: true });
  });

  it('the run\'s own copy, which the other-uid tests use, is ready for uid 65534', function () {
    expect(otherUidReady({ setpriv: false })).to.equal(true);
    expect(otherUidFixture('client.js')).to.equal(path.join(otherUidRoot(), 'test', 'fixtures', 'client.js'));
    expect(fs.statSync(otherUidFixture('client.js')).mode & 0o444).to.equal(0o444);
  });
});
