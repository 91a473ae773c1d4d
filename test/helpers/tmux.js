'use strict';
// A tmux pane with an interactive bash, for tests in a real terminal: a
// fresh tmux server and directory per test, both gone after it. The test's
// describe is skipped where tmux is not installed.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { tempDir } = require('./tmp');
const { pollUntil } = require('./proc');

/** Single-quotes a word for the pane's shell. */
function quote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * Registers the hooks and returns the pane's handle: tmux(...args), screen(),
 * lines() (trailing blanks cut), type(line) (then Enter), run(line), file(name) and
 * read(name) in the test's directory (undefined while absent), waitFor(check, what).
 * run(line) types `line` between two `stty -g`, so that a test can tell whether
 * the terminal was restored: the files 'before' and 'after' hold the modes,
 * 'shell' the pane shell's pid and 'status' "status N" once `line` ended.
 */
function usePane({ prefix = 'sidecar-pane-', columns = 100, rows = 30 } = {}) {
  let dir;
  const pane = {
    tmux: (...args) => childProcess.execFileSync('tmux', ['-S', path.join(dir, 'tmux.sock'), '-f', '/dev/null', ...args],
      { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } }),
    screen: () => pane.tmux('capture-pane', '-p', '-t', 'pane'),
    lines: () => pane.screen().split('\n').map((line) => line.trimEnd()),
    type: (line) => {
      pane.tmux('send-keys', '-t', 'pane', '-l', line);
      pane.tmux('send-keys', '-t', 'pane', 'Enter');
    },
    run: (line) => {
      const to = (name) => quote(pane.file(name));
      pane.type(`stty -g > ${to('before')}; echo $$ > ${to('shell')}; ${line}; echo "status $?" > ${to('status')}; stty -g > ${to('after')}`);
    },
    file: (name) => path.join(dir, name),
    read: (name) => (fs.existsSync(pane.file(name)) ? fs.readFileSync(pane.file(name), 'utf8') : undefined),
    waitFor: async (check, what) => {
      const ok = await pollUntil(check, { timeout: 15000, interval: 50 });
      expect(ok, `${what}; the screen:\n${pane.screen()}`).to.be.ok;
    },
  };
  before(function () {
    const found = childProcess.spawnSync('tmux', ['-V']);
    if (found.error || found.status !== 0) {
      console.log('      (tmux is not installed: skipping the terminal tests)');
      this.skip();
    }
  });
  beforeEach(function () {
    dir = tempDir(prefix);
    pane.tmux('new-session', '-d', '-s', 'pane', '-x', String(columns), '-y', String(rows), 'env PS1="$ " bash --norc --noprofile');
  });
  afterEach(function () {
    try { pane.tmux('kill-server'); } catch { /* already gone */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return pane;
}

module.exports = { usePane, quote };
