'use strict';
// `sidecar start` as a server you can trust:
// readiness (--print-ready, --ready-fd), `sidecar ping`, the -v request log,
// --allow-command / --allow-uid / --allow-env, --max-concurrent, and
// --max-runtime with `sidecar exec`'s one-line reason. Each server is
// checked after its test: fds back to where they were once it was ready, no
// child, no zombie, exit 0 on SIGTERM with its socket file removed.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { PROTOCOL_VERSION, pingServer } = require('../..');
const { getBinding } = require('../../dist/binding');
const {
  tempDir, exited, pollUntil, sleep, fdCount, fdTable, describeFdDiff, allProcesses, zombieChildren, useFdCheck,
} = require('../helpers');

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');
const NODE = process.execPath;

/** Runs the CLI to completion; resolves with { code, signal, stdout, stderr, pid }. */
function cli(args, { env, cwd } = {}) {
  const child = childProcess.spawn(NODE, [CLI, ...args], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = [];
  const stderr = [];
  child.stdout.on('data', (chunk) => stdout.push(chunk));
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, pid: child.pid, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
    });
  });
}

function lines(text) {
  return text.split('\n').filter((line) => line.length > 0);
}

/** Whether something accepts connections on socketPath right now (no retry). */
function connectable(socketPath) {
  const binding = getBinding();
  try {
    binding.close(binding.connect(socketPath));
    return true;
  } catch {
    return false;
  }
}

describe('sidecar start (server flags), sidecar ping', function () {
  this.timeout(30000);
  let dir;
  const started = [];
  const problems = [];

  beforeEach(function () {
    dir = tempDir('sidecar-cli-server-');
  });

  // Each server: leak-checked, then stopped; before useFdCheck() counts this process's fds.
  afterEach(async function () {
    const title = this.currentTest ? this.currentTest.fullTitle() : '?';
    for (const server of started.splice(0)) {
      if (server.child.exitCode !== null || server.child.signalCode !== null) {
        if (!server.expectExit) problems.push(`${title}: the server exited (${server.child.exitCode ?? server.child.signalCode}): ${server.stderr()}`);
        continue;
      }
      const pid = server.child.pid;
      if (!await pollUntil(() => allProcesses().every((p) => p.ppid !== pid), { timeout: 3000 })) {
        problems.push(`${title}: server still has children: ${allProcesses().filter((p) => p.ppid === pid).map((p) => `${p.pid} ${p.comm}`).join(', ')}`);
      }
      const zombies = zombieChildren(pid);
      if (zombies.length > 0) problems.push(`${title}: zombies ${zombies.map((p) => p.pid).join(', ')}`);
      let count = fdCount(pid);
      await pollUntil(() => (count = fdCount(pid)) === server.fds, { timeout: 2000 });
      if (count !== server.fds) problems.push(`${title}: server fds ${server.fds} -> ${count}: ${describeFdDiff(server.fdTable, fdTable(pid))}`);
      server.child.kill('SIGTERM');
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 12000);
      const status = await exited(server.child);
      clearTimeout(timer);
      if (status.code !== 0) problems.push(`${title}: server exited ${JSON.stringify(status)} on SIGTERM: ${server.stderr()}`);
      if (fs.existsSync(server.path)) problems.push(`${title}: socket file left after SIGTERM`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  after(function () {
    if (problems.length > 0) throw new Error(`leak check failed:\n${problems.join('\n')}`);
  });

  useFdCheck();

  /**
   * `sidecar start --print-ready [args] PATH`; resolves once it printed its
   * ready line, with { child, path, stdout(), stderr(), readyLine,
   * connectableAtReady }.
   */
  async function startServer(args, { name = 'sock', readyBy = 'print' } = {}) {
    const socketPath = path.join(dir, name);
    const readyArgs = readyBy === 'print' ? ['--print-ready'] : readyBy === 'fd' ? ['--ready-fd', '3'] : [];
    const child = childProcess.spawn(NODE, [CLI, 'start', ...readyArgs, ...args, socketPath], {
      stdio: ['ignore', 'pipe', 'pipe', readyBy === 'fd' ? 'pipe' : 'ignore'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const server = {
      child, path: socketPath, stdout: () => stdout, stderr: () => stderr, readyLine: undefined, connectableAtReady: undefined,
    };
    started.push(server);
    const readyStream = readyBy === 'fd' ? child.stdio[3] : child.stdout;
    if (readyBy === 'fd') child.stdout.on('data', (chunk) => { stdout += chunk; });
    await new Promise((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no ready line within 10 s: ${stdout} ${stderr}`)), 10000);
      const onData = (chunk) => {
        text += chunk;
        if (readyBy !== 'fd') stdout += chunk;
        if (text.includes('\n') && server.readyLine === undefined) {
          // Right when the line arrives: it must already accept connections.
          server.connectableAtReady = connectable(socketPath);
          server.readyLine = text.split('\n')[0];
          clearTimeout(timer);
          resolve();
        }
      };
      readyStream.setEncoding('utf8');
      readyStream.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`sidecar start exited (${code ?? signal}) before it was ready: ${stdout} ${stderr}`));
      });
    });
    child.removeAllListeners('exit');
    // Baseline once the probe connection above is gone (a ping is answered
    // and closed; refused at accept, with ERR_SIDECAR_DENIED, when --allow-uid
    // leaves this process's uid out).
    await pingServer(socketPath).catch((error) => {
      if (error.code !== 'ERR_SIDECAR_DENIED') throw error;
    });
    let previous = -1;
    await pollUntil(() => {
      const now = fdCount(child.pid);
      const stable = now === previous;
      previous = now;
      return stable;
    }, { timeout: 1000, interval: 50 });
    server.fds = fdCount(child.pid);
    server.fdTable = fdTable(child.pid);
    return server;
  }

  describe('readiness', function () {
    it('--print-ready prints the socket path once, when it already accepts connections', async function () {
      const server = await startServer([]);
      expect(server.readyLine).to.equal(server.path);
      expect(server.connectableAtReady, 'the ready line came before the socket accepted connections').to.equal(true);
      const result = await cli(['exec', '--connect', server.path, '--', 'echo', 'ready and serving']);
      expect(result.stdout).to.equal('ready and serving\n');
      await sleep(200);
      expect(server.stdout()).to.equal(`${server.path}\n`);
    });

    it('--ready-fd 3 writes a line to fd 3 (and closes it) once it accepts connections; stdout stays quiet', async function () {
      const server = await startServer([], { readyBy: 'fd' });
      expect(server.readyLine).to.equal('');
      expect(server.connectableAtReady, 'the ready line came before the socket accepted connections').to.equal(true);
      const ended = await pollUntil(() => server.child.stdio[3].readableEnded, { timeout: 2000 });
      expect(ended, 'fd 3 was not closed after the ready line').to.equal(true);
      const result = await cli(['exec', '--connect', server.path, '--', 'true']);
      expect(result.code).to.equal(0);
      expect(server.stdout()).to.equal('');
    });
  });

  describe('sidecar ping', function () {
    it('prints the protocol version and exits 0 when a server is up', async function () {
      const server = await startServer([]);
      const result = await cli(['ping', server.path]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.equal(`${server.path}: up, protocol version ${PROTOCOL_VERSION}\n`);
      expect(result.stderr).to.equal('');
    });

    it('exits 1 with one line naming the path when nothing listens (no file, a stale socket)', async function () {
      const missing = path.join(dir, 'missing.sock');
      const none = await cli(['ping', missing]);
      expect(none.code).to.equal(1);
      expect(none.stdout).to.equal('');
      expect(lines(none.stderr)).to.have.lengthOf(1);
      expect(none.stderr).to.include(missing);

      const server = await startServer([], { name: 'stale.sock' });
      server.child.kill('SIGKILL');
      server.expectExit = true;
      await exited(server.child);
      expect(fs.lstatSync(server.path).isSocket(), 'no stale socket file to test with').to.equal(true);
      const stale = await cli(['ping', server.path]);
      expect(stale.code).to.equal(1);
      expect(lines(stale.stderr)).to.have.lengthOf(1);
      expect(stale.stderr).to.include(server.path);
    });
  });

  describe('-v request log', function () {
    const LINE = /^sidecar: uid (\d+) pid (\d+) (\S+): (exit \d+|SIG[A-Z0-9]+)( \(([a-zA-Z-]+)\))? in (\d+) ms; PATH (\S*)$/;

    it('quiet by default; -v logs one line per finished request: caller uid and pid, argv[0], exit, duration', async function () {
      const quiet = await startServer([], { name: 'quiet.sock' });
      await cli(['exec', '--connect', quiet.path, '--', 'true']);
      await sleep(200);
      expect(quiet.stderr()).to.equal('');

      const server = await startServer(['-v']);
      const runs = [
        await cli(['exec', '--connect', server.path, '--', 'sh', '-c', 'exit 3']),
        await cli(['exec', '--connect', server.path, '--', 'sh', '-c', 'sleep 0.2']),
        await cli(['exec', '--connect', server.path, '--', 'sh', '-c', 'kill -USR1 $$']),
      ];
      expect(runs.map((r) => r.code)).to.deep.equal([3, 0, 138]);
      await pollUntil(() => lines(server.stderr()).length >= 3, { timeout: 3000 });
      await sleep(100);
      const logged = lines(server.stderr());
      expect(logged, server.stderr()).to.have.lengthOf(3);
      const parsed = logged.map((line) => {
        const match = LINE.exec(line);
        expect(match, `not a request log line: ${line}`).to.not.equal(null);
        return { uid: Number(match[1]), pid: Number(match[2]), argv0: match[3], end: match[4], reason: match[6], ms: Number(match[7]), searchPath: match[8] };
      });
      // exec starts from the server's environment: the server's PATH found the program.
      for (const { searchPath } of parsed) expect(searchPath).to.equal(process.env.PATH);
      expect(parsed.map(({ uid, pid, argv0, end }) => ({ uid, pid, argv0, end }))).to.deep.equal([
        { uid: process.getuid(), pid: runs[0].pid, argv0: 'sh', end: 'exit 3' },
        { uid: process.getuid(), pid: runs[1].pid, argv0: 'sh', end: 'exit 0' },
        { uid: process.getuid(), pid: runs[2].pid, argv0: 'sh', end: 'SIGUSR1' },
      ]);
      expect(parsed[1].ms, 'the duration of a program that slept 200 ms').to.be.at.least(150);
    });

    it('-v logs a request the server refused, and one whose program could not be started', async function () {
      const server = await startServer(['-v', '--allow-command', 'sh', '--allow-command', 'sidecar-test-no-such-command']);
      const denied = await cli(['exec', '--connect', server.path, '--', 'cat', '/etc/hostname']);
      expect(denied.code).to.equal(126);
      await pollUntil(() => lines(server.stderr()).length >= 1, { timeout: 3000 });
      expect(lines(server.stderr())).to.have.lengthOf(1);
      expect(lines(server.stderr())[0]).to.match(new RegExp(`^sidecar: uid ${process.getuid()} pid ${denied.pid} denied cat: `));

      const missing = await cli(['exec', '--connect', server.path, '--', 'sidecar-test-no-such-command']);
      expect(missing.code).to.equal(127);
      await pollUntil(() => lines(server.stderr()).length >= 2, { timeout: 2000 });
      const logged = lines(server.stderr());
      expect(logged, `no log line for a request whose program was not found; the log: ${JSON.stringify(logged)}`).to.have.lengthOf(2);
      expect(logged[1]).to.include(`pid ${missing.pid}`);
      expect(logged[1]).to.include('sidecar-test-no-such-command');
    });

    it('-vv logs a bounded, escaped line however large the argv (a 1 MB argv made 1 MB lines)', async function () {
      const server = await startServer(['-vv']);
      // Ten arguments of 100 KB (the kernel takes no single one over 128 KB), and one that tries to forge a line.
      const big = Array.from({ length: 10 }, (_, i) => String(i).repeat(100_000));
      const sneaky = 'x\nsidecar: uid 0 pid 1 forged: exit 0 in 0 ms\u001b[2J';
      const result = await cli(['exec', '--connect', server.path, '--', 'sh', '-c', 'exit 0', sneaky, ...big]);
      expect(result.code, result.stderr).to.equal(0);
      await pollUntil(() => lines(server.stderr()).length >= 2, { timeout: 3000 });
      const logged = lines(server.stderr());
      expect(logged, 'one line per event, none forged').to.have.lengthOf(2);
      const started = logged.find((line) => line.includes(' started '));
      expect(started.length, 'the -vv line').to.be.below(400);
      expect(started).to.include('x\\nsidecar: uid 0 pid 1 forged');
      expect(started).to.include('\\u001b[2J');
      expect(started).to.match(/\.\.\. \(14 arguments, 1000\d+ bytes\)$/);
    });

    it('-v says the PATH the program was looked up in: made on the server, or with --caller-env PATH the caller\'s as given', async function () {
      const given = '/sidecar-test-no-such-dir:/usr/bin:/bin';
      const made = await startServer(['-v'], { name: 'made.sock' });
      const kept = await startServer(['-v', '--caller-env', 'PATH'], { name: 'kept.sock' });
      for (const server of [made, kept]) {
        const result = await cli(['exec', '--connect', server.path, '--env', `PATH=${given}`, '--', 'true']);
        expect(result.code, result.stderr).to.equal(0);
        await pollUntil(() => lines(server.stderr()).length >= 1, { timeout: 3000 });
      }
      const logged = (server) => /; PATH (\S*)$/.exec(lines(server.stderr())[0])[1];
      const serverOwn = process.env.PATH.split(':').filter((entry) => entry.startsWith('/') && !['/usr/bin', '/bin'].includes(entry));
      expect(logged(made)).to.equal(['/usr/bin', '/bin', ...new Set(serverOwn)].join(':'));
      expect(logged(kept)).to.equal(given);
      const bad = await cli(['start', '--caller-env', 'PATH,CC', path.join(dir, 'bad.sock')]);
      expect(bad.code).to.equal(125);
      expect(bad.stderr).to.include('must name only PATH, HOME, TMPDIR, SHELL, USER, LOGNAME');
    });
  });

  describe('policy flags', function () {
    it('--allow-command: listed programs run; others are refused with exit 126 and one line on stderr', async function () {
      const server = await startServer(['--allow-command', 'echo', '--allow-command', '/bin/sh']);
      const allowed = await cli(['exec', '--connect', server.path, '--', 'echo', 'allowed']);
      expect(allowed.code, allowed.stderr).to.equal(0);
      expect(allowed.stdout).to.equal('allowed\n');
      const shell = await cli(['exec', '--connect', server.path, '--', '/bin/sh', '-c', 'echo via sh']);
      expect(shell.stdout).to.equal('via sh\n');
      for (const argv of [['cat', '/etc/hostname'], ['sh', '-c', 'true'], ['/bin/echo', 'x']]) {
        const refused = await cli(['exec', '--connect', server.path, '--', ...argv]);
        expect(refused.code, `${argv[0]}: ${refused.stderr}`).to.equal(126);
        expect(refused.stdout).to.equal('');
        expect(lines(refused.stderr), argv[0]).to.have.lengthOf(1);
        expect(refused.stderr).to.include(argv[0]);
        expect(refused.stderr).to.include('not an allowed command');
      }
    });

    it('--allow-uid: a caller whose uid is not listed is refused (126); a listed one runs', async function () {
      const other = await startServer(['--allow-uid', String(process.getuid() + 12345)], { name: 'other.sock' });
      const refused = await cli(['exec', '--connect', other.path, '--', 'true']);
      expect(refused.code).to.equal(126);
      expect(lines(refused.stderr)).to.have.lengthOf(1);
      expect(refused.stderr).to.include(`uid ${process.getuid()}`);
      const mine = await startServer(['--allow-uid', `${process.getuid() + 1},${process.getuid()}`], { name: 'mine.sock' });
      const allowed = await cli(['exec', '--connect', mine.path, '--', 'echo', 'in']);
      expect(allowed.code, allowed.stderr).to.equal(0);
      expect(allowed.stdout).to.equal('in\n');
    });

    it('--allow-env: only the variables it names reach the program from the caller', async function () {
      const server = await startServer(['--allow-command', 'env', '--allow-env', 'FOO']);
      const result = await cli(['exec', '--connect', server.path, '--env', 'FOO=from-caller', '--env', 'BAR=from-caller', '--env', 'LD_PRELOAD=/nonexistent.so', '--', 'env']);
      expect(result.code, result.stderr).to.equal(0);
      const env = lines(result.stdout);
      expect(env).to.include('FOO=from-caller');
      expect(env.filter((line) => line.startsWith('BAR='))).to.deep.equal([]);
      expect(env.filter((line) => line.startsWith('LD_PRELOAD='))).to.deep.equal([]);
    });
  });

  describe('queue and limit flags', function () {
    it('--max-concurrent 1: two programs never overlap, and both complete', async function () {
      const server = await startServer(['--max-concurrent', '1']);
      const log = path.join(dir, 'log');
      const script = `echo "start $0" >> ${log}; sleep 0.3; echo "end $0" >> ${log}`;
      const results = await Promise.all(['A', 'B', 'C'].map((name) => cli(['exec', '--connect', server.path, '--', 'sh', '-c', script, name])));
      expect(results.map((r) => r.code)).to.deep.equal([0, 0, 0]);
      const entries = lines(fs.readFileSync(log, 'utf8'));
      expect(entries).to.have.lengthOf(6);
      for (let i = 0; i < 6; i += 2) {
        const [, name] = entries[i].split(' ');
        expect(entries[i], JSON.stringify(entries)).to.equal(`start ${name}`);
        expect(entries[i + 1], `programs overlapped: ${JSON.stringify(entries)}`).to.equal(`end ${name}`);
      }
    });

    for (const [flags, trapRuns] of [[[], true], [['--disconnect-grace', '0'], false]]) {
      const title = flags.length === 0
        ? 'by default, a program whose caller forwarded SIGINT and died of it has 2 s for its trap'
        : '--disconnect-grace 0: a program whose caller forwarded SIGINT and died of it is killed at the disconnect';
      it(title, async function () {
        const server = await startServer(flags);
        const marker = path.join(dir, `trapped-${flags.length}`);
        const script = `trap "sleep 1; echo > ${marker}; exit 3" INT; echo READY; while :; do sleep 0.2; done`;
        const host = childProcess.spawn(NODE, [path.join(__dirname, '..', 'fixtures', 'terminal-host.js'), 'remote', server.path, 'default', script],
          { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        host.stdout.on('data', (chunk) => { out += chunk; });
        expect(await pollUntil(() => out.includes('READY'), { timeout: 10000, interval: 20 }), 'the program did not start').to.equal(true);
        host.kill('SIGINT');
        expect(await exited(host)).to.deep.equal({ code: null, signal: 'SIGINT' });
        expect(await pollUntil(() => fs.existsSync(marker), { timeout: 4000, interval: 50 }), 'the trap finished').to.equal(trapRuns);
      });
    }

    it('--max-runtime: the program is ended, exec exits 128+15 and prints a one-line reason; a quick program is left alone', async function () {
      const server = await startServer(['--max-runtime', '300', '-v']);
      const started = Date.now();
      const long = await cli(['exec', '--connect', server.path, '--', 'sleep', '10']);
      expect(Date.now() - started, 'it was not ended by --max-runtime').to.be.below(8000);
      expect(long.code).to.equal(143);
      expect(long.stdout).to.equal('');
      expect(lines(long.stderr), long.stderr).to.deep.equal(['sidecar: sleep: ended by the server (it ran longer than the server allows)']);
      await pollUntil(() => lines(server.stderr()).length >= 1, { timeout: 2000 });
      expect(lines(server.stderr())[0]).to.match(/^sidecar: uid \d+ pid \d+ sleep: SIGTERM \(maxRuntime\) in \d+ ms; PATH \S+$/);

      const quick = await cli(['exec', '--connect', server.path, '--', 'sleep', '0.05']);
      expect(quick.code).to.equal(0);
      expect(quick.stderr).to.equal('');
    });

    it('a program the server ends on close (SIGTERM to the server, --close-timeout) gets its own one-line reason', async function () {
      const server = await startServer(['--close-timeout', '200', '-vv']);
      const pending = cli(['exec', '--connect', server.path, '--', 'sleep', '10']);
      // Closed once the program runs (-vv logs its start), however long the client took to start.
      expect(await pollUntil(() => / started \d+: sleep 10$/m.test(server.stderr()), { timeout: 10000 }), server.stderr()).to.equal(true);
      server.child.kill('SIGTERM');
      server.expectExit = true;
      const result = await pending;
      expect(result.code, result.stderr).to.equal(143);
      expect(lines(result.stderr), result.stderr).to.deep.equal(['sidecar: sleep: ended by the server (the server is closing)']);
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 10000);
      expect(await exited(server.child)).to.deep.equal({ code: 0, signal: null });
      clearTimeout(timer);
    });
  });
});
