'use strict';
// The tty option: the server allocates a pseudo-terminal, makes it the
// program's controlling terminal and hands its master to the client, which
// reads, writes and resizes it itself.

const { expect } = require('chai');
const { remoteSpawn } = require('../..');
const { useServer, useServers, fdCount, settledFdCount } = require('../helpers');
const { NOBODY, canSwitchUsers } = require('../helpers/users');

/** Resolves with { code, signal, output } once `child` closed. */
function collect(child, onOutput = () => {}) {
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    output += chunk;
    onOutput(output);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

describe('remoteSpawn with tty', function () {
  this.timeout(20000);
  const ctx = useServer();
  const connect = () => ctx.server.path;

  it('runs the program on a terminal of the size given, its controlling terminal; stderr merges into stdout', async function () {
    const before = fdCount();
    const child = remoteSpawn('sh', ['-c', 'tty; stty size; ps -o tty= -p $$; echo on-stderr >&2; echo hi > /dev/tty'],
      { connect: connect(), tty: { columns: 100, rows: 30 } });
    expect(child.stderr).to.equal(null);
    expect(child.stdio[2]).to.equal(null);
    const { code, output } = await collect(child);
    expect(code).to.equal(0);
    const lines = output.split('\r\n');
    expect(lines[0]).to.match(/^\/dev\/pts\/\d+$/);
    expect(lines[1]).to.equal('30 100');
    expect(lines[2].trim()).to.equal(lines[0].slice('/dev/'.length)); // ps: the session's terminal, not '?'
    expect(lines.slice(3)).to.deep.equal(['on-stderr', 'hi', '']);
    // The master, its stand-in streams and the connection are all closed.
    expect(await settledFdCount(process.pid, before)).to.equal(before);
  });

  it('tty: true is 80 by 24; resize() changes the size the program sees; typed input is echoed and read', async function () {
    const script = 'stty size; echo ready; read line; stty size; echo "read $line"';
    const child = remoteSpawn('sh', ['-c', script], { connect: connect(), tty: true });
    let asked = false;
    const { code, output } = await collect(child, (text) => {
      if (asked || !text.includes('ready')) return;
      asked = true;
      child.resize(132, 43);
      // Typed input: the terminal echoes it, the program reads the line.
      setTimeout(() => child.stdin.write('typed\n'), 200);
    });
    expect(code).to.equal(0);
    expect(output).to.match(/^24 80\r\nready\r\n/);
    expect(output).to.include('typed\r\n');
    expect(output).to.match(/43 132\r\nread typed\r\n$/);
  });

  it('a resize() before the program started applies once it has; bad sizes throw ERR_OUT_OF_RANGE', async function () {
    const child = remoteSpawn('sh', ['-c', 'sleep 0.3; stty size'], { connect: connect(), tty: true, startWait: 0 });
    child.resize(90, 20);
    for (const [columns, rows] of [[0, 20], [90, 65536], [1.5, 2], ['80', 24]]) {
      expect(() => child.resize(columns, rows)).to.throw().with.property('code', 'ERR_OUT_OF_RANGE');
    }
    const { output } = await collect(child);
    expect(output).to.equal('20 90\r\n');
  });

  it('Ctrl-C typed on the terminal interrupts the program through the terminal, as a local one', async function () {
    const child = remoteSpawn('sh', ['-c', 'trap "echo trapped; exit 7" INT; echo ready; while :; do sleep 0.1; done'],
      { connect: connect(), tty: true });
    const { code, output } = await collect(child, (text) => {
      if (text === 'ready\r\n') child.stdin.write('\x03');
    });
    expect(output).to.include('trapped');
    expect(code).to.equal(7);
  });

  it('stdio entries that are not pipes stay as given', async function () {
    const child = remoteSpawn('sh', ['-c', 'tty; echo out-of-band >&2'], { connect: connect(), tty: true, stdio: ['pipe', 'pipe', 'ignore'] });
    const { output } = await collect(child);
    expect(output).to.match(/^\/dev\/pts\/\d+\r\n$/);
  });

  describe('for a program of another uid', function () {
    const servers = useServers();
    before(function () {
      if (canSwitchUsers() !== true) this.skip();
    });

    it('the terminal belongs to the program\'s uid, mode 0620, and /dev/tty opens', async function () {
      const server = await servers.start({ serverOptions: { allowSetuid: { uids: [NOBODY], gids: [NOBODY] } } });
      const child = remoteSpawn('sh', ['-c', 'stat -c "%u %a" "$(tty)"; echo ok > /dev/tty'],
        { connect: server.path, tty: true, uid: NOBODY, gid: NOBODY, cwd: '/' });
      const { code, output } = await collect(child);
      expect(output).to.equal(`${NOBODY} 620\r\nok\r\n`);
      expect(code).to.equal(0);
    });
  });

  it('refuses a tty option that is not a boolean or a size', function () {
    expect(() => remoteSpawn('true', { connect: connect(), tty: 'yes' })).to.throw().with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => remoteSpawn('true', { connect: connect(), tty: { columns: 0 } })).to.throw().with.property('code', 'ERR_OUT_OF_RANGE');
  });

  it('a failed start ends stdout empty and closes, as with pipes', async function () {
    const child = remoteSpawn('sidecar-test-no-such-command', { connect: connect(), tty: true });
    const events = [];
    child.on('error', (error) => events.push(error.code));
    child.stdout.on('data', () => events.push('data'));
    await new Promise((resolve) => child.on('close', resolve));
    expect(events).to.deep.equal(['ENOENT']);
  });
});
