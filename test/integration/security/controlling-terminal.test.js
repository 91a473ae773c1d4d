'use strict';
// The review's finding 6: a server started in the foreground on a terminal
// ran its programs in its own session, so a program (uid 65534, through
// allowSetuid) could open /dev/tty, the operator's terminal, write on it and
// inject input with TIOCSTI. The server here runs in a tmux pane, a real
// terminal; the program must not be able to open /dev/tty (ENXIO: it has no
// controlling terminal), detached or not.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { getBinding } = require('../../../dist/binding');
const { remoteSpawn } = require('../../..');
const { tempDir } = require('../../helpers/tmp');
const { pollUntil } = require('../../helpers/proc');
const { NOBODY, otherUidReady } = require('../../helpers/users');

const SERVER = path.join(__dirname, '..', '..', 'fixtures', 'server.js');
const MARK = 'WRITTEN-BY-A-REMOTE-PROGRAM';

/** Resolves with { code, stdout, stderr } once `child` closed. */
function collect(child) {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('security: programs cannot reach the server\'s controlling terminal (finding 6)', function () {
  this.timeout(20000);
  let dir;
  let sock;
  let asUser = {};
  const tmux = (...args) => childProcess.execFileSync('tmux', ['-S', path.join(dir, 'tmux.sock'), '-f', '/dev/null', ...args],
    { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
  const quote = (text) => `'${text.replace(/'/g, "'\\''")}'`;
  const screen = () => tmux('capture-pane', '-p', '-t', 'server');

  before(async function () {
    const found = childProcess.spawnSync('tmux', ['-V']);
    if (found.error || found.status !== 0) {
      console.log('      (tmux is not installed: skipping the terminal test)');
      this.skip();
    }
    // As in the review, the program runs as uid 65534 where this run can
    // switch; otherwise as the server's own user, which reaches /dev/tty the same way.
    if (otherUidReady({ setpriv: false }) === true) asUser = { uid: NOBODY, gid: NOBODY };
    dir = tempDir('sidecar-tty-');
    sock = path.join(dir, 'sock');
    const options = JSON.stringify({ allowSetuid: { uids: [NOBODY], gids: [NOBODY] } });
    // The server in the foreground of the pane: the terminal is its controlling terminal.
    tmux('new-session', '-d', '-s', 'server', '-x', '120', '-y', '20', `exec ${quote(process.execPath)} ${quote(SERVER)} ${quote(sock)} ${quote(options)}`);
    const binding = getBinding();
    const up = await pollUntil(() => {
      try {
        binding.close(binding.connect(sock));
        return true;
      } catch {
        return false;
      }
    }, { timeout: 10000, interval: 20 });
    expect(up, `the server did not start in the terminal:\n${screen()}`).to.equal(true);
  });

  after(function () {
    if (dir === undefined) return;
    try { tmux('kill-server'); } catch { /* not running */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const detached of [false, true]) {
    it(`open('/dev/tty') fails with ENXIO in a program${detached ? ' (detached)' : ''}, and nothing reaches the terminal`, async function () {
      // The server's terminal really is one the program would find.
      expect(fs.readlinkSync(`/proc/${Number(tmux('display-message', '-p', '-t', 'server', '#{pane_pid}'))}/fd/0`)).to.match(/^\/dev\/pts\//);
      const mark = `${MARK}-${detached ? 'DETACHED' : 'IN-A-GROUP'}`;
      const probe = `if echo ${mark} > /dev/tty; then echo opened; else echo refused; fi`;
      const result = await collect(remoteSpawn('sh', ['-c', probe], { connect: sock, cwd: '/', detached, ...asUser }));
      const shown = screen();
      expect(shown, 'the program wrote on the server\'s terminal').to.not.include(mark);
      expect(result.stdout, result.stderr).to.equal('refused\n');
      expect(result.stderr).to.include('No such device or address'); // ENXIO: no controlling terminal
    });
  }
});
