'use strict';
// `sidecar exec -t` and `sidecar-client -t` in a real terminal (a tmux pane): the program runs on a
// terminal of its own on the server, as its controlling terminal; the pane's
// terminal is in raw mode meanwhile and restored on every way out.

const childProcess = require('node:child_process');
const path = require('node:path');
const { expect } = require('chai');
const { useServer } = require('../helpers');
const { usePane, quote } = require('../helpers/tmux');

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');
const NATIVE_CLIENT = path.join(__dirname, '..', '..', 'build', 'Release', 'sidecar-client');

const CLIENTS = [
  { name: 'sidecar exec', command: [process.execPath, CLI, 'exec'] },
  { name: 'sidecar-client', command: [NATIVE_CLIENT] },
];

for (const client of CLIENTS) describe(`${client.name} -t in a terminal`, function () {
  this.timeout(30000);
  const ctx = useServer();
  const { tmux, screen, lines, file, read, waitFor, run: type } = usePane({ prefix: 'sidecar-cli-tty-' });
  /** The command line of the client with `-t` in the pane. */
  const exec = (...words) => [...client.command, '--connect', ctx.server.path, '-t', ...words].map(quote).join(' ');

  it('gives the program a /dev/pts terminal as its controlling terminal; /dev/tty opens; a window resize reaches it', async function () {
    const report = quote(file('report'));
    const script = `{ tty; ps -o tty= -p $$; stty size; } > ${report}; echo via""-dev-tty > /dev/tty; echo rea""dy; read line; stty size >> ${report}; echo "got $line" >> ${report}`;
    type(exec('sh', '-c', script));
    await waitFor(() => lines().includes('ready'), 'the program did not start');
    tmux('resize-window', '-t', 'pane', '-x', '90', '-y', '25');
    await new Promise((resolve) => setTimeout(resolve, 300));
    tmux('send-keys', '-t', 'pane', '-l', 'typed');
    tmux('send-keys', '-t', 'pane', 'Enter');
    await waitFor(() => read('status') !== undefined, 'the client did not end');
    const [terminal, psTty, ...rest] = read('report').split('\n');
    expect(terminal).to.match(/^\/dev\/pts\/\d+$/);
    expect(psTty.trim()).to.equal(terminal.slice('/dev/'.length)); // ps -o tty= is not '?'
    expect(rest).to.deep.equal(['30 100', '25 90', 'got typed', '']);
    expect(lines()).to.include('via-dev-tty');
    expect(read('status')).to.equal('status 0\n');
    expect(read('after')).to.equal(read('before'));
  });

  it('runs an interactive bash with job control', async function () {
    type(exec('--env', 'PS1=remote> ', 'bash', '--norc', '--noprofile', '-i'));
    await waitFor(() => lines().includes('remote>'), 'no prompt of the remote shell');
    tmux('send-keys', '-t', 'pane', '-l', 'sleep 30 & jobs; kill %1; wait; exit 3');
    tmux('send-keys', '-t', 'pane', 'Enter');
    await waitFor(() => read('status') !== undefined, 'the client did not end');
    const shown = screen();
    expect(shown).to.match(/\[1\]\+\s+Running\s+sleep 30 &/);
    expect(shown).to.not.include('no job control');
    expect(read('status')).to.equal('status 3\n');
    expect(read('after')).to.equal(read('before'));
  });

  for (const [signal, number] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]]) it(`restores the terminal when the client is killed by ${signal}`, async function () {
    type(`sh -c ${quote(`echo $$ > ${quote(file('client'))}; exec ${exec('sh', '-c', 'echo rea""dy; exec sleep 60')}`)}`);
    await waitFor(() => lines().includes('ready'), 'the program did not start');
    const paneTty = tmux('display-message', '-p', '-t', 'pane', '#{pane_tty}').trim();
    const during = childProcess.execFileSync('sh', ['-c', 'stty -g < "$1"', 'sh', paneTty], { encoding: 'utf8' });
    expect(during, 'the local terminal is in raw mode while the program runs').to.not.equal(read('before'));
    process.kill(Number(read('client')), signal);
    await waitFor(() => read('status') !== undefined, 'the client did not end');
    expect(read('status')).to.equal(`status ${128 + number}\n`);
    expect(read('after')).to.equal(read('before'));
  });

  it('runs the python3 REPL', async function () {
    if (childProcess.spawnSync('python3', ['-c', '0']).status !== 0) this.skip();
    type(exec('python3', '-q'));
    await waitFor(() => lines().includes('>>>'), 'no prompt of the REPL');
    tmux('send-keys', '-t', 'pane', '-l', 'import os; print(6 * 7, os.isatty(0), os.ttyname(0).startswith("/dev/pts/"))');
    tmux('send-keys', '-t', 'pane', 'Enter');
    await waitFor(() => lines().includes('42 True True'), 'the REPL did not answer');
    tmux('send-keys', '-t', 'pane', 'C-d');
    await waitFor(() => read('status') !== undefined, 'the client did not end');
    expect(read('status')).to.equal('status 0\n');
    expect(read('after')).to.equal(read('before'));
  });

  it('refuses -t without a terminal on stdin, with one line and status 125', function () {
    const result = childProcess.spawnSync(client.command[0], [...client.command.slice(1), '--connect', ctx.server.path, '-t', 'true'],
      { stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
    expect(result.status).to.equal(125);
    expect(result.stderr).to.equal('sidecar: --tty needs a terminal on stdin (the input device is not a TTY); leave -t out for pipes and files\n');
  });
});
