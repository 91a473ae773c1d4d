'use strict';
// Programs that need a terminal, run with a terminal: vi, and sudo's password
// prompt (which sudo reads from /dev/tty, with echo off). In a real terminal
// (a tmux pane) the same commands run three ways, side by side: directly in
// the pane's shell, through `sidecar exec -t` and through `sidecar-client -t`;
// every one must show the same thing and leave the pane's terminal modes as
// they were. Then through remoteSpawn with `tty: true`, which has no local
// counterpart in child_process.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn } = require('../..');
const { useServer, tempDir } = require('../helpers');
const { NOBODY, asUser, canSwitchUsers } = require('../helpers/users');
const { usePane, quote } = require('../helpers/tmux');

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');
const NATIVE_CLIENT = path.join(__dirname, '..', '..', 'build', 'Release', 'sidecar-client');

/** The ways a command runs in the pane: `via(socket)` is the argv prefix ([] for the pane's own shell). */
const RUNNERS = [
  { name: 'in the local terminal', via: () => [] },
  { name: 'through sidecar exec -t', via: (socket) => [process.execPath, CLI, 'exec', '--connect', socket, '-t'] },
  { name: 'through sidecar-client -t', via: (socket) => [NATIVE_CLIENT, '--connect', socket, '-t'] },
];

/** Whether `command` runs here (`args` make it exit 0). */
const runs = (command, args) => {
  const result = childProcess.spawnSync(command, args, { stdio: 'ignore' });
  return !result.error && result.status === 0;
};
/** Skips the test, saying why, unless `missing` is null. */
function skipIf(test, missing) {
  if (missing === null) return;
  console.log(`      (${missing}: skipped)`);
  test.skip();
}
/** Why the vi tests cannot run here, or null. */
const viMissing = () => (runs(VI[0], [...VI.slice(1), '-es', '+q']) ? null : 'vi is not installed (Debian package vim-tiny)');
/** Why the sudo tests cannot run here, or null. */
const sudoMissing = () => {
  if (canSwitchUsers() !== true) return canSwitchUsers();
  if (!runs('sudo', ['-V'])) return 'sudo is not installed (Debian package sudo)';
  if (NOBODY_NAME === '') return `uid ${NOBODY} has no name`;
  return null;
};

/**
 * sudo, as an unprivileged user, so that it asks for a password (root is
 * never asked); -k: whatever credentials were cached, ask.
 */
const SUDO = [...asUser(NOBODY), 'sudo', '-k', 'true'];
/** uid 65534's name ('nobody'), which sudo's prompt shows; '' where it has none. */
const NOBODY_NAME = (childProcess.spawnSync('id', ['-nu', String(NOBODY)], { encoding: 'utf8' }).stdout ?? '').trim();
const PROMPT = `[sudo] password for ${NOBODY_NAME}:`;
/** What a terminal shows after three wrong passwords, from the first prompt to sudo's last word. */
const REFUSED = [PROMPT, 'Sorry, try again.', PROMPT, 'Sorry, try again.', PROMPT, 'sudo: 3 incorrect password attempts'];
const WRONG = 'not-the-password';
/** vi with no start-up files (no vimrc, no viminfo written in $HOME). */
const VI = ['vi', '-u', 'NONE', '-i', 'NONE'];

for (const runner of RUNNERS) describe(`programs that need a terminal, ${runner.name}`, function () {
  this.timeout(40000);
  const ctx = useServer();
  const { tmux, screen, lines, file, read, waitFor, run } = usePane({ prefix: 'sidecar-tty-programs-' });
  const command = (...words) => [...runner.via(ctx.server.path), ...words].map(quote).join(' ');
  const keys = (...args) => tmux('send-keys', '-t', 'pane', ...args);

  it('vi: edits and writes a new file, then leaves the terminal as it found it', async function () {
    skipIf(this, viMissing());
    const target = file('note.txt');
    run(command(...VI, target));
    await waitFor(() => lines().includes('~'), 'vi did not draw its screen');
    keys('-l', 'ihello');
    await waitFor(() => lines()[0] === 'hello', 'vi did not show the text typed');
    keys('Escape');
    keys('-l', ':wq');
    // In command mode, ':wq' shows on the last line; still in insert mode it would follow 'hello'.
    await waitFor(() => lines().includes(':wq'), 'vi did not leave insert mode');
    keys('Enter');
    await waitFor(() => read('status') !== undefined, 'vi did not end');
    expect(read('status')).to.equal('status 0\n');
    expect(fs.readFileSync(target, 'utf8')).to.equal('hello\n');
    expect(read('after')).to.equal(read('before'));
    expect(fs.readdirSync(path.dirname(target)).filter((name) => name.endsWith('.swp'))).to.deep.equal([]);
  });

  it("sudo: asks for the password on the terminal, does not echo it, and refuses a wrong one with its own message and status", async function () {
    skipIf(this, sudoMissing());
    run(command(...SUDO));
    const prompts = () => lines().filter((line) => line === PROMPT).length;
    for (let attempt = 1; attempt <= 3; attempt++) {
      await waitFor(() => prompts() === attempt, `no password prompt #${attempt}`);
      keys('-l', WRONG);
      keys('Enter');
    }
    await waitFor(() => read('status') !== undefined, 'sudo did not end');
    expect(read('status')).to.equal('status 1\n');
    const shown = lines();
    const first = shown.indexOf(PROMPT);
    expect(shown.slice(first, first + REFUSED.length)).to.deep.equal(REFUSED);
    expect(screen()).to.not.include(WRONG);
    expect(read('after')).to.equal(read('before'));
  });
});

describe('programs that need a terminal, through remoteSpawn with tty', function () {
  this.timeout(40000);
  const ctx = useServer();

  /** Starts `argv` on a terminal; resolves { code, output } at 'close'; `onOutput(all so far)` may answer. */
  const session = (argv, onOutput) => new Promise((resolve, reject) => {
    const child = remoteSpawn(argv[0], argv.slice(1), { connect: ctx.server.path, tty: true, env: { ...process.env, TERM: 'xterm' } });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output += chunk;
      onOutput(output, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });

  it('vi: edits and writes a new file', async function () {
    skipIf(this, viMissing());
    const dir = tempDir('sidecar-tty-vi-');
    try {
      const target = path.join(dir, 'note.txt');
      let typed = false;
      const { code } = await session([...VI, target], (output, child) => {
        // vi has drawn its screen (the '~' of the lines past the end): type.
        if (typed || !output.includes('~')) return;
        typed = true;
        child.stdin.write('ihello\x1b:wq\r');
      });
      expect(code).to.equal(0);
      expect(fs.readFileSync(target, 'utf8')).to.equal('hello\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sudo: the prompt comes on the terminal, the password is not echoed, a wrong one ends in status 1', async function () {
    skipIf(this, sudoMissing());
    let answered = 0;
    const { code, output } = await session(SUDO, (text, child) => {
      const asked = text.split(PROMPT).length - 1;
      if (asked > answered) {
        answered = asked;
        child.stdin.write(`${WRONG}\n`);
      }
    });
    expect(code).to.equal(1);
    expect(output.split('\r\n').map((line) => line.trim()).filter(Boolean)).to.deep.equal(REFUSED);
    expect(output).to.not.include(WRONG);
  });

  it('sudo without a terminal cannot ask, as locally without one', async function () {
    skipIf(this, sudoMissing());
    const local = childProcess.spawnSync(SUDO[0], SUDO.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const child = remoteSpawn(SUDO[0], SUDO.slice(1), { connect: ctx.server.path, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const code = await new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    expect(local.status).to.equal(1);
    expect(local.stderr).to.match(/terminal is required/);
    expect({ code, stderr }).to.deep.equal({ code: local.status, stderr: local.stderr });
  });
});
