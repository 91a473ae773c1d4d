'use strict';
// Job control through the CLIs, in a real terminal (a tmux pane with an
// interactive bash): Ctrl-Z stops the remote program's process group and
// then the client; `fg` continues both; `bg` lets the program finish while
// the client waits in the background. Compared with the same program run
// locally in the same pane.

const path = require('node:path');
const { expect } = require('chai');
const { useServer, procStat } = require('../helpers');
const { usePane, quote } = require('../helpers/tmux');

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');
const NATIVE_CLIENT = path.join(__dirname, '..', '..', 'build', 'Release', 'sidecar-client');

const RUNNERS = [
  { name: 'locally', command: null },
  { name: 'through sidecar exec', command: [process.execPath, CLI, 'exec'] },
  { name: 'through sidecar-client', command: [NATIVE_CLIENT] },
];

for (const runner of RUNNERS) describe(`job control ${runner.name}`, function () {
  this.timeout(30000);
  const ctx = useServer();
  const { tmux, screen, type, file, read, waitFor } = usePane({ prefix: 'sidecar-job-control-', columns: 120 });
  /** The program's state letter (R, S, T...), from /proc. */
  const state = () => procStat(Number(read('pid')))?.state;

  /** Starts the program (it writes its pid, sleeps, then writes `finished`) and stops it with Ctrl-Z. */
  async function startAndStop() {
    const script = `echo $$ > ${quote(file('pid'))}; sleep 2; echo finished > ${quote(file('done'))}`;
    const words = runner.command === null ? ['sh', '-c', script] : [...runner.command, '--connect', ctx.server.path, 'sh', '-c', script];
    type(words.map(quote).join(' '));
    await waitFor(() => /^\d+\n$/.test(read('pid') ?? ''), 'the program did not start');
    tmux('send-keys', '-t', 'pane', 'C-z');
    await waitFor(() => /Stopped/.test(screen()), 'the job was not stopped');
    await waitFor(() => state() === 'T', 'the program is not stopped (state T)');
    // Stopped, it does not go on: longer than its sleep, and nothing finished.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(state()).to.equal('T');
    expect(read('done')).to.equal(undefined);
  }

  it('Ctrl-Z stops the program (state T) and the job; fg resumes it to the end', async function () {
    await startAndStop();
    type(`fg; echo "status $?" > ${quote(file('status'))}`);
    await waitFor(() => read('status') !== undefined, 'the job did not end after fg');
    expect(read('done')).to.equal('finished\n');
    expect(read('status')).to.equal('status 0\n');
  });

  it('bg lets the program finish while the job runs in the background', async function () {
    await startAndStop();
    type(`bg; wait %1; echo "status $?" > ${quote(file('status'))}`);
    await waitFor(() => read('status') !== undefined, 'the job did not end after bg');
    expect(read('done')).to.equal('finished\n');
    expect(read('status')).to.equal('status 0\n');
  });
});
