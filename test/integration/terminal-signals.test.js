'use strict';
// Ctrl-C in a real terminal (tmux), side by side: a Node program runs
// `sh -c 'trap ... INT; ...'` with stdio 'inherit', through child_process
// and through remoteSpawn, and each must come out the same. Locally the
// terminal's SIGINT reaches the child too (it is in the foreground process
// group). Before, the remote program got nothing: the Node program died of
// SIGINT, the server saw a disconnect and sent SIGKILL, so its trap never
// ran. Now remoteSpawn forwards the terminal's signals to a child that is not
// detached, the Node program still dies of SIGINT when it does not listen
// for it, and the server gives the program disconnectGrace to run its trap.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  useServer, tempDir, pollUntil, fixture, procStat, exited,
} = require('../helpers');

const HOST = fixture('terminal-host.js');
const TRAP = 'trap "echo TRAPPED; exit 3" INT; echo READY; while :; do sleep 1; done';
const PLAIN = 'echo READY; exec sleep 30';

/** The lines a run is judged by, sorted (the program and the shell write concurrently). */
const judged = (screen) => screen.split('\n').map((line) => line.trimEnd().replace(/^(\^C)+/, ''))
  .filter((line) => /^(TRAPPED|exit .*|host status \d+)$/.test(line)).sort();

// What child_process gives, for each program and host: the remote run must give the same.
const SCENARIOS = [
  { program: 'trap', script: TRAP, host: 'listen', lines: ['TRAPPED', 'exit 3 null', 'host status 0'] },
  { program: 'trap', script: TRAP, host: 'default', lines: ['TRAPPED', 'host status 130'] },
  { program: 'no trap', script: PLAIN, host: 'listen', lines: ['exit null SIGINT', 'host status 0'] },
  { program: 'no trap', script: PLAIN, host: 'default', lines: ['host status 130'] },
];

describe('Ctrl-C in a real terminal reaches a remote program as a local one (tmux)', function () {
  this.timeout(30000);
  let dir;
  let sessions = 0;
  const tmux = (...args) => childProcess.execFileSync('tmux', ['-S', path.join(dir, 'tmux.sock'), '-f', '/dev/null', ...args],
    { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const quote = (text) => `'${text.replace(/'/g, "'\\''")}'`;

  before(function () {
    const found = childProcess.spawnSync('tmux', ['-V']);
    if (found.error || found.status !== 0) {
      console.log('      (tmux is not installed: skipping the terminal test)');
      this.skip();
    }
    dir = tempDir('sidecar-ctrlc-');
  });

  after(function () {
    if (dir === undefined) return;
    try { tmux('kill-server'); } catch { /* not running */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ctx = useServer();

  /**
   * Runs the host in a pane under bash, which outlives a host that dies of
   * SIGINT (its own trap) and writes the host's status; presses Ctrl-C once
   * the program is ready. Resolves with the judged lines once they are `expected`
   * (or what the pane shows after 10 s).
   */
  async function ctrlC(mode, scenario) {
    const name = `run${sessions++}`;
    const script = path.join(dir, `${name}.sh`);
    fs.writeFileSync(script, [
      'trap : INT',
      `${quote(process.execPath)} ${quote(HOST)} ${mode} ${quote(ctx.server.path)} ${scenario.host} ${quote(scenario.script)}`,
      'echo "host status $?"',
      'sleep 30',
      '',
    ].join('\n'));
    tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '20', `exec bash ${quote(script)}`);
    let screen = '';
    const ready = await pollUntil(() => (screen = tmux('capture-pane', '-p', '-t', name)).includes('READY'), { timeout: 10000, interval: 50 });
    expect(ready, `the program did not start in the terminal:\n${screen}`).to.equal(true);
    tmux('send-keys', '-t', name, 'C-c');
    const expected = [...scenario.lines].sort();
    await pollUntil(() => JSON.stringify(judged(screen = tmux('capture-pane', '-p', '-t', name))) === JSON.stringify(expected),
      { timeout: 10000, interval: 50 });
    tmux('kill-session', '-t', name);
    return { lines: judged(screen), screen };
  }

  // The CLIs in the same terminal, against the program run by the shell itself.
  const CLIENT = path.join(__dirname, '..', '..', 'build', 'Release', 'sidecar-client');
  const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');
  for (const [name, prefix] of [
    ['sidecar exec', () => [process.execPath, CLI, 'exec', '--connect', ctx.server.path, '--']],
    ['sidecar-client', () => [CLIENT, '--connect', ctx.server.path, '--']],
  ]) {
    it(`${name}: Ctrl-C runs the remote trap, and it exits with the program's status, as the program run locally`, async function () {
      const lines = ['TRAPPED', 'host status 3'];
      const run = async (argv) => {
        const session = `cli${sessions++}`;
        const script = path.join(dir, `${session}.sh`);
        fs.writeFileSync(script, ['trap : INT', `${argv.map(quote).join(' ')}`, 'echo "host status $?"', 'sleep 30', ''].join('\n'));
        tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '20', `exec bash ${quote(script)}`);
        let screen = '';
        expect(await pollUntil(() => (screen = tmux('capture-pane', '-p', '-t', session)).includes('READY'), { timeout: 10000, interval: 50 }),
          screen).to.equal(true);
        tmux('send-keys', '-t', session, 'C-c');
        await pollUntil(() => JSON.stringify(judged(screen = tmux('capture-pane', '-p', '-t', session))) === JSON.stringify(lines),
          { timeout: 10000, interval: 50 });
        tmux('kill-session', '-t', session);
        return { lines: judged(screen), screen };
      };
      const local = await run(['sh', '-c', TRAP]);
      expect(local.lines, local.screen).to.deep.equal(lines);
      const remote = await run([...prefix(), 'sh', '-c', TRAP]);
      expect(remote.lines, remote.screen).to.deep.equal(local.lines);
    });
  }

  for (const scenario of SCENARIOS) {
    const what = `${scenario.program}, host ${scenario.host === 'listen' ? 'with a SIGINT listener' : 'without a SIGINT listener'}`;
    it(`${what}: ${scenario.lines.join(', ')}, as with child_process`, async function () {
      const local = await ctrlC('local', scenario);
      expect(local.lines, `child_process itself, in the terminal:\n${local.screen}`).to.deep.equal([...scenario.lines].sort());
      const exitsBefore = ctx.server.events('exit').length;
      const remote = await ctrlC('remote', scenario);
      expect(remote.lines, `remoteSpawn, in the terminal:\n${remote.screen}`).to.deep.equal(local.lines);
      // The remote program is gone (the leak check after each test also
      // finds no child of the server left), ended by its SIGINT, not by a
      // SIGKILL at the disconnect. The server process reports its 'exit'
      // event over a pipe of its own, which may arrive after the host printed.
      await pollUntil(() => ctx.server.events('exit').length > exitsBefore, { timeout: 5000 });
      const exits = ctx.server.events('exit');
      expect(exits.length, 'the server reported no exit for the remote run').to.be.above(exitsBefore);
      expect(exits[exits.length - 1]).to.include(
        scenario.program === 'trap' ? { exitCode: 3, signal: null, reason: 'exit' } : { exitCode: null, signal: 'SIGINT', reason: 'client-signal' },
      );
    });
  }
});

describe('the terminal\'s signals: forwarded, and the host ends or stops by them as without a listener', function () {
  this.timeout(30000);
  const ctx = useServer();
  const hosts = [];

  afterEach(async function () {
    for (const host of hosts.splice(0)) {
      // The whole group: a local program is in it too.
      for (const signal of ['SIGCONT', 'SIGKILL']) {
        try { process.kill(-host.pid, signal); } catch { /* gone */ }
      }
      await exited(host);
      // Our end of its stdout, which a local program held too, is let go.
      host.stdout.destroy();
    }
  });

  // setpgid(0, 0), then exec the rest: the same process in a group of its own (Node has no setpgid).
  const OWN_GROUP = 'import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])';
  // One sleep for the whole run, waited for with `wait`, which a trapped
  // signal interrupts: the traps run at once, and the sleep is there to stop
  // whenever a stop comes (a loop of short sleeps has gaps between them).
  const SCRIPT = 'for s in INT QUIT HUP TSTP CONT WINCH; do trap "echo GOT-$s" $s; done; echo "READY $$"; sleep 1000 & while kill -0 $! 2>/dev/null; do wait; done';

  /**
   * A host without listeners of its own (cores off, for SIGQUIT), its
   * program ready; `output()` is what the program wrote. The host gets a
   * process group of its own, as a shell gives a job, so that SIGTSTP can
   * stop it: the kernel discards a stopping signal sent to an orphaned
   * group, which this test's own group may be (a test run in the
   * background of a shell that has exited).
   */
  async function startHost(mode = 'remote') {
    const host = childProcess.spawn('python3', ['-c', OWN_GROUP, '/bin/sh', '-c', 'ulimit -c 0; exec "$@"', 'sh', process.execPath, HOST, mode, ctx.server.path, 'default', SCRIPT],
      { stdio: ['ignore', 'pipe', 'ignore'] });
    hosts.push(host);
    let output = '';
    host.stdout.on('data', (chunk) => { output += chunk; });
    expect(await pollUntil(() => output.includes('READY'), { timeout: 10000, interval: 20 }), 'the program did not start').to.equal(true);
    return { host, output: () => output };
  }

  for (const signal of ['SIGINT', 'SIGQUIT', 'SIGHUP']) {
    it(`${signal}: the program gets it, then the host dies of it (Node's default)`, async function () {
      const { host, output } = await startHost();
      host.kill(signal);
      const { signal: how } = await exited(host);
      expect(how).to.equal(signal);
      // The program's trap runs (within disconnectGrace), then the server ends it.
      const name = signal.slice(3);
      expect(await pollUntil(() => output().includes(`GOT-${name}`), { timeout: 5000 }), output()).to.equal(true);
    });
  }

  /** The states of `pid`'s children (the program's `sleep`). */
  const childStates = (pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
        .map((child) => procStat(Number(child))?.state);
    } catch {
      return [];
    }
  };

  // Side by side: Ctrl-Z and fg as a terminal sends them, to the host's whole
  // group; locally the program is in that group, remotely it gets them through
  // the host. Either way the program's sleep stops (the server stops what the
  // kernel would stop in a group that is not orphaned), the host stops, and the
  // shell, which traps both, reports SIGTSTP and SIGCONT.
  for (const mode of ['local', 'remote']) {
    it(`SIGTSTP to the host's group (${mode === 'local' ? 'child_process' : 'remoteSpawn'}): the host and the program's sleep stop; SIGCONT continues both and the traps run; twice`, async function () {
      const { host, output } = await startHost(mode);
      const program = Number(/READY (\d+)/.exec(output())[1]);
      const group = -host.pid;
      for (let round = 1; round <= 2; round++) {
        process.kill(group, 'SIGTSTP');
        expect(await pollUntil(() => procStat(host.pid).state === 'T', { timeout: 5000 }), `round ${round}: the host did not stop`).to.equal(true);
        expect(await pollUntil(() => childStates(program).includes('T'), { timeout: 5000 }), `round ${round}: the program's sleep did not stop: ${childStates(program)}`).to.equal(true);
        // The trap has run before SIGCONT is sent: SIGCONT discards a stop
        // signal still pending, caught or not (the kernel's rule).
        expect(await pollUntil(() => output().split('GOT-TSTP').length - 1 === round, { timeout: 5000 }), output()).to.equal(true);
        process.kill(group, 'SIGCONT');
        expect(await pollUntil(() => procStat(host.pid).state !== 'T', { timeout: 5000 })).to.equal(true);
        expect(await pollUntil(() => output().split('GOT-CONT').length - 1 >= round, { timeout: 5000 }), output()).to.equal(true);
      }
      process.kill(group, 'SIGWINCH');
      expect(await pollUntil(() => output().includes('GOT-WINCH'), { timeout: 5000 }), output()).to.equal(true);
      expect(host.exitCode, 'SIGWINCH and SIGCONT do nothing to the host').to.equal(null);
      host.kill('SIGINT');
      await exited(host);
      expect(host.signalCode).to.equal('SIGINT');
      // A local program outlives its host, as child_process leaves it; the
      // remote one is ended by the server. Either way the output ends.
      if (mode === 'local') process.kill(group, 'SIGKILL');
      await new Promise((resolve) => (host.stdout.destroyed ? resolve() : host.stdout.on('close', resolve)));
    });
  }
});
