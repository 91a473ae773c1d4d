'use strict';
// The server's delivery of stop signals (src/server/stop-signal.ts), read
// off real processes: SIGSTOP where the action is the default, the signal
// as sent where the process catches or ignores it.

const childProcess = require('node:child_process');
const os = require('node:os');
const { expect } = require('chai');
const { deliveredSignal } = require('../../dist/server/stop-signal');
const { pollUntil, exited } = require('../helpers');

const { SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGINT } = os.constants.signals;

describe('stop signals as a group that is not orphaned gets them', function () {
  const started = [];
  afterEach(async function () {
    for (const child of started.splice(0)) {
      child.kill('SIGKILL');
      await exited(child);
    }
  });

  /** A shell that has run `setup` and waits; resolves once it said so. */
  async function shell(setup) {
    const child = childProcess.spawn('sh', ['-c', `${setup}; echo ready; while :; do sleep 1; done`], { stdio: ['ignore', 'pipe', 'ignore'] });
    started.push(child);
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    expect(await pollUntil(() => out.includes('ready'), { timeout: 5000 })).to.equal(true);
    return child;
  }

  it('the default action: SIGSTOP for SIGTSTP, SIGTTIN and SIGTTOU', async function () {
    const child = await shell(':');
    for (const signal of [SIGTSTP, SIGTTIN, SIGTTOU]) expect(deliveredSignal(child.pid, signal)).to.equal(SIGSTOP);
  });

  it('a process that catches SIGTSTP gets it (its handler runs); the others still stop', async function () {
    const child = await shell('trap "echo caught" TSTP');
    expect(deliveredSignal(child.pid, SIGTSTP)).to.equal(SIGTSTP);
    expect(deliveredSignal(child.pid, SIGTTIN)).to.equal(SIGSTOP);
  });

  it('a process that ignores SIGTSTP gets it, and nothing happens', async function () {
    const child = await shell('trap "" TSTP');
    expect(deliveredSignal(child.pid, SIGTSTP)).to.equal(SIGTSTP);
  });

  it('other signals, and a process that is gone, are left as they are', async function () {
    const child = await shell(':');
    expect(deliveredSignal(child.pid, SIGINT)).to.equal(SIGINT);
    child.kill('SIGKILL');
    await exited(child);
    expect(deliveredSignal(child.pid, SIGTSTP)).to.equal(SIGTSTP);
  });
});
